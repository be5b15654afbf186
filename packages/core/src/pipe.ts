/** What `pipe` needs of a stream. */
export interface PipeTarget {
  readonly closed: boolean
  send(input: unknown): Promise<boolean>
  onClose(fn: () => void): () => void
}

const noop = (): void => {}

/**
 * Sends every item of `source` to `stream` in order, waiting for backpressure between
 * items. Stops when the source ends or the stream closes; in the second case the
 * iterator's `return()` is called so that the producer (an LLM request, a database cursor)
 * stops too.
 */
export async function pipe(
  stream: PipeTarget,
  source: AsyncIterable<unknown> | Iterable<unknown>,
): Promise<void> {
  const iterator: AsyncIterator<unknown> | Iterator<unknown> =
    Symbol.asyncIterator in source
      ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (source as Iterable<unknown>)[Symbol.iterator]()
  let finished = false
  let returned = false
  const stop = () => {
    if (finished || returned) return
    returned = true
    // A pending next() is not awaited here: return() reaches the producer as soon as it can.
    Promise.resolve(iterator.return?.()).catch(noop)
  }
  const off = stream.onClose(stop)
  try {
    while (!stream.closed) {
      let step: IteratorResult<unknown>
      try {
        step = await iterator.next()
      } catch (error) {
        // The source threw: it is done, there is nothing to return().
        finished = true
        throw error
      }
      if (step.done === true) {
        finished = true
        break
      }
      if (stream.closed) break
      // An item that cannot be sent throws here; `finally` then returns the source, as
      // for-await does, so that the producer stops too.
      await stream.send(step.value)
    }
  } finally {
    off()
    if (!finished) stop()
  }
}
