/**
 * Every number of a run, by scenario, metric, target and repetition. A target's value is
 * the median over repetitions; its ratio to another target (the floor) is the median of
 * the ratios taken within each repetition, so that what moved the whole machine during one
 * repetition moves both sides of that ratio.
 */
import type { Scenario } from './config.js'
import { median } from './stats.js'

type Key = `${Scenario}|${string}|${string}`

export class Results {
  /** Per repetition: values[rep]. */
  readonly #values = new Map<Key, number[]>()
  /** Samples pooled over every repetition (the broadcast latencies). */
  readonly #samples = new Map<Key, number[]>()
  readonly #errors = new Map<`${Scenario}|${string}`, string[]>()
  /** Facts that are not numbers (a count of resources by type, a note). */
  readonly #notes = new Map<Key, unknown[]>()

  set(scenario: Scenario, metric: string, target: string, rep: number, value: number): void {
    const key: Key = `${scenario}|${metric}|${target}`
    const values = this.#values.get(key) ?? []
    values[rep] = value
    this.#values.set(key, values)
  }

  pool(scenario: Scenario, metric: string, target: string, values: number[]): void {
    const key: Key = `${scenario}|${metric}|${target}`
    this.#samples.set(key, [...(this.#samples.get(key) ?? []), ...values])
  }

  note(scenario: Scenario, metric: string, target: string, rep: number, value: unknown): void {
    const key: Key = `${scenario}|${metric}|${target}`
    const values = this.#notes.get(key) ?? []
    values[rep] = value
    this.#notes.set(key, values)
  }

  /** The value of each repetition (holes where one failed). */
  reps(scenario: Scenario, metric: string, target: string): (number | undefined)[] {
    return this.#values.get(`${scenario}|${metric}|${target}`) ?? []
  }

  values(scenario: Scenario, metric: string, target: string): number[] {
    return this.reps(scenario, metric, target).filter((v): v is number => v !== undefined)
  }

  samples(scenario: Scenario, metric: string, target: string): number[] {
    return this.#samples.get(`${scenario}|${metric}|${target}`) ?? []
  }

  notes(scenario: Scenario, metric: string, target: string): unknown[] {
    return this.#notes.get(`${scenario}|${metric}|${target}`) ?? []
  }

  median(scenario: Scenario, metric: string, target: string): number {
    return median(this.values(scenario, metric, target))
  }

  /** Median over repetitions of (target ÷ base) within each repetition. */
  ratio(scenario: Scenario, metric: string, target: string, base = 'floor'): number {
    const a = this.reps(scenario, metric, target)
    const b = this.reps(scenario, metric, base)
    const ratios: number[] = []
    for (let rep = 0; rep < Math.max(a.length, b.length); rep++) {
      const x = a[rep]
      const y = b[rep]
      if (x !== undefined && y !== undefined && y !== 0) ratios.push(x / y)
    }
    return median(ratios)
  }

  fail(scenario: Scenario, target: string, message: string): void {
    const key = `${scenario}|${target}` as const
    this.#errors.set(key, [...(this.#errors.get(key) ?? []), message])
  }

  errors(scenario: Scenario, target: string): string[] {
    return this.#errors.get(`${scenario}|${target}`) ?? []
  }

  ok(scenario: Scenario, target: string): boolean {
    return this.errors(scenario, target).length === 0
  }

  /** Everything, for `--json=` and the smoke test: scenario → target → metric → values. */
  toJSON(): Record<string, Record<string, Record<string, unknown>>> {
    const out: Record<string, Record<string, Record<string, unknown>>> = {}
    const put = (key: string, value: unknown) => {
      const [scenario, metric, target] = key.split('|') as [string, string, string]
      out[scenario] ??= {}
      out[scenario][target] ??= {}
      out[scenario][target][metric] = value
    }
    for (const [key, values] of this.#values) put(key, values)
    for (const [key, values] of this.#samples) put(`${key}`, values)
    for (const [key, errors] of this.#errors) {
      const [scenario, target] = key.split('|') as [string, string]
      put(`${scenario}|failed|${target}`, errors)
    }
    return out
  }
}
