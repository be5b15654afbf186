import { currentTurn } from './tick.js'

/**
 * Tells a client that is behind from one that is only busy. Behind is what is buffered for
 * it less what was written in this turn of the event loop (it has not had a chance to leave
 * yet: a burst is not a slow client) and less the largest frame since the client last
 * caught up (the one it may be reading right now). Too far is more than `maxBufferedBytes`,
 * or, when events are bigger than that, more than one such event. So a client that reads
 * gets events of any size whole, and bursts of any length, while one that never reads holds
 * about `maxBufferedBytes` plus twice the largest event plus one turn's writes.
 */
export class BehindMeter {
  /** The largest frame written since the client last caught up. */
  #inFlight = 0
  /** Bytes written in the current turn, and that turn's number. */
  #turnBytes = 0
  #turn = -1

  /** Counts a write of `length` bytes. */
  wrote(length: number): void {
    const turn = currentTurn()
    if (turn !== this.#turn) {
      this.#turn = turn
      this.#turnBytes = 0
    }
    this.#turnBytes += length
  }

  /** After a write of `length` bytes left `buffered` queued: is the client too far behind? */
  tooFar(buffered: number, length: number, maxBufferedBytes: number): boolean {
    // Nothing was waiting before this frame: the client had caught up.
    if (buffered <= length) this.#inFlight = length
    else if (length > this.#inFlight) this.#inFlight = length
    const allowed = Math.max(maxBufferedBytes, this.#inFlight)
    return buffered - this.#turnBytes - this.#inFlight > allowed
  }

  /** The client drained what was queued. */
  caughtUp(): void {
    this.#inFlight = 0
  }
}
