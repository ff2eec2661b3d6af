import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, runCli, runJson, type CliSandbox } from '../helpers/cli.js'

/** Big enough to span several 1 MiB read chunks, small enough to keep the suite quick. */
const BINARY_SIZE = 4 * 1024 * 1024 + 123

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version

function sha1 (bytes: string | Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex')
}

function blobPath (data: string, hash: string): string {
  return path.join(data, 'blobs', hash.slice(0, 2), hash)
}

describe('trove version', () => {
  it('--version and -V print the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const res = await runCli([flag], { data: null })
      assert.equal(res.code, 0, res.stderr)
      assert.equal(res.stdout.trim(), PACKAGE_VERSION)
      assert.equal(res.stderr, '')
    }
    const json = await runJson<{ version: string }>(['--version'], { data: null })
    assert.equal(json.json.version, PACKAGE_VERSION)
  })
})

describe('trove quick start', () => {
  let t: CliSandbox
  const text = 'hello, lab\n'
  const textHash = sha1(text)
  let textFile: string
  let binary: Buffer
  let binaryFile: string
  let binaryHash: string

  before(async () => {
    t = await cliSandbox({ init: false })
    textFile = await t.file('hello.txt', text)
    binary = randomBytes(BINARY_SIZE)
    binaryHash = sha1(binary)
    binaryFile = await t.file('data/raw.bin', binary)
  })
  after(async () => { await t.cleanup() })

  it('init creates the data directory; running it again changes nothing', async () => {
    const first = await t.runJson<{ dataDir: string, created: boolean }>(['init'])
    assert.equal(first.code, 0, first.stderr)
    assert.deepEqual(first.json, { dataDir: t.data, created: true })
    assert.ok(existsSync(path.join(t.data, 'config.json')))
    const again = await t.runJson(['init'])
    assert.equal(again.code, 0)
    assert.equal(again.json.created, false)
    const human = await t.run(['init'])
    assert.equal(human.code, 0)
  })

  it('add prints one sha1:// URI with the file name', async () => {
    const res = await t.run(['add', textFile])
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.stdout, `sha1://${textHash}/hello.txt\n`)
    assert.equal(res.stderr, '')
    const json = await t.runJson(['add', textFile])
    assert.equal(json.code, 0)
    assert.deepEqual(json.json, [{ uri: `sha1://${textHash}/hello.txt`, sha1: textHash, size: text.length, added: false, name: 'hello.txt' }])
  })

  it('cat writes the exact bytes, for text and a binary file of a few MB', async () => {
    const res = await t.run(['cat', `sha1://${textHash}`])
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.stdout, text)

    const added = await t.run(['add', binaryFile])
    assert.equal(added.code, 0, added.stderr)
    assert.equal(added.stdout.trim(), `sha1://${binaryHash}/raw.bin`)
    // the URI as printed by add, file name and all, is what users paste back
    const cat = await t.run(['cat', added.stdout.trim()])
    assert.equal(cat.code, 0, cat.stderr)
    assert.equal(cat.stdoutBytes.length, binary.length)
    assert.ok(cat.stdoutBytes.equals(binary), 'cat output differs from the added file')
  })

  it('get -o writes the blob to a file', async () => {
    const out = path.join(t.dir, 'out', 'copy.bin')
    await fs.mkdir(path.dirname(out))
    const res = await t.run(['get', `sha1://${binaryHash}`, '-o', out])
    assert.equal(res.code, 0, res.stderr)
    assert.ok((await fs.readFile(out)).equals(binary))
    assert.deepEqual(await fs.readdir(path.dirname(out)), ['copy.bin'], 'no partial file left beside the output')

    const out2 = path.join(t.dir, 'out', 'copy.txt')
    const json = await t.runJson(['get', `sha1://${textHash}`, '-o', out2])
    assert.equal(json.code, 0)
    // `how`: the file is a (read-only) hard link to the stored blob, not a second copy of its bytes
    assert.deepEqual(json.json, { uri: `sha1://${textHash}`, path: out2, size: text.length, how: 'link' })
    assert.equal(await fs.readFile(out2, 'utf8'), text)
  })

  it('add of several files with --ref KEY --pin records them under the ref and pins them', async () => {
    const a = await t.file('many/a.csv', 'x,y\n1,2\n')
    const b = await t.file('many/b.csv', 'x,y\n3,4\n')
    const res = await t.run(['add', a, b, '--ref', 'lab/mouse7/tables', '--pin'])
    assert.equal(res.code, 0, res.stderr)
    const uris = res.stdout.trim().split('\n')
    assert.deepEqual(uris, [`sha1://${sha1('x,y\n1,2\n')}/a.csv`, `sha1://${sha1('x,y\n3,4\n')}/b.csv`])

    const ref = await t.runJson(['ref', 'get', 'lab/mouse7/tables'])
    assert.equal(ref.code, 0)
    assert.equal(ref.json.key, 'lab/mouse7/tables')
    assert.equal(ref.json.version, 1)
    assert.deepEqual(ref.json.obj, { 'a.csv': uris[0], 'b.csv': uris[1] })

    const human = await t.run(['ref', 'get', 'lab/mouse7/tables'])
    assert.equal(human.code, 0)
    assert.deepEqual(JSON.parse(human.stdout), { 'a.csv': uris[0], 'b.csv': uris[1] })

    for (const uri of uris) {
      const why = await t.runJson(['why', uri])
      assert.equal(why.code, 0)
      assert.equal(why.json.kept, true)
      assert.equal(why.json.pinned, true)
      assert.deepEqual(why.json.reasons.map((r: { kind: string, key?: string }) => [r.kind, r.key]), [['pin', undefined], ['ref', 'lab/mouse7/tables']])
    }
  })

  it('ref set / get / get --version / history / rm', async () => {
    const v1 = await t.runJson(['ref', 'set', 'lab/mouse7/spike-sorting', JSON.stringify({ raw: `sha1://${binaryHash}/raw.bin` }), '--priority', '5'])
    assert.equal(v1.code, 0, v1.stderr)
    assert.equal(v1.json.version, 1)
    assert.equal(v1.json.meta.priority, 5)

    const v2 = await t.run(['ref', 'set', 'lab/mouse7/spike-sorting', JSON.stringify({ raw: `sha1://${binaryHash}/raw.bin`, notes: `sha1://${textHash}` }), '--priority', '5'])
    assert.equal(v2.code, 0, v2.stderr)
    assert.equal(v2.stdout.trim(), 'lab/mouse7/spike-sorting v2')

    // JSON from stdin
    const v3 = await t.runJson(['ref', 'set', 'lab/mouse8/spike-sorting', '-'], { stdin: JSON.stringify({ raw: `sha1://${textHash}` }) })
    assert.equal(v3.code, 0, v3.stderr)
    assert.equal(v3.json.key, 'lab/mouse8/spike-sorting')

    const latest = await t.runJson(['ref', 'get', 'lab/mouse7/spike-sorting'])
    assert.equal(latest.json.version, 2)
    assert.deepEqual(latest.json.obj, { raw: `sha1://${binaryHash}/raw.bin`, notes: `sha1://${textHash}` })

    const old = await t.runJson(['ref', 'get', 'lab/mouse7/spike-sorting', '--version', '1'])
    assert.equal(old.code, 0)
    assert.equal(old.json.version, 1)
    assert.deepEqual(old.json.obj, { raw: `sha1://${binaryHash}/raw.bin` })
    const oldHuman = await t.run(['ref', 'get', 'lab/mouse7/spike-sorting', '--version', '1'])
    assert.deepEqual(JSON.parse(oldHuman.stdout), { raw: `sha1://${binaryHash}/raw.bin` })

    const rm = await t.runJson(['ref', 'rm', 'lab/mouse8/spike-sorting'])
    assert.equal(rm.code, 0)
    assert.deepEqual(rm.json, { key: 'lab/mouse8/spike-sorting', version: 2 })
    const gone = await t.runJson(['ref', 'get', 'lab/mouse8/spike-sorting'])
    assert.notEqual(gone.code, 0)
    assert.equal(gone.json.error.code, 'REF_NOT_FOUND')

    const history = await t.runJson(['ref', 'history', 'lab/mouse8/spike-sorting'])
    assert.equal(history.code, 0)
    assert.deepEqual(history.json.map((e: { version: number, deleted?: boolean }) => [e.version, e.deleted === true]), [[1, false], [2, true]])
    const historyHuman = await t.run(['ref', 'history', 'lab/mouse7/spike-sorting'])
    assert.equal(historyHuman.code, 0)
    assert.equal(historyHuman.stdout.trim().split('\n').length, 2)
  })

  it('ref ls lists all, by prefix, and by --refs-to', async () => {
    const all = await t.runJson(['ref', 'ls'])
    assert.equal(all.code, 0)
    assert.deepEqual(all.json.map((r: { key: string }) => r.key), ['lab/mouse7/spike-sorting', 'lab/mouse7/tables'])

    await t.run(['ref', 'set', 'other/thing', '{}'])
    const prefixed = await t.runJson(['ref', 'ls', 'lab/'])
    assert.deepEqual(prefixed.json.map((r: { key: string }) => r.key), ['lab/mouse7/spike-sorting', 'lab/mouse7/tables'])
    const other = await t.run(['ref', 'ls', 'other'])
    assert.equal(other.code, 0)
    assert.match(other.stdout, /^other\/thing\t/)
    assert.equal(other.stdout.trim().split('\n').length, 1)

    const to = await t.runJson(['ref', 'ls', '--refs-to', `sha1://${binaryHash}/raw.bin`])
    assert.deepEqual(to.json.map((r: { key: string }) => r.key), ['lab/mouse7/spike-sorting'])
    const toNone = await t.runJson(['ref', 'ls', '--refs-to', `sha1://${sha1('nothing refers to me')}`])
    assert.equal(toNone.code, 0)
    assert.deepEqual(toNone.json, [])
  })

  it('why lists refs with priority and pins; says evictable when nothing holds it', async () => {
    const held = await t.runJson(['why', `sha1://${binaryHash}`])
    assert.equal(held.code, 0)
    assert.equal(held.json.kept, true)
    assert.equal(held.json.pinned, false)
    assert.equal(held.json.priority, 5)
    assert.deepEqual(held.json.reasons, [{ kind: 'ref', key: 'lab/mouse7/spike-sorting', priority: 5, pin: false }])
    const human = await t.run(['why', `sha1://${binaryHash}`])
    assert.equal(human.code, 0)
    assert.match(human.stdout, /lab\/mouse7\/spike-sorting/)
    assert.match(human.stdout, /priority 5/)

    const pin = await t.runJson(['pin', `sha1://${binaryHash}`])
    assert.equal(pin.code, 0, pin.stderr)
    assert.equal(pin.json.sha1, binaryHash)
    const pinned = await t.runJson(['why', `sha1://${binaryHash}`])
    assert.equal(pinned.json.pinned, true)
    assert.deepEqual(pinned.json.reasons.map((r: { kind: string }) => r.kind), ['pin', 'ref'])
    assert.match((await t.run(['why', `sha1://${binaryHash}`])).stdout, /pinned/)

    const unpin = await t.runJson(['unpin', `sha1://${binaryHash}`])
    assert.deepEqual(unpin.json, { sha1: binaryHash, unpinned: true })
    const again = await t.runJson(['unpin', `sha1://${binaryHash}`])
    assert.equal(again.code, 0)
    assert.deepEqual(again.json, { sha1: binaryHash, unpinned: false })
    assert.equal((await t.run(['unpin', `sha1://${binaryHash}`])).code, 0)

    // hello.txt: only the removed ref and the v2 of spike-sorting held it; drop that reference
    await t.run(['ref', 'set', 'lab/mouse7/spike-sorting', JSON.stringify({ raw: `sha1://${binaryHash}/raw.bin` }), '--priority', '5'])
    const loose = await t.runJson(['why', `sha1://${textHash}`])
    assert.equal(loose.code, 0)
    assert.equal(loose.json.kept, false)
    assert.deepEqual(loose.json.reasons, [])
    const looseHuman = await t.run(['why', `sha1://${textHash}`])
    assert.match(looseHuman.stdout, /evictable/)
  })

  it('status counts blobs, bytes, refs and pins', async () => {
    const st = await t.runJson(['status'])
    assert.equal(st.code, 0)
    assert.equal(st.json.dataDir, t.data)
    assert.equal(st.json.usage.blobs, 4)
    assert.equal(st.json.usage.bytes, text.length + binary.length + 16)
    assert.equal(st.json.refs, 3)
    assert.equal(st.json.pins, 2)
    const human = await t.run(['status'])
    assert.equal(human.code, 0)
    assert.match(human.stdout, /blobs: 4/)
  })

  it('verify: a clean store exits 0; a corrupted blob file is reported by name with a non-zero exit', async () => {
    const clean = await t.run(['verify'])
    assert.equal(clean.code, 0, clean.stdout + clean.stderr)
    const cleanJson = await t.runJson(['verify'])
    assert.equal(cleanJson.code, 0)
    assert.equal(cleanJson.json.ok, true)
    assert.equal(cleanJson.json.checked, 4)

    await fs.writeFile(blobPath(t.data, textHash), 'not what it was\n')
    const bad = await t.run(['verify'])
    assert.notEqual(bad.code, 0)
    assert.ok(bad.stdout.includes(textHash), `verify output names the corrupt blob: ${bad.stdout}`)

    const bytes = await fs.readFile(blobPath(t.data, binaryHash))
    bytes[1000] ^= 0xff
    await fs.writeFile(blobPath(t.data, binaryHash), bytes)
    const badJson = await t.runJson(['verify'])
    assert.notEqual(badJson.code, 0)
    assert.equal(badJson.json.ok, false)
    assert.deepEqual(badJson.json.corrupt.map((c: { sha1: string }) => c.sha1), [binaryHash])

    // quarantined and dropped from the index: cat now says it is absent rather than serving bad bytes
    const cat = await t.runJson(['cat', `sha1://${binaryHash}`])
    assert.notEqual(cat.code, 0)
    assert.equal(cat.json.error.code, 'BLOB_NOT_FOUND')
    const after = await t.run(['verify'])
    assert.equal(after.code, 0, after.stdout)
  })
})

describe('choosing the data directory', () => {
  let t: CliSandbox
  before(async () => { t = await cliSandbox({ init: false }) })
  after(async () => { await t.cleanup() })

  it('--data DIR and TROVE_DATA both select it; --data wins over TROVE_DATA', async () => {
    const viaFlag = path.join(t.dir, 'by-flag')
    const viaEnv = path.join(t.dir, 'by-env')
    const file = await t.file('f.txt', 'flag and env\n')

    assert.equal((await t.run(['--data', viaFlag, 'init'], { data: null })).code, 0)
    assert.equal((await t.run(['init'], { data: viaEnv })).code, 0)

    const add = await t.run(['--data', viaFlag, 'add', file], { data: viaEnv })
    assert.equal(add.code, 0, add.stderr)

    const flagStatus = await t.runJson(['status'], { data: viaFlag })
    assert.equal(flagStatus.json.dataDir, viaFlag)
    assert.equal(flagStatus.json.usage.blobs, 1)
    const envStatus = await t.runJson(['--data', viaEnv, 'status'], { data: null })
    assert.equal(envStatus.json.dataDir, viaEnv)
    assert.equal(envStatus.json.usage.blobs, 0)
    // a global option after the command works too
    const after = await t.run(['status', '--data', viaFlag, '--json'], { data: null })
    assert.equal(JSON.parse(after.stdout).usage.blobs, 1)

    assert.ok(!existsSync(path.join(t.home, '.trove')), 'the default ~/.trove was not touched')
  })

  it('with neither, the data directory is ~/.trove', async () => {
    const res = await t.runJson(['init'], { data: null })
    assert.equal(res.code, 0)
    assert.equal(res.json.dataDir, path.join(t.home, '.trove'))
  })
})
