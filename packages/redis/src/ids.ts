/**
 * Ids on the wire: `<epoch>-<ms>-<seq>`. The epoch names the log's life (a new one when
 * Redis lost it), `<ms>-<seq>` is the Redis stream id, and `seq` is the entry's gap-free
 * place in the log. A Last-Event-ID is parsed here, strictly, before it reaches Redis.
 */
const WIRE = /^([0-9a-z]{6,16})-([0-9]{1,15})-([0-9]{1,15})$/

export interface ParsedId {
  readonly epoch: string
  /** The Redis stream id, `<ms>-<seq>`. */
  readonly streamId: string
  readonly seq: number
}

export function parseId(id: string): ParsedId | undefined {
  const match = typeof id === 'string' ? WIRE.exec(id) : null
  if (match === null) return undefined
  const seq = Number(match[3])
  if (!Number.isSafeInteger(seq) || seq === 0) return undefined
  return { epoch: match[1]!, streamId: `${match[2]}-${match[3]}`, seq }
}

export function wireId(epoch: string, streamId: string): string {
  return `${epoch}-${streamId}`
}

/** A fresh epoch: 10 base-36 characters. */
export function newEpoch(): string {
  let epoch = ''
  while (epoch.length < 10) epoch += Math.random().toString(36).slice(2)
  return epoch.slice(0, 10)
}
