import fs from 'node:fs/promises'
import path from 'node:path'
import { isSha1Hex } from '../uri.js'
import { SHARD_PREFIX_LENGTH } from './constants.js'

/**
 * Where blob files live: `<root>/<first SHARD_PREFIX_LENGTH hex digits>/<sha1>` (js-stores'
 * NextToLast, by prefix). The one place that knows the layout: the store names files with it and
 * verify tells blob files from strays with it.
 */
export class ShardedPaths {
  constructor (readonly root: string, readonly prefixLength = SHARD_PREFIX_LENGTH) {}

  pathOf (sha1: string): string {
    return path.join(this.root, sha1.slice(0, this.prefixLength), sha1)
  }

  /** The sha1 whose blob file `file` is, or undefined for anything else under root (a stray). */
  decode (file: string): string | undefined {
    const name = path.basename(file)
    if (!isSha1Hex(name) || path.basename(path.dirname(file)) !== name.slice(0, this.prefixLength)) return undefined
    return name
  }

  /** Every file under root, shard by shard in name order; a file beside the shards is listed too (a stray). */
  async list (): Promise<string[]> {
    const out: string[] = []
    let shards: string[]
    try {
      shards = await fs.readdir(this.root)
    } catch {
      return out
    }
    for (const shard of shards.sort()) {
      const dir = path.join(this.root, shard)
      const stat = await fs.stat(dir)
      if (!stat.isDirectory()) {
        out.push(dir)
        continue
      }
      for (const name of (await fs.readdir(dir)).sort()) out.push(path.join(dir, name))
    }
    return out
  }
}
