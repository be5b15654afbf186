import { describe, SseTypeError } from './errors.js'

/** Longest log (channel) name. */
export const MAX_LOG_NAME = 256

// Control characters would corrupt keys and logs; braces are Redis Cluster hash tags.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const FORBIDDEN = /[\u0000-\u001f\u007f{}]/

/**
 * Checks a log (channel) name: a string of 1 to 256 characters without control characters
 * or braces. Names often carry ids from a URL, so this runs before any store sees one.
 * @throws TypeError naming "name".
 */
export function checkLogName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_LOG_NAME) {
    throw nameError('a string of 1 to 256 characters', name)
  }
  if (FORBIDDEN.test(name)) throw nameError('free of control characters and braces', name)
  return name
}

function nameError(rule: string, value: unknown): SseTypeError {
  return new SseTypeError(
    'ERR_SSE_INVALID_OPTION',
    `@ssekit/core: channel "name" must be ${rule}; received ${describe(value)}.`,
  )
}
