/**
 * The suite runs on the Node it was meant for: `pnpm run test:node24` sets
 * SSEKIT_EXPECT_NODE=24, so a wrong binary cannot pass for Node 24 silently.
 */
import { expect, test } from 'vitest'

test('runs on the expected Node major (SSEKIT_EXPECT_NODE), else on Node 20 or newer', () => {
  const major = process.versions.node.split('.')[0]!
  const expected = process.env.SSEKIT_EXPECT_NODE
  if (expected !== undefined) expect(major).toBe(expected)
  else expect(Number(major)).toBeGreaterThanOrEqual(20)
})
