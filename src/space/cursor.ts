import type { Sub } from '../db.js'

const READ_AHEAD = 1000

/** A sorted LevelDB range read ahead in blocks, for merge-joins of sublevels sharing a sha1 prefix. */
export class Cursor<V = unknown> {
  private buf: Array<[string, V]> = []
  private i = 0
  private done = false
  private readonly it

  constructor (sub: Sub, range: Record<string, string> = {}) {
    this.it = sub.iterator(range)
  }

  async peek (): Promise<[string, V] | undefined> {
    if (this.i < this.buf.length) return this.buf[this.i]
    if (this.done) return undefined
    this.buf = await this.it.nextv(READ_AHEAD) as Array<[string, V]>
    this.i = 0
    if (this.buf.length === 0) {
      this.done = true
      await this.it.close()
      return undefined
    }
    return this.buf[0]
  }

  async next (): Promise<[string, V] | undefined> {
    const e = await this.peek()
    if (e !== undefined) this.i++
    return e
  }

  /** Entries whose key starts with `prefix` (skipping smaller keys first). */
  async take (prefix: string): Promise<Array<[string, V]>> {
    const out: Array<[string, V]> = []
    for (;;) {
      const e = await this.peek()
      if (e === undefined) return out
      const head = e[0].slice(0, prefix.length)
      if (head < prefix) {
        this.i++
        continue
      }
      if (head > prefix) return out
      out.push(e)
      this.i++
    }
  }

  async close (): Promise<void> {
    if (!this.done) {
      this.done = true
      await this.it.close()
    }
  }
}
