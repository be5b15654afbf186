import v8 from 'node:v8'
import vm from 'node:vm'

// A real collection before each memory reading, without a command-line flag.
v8.setFlagsFromString('--expose-gc')
const gc = (globalThis as { gc?: () => void }).gc ?? (vm.runInNewContext('gc') as () => void)

/**
 * What the process holds after two full collections: heap (strings live there) plus array
 * buffers (written chunks live there), in bytes.
 */
export function memory(): number {
  gc()
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}
