/** The printed report: one table per scenario, then ssekit against each reference. */
import type { Config, Scenario } from './config.js'
import type { EncodeResult } from './encode-bench.js'
import type { Results } from './results.js'
import { FRAME } from './shared.js'
import { fmt, median, quantile, rate, ratio, table } from './stats.js'
import { writeCounter } from './strace.js'
import { runsIn, type TargetInfo } from './targets.js'

/** "1.23x" for a ratio already taken. */
const x = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : '—')
const int = (value: number) => fmt(value, 0)
const pct = (value: number, digits = 1) => (Number.isFinite(value) ? `${fmt(value, digits)}%` : '—')
const spread = (values: number[], f: (v: number) => string = fmt) =>
  values.length > 1 ? `${f(Math.min(...values))}–${f(Math.max(...values))}` : ''

export function report(
  config: Config,
  targets: readonly TargetInfo[],
  results: Results,
  encodeResults: EncodeResult[],
): string {
  const out: string[] = []
  const has = (s: Scenario) => config.scenarios.has(s)
  const med = (s: Scenario, m: string, t: string) => results.median(s, m, t)
  const vs = (s: Scenario, m: string, t: string, base = 'floor') => x(results.ratio(s, m, t, base))
  const rows = (s: Scenario, row: (t: string, info: TargetInfo) => string[]) =>
    targets
      .filter((t) => runsIn(t, s))
      .map((t) => (results.ok(s, t.name) ? row(t.name, t) : [t.name, 'failed']))
  const bytes = Buffer.byteLength(FRAME)
  out.push(
    `Ratios "vs floor" are target ÷ floor, taken within each repetition, median over ${config.reps}; values are medians over repetitions; ranges are min–max of the repetitions.\n`,
  )

  if (has('heap')) {
    out.push(
      `1. Heap per open idle connection after GC: (heapUsed + arrayBuffers) with ${config.heapClients} more idle streams − before, ÷ ${config.heapClients} (bytes; lower is better)`,
    )
    out.push(
      table(
        ['target', 'B/conn', 'range', 'vs floor', 'vs framework floor', 'RSS B/conn'],
        rows('heap', (t, info) => [
          t,
          int(med('heap', 'bytesPerConn', t)),
          spread(results.values('heap', 'bytesPerConn', t), int),
          vs('heap', 'bytesPerConn', t),
          info.frameworkFloor === undefined
            ? ''
            : `${vs('heap', 'bytesPerConn', t, info.frameworkFloor)} of ${info.frameworkFloor}`,
          int(med('heap', 'rssPerConn', t)),
        ]),
      ),
    )
    out.push('')
  }

  if (has('broadcast')) {
    out.push(
      `2. Broadcast to ${config.clients} clients: time from publish() to the last client having the frame (ms; lower is better)`,
    )
    out.push(
      table(
        ['target', 'p50', 'p95', 'p50 per rep', 'in publish()', 'vs floor'],
        rows('broadcast', (t) => [
          t,
          fmt(median(results.samples('broadcast', 'latency', t))),
          fmt(quantile(results.samples('broadcast', 'latency', t), 0.95)),
          spread(results.values('broadcast', 'p50', t)),
          fmt(median(results.samples('broadcast', 'inPublish', t))),
          vs('broadcast', 'p50', t),
        ]),
      ),
    )
    out.push(
      `\n   Sustained broadcast, ${config.burst} events (or ${config.burstMs / 1000} s), one per event-loop turn (higher is better; CPU: server, lower is better)`,
    )
    out.push(
      table(
        [
          'target',
          'events/s',
          'deliveries/s',
          'range',
          'vs floor',
          'CPU µs/broadcast',
          'ns/delivery',
          'CPU vs floor',
        ],
        rows('broadcast', (t) => {
          const cpu = med('broadcast', 'cpuPerBroadcast', t)
          return [
            t,
            rate(med('broadcast', 'sustained', t)),
            rate(med('broadcast', 'sustained', t) * config.clients),
            spread(results.values('broadcast', 'sustained', t), rate),
            vs('broadcast', 'sustained', t),
            int(cpu),
            int((cpu * 1000) / config.clients),
            vs('broadcast', 'cpuPerBroadcast', t),
          ]
        }),
      ),
    )
    out.push('')
  }

  if (has('bursts')) {
    out.push(
      `3. Bursts: ${config.burstsPublishes} publishes in one tick to ${config.clients} clients: until every client has all of them (ms, server CPU ms; lower is better), and the write syscalls of one burst (${writeCounter()})`,
    )
    out.push(
      table(
        [
          'target',
          'wall ms',
          'range',
          'vs floor',
          'CPU ms',
          'vs floor',
          'in publish()',
          'writes',
          'to sockets',
          'per client',
          'vs floor',
        ],
        rows('bursts', (t) => [
          t,
          fmt(med('bursts', 'wall', t)),
          spread(results.values('bursts', 'wall', t)),
          vs('bursts', 'wall', t),
          fmt(med('bursts', 'cpu', t)),
          vs('bursts', 'cpu', t),
          fmt(med('bursts', 'inCall', t)),
          int(med('bursts', 'writes', t)),
          int(med('bursts', 'socketWrites', t)),
          fmt(med('bursts', 'socketWrites', t) / config.clients, 1),
          vs('bursts', 'socketWrites', t),
        ]),
      ),
    )
    out.push('')
  }

  if (has('stream')) {
    out.push(
      `4. One client, ${config.streamEvents} events of ${bytes} B, each sent after the previous one was accepted (await send(); events/s, higher is better)`,
    )
    out.push(
      table(
        ['target', 'events/s', 'MB/s', 'range', 'vs floor', 'CPU ns/event', 'CPU vs floor'],
        rows('stream', (t) => [
          t,
          rate(med('stream', 'rate', t)),
          fmt((med('stream', 'rate', t) * bytes) / 1e6, 1),
          spread(results.values('stream', 'rate', t), rate),
          vs('stream', 'rate', t),
          int(med('stream', 'cpuPerEvent', t)),
          vs('stream', 'cpuPerEvent', t),
        ]),
      ),
    )
    out.push('')
  }

  if (has('fanout')) {
    const seconds = config.fanoutPublishes / config.fanoutHz
    out.push(
      `5. Fan-out: ${config.fanoutHz} publishes/s for ${seconds} s (${config.fanoutPublishes} events) to N clients. CPU: server ns per delivered event; on schedule: deliveries by ${config.fanoutGraceMs} ms after the last publish was due ÷ deliveries scheduled; published: publishes made by then ÷ scheduled; latency: publish() call → receipt, every delivery (ms); lag: latest publish behind its time (ms); client CPU: the load generator's, % of one core`,
    )
    for (const n of config.fanout) {
      const m = (name: string) => `${name}@${n}`
      out.push(
        table(
          [
            `N = ${n}`,
            'CPU ns',
            'vs floor',
            'on schedule',
            'vs floor',
            'published',
            'p50 ms',
            'p99 ms',
            'p99 vs floor',
            'lag ms',
            'dropped',
            'client CPU',
          ],
          rows('fanout', (t) => [
            t,
            int(med('fanout', m('cpu'), t)),
            vs('fanout', m('cpu'), t),
            pct(med('fanout', m('onTime'), t) * 100),
            vs('fanout', m('onTime'), t),
            pct(med('fanout', m('published'), t) * 100, 0),
            fmt(med('fanout', m('p50'), t), 1),
            fmt(med('fanout', m('p99'), t), 1),
            vs('fanout', m('p99'), t),
            fmt(med('fanout', m('lag'), t), 1),
            int(med('fanout', m('dropped'), t)),
            pct(med('fanout', m('clientCpu'), t), 0),
          ]),
        ),
      )
    }
    out.push('')
  }

  if (has('churn')) {
    out.push(
      `6. Churn: ${config.churnParallel} loops open /events, read the response head, close, for ${config.churnMs / 1000} s (cycles/s; higher is better); then what the server still holds, against before (0 is right)`,
    )
    out.push(
      table(
        [
          'target',
          'cycles/s',
          'range',
          'vs floor',
          'errors',
          'streams',
          'openStreams',
          'sockets',
          'handles Δ',
          'timers',
          'listeners Δ',
          'heap B/cycle',
        ],
        rows('churn', (t) => {
          const max = (m: string) => int(Math.max(...results.values('churn', m, t)))
          return [
            t,
            int(med('churn', 'rate', t)),
            spread(results.values('churn', 'rate', t), int),
            vs('churn', 'rate', t),
            max('errors'),
            max('streamsLeft'),
            results.values('churn', 'openStreamsLeft', t).length > 0 ? max('openStreamsLeft') : '',
            max('connectionsLeft'),
            max('handlesLeft'),
            max('timersLeft'),
            max('listenersLeft'),
            fmt(med('churn', 'heapPerCycle', t), 1),
          ]
        }),
      ),
    )
    out.push(
      "   streams: the target's own count; sockets: server.getConnections(); handles Δ: process.getActiveResourcesInfo() after − before; timers: set by the churn and still armed; listeners Δ: on process and the http server; all: the largest over the repetitions",
    )
    out.push('')
  }

  if (has('idle')) {
    out.push(
      `7. Idle: ${config.idleClients} open streams, nothing published, ${config.idleMs / 1000} s: server CPU, % of one core (lower is better); heartbeats: comment frames the clients received in the window; CPU per heartbeat: all of the window's CPU ÷ them`,
    )
    out.push(
      table(
        [
          'target',
          'heartbeat',
          'CPU %',
          'range',
          'vs floor',
          'vs floor/heartbeat',
          'heartbeats',
          'CPU µs/heartbeat',
        ],
        rows('idle', (t, info) => {
          const beats = med('idle', 'heartbeats', t)
          return [
            t,
            info.heartbeat,
            fmt(med('idle', 'cpuPct', t), 3),
            spread(results.values('idle', 'cpuPct', t), (v) => fmt(v, 3)),
            vs('idle', 'cpuPct', t),
            info.heartbeat === 'none' ? '' : vs('idle', 'cpuPct', t, 'floor/heartbeat'),
            int(beats),
            beats > 0 ? int(med('idle', 'cpuUs', t) / beats) : '',
          ]
        }),
      ),
    )
    out.push('')
  }

  if (encodeResults.length > 0) {
    out.push('8. Encoding one event to its frame text (ns per call, mean; lower is better)')
    const base = (group: string) =>
      encodeResults.find((e) => e.group === group && e.name.startsWith('ssekit'))!
    out.push(
      table(
        ['case', 'encoder', 'mean', 'p99', 'ssekit ÷ this', 'note'],
        encodeResults.map((e) => [
          e.group,
          e.name,
          int(e.avg),
          int(e.p99),
          ratio(base(e.group).avg, e.avg),
          e.note ?? '',
        ]),
      ),
    )
    out.push('')
  }

  out.push(summary(config, targets, results))
  return out.join('\n')
}

/** ssekit ÷ each reference, per repetition then median, on one key number per scenario. */
function summary(config: Config, targets: readonly TargetInfo[], results: Results): string {
  const most = config.fanout.at(-1)
  const metrics: [string, Scenario, string][] = [
    ['heap/conn', 'heap', 'bytesPerConn'],
    ['bcast p50', 'broadcast', 'p50'],
    ['CPU/bcast', 'broadcast', 'cpuPerBroadcast'],
    ['burst wall', 'bursts', 'wall'],
    ['burst writes', 'bursts', 'socketWrites'],
    ['stream ev/s', 'stream', 'rate'],
    [`fan-out ${most} CPU`, 'fanout', `cpu@${most}`],
    [`fan-out ${most} p99`, 'fanout', `p99@${most}`],
    ['churn/s', 'churn', 'rate'],
    ['idle CPU', 'idle', 'cpuPct'],
  ]
  const shown = metrics.filter(([, s]) => config.scenarios.has(s))
  if (shown.length === 0) return ''
  const rows: string[][] = []
  for (const s of targets.filter((t) => t.kind === 'ssekit')) {
    const others = targets.filter(
      (t) => t.kind !== 'ssekit' && (s.compare === undefined || s.compare.includes(t.name)),
    )
    for (const o of others) {
      rows.push([
        s.name,
        o.name,
        ...shown.map(([, scenario, m]) => x(results.ratio(scenario, m, s.name, o.name))),
      ])
    }
  }
  return [
    'Summary: ssekit ÷ other, per repetition, median (time, CPU, memory, writes: below 1x is better; throughput: above 1x is better)',
    table(['ssekit', 'vs', ...shown.map(([name]) => name)], rows),
  ].join('\n')
}
