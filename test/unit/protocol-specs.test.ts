import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as varint from 'uint8-varint'
import { dhtKey } from '../../src/net/dht-key.js'
import * as netConstants from '../../src/net/constants.js'
import { Announce } from '../../src/protocols/announce/pb/announce.js'
import * as announceConstants from '../../src/protocols/announce/constants.js'
import * as fetchConstants from '../../src/protocols/fetch/constants.js'
import { FetchRequest, FetchResponse } from '../../src/protocols/fetch/pb/fetch.js'
import * as haveConstants from '../../src/protocols/have/constants.js'
import { HaveRequest, HaveResponse } from '../../src/protocols/have/pb/have.js'
// the codecs are used here without their protocols, which apply this encoder patch
import '../../src/protocols/uint64-fix.js'
import * as streamIo from '../../src/protocols/stream-io.js'
import * as transferConstants from '../../src/transfer/constants.js'
import * as manifest from '../../src/store/manifests.js'
import * as providers from '../../src/transfer/providers.js'
import { sha1ToCid } from '../../src/net/dht-key.js'
import { ANNOUNCE_WIRE } from '../../src/protocols/announce/announce.js'
import { FETCH_WIRE } from '../../src/protocols/fetch/fetch.js'
import { HAVE_WIRE } from '../../src/protocols/have/have.js'
import { I32, I64, LEN, VARINT, decodeStrict, type WireSchema } from '../../src/protocols/strict-decode.js'
import { WIRE_VECTORS, hexBytes } from '../helpers/wire-vectors.js'

/**
 * The wire specs in protocols/ must not drift from the code: each embedded schema equals its
 * .proto file byte for byte, every constant a spec names exists with the value the code exports,
 * and the worked examples (hex exchanges, DHT key, manifest) are what the code produces.
 */

// compiled to dist*/test/unit: the repository root is three levels up
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const specDir = path.join(root, 'protocols')
const PROTOCOLS = ['have', 'fetch', 'announce'] as const

/** Every module whose exported constants the specs may name. */
const exported: Record<string, unknown> = {
  ...netConstants,
  ...haveConstants,
  ...fetchConstants,
  ...announceConstants,
  ...streamIo,
  ...transferConstants,
  ...manifest,
  ...providers
}

/** UPPER_SNAKE words in backticks that are not constants: status names, kad-dht message types. */
const NOT_CONSTANTS = new Set([...Object.keys(FetchResponse.Status).filter((k) => /^[A-Z_]+$/.test(k)), 'ADD_PROVIDER', 'GET_PROVIDERS'])

/** Wire value of each fetch status, read back from the generated encoder (field 1, a varint). */
const statusValues: Record<string, number> = Object.fromEntries(Object.values(FetchResponse.Status).filter((v) => typeof v === 'string').map((name) => {
  const bytes = FetchResponse.encode({ status: name as FetchResponse.Status, size: 0n, length: 0n, message: '' })
  return [name, bytes.byteLength === 0 ? 0 : bytes[1]]
}))

async function spec (name: string): Promise<string> {
  return fs.readFile(path.join(specDir, name), 'utf8')
}

/** `| \`NAME\` | value | ...` rows: the value is a number (with _ or , separators) or a `string`. */
function constantRows (text: string): Array<{ name: string, value: number | string }> {
  const rows: Array<{ name: string, value: number | string }> = []
  for (const m of text.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+?) \|/gm)) {
    const cell = m[2].trim()
    const str = /^`(.*)`$/.exec(cell)
    rows.push({ name: m[1], value: str !== null ? str[1] : Number(cell.replace(/[_,\s]/g, '')) })
  }
  return rows
}

/** The hex bytes of a ``` block: on each line, the leading two-digit hex tokens (annotations follow). */
function exampleHex (block: string): string {
  const out: string[] = []
  for (const line of block.split('\n')) {
    for (const tok of line.trim().split(/\s+/)) {
      if (!/^[0-9a-f]{2}$/.test(tok)) break
      out.push(tok)
    }
  }
  return out.join('')
}

function exampleBlock (text: string): string {
  const section = text.slice(text.indexOf('## Example'))
  const m = /```\n([\s\S]*?)```/.exec(section)
  assert.ok(m !== null, 'the spec has an example block')
  return m[1]
}

const frame = (msg: Uint8Array): string => Buffer.concat([Buffer.from(varint.encode(msg.byteLength)), Buffer.from(msg)]).toString('hex')
const hello = Buffer.from('hello\n')
const helloSha1 = createHash('sha1').update(hello).digest() as Buffer<ArrayBuffer>

describe('protocol specs', () => {
  for (const name of PROTOCOLS) {
    it(`${name}.md embeds ${name}.proto byte for byte`, async () => {
      const text = await spec(`${name}.md`)
      const proto = await fs.readFile(path.join(root, 'src/protocols', name, 'pb', `${name}.proto`), 'utf8')
      const blocks = [...text.matchAll(/^```proto\n([\s\S]*?)^```$/gm)].map((m) => m[1])
      assert.equal(blocks.length, 1, 'exactly one proto block')
      assert.equal(blocks[0], proto)
    })

    it(`${name}.md names the protocol ID the code uses`, async () => {
      const text = await spec(`${name}.md`)
      const id = exported[`${name.toUpperCase()}_PROTOCOL`]
      assert.equal(typeof id, 'string')
      assert.ok(text.split('\n')[0].includes(`\`${id as string}\``), 'the title carries the ID')
    })
  }

  it('every constant a spec states has the value the code exports', async () => {
    let checked = 0
    for (const file of ['README.md', ...PROTOCOLS.map((p) => `${p}.md`)]) {
      for (const { name, value } of constantRows(await spec(file))) {
        if (name in statusValues) {
          // a row of the fetch status table: the number must be the one on the wire
          assert.equal(value, statusValues[name], `${file}: status ${name}`)
          checked++
          continue
        }
        assert.ok(name in exported, `${file}: ${name} is not exported by the code`)
        assert.equal(value, exported[name], `${file}: ${name}`)
        checked++
      }
    }
    assert.ok(checked > 40, `checked ${checked} constants`)
  })

  it('every constant a spec mentions is one the code exports and a table states', async () => {
    const stated = new Set<string>()
    const texts: Array<[string, string]> = []
    for (const file of ['README.md', ...PROTOCOLS.map((p) => `${p}.md`)]) {
      const text = await spec(file)
      texts.push([file, text])
      for (const { name } of constantRows(text)) stated.add(name)
    }
    for (const [file, text] of texts) {
      for (const m of text.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`/g)) {
        if (NOT_CONSTANTS.has(m[1])) continue
        assert.ok(m[1] in exported, `${file} mentions ${m[1]}, which the code does not export`)
        assert.ok(stated.has(m[1]), `${file} mentions ${m[1]}, which no table states`)
      }
    }
  })

  it('the have example is what the code sends', async () => {
    const expected = frame(HaveRequest.encode({ hashes: [helloSha1] })) +
      frame(HaveResponse.encode({ entries: [{ hash: helloSha1, have: true, size: 6n }] }))
    assert.equal(exampleHex(exampleBlock(await spec('have.md'))), expected)
  })

  it('the fetch example is what the code sends', async () => {
    const expected = frame(FetchRequest.encode({ hash: helloSha1, offset: 0n, length: 0n })) +
      frame(FetchResponse.encode({ status: FetchResponse.Status.OK, size: 6n, length: 6n, message: '' })) +
      hello.toString('hex')
    assert.equal(exampleHex(exampleBlock(await spec('fetch.md'))), expected)
    const text = await spec('fetch.md')
    const notFound = frame(FetchResponse.encode({ status: FetchResponse.Status.NOT_FOUND, size: 0n, length: 0n, message: 'not stored here' }))
    assert.ok(text.includes(notFound.slice(0, 10).replace(/(..)(?!$)/g, '$1 ')), 'the NOT_FOUND header bytes')
  })

  it('the announce example is what the code sends', async () => {
    const expected = frame(Announce.encode({ blobs: [{ hash: helloSha1, size: 6n }] }))
    assert.equal(exampleHex(exampleBlock(await spec('announce.md'))), expected)
  })

  it('uint64 fields survive the wire across the whole safe range (protons-runtime 7.1.2 broke 2^31..2^32)', () => {
    const values = [0n, 1n, 127n, 128n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 31n + 4194304n, 3n * 2n ** 30n, 2n ** 32n - 1n, 2n ** 32n, 6n * 2n ** 30n, BigInt(Number.MAX_SAFE_INTEGER), 2n ** 64n - 1n]
    for (const v of values) {
      const req = FetchRequest.decode(FetchRequest.encode({ hash: helloSha1, offset: v, length: v }))
      assert.equal(req.offset, v, `offset ${v}`)
      assert.equal(req.length, v, `length ${v}`)
      const res = HaveResponse.decode(HaveResponse.encode({ entries: [{ hash: helloSha1, have: true, size: v }] }))
      assert.equal(res.entries[0].size, v, `size ${v}`)
    }
    // the bytes are the standard varint, as any other protobuf implementation writes it
    const bytes = FetchRequest.encode({ hash: helloSha1, offset: 2n ** 31n, length: 0n })
    assert.equal(Buffer.from(bytes.subarray(22)).toString('hex'), '10' + '8080808008')
  })

  it('the README DHT example keys are what the code derives', async () => {
    const text = await spec('README.md')
    const sha1 = helloSha1.toString('hex')
    assert.ok(text.includes(`\`${sha1ToCid(sha1).toString()}\``), 'blob CID')
    assert.ok(text.includes(`\`${dhtKey(sha1).toString()}\``), 'DHT provider key')
    // and the derivation the README states
    const digest = createHash('sha256').update('trove-dht-providers:').update(helloSha1).digest()
    assert.deepEqual(Buffer.from(dhtKey(sha1).multihash.digest), digest)
  })

  it('the README manifest example is what the code writes', async () => {
    const text = await spec('README.md')
    const size = 10 * 1024 * 1024
    const chunkSize = transferConstants.CHUNK_SIZE
    const zeros = Buffer.alloc(size)
    const chunks: string[] = []
    for (let off = 0; off < size; off += chunkSize) chunks.push(createHash('sha1').update(zeros.subarray(off, off + chunkSize)).digest('hex'))
    const bytes = manifest.encodeManifest(manifest.makeManifest(createHash('sha1').update(zeros).digest('hex'), size, chunkSize, chunks))
    const json = Buffer.from(bytes).toString()
    assert.ok(text.includes('```json\n' + json + '\n```'), 'manifest JSON')
    assert.ok(text.includes(`sha1://${createHash('sha1').update(bytes).digest('hex')}`), 'manifest sha1')
    assert.ok(text.includes(`(${bytes.byteLength} bytes`), 'manifest size')
  })

  it('each page\'s malformed messages are the vectors the tests send, and decode as the page says', async () => {
    const codecs = {
      have: { requestLongVarint: [HaveRequest, HAVE_WIRE.HaveRequest], responseLongVarint: [HaveResponse, HAVE_WIRE.HaveResponse], requestUnknownFields: [HaveRequest, HAVE_WIRE.HaveRequest] },
      announce: { longVarint: [Announce, ANNOUNCE_WIRE.Announce], unknownFields: [Announce, ANNOUNCE_WIRE.Announce] },
      fetch: { requestWireType7: [FetchRequest, FETCH_WIRE.FetchRequest], responseWireType7: [FetchResponse, FETCH_WIRE.FetchResponse], requestUnknownField: [FetchRequest, FETCH_WIRE.FetchRequest] }
    } as const
    for (const name of PROTOCOLS) {
      const text = await spec(`${name}.md`)
      const section = text.slice(text.indexOf('## Malformed messages'))
      const blocks = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((m) => exampleHex(m[1]))
      const vectors: Record<string, string> = WIRE_VECTORS[name]
      assert.deepEqual(blocks, Object.values(vectors), `${name}.md`)
      for (const [key, hex] of Object.entries(vectors)) {
        const [codec, schema] = (codecs[name] as Record<string, readonly [Parameters<typeof decodeStrict>[0], WireSchema]>)[key]
        const body = hexBytes(hex).subarray(varint.encodingLength(varint.decode(hexBytes(hex))))
        assert.equal(body.byteLength, varint.decode(hexBytes(hex)), `${name} ${key}: the length prefix`)
        if (/unknown/i.test(key)) assert.doesNotThrow(() => decodeStrict(codec, body, schema), `${name} ${key}`)
        else assert.throws(() => decodeStrict(codec, body, schema), { name: 'ProtocolError' }, `${name} ${key}`)
      }
    }
  })

  it('the wire schemas the decoders check are the .proto files\' fields and types', async () => {
    const wireOf: Record<string, number> = { bytes: LEN, string: LEN, bool: VARINT, uint64: VARINT, uint32: VARINT, int32: VARINT, int64: VARINT, fixed64: I64, fixed32: I32 }
    const schemas: Record<string, Record<string, WireSchema>> = { have: HAVE_WIRE, announce: ANNOUNCE_WIRE, fetch: FETCH_WIRE }
    for (const name of PROTOCOLS) {
      const proto = await fs.readFile(path.join(root, 'src/protocols', name, 'pb', `${name}.proto`), 'utf8')
      // message name -> its fields (nested messages are named by their own name: no clashes here)
      const messages = new Map<string, Array<{ type: string, num: number }>>()
      const enums = new Set([...proto.matchAll(/enum (\w+)/g)].map((m) => m[1]))
      const stack: string[] = []
      for (const line of proto.split('\n')) {
        const open = /^\s*(message|enum) (\w+) \{/.exec(line)
        if (open !== null) { stack.push(open[1] === 'message' ? open[2] : ''); continue }
        if (/^\s*\}/.test(line)) { stack.pop(); continue }
        const field = /^\s*(?:repeated |optional )?(\w+) \w+ = (\d+);/.exec(line)
        const owner = stack.at(-1)
        if (field !== null && owner !== undefined && owner !== '') {
          messages.set(owner, [...(messages.get(owner) ?? []), { type: field[1], num: Number(field[2]) }])
        }
      }
      const expected = (message: string): WireSchema => Object.fromEntries((messages.get(message) ?? []).map(({ type, num }) => {
        if (messages.has(type)) return [num, expected(type)]
        return [num, enums.has(type) ? VARINT : wireOf[type]]
      }))
      for (const [message, schema] of Object.entries(schemas[name])) assert.deepEqual(schema, expected(message), `${name}: ${message}`)
    }
  })
})
