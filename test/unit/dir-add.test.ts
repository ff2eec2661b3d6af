import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { addLocalDir } from '../../src/dirs/add.js'
import { decodeDirManifest } from '../../src/dirs/manifest.js'
import { makeManyFiles, makeTree } from '../helpers/dirs.js'
import { tempDir } from '../helpers/tmp.js'
import { openTempTrove, sha1Of, type TempTrove } from '../helpers/trove.js'

const refused = { name: 'InvalidDirEntryError', code: 'INVALID_DIR_ENTRY' }

describe('adding a local directory', () => {
  let t: TempTrove
  let work: { dir: string, cleanup: () => Promise<void> }
  let n = 0
  const fresh = async (): Promise<string> => path.join(work.dir, `tree${n++}`)
  before(async () => {
    t = await openTempTrove()
    work = await tempDir('trove-dir-add-')
  })
  after(async () => {
    await t.cleanup()
    await work.cleanup()
  })

  const entries = async (sha1: string): Promise<Record<string, { kind: string, sha1: string, size: number, exec: boolean }>> =>
    Object.fromEntries(decodeDirManifest(await t.trove.store.readBytes(sha1)).entries.map((e) => [e.name, e]))

  it('stores small files in packs and large ones as files, with their exec bits, and reports progress', async () => {
    const dir = await fresh()
    const big = Buffer.alloc(300_000, 7)
    await makeTree(dir, { 'small.txt': 'small\n', 'big.bin': big, 'bin/tool': { content: 'x', exec: true } })
    const seen: Array<{ files: number, bytes: number }> = []
    const r = await t.trove.addDir(dir, { onProgress: (p) => seen.push({ ...p }) })
    assert.deepEqual({ files: r.files, dirs: r.dirs, bytes: r.bytes, name: r.name }, { files: 3, dirs: 2, bytes: 300_007, name: path.basename(dir) })
    assert.deepEqual(seen[seen.length - 1], { files: 3, bytes: 300_007 })
    const top = await entries(r.sha1)
    assert.equal(top['big.bin'].sha1, sha1Of(big))
    assert.equal((await t.trove.store.locate(sha1Of('small\n')))?.packed, true, 'a small file goes into a pack')
    assert.equal((await t.trove.store.locate(sha1Of(big)))?.packed, false)
    assert.equal((await entries(top.bin.sha1)).tool.exec, true)
    assert.equal(r.changed, undefined)
    assert.equal(r.skipped, undefined)
  })

  it('gives one tree one hash, wherever it is and whenever its files were written', async () => {
    const spec = { 'a/x.txt': 'x', 'b/y.txt': 'y', 'c/': null }
    const one = await fresh()
    const two = await fresh()
    await makeTree(one, spec)
    await makeTree(two, spec)
    await fs.utimes(path.join(two, 'a/x.txt'), new Date(0), new Date(0))
    assert.equal((await t.trove.addDir(one)).sha1, (await t.trove.addDir(two)).sha1)
  })

  it('refuses a symlink by default, naming it', async () => {
    const dir = await fresh()
    await makeTree(dir, { 'a/real.txt': 'real' })
    await fs.symlink('real.txt', path.join(dir, 'a/link.txt'))
    await assert.rejects(t.trove.addDir(dir), (err: Error & { code?: string }) => {
      assert.equal(err.name, refused.name)
      assert.equal(err.code, refused.code)
      assert.match(err.message, /a\/link\.txt/)
      assert.doesNotMatch(err.message, /\n/, 'one line')
      return true
    })
  })

  it('with followSymlinks stores what links inside the tree point to', async () => {
    const dir = await fresh()
    await makeTree(dir, { 'a/real.txt': 'real', 'sub/inner.txt': 'inner' })
    await fs.symlink('real.txt', path.join(dir, 'a/link.txt'))
    await fs.symlink('../sub', path.join(dir, 'a/sublink'))
    const r = await t.trove.addDir(dir, { followSymlinks: true })
    const a = await entries((await entries(r.sha1)).a.sha1)
    assert.equal(a['link.txt'].kind, 'file')
    assert.equal(a['link.txt'].sha1, sha1Of('real'))
    assert.equal(a.sublink.kind, 'dir')
    assert.equal(a.sublink.sha1, (await entries(r.sha1)).sub.sha1, 'the linked directory is the same tree')
  })

  it('with followSymlinks refuses a link out of the tree, a dangling link and a loop', async () => {
    const outside = await fresh()
    await makeTree(outside, { 'secret.txt': 'secret' })
    for (const [target, name] of [[path.join(outside, 'secret.txt'), 'out'], ['nowhere', 'dangling'], ['..', 'loop']]) {
      const dir = await fresh()
      await makeTree(dir, { 'a/ok.txt': 'ok' })
      await fs.symlink(target, path.join(dir, 'a', name))
      await assert.rejects(t.trove.addDir(dir, { followSymlinks: true }), refused, name)
    }
  })

  it('skips sockets and FIFOs, listing them', async () => {
    const dir = await fresh()
    await makeTree(dir, { 'ok.txt': 'ok' })
    execFileSync('mkfifo', [path.join(dir, 'pipe')])
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(path.join(dir, 'sock'), resolve))
    try {
      const r = await t.trove.addDir(dir)
      assert.deepEqual([...(r.skipped ?? [])].sort(), ['pipe', 'sock'])
      assert.deepEqual(Object.keys(await entries(r.sha1)), ['ok.txt'])
    } finally {
      server.close()
    }
  })

  it('refuses a name that is not valid UTF-8', async () => {
    const dir = await fresh()
    await makeTree(dir, { 'ok.txt': 'ok' })
    await fs.writeFile(Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x61, 0xff, 0x62])]), 'x')
    await assert.rejects(t.trove.addDir(dir), refused)
  })

  it('refuses a path that is not a directory', async () => {
    const dir = await fresh()
    await makeTree(dir, { 'f.txt': 'f' })
    await assert.rejects(t.trove.addDir(path.join(dir, 'f.txt')), { code: 'FILE_NOT_FOUND' })
    await assert.rejects(t.trove.addDir(path.join(dir, 'missing')), { code: 'FILE_NOT_FOUND' })
  })

  it('stores a file that changes while it is added as read, and says it changed', async () => {
    const dir = await fresh()
    await makeTree(dir, { 'grows.bin': Buffer.alloc(100_000, 1), 'steady.txt': 'steady' })
    const store = t.trove.store
    const r = await addLocalDir({
      putBytes: async (bytes) => store.putBytes(bytes),
      putFile: async (file) => {
        const put = await store.putFile(file)
        // written to after it was stored: the directory must hold what was stored
        await fs.appendFile(file, 'more')
        return put
      }
    }, dir)
    assert.deepEqual(r.changed, ['grows.bin'])
    const e = (await entries(r.sha1))['grows.bin']
    assert.equal(e.size, 100_000)
    assert.equal(e.sha1, sha1Of(await store.readBytes(e.sha1)), 'the entry is the hash of the stored bytes')
  })

  it('records the directory under a ref beside what the ref holds, and pins the root', async () => {
    const dir = await fresh()
    await makeTree(dir, { 'f.txt': 'f' })
    await t.trove.setRef('lab/dirref', { 'notes.txt': `sha1://${sha1Of('n')}` })
    const r = await t.trove.addDir(dir, { ref: 'lab/dirref', pin: true })
    assert.equal(r.entry, path.basename(dir))
    assert.deepEqual((await t.trove.getRef('lab/dirref')).obj, { 'notes.txt': `sha1://${sha1Of('n')}`, [path.basename(dir)]: r.uri })
    assert.equal((await t.trove.why(r.uri)).pinned, true)
    await t.trove.setRef('lab/array', [1])
    await assert.rejects(t.trove.addDir(dir, { ref: 'lab/array' }), { code: 'REF_NOT_OBJECT' })
  })

  it('adds a folder of 20,000 entries within its memory bound', async () => {
    // the bound (docs/formats.md, docs/performance.md): the entries of the directories on the
    // current path and the manifest being built, ~1 KB per entry of the largest folder; the
    // bench adds 100,000 and reports peak RSS
    const dir = await fresh()
    const count = 20_000
    await makeManyFiles(dir, count, 1, 64)
    global.gc?.()
    const base = process.memoryUsage().heapUsed
    let peak = base
    const r = await t.trove.addDir(dir, { onProgress: () => { peak = Math.max(peak, process.memoryUsage().heapUsed) } })
    assert.equal(r.files, count)
    const d0 = decodeDirManifest(await t.trove.store.readBytes((await entries(r.sha1)).d0.sha1))
    assert.equal(d0.entries.length, count)
    assert.ok(peak - base < 100 * 1024 * 1024, `heap grew by ${Math.round((peak - base) / 1048576)} MiB adding ${count} entries`)
  })
})
