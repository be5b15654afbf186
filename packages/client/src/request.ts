/** What a request sends and what an answer means: pure helpers of the connection. */
import { SseClientError } from './errors.js'

/** A header value carries bytes: a non-ASCII id goes as its UTF-8 bytes, as browsers send it. */
export function headerValue(id: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII range check
  if (/^[\x00-\x7f]*$/.test(id)) return id
  let out = ''
  for (const byte of new TextEncoder().encode(id)) out += String.fromCharCode(byte)
  return out
}

export function isEventStream(contentType: string | null): boolean {
  if (contentType === null) return false
  return contentType.split(';', 1)[0]!.trim().toLowerCase() === 'text/event-stream'
}

export function statusError(response: Response, url: string, transient: boolean): SseClientError {
  const status = response.status
  const hint = transient
    ? 'it will be retried'
    : status === 401 || status === 403
      ? 'send the credentials it expects (headers or credentials: "include")'
      : status === 404
        ? 'check the URL (an ssekit app answers 404 for a log that does not exist)'
        : 'a stream needs a 200 with Content-Type: text/event-stream'
  return new SseClientError(
    'ERR_SSE_HTTP_STATUS',
    `@ssekit/client: ${url} answered ${status}${response.statusText === '' ? '' : ` ${response.statusText}`}; ${hint}.`,
    { status },
  )
}

export function cancelBody(response: Response): void {
  response.body?.cancel().catch(() => {})
}

/** Headers for the GET that resumes a non-GET: no body, so no body headers. */
export function withoutBodyHeaders(headers: Headers): Headers {
  const out = new Headers(headers)
  out.delete('content-type')
  out.delete('content-length')
  return out
}

export function toClientError(error: unknown): SseClientError {
  if (error instanceof SseClientError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new SseClientError(
    'ERR_SSE_NETWORK',
    `@ssekit/client: the request failed or the stream broke off (${message}).`,
    { cause: error },
  )
}
