import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { CliSandbox } from '../helpers/cli.js'
import { startNodePair, type Daemon, type NodePair } from '../helpers/daemon.js'

describe('two trove start processes: add on one, get on the other', () => {
  let pair: NodePair | undefined
  let a: CliSandbox
  let b: CliSandbox
  let nodeA: Daemon | undefined

  before(async () => {
    // B finds A through its bootstrap address, as a second lab machine would
    // and with the transfer settings given as flags (the chunked get below runs under them)
    // (B prefers TLS; A has noise only, so they agree on noise)
    pair = await startNodePair({ bFlags: ['--find-timeout', '3s', '--stream-window', '4MiB', '--no-direct-writes', '--encryption', 'tls,noise'] })
    ;({ a, b, nodeA } = pair)
  })
  after(async () => { await pair?.close() })

  it('fetches a small file and a chunked large file byte for byte', async () => {
    for (const size of [1234, 20 * 1024 * 1024 + 17]) {
      const file = path.join(a.dir, `data-${size}.bin`)
      const bytes = randomBytes(size)
      await fs.writeFile(file, bytes)
      const added = await a.run(['add', file])
      assert.equal(added.code, 0, added.stderr)
      const uri = added.stdout.trim()
      const out = path.join(b.dir, `got-${size}.bin`)
      const got = await b.run(['get', uri, '-o', out])
      assert.equal(got.code, 0, got.stderr)
      const back = await fs.readFile(out)
      assert.equal(createHash('sha1').update(back).digest('hex'), createHash('sha1').update(bytes).digest('hex'))
    }
    const peers = await b.runJson<Array<{ peerId: string }>>(['peers'])
    assert.ok(peers.json.some((p) => p.peerId === nodeA?.started.peerId))
    const status = await b.runJson<{ mode: string, network: { peers: number } }>(['status'])
    assert.equal(status.json.mode, 'node')
    assert.ok(status.json.network.peers >= 1)
  })

  it('get --ref fetches every blob a ref references', async () => {
    const files: string[] = []
    for (let i = 0; i < 50; i++) {
      const f = path.join(a.dir, `small-${i}.txt`)
      await fs.writeFile(f, `small file ${i} ${randomBytes(8).toString('hex')}`)
      files.push(f)
    }
    const added = await a.runJson<Array<{ uri: string }>>(['add', ...files])
    assert.equal(added.code, 0, added.stderr)
    const obj = JSON.stringify({ files: added.json.map((r) => r.uri) })
    assert.equal((await b.run(['ref', 'set', 'lab/run1', obj])).code, 0)
    const got = await b.runJson<{ blobs: number, fetched: number, failed: unknown[] }>(['get', '--ref', 'lab/run1'])
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.json.blobs, 50)
    assert.equal(got.json.fetched, 50)
    assert.deepEqual(got.json.failed, [])
    const cat = await b.run(['cat', added.json[7].uri])
    assert.match(cat.stdout, /^small file 7 /)
  })

  it('a hash no peer has ends with NO_PROVIDERS and a non-zero exit', async () => {
    const r = await b.runJson<{ error: { code: string } }>(['get', `sha1://${'ab'.repeat(20)}`])
    assert.notEqual(r.code, 0)
    assert.equal(r.json.error.code, 'NO_PROVIDERS')
  })
})
