/**
 * Turns of the event loop, counted: writes made in one turn share a number. A burst written
 * in one turn has not had a chance to leave yet (Node corks a response until the turn
 * ends), so it never counts as a client being behind.
 */
let turn = 0
let armed = false

const later: (fn: () => void) => unknown =
  typeof setImmediate === 'function' ? setImmediate : (fn) => setTimeout(fn, 0)

function next(): void {
  turn++
  armed = false
}

/** The current turn's number. */
export function currentTurn(): number {
  if (!armed) {
    armed = true
    later(next)
  }
  return turn
}
