/**
 * Runs tasks one at a time in submission order. Used where a read-modify-write must not
 * interleave (byte counters, a ref's version number) without blocking unrelated work.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()

  run<T> (task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task)
    // the tail only orders the next task; the caller gets the rejection through `result`
    this.tail = result.catch(() => {})
    return result
  }
}

/** One SerialQueue per key, dropped when idle so the map does not grow with the key space. */
export class KeyedSerialQueue {
  private readonly tails = new Map<string, Promise<unknown>>()

  run<T> (key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve()
    const result = prev.then(task, task)
    // as in SerialQueue: the caller gets the rejection, the tail only orders the next task
    const tail = result.catch(() => {})
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return result
  }
}

/**
 * Runs `fn` once after the current turn of the event loop, however often it is asked for during
 * the turn: work asked for together (requests made in the same I/O callback) is handled together.
 */
export class NextTurn {
  private scheduled = false

  constructor (private readonly fn: () => void) {}

  get pending (): boolean {
    return this.scheduled
  }

  request (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.fn()
    })
  }
}
