/**
 * Typed events: an event map (`{ token: string; done: { usage: number } }`) names each event
 * a stream or channel may carry and the type of its data, and Standard Schema validators can
 * check the data at run time.
 */
import { SseTypeError } from './errors.js'

/**
 * Event names to the types of their data: `{ token: string; done: { usage: number } }` (a
 * type or an interface).
 */
export type EventMap = object

/** The map of a stream or channel that was not given one: any event, any data. */
export type AnyEvents = Record<string, unknown>

type Id = string | number | bigint

/**
 * One event of map `M`, as `send`/`publish` take it: `{ event: 'done', data: { usage: 3 } }`.
 * The `message` event (what `onmessage` gets) may leave `event` out.
 */
export type EventOf<M extends EventMap> = {
  [K in keyof M & string]: K extends 'message'
    ? { event?: 'message'; data: M[K]; id?: Id; retry?: number }
    : { event: K; data: M[K]; id?: Id; retry?: number }
}[keyof M & string]

/**
 * What `send`/`publish` take. Without a map: any payload or event. With one: its events, or
 * bare data of its `message` event (what `onmessage` gets), when the map has one.
 */
export type SendInput<M extends EventMap> = string extends keyof M
  ? unknown
  : EventOf<M> | ('message' extends keyof M ? M['message' & keyof M] : never)

/** The Standard Schema interface (standardschema.dev), copied: no dependency on any library. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
  }
}

type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
      }>
    }

/** Validators per event name, for the `schema` option: `{ token: z.string() }`. */
export type EventSchemas<M extends EventMap> = {
  readonly [K in keyof M]?: StandardSchemaV1<unknown, M[K]>
}

/**
 * Checks `data` of event `name` against its schema, if there is one. An invalid payload
 * throws a `TypeError` naming the event and the first issue; nothing is written.
 */
export function validateEvent(
  schemas: Readonly<Record<string, StandardSchemaV1 | undefined>> | undefined,
  name: string,
  data: unknown,
): void {
  const schema = schemas?.[name]
  if (schema === undefined) return
  const result = schema['~standard'].validate(data)
  if (typeof (result as { then?: unknown }).then === 'function') {
    throw new SseTypeError(
      'ERR_SSE_INVALID_FIELD',
      `@ssekit/core: the schema of event "${name}" validates asynchronously; events are written in order, at once: use a synchronous schema.`,
    )
  }
  const issues = (result as StandardResult<unknown>).issues
  if (issues === undefined || issues.length === 0) return
  const first = issues[0]!
  const path = (first.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.')
  throw new SseTypeError(
    'ERR_SSE_INVALID_FIELD',
    `@ssekit/core: event "${name}" data is invalid${path === '' ? '' : ` at "${path}"`}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}; nothing was written.`,
  )
}

/** Checks the `schema` option: an object of Standard Schema validators. */
export function checkSchemas(
  value: unknown,
  fail: (accepts: string, value: unknown) => Error,
): Readonly<Record<string, StandardSchemaV1>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail('an object of event names to Standard Schema validators', value)
  }
  for (const [name, schema] of Object.entries(value)) {
    if (typeof (schema as StandardSchemaV1 | undefined)?.['~standard']?.validate !== 'function') {
      throw fail(`a Standard Schema validator for event "${name}" (zod, valibot, arktype…)`, schema)
    }
  }
  return Object.freeze({ ...(value as Record<string, StandardSchemaV1>) })
}

const FIELDS = ['event', 'id', 'retry']

/**
 * A likely typo of an event field in an object that has `data` (`evnt`, `Event`, `ID`,
 * `retyr`), or undefined. Such an object would otherwise be sent whole, as data.
 */
export function likelyTypo(key: string): string | undefined {
  const lower = key.toLowerCase()
  for (const field of FIELDS) {
    if (lower === field) return field
    const limit = field.length <= 2 ? 1 : 2
    if (Math.abs(lower.length - field.length) <= limit && distance(lower, field) <= limit) {
      return field
    }
  }
  return undefined
}

/** Optimal string alignment distance (a transposition counts once). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1)
      }
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/**
 * The event a named log ends with when its producer failed (`produce()` threw), was
 * cancelled, or died holding the lease (`@ssekit/redis`). Add it to a client's event map to
 * read it typed: `type Answer = { token: string } & ProducerError`.
 */
export type ProducerError = {
  error: { reason: 'failed' | 'cancelled' | 'producer-lost' }
}
