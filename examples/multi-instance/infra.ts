/**
 * What `main.ts` starts around the instances, each in a temporary directory and on a free
 * loopback port, nothing installed or configured system-wide: a redis-server, and an nginx
 * that balances between the instances (fewest connections first).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'

/**
 * A free TCP port on 127.0.0.1, for a process that binds it later (and again after a
 * restart). Taken below Linux's ephemeral range (32768 and up), where neither outgoing
 * connections nor other servers' `listen(0)` can take it in between: an ephemeral port was
 * seen taken by a parallel test before the instance listened.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const server = net.createServer()
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (bound) {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      return port
    }
  }
  throw new Error('no free port between 20000 and 32000 on 127.0.0.1')
}

/** Resolves once something accepts connections on `port`, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, child: ChildProcess, what: string, log = '') {
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (child.exitCode !== null || Date.now() > deadline) {
      const tail = log !== '' && existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : ''
      child.kill('SIGKILL')
      throw new Error(`${what} did not start on port ${port}. ${tail}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function find(name: string, dirs: string[], install: string): string {
  const found = dirs.map((dir) => join(dir, name)).find((path) => existsSync(path))
  if (found === undefined) throw new Error(`${name} is not installed: ${install}`)
  return found
}

const BIN = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin', '/opt/homebrew/bin']

export interface Service {
  child: ChildProcess
  port: number
}

/** redis-server on a free port, its files in `dir`, nothing saved to disk. */
export async function startRedis(dir: string): Promise<Service> {
  const binary = find(
    'redis-server',
    BIN,
    'apt-get install -y redis-server (brew install redis on macOS)',
  )
  const port = await freePort()
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  )
  await waitForPort(port, child, 'redis-server')
  return { child, port }
}

/**
 * nginx on `port` (0: a free one), in front of `upstreams` (least_conn), with its
 * configuration, pid file, temp files and logs in `dir`. Each instance is also reachable
 * on its own at `/instance/<id>/`, for the page's "crash" button.
 */
export async function startNginx(
  dir: string,
  port: number,
  upstreams: { id: string; port: number }[],
): Promise<Service> {
  const binary = find('nginx', BIN, 'apt-get install -y nginx (brew install nginx on macOS)')
  const listen = port === 0 ? await freePort() : port
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub))
  // ssekit sends X-Accel-Buffering: no, which turns nginx's buffering off for event streams;
  // HTTP/1.1 without `Connection: close` keeps the upstream response streaming.
  const proxy = `proxy_http_version 1.1;
      proxy_set_header Connection '';
      proxy_set_header Host $host;
      proxy_read_timeout 1h;`
  const conf = join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream instances {
    # Fewest open connections first: streams are long-lived, so each new page goes to the
    # instance holding fewer of them (round robin would send a page's two requests to one).
    least_conn;
${upstreams.map((u) => `    server 127.0.0.1:${u.port} max_fails=1 fail_timeout=2s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://instances;
      # A dead instance refuses the connection: the request goes to the next one.
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
      ${proxy}
    }
${upstreams
  .map(
    (u) => `    location /instance/${u.id}/ {
      proxy_pass http://127.0.0.1:${u.port}/;
      ${proxy}
    }`,
  )
  .join('\n')}
  }
}
`,
  )
  const child = spawn(binary, ['-p', dir, '-c', conf], { stdio: 'ignore' })
  await waitForPort(listen, child, 'nginx', join(dir, 'error.log'))
  return { child, port: listen }
}
