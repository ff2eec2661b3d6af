import fs from 'node:fs/promises'
import path from 'node:path'

/**
 * A tree to build on disk: path (with `/`) to content; a path ending in `/` is a directory (empty
 * unless other paths fill it); `{ exec: true }` sets the owner-executable bit.
 */
export type TreeSpec = Record<string, string | Uint8Array | { content: string | Uint8Array, exec?: boolean } | null>

/** Builds `spec` under `root` (created), with the modes the spec says (0644, or 0755 for exec). */
export async function makeTree (root: string, spec: TreeSpec): Promise<void> {
  await fs.mkdir(root, { recursive: true })
  for (const [rel, value] of Object.entries(spec)) {
    const p = path.join(root, ...rel.split('/').filter((s) => s !== ''))
    if (rel.endsWith('/')) {
      await fs.mkdir(p, { recursive: true })
      continue
    }
    await fs.mkdir(path.dirname(p), { recursive: true })
    const v = value ?? ''
    const file = typeof v === 'string' || v instanceof Uint8Array ? { content: v, exec: false } : v
    await fs.writeFile(p, file.content)
    await fs.chmod(p, file.exec === true ? 0o755 : 0o644)
  }
}

/** Files of `n` distinct small contents spread over `folders` folders: `d<j>/f<i>.bin`. */
export async function makeManyFiles (root: string, n: number, folders: number, bytes: number): Promise<void> {
  for (let j = 0; j < folders; j++) await fs.mkdir(path.join(root, `d${j}`), { recursive: true })
  const batch: Array<Promise<void>> = []
  for (let i = 0; i < n; i++) {
    const content = Buffer.alloc(bytes, i % 251)
    content.writeUInt32BE(i, 0)
    batch.push(fs.writeFile(path.join(root, `d${i % folders}`, `f${i}.bin`), content))
    if (batch.length >= 256) await Promise.all(batch.splice(0))
  }
  await Promise.all(batch)
}
