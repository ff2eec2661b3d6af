import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, outcome, setConfig, type CliResult, type CliSandbox, type JsonError, type RunOptions } from '../helpers/cli.js'
import { startDaemon, startNodePair, stopDaemon, type Daemon, type NodePair } from '../helpers/daemon.js'
import type { AddResult, Eviction } from '../../src/ops.js'

/**
 * Commands do exactly what they say (issue 12), in embedded mode and through a running node
 * alike: every file of `add --ref` is kept, `get --ref -o DIR` writes, `get -o` does not clobber,
 * evictions are reported, `ref ls --meta` filters, `peers` says what it knows.
 */

function sha1 (bytes: string | Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex')
}

type Which = 'embedded' | 'served'

/** Two sandboxes, one of them served by a running node; `both` runs a step in each and checks they print alike. */
interface Pair {
  embedded: CliSandbox
  served: CliSandbox
  node?: Daemon
  both: (args: (w: Which) => string[], options?: (w: Which) => RunOptions) => Promise<CliResult>
}

/** `outcome`, with the times refs were set made equal too (the two directories write a moment apart). */
function alike (r: CliResult): ReturnType<typeof outcome> {
  const o = outcome(r)
  const times = (text: string): string => text.replace(/"setAt": "[^"]+"/g, '"setAt": "T"')
  return { ...o, stdout: times(o.stdout) }
}

async function pair (configure?: (t: CliSandbox) => Promise<void>): Promise<Pair> {
  const embedded = await cliSandbox()
  const served = await cliSandbox()
  await configure?.(embedded)
  await configure?.(served)
  const p: Pair = {
    embedded,
    served,
    both: async (args, options) => {
      const [a, b] = await Promise.all([embedded.run(args('embedded'), options?.('embedded')), served.run(args('served'), options?.('served'))])
      assert.deepEqual(alike(b), alike(a), `trove ${args('served').join(' ')} prints alike embedded and through a node`)
      return b
    }
  }
  p.node = await startDaemon(served)
  return p
}

async function closePair (p: Pair | undefined): Promise<void> {
  if (p === undefined) return
  await stopDaemon(p.node, 'SIGTERM')
  await p.embedded.cleanup()
  await p.served.cleanup()
}

describe('commands do exactly what they say (embedded and through a node alike)', () => {
  let p: Pair
  const files: Record<Which, Record<string, string>> = { embedded: {}, served: {} }
  const inDir = (w: Which): RunOptions => ({ cwd: p[w].dir })

  before(async () => {
    p = await pair()
    for (const w of ['embedded', 'served'] as const) {
      files[w].ax = await p[w].file('a/x.txt', 'x from a\n')
      files[w].bx = await p[w].file('b/x.txt', 'x from b\n')
      files[w].c = await p[w].file('c.txt', 'c, first version\n')
    }
  })
  after(async () => { await closePair(p) })

  it('add a/x.txt b/x.txt --ref K keeps both files, told apart by their paths', async () => {
    const add = await p.both((w) => ['add', files[w].ax, files[w].bx, '--ref', 'lab/k'])
    assert.equal(add.code, 0, add.stderr)
    assert.deepEqual(add.stdout.trim().split('\n'), [`sha1://${sha1('x from a\n')}/x.txt`, `sha1://${sha1('x from b\n')}/x.txt`])
    assert.match(add.stderr, /^trove: files with the same name are told apart in lab\/k by their paths: a\/x\.txt, b\/x\.txt\n$/)
    const ref = await p.both(() => ['--json', 'ref', 'get', 'lab/k'])
    const rec = JSON.parse(ref.stdout) as { version: number, obj: Record<string, string> }
    assert.equal(rec.version, 1)
    assert.deepEqual(rec.obj, { 'a/x.txt': `sha1://${sha1('x from a\n')}/x.txt`, 'b/x.txt': `sha1://${sha1('x from b\n')}/x.txt` })
    // both blobs are held: neither is cache that gc would delete
    for (const content of ['x from a\n', 'x from b\n']) {
      const why = await p.served.runJson(['why', `sha1://${sha1(content)}`])
      assert.equal(why.json.kept, true, content)
    }
    const json = await p.served.runJson<AddResult[]>(['add', files.served.ax, files.served.bx, '--ref', 'lab/k'])
    assert.deepEqual(json.json.map((r) => [r.name, r.entry]), [['x.txt', 'a/x.txt'], ['x.txt', 'b/x.txt']])
  })

  it('a second add --ref K adds its files; the same name with new content replaces that entry, and history keeps the old one', async () => {
    assert.equal((await p.both((w) => ['add', files[w].c, '--ref', 'lab/k', '--priority', '2'])).code, 0)
    const v2 = JSON.parse((await p.both(() => ['--json', 'ref', 'get', 'lab/k'])).stdout) as { version: number, obj: Record<string, string>, meta: { priority?: number } }
    assert.equal(v2.version, 2)
    assert.deepEqual(Object.keys(v2.obj), ['a/x.txt', 'b/x.txt', 'c.txt'])
    assert.equal(v2.meta.priority, 2)

    for (const w of ['embedded', 'served'] as const) await fs.writeFile(files[w].c, 'c, second version\n')
    assert.equal((await p.both((w) => ['add', files[w].c, '--ref', 'lab/k'])).code, 0)
    const v3 = JSON.parse((await p.both(() => ['--json', 'ref', 'get', 'lab/k'])).stdout) as typeof v2
    assert.equal(v3.version, 3)
    assert.equal(v3.obj['c.txt'], `sha1://${sha1('c, second version\n')}/c.txt`)
    assert.equal(v3.obj['a/x.txt'], v2.obj['a/x.txt'])
    assert.equal(v3.meta.priority, 2, 'meta not given again is kept')
    const old = JSON.parse((await p.both(() => ['--json', 'ref', 'get', 'lab/k', '--version', '2'])).stdout) as typeof v2
    assert.equal(old.obj['c.txt'], `sha1://${sha1('c, first version\n')}/c.txt`)

    // the same files again change nothing, so no version records nothing
    await p.both((w) => ['add', files[w].c, '--ref', 'lab/k'])
    assert.equal(JSON.parse((await p.both(() => ['--json', 'ref', 'get', 'lab/k'])).stdout).version, 3)
  })

  it('add --ref to a ref that holds no object is REF_NOT_OBJECT, before anything is stored', async () => {
    await p.both(() => ['ref', 'set', 'lab/list', '["not", "files"]'])
    const fresh = { embedded: await p.embedded.file('fresh.txt', 'never stored\n'), served: await p.served.file('fresh.txt', 'never stored\n') }
    const res = await p.both((w) => ['--json', 'add', fresh[w], '--pin', '--ref', 'lab/list'])
    assert.equal(res.code, 1)
    assert.equal((JSON.parse(res.stdout) as JsonError).error.code, 'REF_NOT_OBJECT')
    const human = await p.both((w) => ['add', fresh[w], '--ref', 'lab/list'])
    assert.match(human.stderr, /^trove: ref lab\/list holds an array[^\n]*\n$/)
    const why = await p.both(() => ['--json', 'why', `sha1://${sha1('never stored\n')}`])
    assert.equal(JSON.parse(why.stdout).local, false)
  })

  it('get --ref K -o DIR writes every file of the ref into DIR; existing files want --force', async () => {
    const got = await p.both(() => ['get', '--ref', 'lab/k', '-o', 'out'], inDir)
    assert.equal(got.code, 0, got.stderr)
    assert.match(got.stdout, /^lab\/k: 3 blobs, 0 fetched, 3 already here, 0 failed\nwrote 3 files to out\n$/)
    for (const w of ['embedded', 'served'] as const) {
      const out = path.join(p[w].dir, 'out')
      assert.equal(await fs.readFile(path.join(out, 'a', 'x.txt'), 'utf8'), 'x from a\n')
      assert.equal(await fs.readFile(path.join(out, 'b', 'x.txt'), 'utf8'), 'x from b\n')
      assert.equal(await fs.readFile(path.join(out, 'c.txt'), 'utf8'), 'c, second version\n')
      await fs.writeFile(path.join(out, 'c.txt'), 'edited by hand\n')
    }
    const again = await p.both(() => ['--json', 'get', '--ref', 'lab/k', '-o', 'out'], inDir)
    assert.equal(again.code, 1)
    assert.equal((JSON.parse(again.stdout) as JsonError).error.code, 'FILE_EXISTS')
    for (const w of ['embedded', 'served'] as const) assert.equal(await fs.readFile(path.join(p[w].dir, 'out', 'c.txt'), 'utf8'), 'edited by hand\n')
    const forced = await p.both(() => ['--json', 'get', '--ref', 'lab/k', '-o', 'out', '--force'], inDir)
    assert.equal(forced.code, 0, forced.stderr)
    const report = JSON.parse(forced.stdout) as { dir: string, files: Array<{ path: string, size: number }> }
    assert.equal(report.dir, 'out')
    assert.deepEqual(report.files.map((f) => f.path), ['a/x.txt', 'b/x.txt', 'c.txt'])
    for (const w of ['embedded', 'served'] as const) assert.equal(await fs.readFile(path.join(p[w].dir, 'out', 'c.txt'), 'utf8'), 'c, second version\n')
  })

  it('get --ref -o DIR refuses names that would leave DIR before fetching anything', async () => {
    const uri = `sha1://${sha1('x from a\n')}`
    await p.both(() => ['ref', 'set', 'lab/escape', JSON.stringify({ '../up.txt': uri })])
    const res = await p.both(() => ['--json', 'get', '--ref', 'lab/escape', '-o', 'out2'], inDir)
    assert.equal(res.code, 2)
    assert.equal((JSON.parse(res.stdout) as JsonError).error.code, 'INVALID_ARGUMENT')
    for (const w of ['embedded', 'served'] as const) {
      assert.equal(existsSync(path.join(p[w].dir, 'up.txt')), false)
      assert.equal(existsSync(path.join(p[w].dir, 'out2')), false)
    }
  })

  it('get URI -o FILE refuses an existing FILE unless --force, and leaves it untouched', async () => {
    const uri = `sha1://${sha1('x from b\n')}`
    for (const w of ['embedded', 'served'] as const) await fs.writeFile(path.join(p[w].dir, 'mine.txt'), 'keep me\n')
    const human = await p.both(() => ['get', uri, '-o', 'mine.txt'], inDir)
    assert.equal(human.code, 1)
    assert.equal(human.stdout, '')
    assert.match(human.stderr, /^trove: mine\.txt exists; give --force to overwrite it\n$/)
    const json = await p.both(() => ['--json', 'get', uri, '-o', 'mine.txt'], inDir)
    assert.equal((JSON.parse(json.stdout) as JsonError).error.code, 'FILE_EXISTS')
    for (const w of ['embedded', 'served'] as const) {
      assert.equal(await fs.readFile(path.join(p[w].dir, 'mine.txt'), 'utf8'), 'keep me\n')
      assert.equal(existsSync(path.join(p[w].dir, 'mine.txt.trove-partial')), false)
    }
    const forced = await p.both(() => ['get', uri, '-o', 'mine.txt', '--force'], inDir)
    assert.equal(forced.code, 0, forced.stderr)
    for (const w of ['embedded', 'served'] as const) assert.equal(await fs.readFile(path.join(p[w].dir, 'mine.txt'), 'utf8'), 'x from b\n')
  })

  it('ref ls --meta field=value filters like GET /refs?meta.<field>=<value>', async () => {
    await p.both(() => ['ref', 'set', 'proj/one', '{}', '--priority', '5', '--meta', '{"project": "p1"}'])
    await p.both(() => ['ref', 'set', 'proj/two', '{}', '--priority', '5', '--meta', '{"project": "p2"}'])
    await p.both(() => ['ref', 'set', 'proj/three', '{}', '--meta', '{"project": "p1", "tag": "5"}'])
    const keys = async (args: string[]): Promise<string[]> => (JSON.parse((await p.both(() => ['--json', 'ref', 'ls', ...args])).stdout) as Array<{ key: string }>).map((r) => r.key)
    assert.deepEqual(await keys(['proj/', '--meta', 'priority=5']), ['proj/one', 'proj/two'])
    assert.deepEqual(await keys(['--meta', 'project=p1', 'proj/']), ['proj/one', 'proj/three'])
    assert.deepEqual(await keys(['--meta', 'project=p1', '--meta', 'priority=5']), ['proj/one'])
    // JSON when it parses: tag=5 is the number 5, tag="5" the string
    assert.deepEqual(await keys(['--meta', 'tag=5']), [])
    assert.deepEqual(await keys(['--meta', 'tag="5"']), ['proj/three'])
    const human = await p.both(() => ['ref', 'ls', '--meta', 'project=p2'])
    assert.match(human.stdout, /^proj\/two\tv1, priority 5\n$/)
    for (const bad of [['--meta', 'project'], ['--meta', '=x'], ['--meta', 'a=1', '--meta', 'a=2']]) {
      const res = await p.both(() => ['--json', 'ref', 'ls', ...bad])
      assert.equal(res.code, 2, bad.join(' '))
      assert.equal((JSON.parse(res.stdout) as JsonError).error.code, 'INVALID_ARGUMENT')
    }
  })

  it('peers: a running node with no peers says exactly that; without a node, that none runs', async () => {
    const served = await p.served.run(['peers'])
    assert.equal(served.code, 0, served.stderr)
    assert.equal(served.stdout, 'no peers connected: the node is running, but no other node is connected to it\n')
    const embedded = await p.embedded.run(['peers'])
    assert.equal(embedded.stdout, `no node is running on ${p.embedded.data}: peers are known only while "trove start" runs\n`)
    assert.deepEqual((await p.served.runJson(['peers'])).json, [])
    assert.deepEqual((await p.embedded.runJson(['peers'])).json, [])
  })

  it('fetching commands take --timeout; a node gives up looking for providers after it', async () => {
    const absent = `sha1://${sha1('nobody has this')}`
    for (const args of [['get', absent], ['cat', absent], ['get', '--ref', 'lab/k']]) {
      for (const bad of ['0s', 'soon']) {
        const res = await p.served.runJson<JsonError>([...args, '--timeout', bad])
        assert.equal(res.code, 2, `${args.join(' ')} --timeout ${bad}`)
        assert.equal(res.json.error.code, 'INVALID_ARGUMENT')
      }
    }
    const got = await p.served.runJson<JsonError>(['get', absent, '--timeout', '300ms'])
    assert.equal(got.code, 1)
    assert.equal(got.json.error.code, 'NO_PROVIDERS')
    assert.match(got.json.error.message, /in 300 ms/)
    const cat = await p.served.runJson<JsonError>(['cat', absent, '--timeout', '300ms'])
    assert.equal(cat.json.error.code, 'NO_PROVIDERS')
    assert.match(cat.json.error.message, /in 300 ms/)
    // embedded mode fetches nothing: the timeout changes nothing there
    assert.equal((await p.embedded.runJson<JsonError>(['cat', absent, '--timeout', '300ms'])).json.error.code, 'BLOB_NOT_FOUND')
  })
})

/** A 1 MB limit and no grace period: fresh cache can go at once (sizes below leave a margin for the database). */
const SMALL_LIMIT = { maxSize: '1MB', gracePeriodMs: 0 }

describe('an add that makes the node evict says what went, how much and why', () => {
  let p: Pair | undefined
  after(async () => { await closePair(p) })

  it('embedded and through a node alike, on stderr and in --json', async () => {
    p = await pair(async (t) => { await setConfig(t, SMALL_LIMIT) })
    const old = randomBytes(300_000)
    const fresh = randomBytes(650_000)
    const f: Record<Which, { old: string, fresh: string }> = {
      embedded: { old: await p.embedded.file('old.bin', old), fresh: await p.embedded.file('fresh.bin', fresh) },
      served: { old: await p.served.file('old.bin', old), fresh: await p.served.file('fresh.bin', fresh) }
    }
    const first = await p.both((w) => ['add', f[w].old])
    assert.equal(first.stderr, '', 'nothing evicted yet, nothing said')
    const [embedded, served] = await Promise.all([
      p.embedded.run(['add', f.embedded.fresh, '--ref', 'lab/fresh']),
      p.served.run(['add', f.served.fresh, '--ref', 'lab/fresh'])
    ])
    for (const res of [embedded, served]) {
      assert.equal(res.code, 0, res.stderr)
      assert.equal(res.stdout, `sha1://${sha1(fresh)}/fresh.bin\n`)
      assert.match(res.stderr, /^trove: space: evicted 1 blob \(293\.0 KiB\) to make room \(watermark run\): usage .* is above the low watermark .*\n/)
      assert.ok(res.stderr.includes(`sha1://${sha1(old)}`), res.stderr)
      assert.match(res.stderr, /unreferenced: no ref or pin holds it/)
    }
    for (const t of [p.embedded, p.served]) {
      const why = await t.runJson<{ local: boolean }>(['why', `sha1://${sha1(old)}`])
      assert.equal(why.json.local, false, `${t.data}: the old blob is gone, as reported`)
    }

    // --json: the same report in the add result (pinned, so what goes is the ref's blob, not this one)
    const more = randomBytes(250_000)
    const res = await p.served.runJson<AddResult[]>(['add', '--pin', await p.served.file('more.bin', more)])
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.stderr, '')
    const evictions = res.json[0].evictions as Eviction[]
    assert.equal(evictions.length, 1)
    assert.equal(evictions[0].trigger, 'watermark')
    assert.deepEqual(evictions[0].evicted, { blobs: 1, bytes: fresh.length })
    assert.deepEqual(evictions[0].blobs.map((b) => [b.uri, b.size, b.class, b.priority]), [[`sha1://${sha1(fresh)}`, fresh.length, 'referenced', 0]])
    assert.match(evictions[0].why, /above the low watermark/)
  })
})

describe('a fetch that makes the node evict says so', () => {
  let pair: NodePair | undefined
  let a: CliSandbox
  let b: CliSandbox

  before(async () => {
    pair = await startNodePair({ bFlags: ['--find-timeout', '5s'], beforeB: async (t) => { await setConfig(t, SMALL_LIMIT) } })
    ;({ a, b } = pair)
  })
  after(async () => { await pair?.close() })

  it('get -o names what the node evicted to make room for the fetched blob (--json and stderr)', async () => {
    const loose = randomBytes(300_000)
    assert.equal((await b.run(['add', await b.file('loose.bin', loose)])).code, 0)
    const wanted = randomBytes(650_000)
    const added = await a.run(['add', await a.file('wanted.bin', wanted)])
    const uri = added.stdout.trim()
    const out = path.join(b.dir, 'wanted.bin')
    const got = await b.runJson<{ size: number, evictions: Eviction[] }>(['get', uri, '-o', out])
    assert.equal(got.code, 0, got.stdout + got.stderr)
    assert.equal(got.json.size, wanted.length)
    assert.equal(got.json.evictions.length, 1)
    assert.deepEqual(got.json.evictions[0].blobs.map((x) => x.uri), [`sha1://${sha1(loose)}`])
    assert.match(got.json.evictions[0].why, /above the low watermark/)

    // a person sees it on stderr; stdout stays the content
    const second = randomBytes(200_000)
    const uri2 = (await a.run(['add', await a.file('second.bin', second)])).stdout.trim()
    await b.run(['add', await b.file('loose2.bin', randomBytes(100_000))])
    const cat = await b.run(['cat', uri2])
    assert.equal(cat.code, 0, cat.stderr)
    assert.ok(cat.stdoutBytes.equals(second))
    assert.match(cat.stderr, /^trove: space: evicted \d+ blobs? \([^)]+\) to make room \(watermark run\)/)
  })
})

describe('trove start checks its addresses', () => {
  let t: CliSandbox
  before(async () => { t = await cliSandbox() })
  after(async () => { await t.cleanup() })

  it('a malformed --bootstrap is one line naming the flag and the value, before anything starts', async () => {
    for (const addr of ['/ip4/1.2.3.4/tcp/1/p2p/', '/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.4/tcp/1/p2p/notapeer', 'not-a-multiaddr']) {
      const res = await t.run(['start', '--api', '127.0.0.1:0', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', addr])
      assert.equal(res.code, 2, `${addr}: ${res.stderr}`)
      assert.equal(res.stdout, '')
      assert.match(res.stderr, /^trove: [^\n]+\n$/, addr)
      assert.ok(res.stderr.includes(`--bootstrap ${JSON.stringify(addr)}`), res.stderr)
      assert.doesNotMatch(res.stderr, /Component p2p was missing value$/m)
      const json = await t.runJson<JsonError>(['start', '--api', '127.0.0.1:0', '--bootstrap', addr])
      assert.equal(json.json.error.code, 'INVALID_ARGUMENT')
    }
    assert.equal(existsSync(path.join(t.data, 'api.json')), false)
  })

  it('a malformed bootstrap address in config.json names the config field', async () => {
    await setConfig(t, { bootstrap: ['/ip4/1.2.3.4/tcp/1/p2p/'] })
    const res = await t.run(['start', '--api', '127.0.0.1:0', '--no-mdns'])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /^trove: config "bootstrap" "\/ip4\/1\.2\.3\.4\/tcp\/1\/p2p\/" is not a valid peer address/)
    await setConfig(t, { bootstrap: [] })
    const listen = await t.run(['start', '--api', '127.0.0.1:0', '--listen', '/ip4/999.1.1.1/tcp/0'])
    assert.equal(listen.code, 2)
    assert.ok(listen.stderr.includes('--listen "/ip4/999.1.1.1/tcp/0"'), listen.stderr)
  })
})
