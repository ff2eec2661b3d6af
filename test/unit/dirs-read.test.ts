import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { after, before, describe, it } from 'node:test'
import { MAX_DIR_DEPTH } from '../../src/dirs/constants.js'
import { fetchTree } from '../../src/dirs/fetch-tree.js'
import { getDir, type TreeWriter } from '../../src/dirs/get-dir.js'
import { listDir } from '../../src/dirs/list.js'
import { encodeDirManifest } from '../../src/dirs/manifest.js'
import { resolveDirPath } from '../../src/dirs/resolve.js'
import { parseDirUri } from '../../src/dirs/uri.js'
import { BlobNotFoundError } from '../../src/errors.js'
import { Exec, errorCode, readTree, storeTree, tempSiblings, type TreeSpec } from '../helpers/dirs.js'
import { tempDir } from '../helpers/tmp.js'

/**
 * A store in memory: `local` is what this node holds, `remote` what "peers" hold; fetchMany moves
 * blobs from remote to local. Writes go to the real filesystem.
 */
class MemoryStore {
  readonly local = new Map<string, Uint8Array>()
  readonly remote = new Map<string, Uint8Array>()
  fetchCalls = 0
  /** When set, the n-th file write (from 1) fails with this errno code. */
  failWriteAt?: { n: number, code: string }
  private writes = 0

  async add (source: Iterable<Uint8Array>): Promise<{ sha1: string, size: number }> {
    const bytes = Buffer.concat([...source])
    const sha1 = createHash('sha1').update(bytes).digest('hex')
    this.remote.set(sha1, bytes)
    return { sha1, size: bytes.length }
  }

  /** Everything added so far becomes local (as if added on this node). */
  makeLocal (): void {
    for (const [k, v] of this.remote) this.local.set(k, v)
  }

  source (): TreeWriter {
    return {
      readManifest: async (sha1) => {
        const b = this.local.get(sha1) ?? this.remote.get(sha1)
        if (b === undefined) throw new BlobNotFoundError(`no ${sha1}`)
        this.local.set(sha1, b)
        return b
      },
      sizesOf: async (sha1s) => sha1s.map((s) => this.local.get(s)?.length),
      fetchMany: async (sha1s, options) => {
        this.fetchCalls++
        const result = { fetched: 0, local: 0, failed: [] as Array<{ sha1: string, code: string, message: string }> }
        let done = 0
        for (const s of new Set(sha1s)) {
          if (this.local.has(s)) { result.local++; continue }
          const b = this.remote.get(s)
          if (b === undefined) result.failed.push({ sha1: s, code: 'NO_PROVIDERS', message: 'nobody has it' })
          else { this.local.set(s, b); result.fetched++ }
          options.onProgress?.({ done: ++done, total: sha1s.length })
        }
        return result
      },
      writeFiles: async (files, options) => {
        for (const { sha1, size, file, exec } of files) {
          this.writes++
          if (this.failWriteAt !== undefined && this.writes >= this.failWriteAt.n) throw Object.assign(new Error(`${this.failWriteAt.code}: injected`), { code: this.failWriteAt.code })
          const b = this.local.get(sha1)
          assert.ok(b !== undefined && b.length === size)
          await fs.writeFile(file, b, { flag: 'wx', mode: exec ? 0o755 : 0o644 })
          options.onWritten(size)
        }
      }
    }
  }
}

const TREE: TreeSpec = {
  'a.txt': 'alpha',
  bin: { 'run.sh': new Exec('#!/bin/sh\necho hi\n') },
  empty: {},
  sub: { deeper: { 'z.txt': 'zed' }, 'b.txt': 'beta' },
  'név with spaces%.txt': 'unicode'
}

describe('dirs: resolve and list', () => {
  let mem: MemoryStore
  let root: { sha1: string, size: number, uri: string }
  before(async () => {
    mem = new MemoryStore()
    root = await storeTree(mem, TREE)
  })

  it('resolves the root, a subdirectory and a file, each with its size', async () => {
    const src = mem.source()
    const top = await resolveDirPath(src, parseDirUri(root.uri))
    assert.equal(top.kind, 'dir')
    assert.equal(top.size, root.size)
    const sub = await resolveDirPath(src, parseDirUri(`${root.uri}/sub/`))
    assert.equal(sub.kind, 'dir')
    assert.equal(sub.size, 'zed'.length + 'beta'.length)
    const file = await resolveDirPath(src, parseDirUri(`${root.uri}/sub/deeper/z.txt`))
    assert.deepEqual([file.kind, file.size], ['file', 3])
    const odd = await resolveDirPath(src, parseDirUri(`${root.uri}/${encodeURIComponent('név with spaces%.txt')}`))
    assert.equal(odd.kind, 'file')
  })

  it('refuses a missing name, a path through a file, a blob that is no manifest and a path deeper than directories nest', async () => {
    const src = mem.source()
    assert.equal(await errorCode(resolveDirPath(src, parseDirUri(`${root.uri}/nope`))), 'DIR_PATH_NOT_FOUND')
    assert.equal(await errorCode(resolveDirPath(src, parseDirUri(`${root.uri}/a.txt/x`))), 'DIR_PATH_NOT_FOUND')
    const plain = await mem.add([Buffer.from('just bytes')])
    assert.equal(await errorCode(resolveDirPath(src, parseDirUri(`sha1dir://${plain.sha1}`))), 'INVALID_DIR_MANIFEST')
    const deep = `${root.uri}/${Array.from({ length: MAX_DIR_DEPTH + 1 }, () => 'd').join('/')}`
    assert.equal(await errorCode(resolveDirPath(src, parseDirUri(deep))), 'DIR_PATH_NOT_FOUND')
  })

  it('lists entries in name order with sizes, kinds and whether each is local; a file lists as itself', async () => {
    const local = new MemoryStore()
    const r = await storeTree(local, TREE)
    local.makeLocal()
    local.local.delete((await local.add([Buffer.from('alpha')])).sha1)
    const c = { readManifest: local.source().readManifest, hasMany: async (s: string[]) => s.map((x) => local.local.has(x)) }
    const listing = await listDir(c, r.uri)
    assert.equal(listing.kind, 'dir')
    assert.equal(listing.total, 5)
    assert.deepEqual(listing.entries.map((e) => [e.name, e.kind, e.local]), [
      ['a.txt', 'file', false], ['bin', 'dir', true], ['empty', 'dir', true], ['név with spaces%.txt', 'file', true], ['sub', 'dir', true]
    ])
    assert.equal(listing.entries[1].size, '#!/bin/sh\necho hi\n'.length)
    const file = await listDir(c, `${r.uri}/bin/run.sh`)
    assert.deepEqual([file.kind, file.total, file.entries[0].exec, file.entries[0].name], ['file', 1, true, 'run.sh'])
  })

  it('pages a large directory with limit and cursor', async () => {
    const big = new MemoryStore()
    const spec: TreeSpec = {}
    for (let i = 0; i < 25; i++) spec[`f${String(i).padStart(2, '0')}`] = `content ${i}`
    const r = await storeTree(big, spec)
    const c = { readManifest: big.source().readManifest, hasMany: async (s: string[]) => s.map(() => false) }
    const names: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await listDir(c, r.uri, { limit: 10, cursor })
      names.push(...page.entries.map((e) => e.name))
      cursor = page.next
      pages++
    } while (cursor !== undefined)
    assert.equal(pages, 3)
    assert.deepEqual(names, Object.keys(spec))
    assert.equal(await errorCode(listDir(c, r.uri, { limit: 0 })), 'INVALID_ARGUMENT')
  })
})

describe('dirs: get', () => {
  let tmp: { dir: string, cleanup: () => Promise<void> }
  before(async () => { tmp = await tempDir('trove-dirs-') })
  after(async () => { await tmp.cleanup() })

  it('fetches what is missing and writes the tree with exec bits and empty directories; refuses an existing target unless forced', async () => {
    const mem = new MemoryStore()
    const r = await storeTree(mem, TREE)
    const dest = path.join(tmp.dir, 'out')
    const phases = new Set<string>()
    const res = await getDir(mem.source(), r.uri, dest, { onProgress: (p) => phases.add(p.phase) })
    assert.deepEqual(await readTree(dest), TREE)
    assert.deepEqual([res.kind, res.files, res.dirs, res.bytes, res.replaced], ['dir', 5, 4, r.size, false])
    assert.deepEqual([...phases].sort(), ['fetch', 'manifests', 'write'])
    assert.deepEqual(await tempSiblings(tmp.dir, 'out'), [])

    assert.equal(await errorCode(getDir(mem.source(), r.uri, dest)), 'FILE_EXISTS')
    await fs.writeFile(path.join(dest, 'stray'), 'x')
    const again = await getDir(mem.source(), r.uri, dest, { force: true })
    assert.equal(again.replaced, true)
    assert.equal(again.fetched, 0)
    assert.deepEqual(await readTree(dest), TREE)
    assert.deepEqual(await tempSiblings(tmp.dir, 'out'), [])
  })

  it('writes a subdirectory, and a single file when the path names one', async () => {
    const mem = new MemoryStore()
    const r = await storeTree(mem, TREE)
    await getDir(mem.source(), `${r.uri}/sub`, path.join(tmp.dir, 'subonly'))
    assert.deepEqual(await readTree(path.join(tmp.dir, 'subonly')), TREE.sub)
    const one = await getDir(mem.source(), `${r.uri}/bin/run.sh`, path.join(tmp.dir, 'run.sh'))
    assert.equal(one.kind, 'file')
    assert.equal(await fs.readFile(path.join(tmp.dir, 'run.sh'), 'utf8'), '#!/bin/sh\necho hi\n')
    assert.ok(((await fs.stat(path.join(tmp.dir, 'run.sh'))).mode & 0o100) !== 0)
  })

  it('refuses a forged manifest (a ".." name, a lying size, nesting past the limit) before writing anything', async () => {
    const mem = new MemoryStore()
    const file = await mem.add([Buffer.from('evil')])
    const forged = await mem.add([Buffer.from(`{"entries":[{"exec":false,"kind":"file","name":"..","sha1":"${file.sha1}","size":4}],"type":"trove/dir","version":1}`)])
    const liar = await mem.add([encodeDirManifest({ entries: [{ name: 'x', kind: 'file', sha1: file.sha1, size: 99, exec: false }] })])
    // a chain one deeper than MAX_DIR_DEPTH: each manifest holds the next
    let chain = (await mem.add([encodeDirManifest({ entries: [] })])).sha1
    for (let i = 0; i <= MAX_DIR_DEPTH; i++) chain = (await mem.add([encodeDirManifest({ entries: [{ name: 'd', kind: 'dir', sha1: chain, size: 0, exec: false }] })])).sha1
    const wrapsForged = await mem.add([encodeDirManifest({ entries: [{ name: 'ok', kind: 'dir', sha1: forged.sha1, size: 4, exec: false }] })])
    for (const [what, sha1, code] of [['..', forged.sha1, 'INVALID_DIR_MANIFEST'], ['size', liar.sha1, 'INVALID_DIR_MANIFEST'], ['depth', chain, 'INVALID_DIR_MANIFEST'], ['nested ..', wrapsForged.sha1, 'INVALID_DIR_MANIFEST']]) {
      const dest = path.join(tmp.dir, `forged-${what.replace(/\W/g, '')}`)
      assert.equal(await errorCode(getDir(mem.source(), `sha1dir://${sha1}`, dest)), code, what)
      assert.equal(await fs.stat(dest).then(() => true, () => false), false, `${what}: nothing at the target`)
      assert.deepEqual(await tempSiblings(tmp.dir, path.basename(dest)), [], `${what}: no temporary tree`)
    }
    assert.equal(await fs.stat(path.join(tmp.dir, 'evil')).then(() => true, () => false), false)
  })

  it('a missing blob fails the get with what could not be fetched; a rerun fetches only the rest', async () => {
    const mem = new MemoryStore()
    const r = await storeTree(mem, { 'a.txt': 'one', 'b.txt': 'two', 'c.txt': 'three' })
    const two = createHash('sha1').update('two').digest('hex')
    const held = mem.remote.get(two)!
    mem.remote.delete(two)
    const dest = path.join(tmp.dir, 'partial')
    assert.equal(await errorCode(getDir(mem.source(), r.uri, dest)), 'NO_PROVIDERS')
    assert.equal(await fs.stat(dest).then(() => true, () => false), false)
    mem.remote.set(two, held)
    const res = await getDir(mem.source(), r.uri, dest)
    assert.equal(res.fetched, 1)
    assert.equal(res.local, 2)
  })

  it('a disk that fills while the tree is written: STORAGE_FULL, the temporary tree removed, the blobs kept', async () => {
    const mem = new MemoryStore()
    const r = await storeTree(mem, TREE)
    mem.failWriteAt = { n: 3, code: 'ENOSPC' }
    const dest = path.join(tmp.dir, 'full')
    assert.equal(await errorCode(getDir(mem.source(), r.uri, dest)), 'STORAGE_FULL')
    assert.equal(await fs.stat(dest).then(() => true, () => false), false)
    assert.deepEqual(await tempSiblings(tmp.dir, 'full'), [])
    assert.ok(mem.local.size >= 10, 'fetched blobs stay')
    mem.failWriteAt = undefined
    const res = await getDir(mem.source(), r.uri, dest)
    assert.equal(res.fetched, 0)
  })

  it('cleans temporary trees of dead processes, and moves back a tree a killed get was replacing', async () => {
    const mem = new MemoryStore()
    const r = await storeTree(mem, { 'f.txt': 'new' })
    const deadPid = 2 ** 22 + 12345
    const stale = path.join(tmp.dir, `.stale.trove-get-${deadPid}-0123abcd`)
    await fs.mkdir(stale)
    await fs.writeFile(path.join(stale, 'half'), 'x')
    await getDir(mem.source(), r.uri, path.join(tmp.dir, 'stale'))
    assert.deepEqual(await tempSiblings(tmp.dir, 'stale'), [])

    // killed between moving the old tree aside and moving the new one in: the old one comes back
    const old = path.join(tmp.dir, `.kept.trove-old-${deadPid}-0123abcd`)
    await fs.mkdir(old)
    await fs.writeFile(path.join(old, 'mine.txt'), 'user data')
    assert.equal(await errorCode(getDir(mem.source(), r.uri, path.join(tmp.dir, 'kept'))), 'FILE_EXISTS')
    assert.equal(await fs.readFile(path.join(tmp.dir, 'kept', 'mine.txt'), 'utf8'), 'user data')
  })

  it('fetchTree makes a tree local without writing, and releases what it held', async () => {
    const mem = new MemoryStore()
    const r = await storeTree(mem, TREE)
    const held: string[] = []
    const src = { ...mem.source(), hold: (s: string[]) => { held.push(...s); return () => { held.length = 0 } } }
    const tree = await fetchTree(src, r.uri)
    assert.equal(tree.result.files, 5)
    assert.ok(held.length > 0)
    tree.release()
    assert.equal(held.length, 0)
  })

  it('a directory of 100,000 entries is written with bounded memory', async () => {
    const mem = new MemoryStore()
    const spec: TreeSpec = {}
    for (let i = 0; i < 100_000; i++) spec[`file-${i}.dat`] = `${i % 10}`
    const r = await storeTree(mem, spec)
    mem.makeLocal()
    const dest = path.join(tmp.dir, 'huge')
    // what is still referenced (garbage collected first): the bound is on what the get holds, not on how lazily V8 collects
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    const used = (): number => { gc(); const m = process.memoryUsage(); return m.heapUsed + m.external }
    const base = used()
    let peak = base
    let phase = ''
    const res = await getDir(mem.source(), r.uri, dest, {
      onProgress: (p) => {
        if (p.phase === phase && p.files % 10_000 !== 0) return
        phase = p.phase
        peak = Math.max(peak, used())
      }
    })
    assert.equal(res.files, 100_000)
    assert.equal((await fs.readdir(dest)).length, 100_000)
    // the bound stated in docs/performance.md: a decoded manifest, the walk's map and a directory's
    // list of files (a few hundred bytes an entry), never the files' contents
    assert.ok(peak - base < 100 * 1024 * 1024, `memory held grew by ${Math.round((peak - base) / 1048576)} MiB`)
  })
})
