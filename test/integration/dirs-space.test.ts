import assert from 'node:assert/strict'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { encodeDirManifest, type DirEntry } from '../../src/dirs/manifest.js'
import { extractLinks } from '../../src/space/links.js'
import { findReferences } from '../../src/uri.js'
import { makeTree } from '../helpers/dirs.js'
import { addBlob, openSpaceTrove, settle, sha1Of, type SpaceTrove } from '../helpers/space.js'
import { tempDir } from '../helpers/tmp.js'

/**
 * Directories and space management, on real LevelDB: a ref or pin that holds a directory keeps
 * every blob below it, through nested manifests, whichever order the blobs arrive in; `why` and
 * the dry run name the directory.
 */

const TREE = { 'top.txt': 'top', 'a/one.txt': 'one', 'a/b/two.txt': 'two', 'a/b/c/three.txt': 'three', 'empty/': null }
const FILES = ['top', 'one', 'two', 'three'].map((s) => sha1Of(s))

const fileEntry = (name: string, content: string): DirEntry => ({ name, kind: 'file', sha1: sha1Of(content), size: content.length, exec: false })
const dirEntry = (name: string, sha1: string, size: number): DirEntry => ({ name, kind: 'dir', sha1, size, exec: false })

describe('directories and space', () => {
  let s: SpaceTrove
  let work: { dir: string, cleanup: () => Promise<void> }
  let n = 0
  before(async () => { work = await tempDir('trove-dirs-space-') })
  after(async () => { await work.cleanup() })
  beforeEach(async () => { s = await openSpaceTrove() })
  afterEach(async () => { await s.cleanup() })

  const addTree = async (opts: { ref?: string, pin?: boolean } = {}): Promise<{ sha1: string, uri: string }> => {
    const dir = path.join(work.dir, `t${n++}`)
    await makeTree(dir, TREE)
    return s.trove.addDir(dir, opts)
  }
  const stored = async (sha1s: string[]): Promise<boolean[]> => Promise.all(sha1s.map(async (h) => s.trove.store.has(h)))

  it('findReferences holds the root of a sha1dir:// URI, with or without a sub path', () => {
    const h = sha1Of('root')
    assert.deepEqual([...findReferences({ a: `sha1dir://${h}`, b: [`sha1dir://${h}/x/y.txt`] }, { strict: true })], [h])
    assert.throws(() => findReferences({ a: `sha1dir://${h}/../x` }, { strict: true }), { code: 'INVALID_URI' })
    assert.equal(findReferences({ a: `sha1dir://${h}/../x` }).size, 0, 'lenient mode skips it')
  })

  it('extractLinks gives every entry of a directory manifest', () => {
    const m = encodeDirManifest({ entries: [fileEntry('x', 'x'), dirEntry('d', sha1Of('d'), 3)] })
    assert.deepEqual(extractLinks(m).sort(), [sha1Of('x'), sha1Of('d')].sort())
    // a JSON blob naming a directory holds its root
    assert.deepEqual(extractLinks(Buffer.from(JSON.stringify({ results: `sha1dir://${sha1Of('d')}/sub` }))), [sha1Of('d')])
  })

  it('a ref holding sha1dir:// keeps every blob below it; removing the ref lets them go', async () => {
    const d = await addTree({ ref: 'lab/tree' })
    const stray = await addBlob(s.trove, 'stray')
    await settle(s.trove)
    const r1 = await s.trove.gc()
    assert.deepEqual(r1.blobs.map((b) => b.sha1), [stray], 'only the loose blob goes')
    assert.deepEqual(await stored([d.sha1, ...FILES]), [true, true, true, true, true])
    await s.trove.rmRef('lab/tree')
    await settle(s.trove)
    await s.trove.gc()
    assert.deepEqual(await stored([d.sha1, ...FILES]), [false, false, false, false, false])
  })

  it('a ref naming a path inside a directory holds the whole directory', async () => {
    const d = await addTree()
    await s.trove.setRef('lab/sub', { fig: `${d.uri}/a/b/two.txt` })
    assert.deepEqual((await s.trove.listRefs({ refsTo: d.uri })).refs.map((r) => r.key), ['lab/sub'], 'listed as a ref of the directory')
    await settle(s.trove)
    await s.trove.gc()
    assert.deepEqual(await stored([d.sha1, ...FILES]), [true, true, true, true, true])
  })

  it('a pin of the root manifest keeps every blob below it', async () => {
    const d = await addTree({ pin: true })
    await settle(s.trove)
    await s.trove.gc()
    assert.deepEqual(await stored(FILES), [true, true, true, true])
    const why = await s.trove.why(`sha1://${FILES[3]}`)
    assert.equal(why.kept, true)
    assert.equal(why.pinned, true)
    assert.equal(why.dir, `${d.uri}/a/b/c/three.txt`)
    assert.equal(why.space?.class, 'pinned')
  })

  it('follows the children of a manifest stored after its parent, and of a parent already live', async () => {
    // bottom-up is how add writes; a fetch may store them in any order: here top-down, the root
    // pinned before any child exists, so each child arrives under a parent that is already live
    const c = encodeDirManifest({ entries: [fileEntry('three.txt', 'three')] })
    const b = encodeDirManifest({ entries: [fileEntry('two.txt', 'two'), dirEntry('c', sha1Of(c), 5)] })
    const root = encodeDirManifest({ entries: [dirEntry('b', sha1Of(b), 8)] })
    const rootSha1 = await addBlob(s.trove, root)
    await s.trove.pin(`sha1dir://${rootSha1}`)
    await settle(s.trove)
    await addBlob(s.trove, b)
    await settle(s.trove)
    await addBlob(s.trove, c)
    await addBlob(s.trove, 'two')
    await addBlob(s.trove, 'three')
    await settle(s.trove)
    // and the parent becomes live a second time, through a ref, with the children already there
    await s.trove.setRef('lab/again', { d: `sha1dir://${rootSha1}` })
    await settle(s.trove)
    const report = await s.trove.gc()
    assert.deepEqual(report.blobs, [], 'nothing of the tree is evicted')
    assert.deepEqual(await stored([rootSha1, sha1Of(b), sha1Of(c), sha1Of('two'), sha1Of('three')]), [true, true, true, true, true])
    await s.trove.unpin(rootSha1)
    await settle(s.trove)
    assert.equal((await s.trove.why(`sha1://${sha1Of('three')}`)).kept, true, 'the ref still holds it')
    await s.trove.rmRef('lab/again')
    await settle(s.trove)
    await s.trove.gc()
    assert.deepEqual(await stored([rootSha1, sha1Of(b), sha1Of(c), sha1Of('two'), sha1Of('three')]), [false, false, false, false, false])
  })

  it('why on a file of a directory names the directory and the ref that holds it', async () => {
    const d = await addTree({ ref: 'lab/why' })
    await settle(s.trove)
    const why = await s.trove.why(`sha1://${FILES[2]}`)
    assert.equal(why.kept, true)
    assert.equal(why.dir, `${d.uri}/a/b/two.txt`)
    const link = why.reasons.find((r) => r.kind === 'link')
    assert.equal(link?.key, 'lab/why')
    assert.equal(link?.via?.[link.via.length - 1], d.sha1, 'the chain ends at the root manifest the ref holds')
    const root = await s.trove.why(d.uri)
    assert.deepEqual(root.reasons.map((r) => [r.kind, r.key]), [['ref', 'lab/why']])
    assert.equal(root.dir, undefined)
  })

  it('the dry run lists a directory\'s blobs under it, with the ref that holds it', async () => {
    const d = await addTree({ ref: 'lab/dry' })
    const loose = await addBlob(s.trove, 'loose')
    await settle(s.trove)
    // asked to free more than is stored: the referenced tree is planned for eviction too
    const report = await s.trove.space.gc({ dryRun: true, freeBytes: 1024 * 1024 * 1024 })
    const bySha1 = new Map(report.blobs.map((b) => [b.sha1, b]))
    assert.equal(bySha1.get(loose)?.dir, undefined)
    assert.equal(bySha1.get(loose)?.class, 'unreferenced')
    for (const [i, file] of ['top.txt', 'a/one.txt', 'a/b/two.txt', 'a/b/c/three.txt'].entries()) {
      const b = bySha1.get(FILES[i])
      assert.equal(b?.dir, `${d.uri}/${file}`, file)
      assert.equal(b?.class, 'referenced', `${file} is not loose cache`)
      assert.deepEqual(b?.heldBy, ['lab/dry'])
    }
    assert.equal(bySha1.get(d.sha1)?.dir, d.uri, 'the root manifest is listed as the directory')
  })
})
