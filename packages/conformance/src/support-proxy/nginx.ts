/**
 * A real nginx, started by the test on a free loopback port in front of an app: the proxy
 * that SSE deployments most often sit behind, with its buffering on (nginx's default).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../../core/src/test-utils/index.js'

const CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']

/** The nginx binary, or an error that says how to install it. */
export function findNginx(): string {
  const found = CANDIDATES.find((path) => existsSync(path))
  if (found === undefined) {
    throw new Error(
      'nginx is not installed: run `apt-get install -y nginx` (the proxy tests drive a real nginx)',
    )
  }
  return found
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

export interface Nginx {
  /** `http://127.0.0.1:PORT`, the proxy's address. */
  url: string
  stop(): Promise<void>
}

/** Starts nginx proxying to `upstream` with `proxy_read_timeout` (seconds). */
export async function startNginx(upstream: string, readTimeoutSeconds: number): Promise<Nginx> {
  const binary = findNginx()
  const dir = mkdtempSync(join(tmpdir(), 'ssekit-nginx-'))
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub))
  const port = await freePort()
  const target = new URL(upstream)
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${target.port};
      proxy_http_version 1.1;
      proxy_set_header Connection '';
      proxy_read_timeout ${readTimeoutSeconds}s;
      # proxy_buffering is left on, as nginx ships it: X-Accel-Buffering must turn it off.
    }
  }
}
`,
  )
  const child: ChildProcess = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk)
  })
  const deadline = Date.now() + 10_000
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = existsSync(join(dir, 'error.log'))
        ? readFileSync(join(dir, 'error.log'), 'utf8')
        : ''
      child.kill('SIGKILL')
      throw new Error(`nginx did not start: ${stderr}${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
