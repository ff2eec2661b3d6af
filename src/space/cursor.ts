/**
 * A sorted range read ahead in blocks (a table's or an owner's scan), for merge-joins of tables
 * whose keys share a sha1 prefix.
 */
export class Cursor<V> {
  private buf: Array<[string, V]> = []
  private i = 0
  private done = false

  constructor (private readonly blocks: AsyncGenerator<Array<[string, V]>>) {}

  async peek (): Promise<[string, V] | undefined> {
    while (this.i === this.buf.length) {
      if (this.done) return undefined
      const block = await this.blocks.next()
      if (block.done === true) {
        this.done = true
        return undefined
      }
      this.buf = block.value
      this.i = 0
    }
    return this.buf[this.i]
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
      await this.blocks.return(undefined)
    }
  }
}
