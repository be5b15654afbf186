/** Order statistics and number formatting for the report. */

/** The q-quantile (0..1) by linear interpolation between closest ranks. */
export function quantile(values: readonly number[], q: number): number {
  return quantileSorted(
    [...values].sort((a, b) => a - b),
    q,
  )
}

/** `quantile` of values already sorted in ascending order. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  if (sorted[lo] === sorted[hi]) return sorted[lo]!
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

export const median = (values: readonly number[]) => quantile(values, 0.5)

export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return '—'
  return value.toFixed(digits)
}

/** 12,345 / 1.23 M: events per second. */
export function rate(value: number): string {
  if (!Number.isFinite(value)) return '—'
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`
  if (value >= 1e4) return `${Math.round(value / 1e3)} k`
  return value.toFixed(0)
}

export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—'
  return `${(a / b).toFixed(2)}x`
}

/** A plain-text table: columns of numbers right-aligned, text columns left-aligned. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const numeric = head.map((_, i) =>
    rows.every((r) => r[i] === undefined || r[i] === '' || /^[\d—]/.test(r[i]!)),
  )
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}
