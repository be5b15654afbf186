/**
 * A `fetch` double for the tests of parsing and timing: each call answers the next scripted
 * response, its body made of the given chunks. Like a real fetch, an abort of the request
 * errors the body and is seen by the test (`aborted`).
 */
export interface Scripted {
  status?: number
  headers?: Record<string, string>
  /** Body chunks (strings are UTF-8 encoded); `hang: true` keeps the body open after them. */
  chunks?: (string | Uint8Array)[]
  hang?: boolean
}

export interface FetchDouble {
  fetch: typeof fetch
  /**
   * Each call: the time it was made (Date.now()), its method, URL, headers, and what became of
   * its body: `'open'` while the server could still write, else how it ended.
   */
  calls: {
    at: number
    method: string
    url: string
    headers: Headers
    body: 'open' | 'ended' | 'cancelled' | 'aborted'
  }[]
}

export function fetchDouble(script: Scripted[] | ((index: number) => Scripted)): FetchDouble {
  const double: FetchDouble = {
    calls: [],
    fetch: async (input, init) => {
      const index = double.calls.length
      const call: FetchDouble['calls'][number] = {
        at: Date.now(),
        method: init?.method ?? 'GET',
        url: String(input),
        headers: new Headers(init?.headers),
        body: 'open',
      }
      double.calls.push(call)
      if (init?.signal?.aborted) throw new DOMException('This operation was aborted', 'AbortError')
      const step = typeof script === 'function' ? script(index) : script[index]
      if (step === undefined) throw new TypeError('fetch failed (no more scripted answers)')
      const encoder = new TextEncoder()
      let controller!: ReadableStreamDefaultController<Uint8Array>
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c
          for (const chunk of step.chunks ?? []) {
            c.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk)
          }
          if (step.hang !== true) {
            c.close()
            call.body = 'ended'
          }
        },
        cancel() {
          if (call.body === 'open') call.body = 'cancelled'
        },
      })
      init?.signal?.addEventListener('abort', () => {
        if (call.body !== 'open') return
        call.body = 'aborted'
        controller.error(new DOMException('This operation was aborted', 'AbortError'))
      })
      return new Response(step.status === 204 ? null : body, {
        status: step.status ?? 200,
        headers: step.headers ?? { 'content-type': 'text/event-stream' },
      })
    },
  }
  return double
}
