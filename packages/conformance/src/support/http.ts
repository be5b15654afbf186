/** Small readers of raw HTTP/1.1 responses, for tests that need the exact bytes. */
import { splitResponse } from '../../../core/src/test-utils/index.js'

/** A raw response head: the status code and every header line, names lower-cased. */
export interface RawHead {
  status: number
  /** Each header's values in the order they came. */
  headers: Map<string, string[]>
}

/** Parses the head of a raw HTTP/1.1 response. */
export function parseHead(bytes: Buffer): RawHead {
  const { head } = splitResponse(bytes)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const status = Number(statusLine.split(' ')[1])
  const headers = new Map<string, string[]>()
  for (const line of lines) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim().toLowerCase()
    const values = headers.get(name) ?? []
    values.push(line.slice(colon + 1).trim())
    headers.set(name, values)
  }
  return { status, headers }
}

/** The body of a raw response (chunked coding removed), as UTF-8. */
export function rawBody(bytes: Buffer): string {
  return splitResponse(bytes).body.toString('utf8')
}

/** True once a raw response's head has fully arrived. */
export function hasHead(bytes: Buffer): boolean {
  return bytes.includes('\r\n\r\n')
}

/** True once a raw response has fully arrived: its Content-Length, or its last chunk. */
export function isComplete(bytes: Buffer): boolean {
  const end = bytes.indexOf('\r\n\r\n')
  if (end === -1) return false
  const head = bytes.subarray(0, end).toString('latin1')
  const length = /^content-length:\s*(\d+)/im.exec(head)
  if (length !== null) return bytes.length - (end + 4) >= Number(length[1])
  const body = bytes.subarray(end + 4).toString('latin1')
  return body === '0\r\n\r\n' || body.endsWith('\r\n0\r\n\r\n')
}
