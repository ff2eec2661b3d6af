import fs from 'node:fs/promises'
import path from 'node:path'
import { encodeDirManifest, type DirEntry } from '../../src/dirs/manifest.js'

/** A file stored with its executable bit set. */
export class Exec {
  constructor (readonly content: string | Uint8Array) {}
}

/** A tree to store: a name maps to file content (a string or bytes, `Exec` for an executable) or to a subtree. */
export interface TreeSpec {
  [name: string]: string | Uint8Array | Exec | TreeSpec
}

/** What a node needs to store a tree: its `add` of content. */
export interface AddsBlobs {
  add: (source: Iterable<Uint8Array>) => Promise<{ sha1: string, size: number }>
}

/**
 * Stores a tree through the node's own add of blobs: each file's content, then each directory's
 * manifest (encodeDirManifest), deepest first. Answers the root manifest's sha1 and the total
 * bytes of its files. (The directory add of issue 14's write side does this for real folders.)
 */
export async function storeTree (node: AddsBlobs, spec: TreeSpec): Promise<{ sha1: string, size: number, uri: string }> {
  const entries: DirEntry[] = []
  for (const [name, value] of Object.entries(spec)) {
    if (typeof value === 'string' || value instanceof Uint8Array || value instanceof Exec) {
      const content = value instanceof Exec ? value.content : value
      const put = await node.add([typeof content === 'string' ? Buffer.from(content) : content])
      entries.push({ name, kind: 'file', sha1: put.sha1, size: put.size, exec: value instanceof Exec })
    } else {
      const sub = await storeTree(node, value)
      entries.push({ name, kind: 'dir', sha1: sub.sha1, size: sub.size, exec: false })
    }
  }
  const put = await node.add([encodeDirManifest({ entries })])
  const size = entries.reduce((n, e) => n + e.size, 0)
  return { sha1: put.sha1, size, uri: `sha1dir://${put.sha1}` }
}

/** A tree on disk read back as a TreeSpec (files as strings, executables as Exec); fails on anything but files and folders. */
export async function readTree (dir: string): Promise<TreeSpec> {
  const out: TreeSpec = {}
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out[entry.name] = await readTree(full)
    else if (entry.isFile()) {
      const content = await fs.readFile(full, 'utf8')
      const mode = (await fs.stat(full)).mode
      out[entry.name] = (mode & 0o100) !== 0 ? new Exec(content) : content
    } else throw new Error(`${full} is neither a file nor a directory`)
  }
  return out
}

/** Names in `dir` that a get of `base` may leave behind (`.BASE.trove-get-*`, `.BASE.trove-old-*`). */
export async function tempSiblings (dir: string, base: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.startsWith(`.${base}.trove-`))
}

/** The code of the error `p` rejects with (tests check codes, not messages); "resolved" when it does not reject. */
export async function errorCode (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code ?? String(err)
  }
  return 'resolved'
}


/**
 * A tree to build on disk: path (with `/`) to content; a path ending in `/` is a directory (empty
 * unless other paths fill it); `{ exec: true }` sets the owner-executable bit.
 */
export type DiskTreeSpec = Record<string, string | Uint8Array | { content: string | Uint8Array, exec?: boolean } | null>

/** Builds `spec` under `root` (created), with the modes the spec says (0644, or 0755 for exec). */
export async function makeTree (root: string, spec: DiskTreeSpec): Promise<void> {
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
