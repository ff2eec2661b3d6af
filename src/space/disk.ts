import fs from 'node:fs/promises'
import path from 'node:path'

/** Bytes of the files in a directory tree (the LevelDB folder: a few hundred files at most). */
export async function dirBytes (dir: string): Promise<number> {
  let total = 0
  let entries
  try {
    entries = await fs.readdir(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const e of entries) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) total += await dirBytes(p)
    else if (e.isFile()) total += (await fs.stat(p).catch(() => ({ size: 0 }))).size
  }
  return total
}

/** Free bytes for unprivileged users on the volume holding `dir`. */
export async function freeBytes (dir: string): Promise<number | undefined> {
  try {
    const s = await fs.statfs(dir)
    return s.bavail * s.bsize
  } catch {
    return undefined
  }
}
