import { constants } from 'node:fs'
import fs from 'node:fs/promises'
import { runChecked } from './child.js'

const DROP_CACHES = '/proc/sys/vm/drop_caches'

/** True when this process may drop the page cache (root on a host or a privileged container). */
export async function canDropCaches (): Promise<boolean> {
  try {
    await fs.access(DROP_CACHES, constants.W_OK)
    // access() answers yes for root even where the write is refused, so try it once
    await dropCaches()
    return true
  } catch {
    return false
  }
}

/** Writes back dirty pages, then drops clean page cache, dentries and inodes. */
export async function dropCaches (): Promise<void> {
  await runChecked('sync', [])
  await fs.writeFile(DROP_CACHES, '3\n')
}
