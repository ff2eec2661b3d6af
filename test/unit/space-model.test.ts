import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { openSpaceTrove, settle, uri } from '../helpers/space.js'

type Op =
  | { kind: 'add', size: number }
  | { kind: 'addJson', children: number[] }
  | { kind: 'setRef', key: number, blobs: number[], priority: number, pin: boolean }
  | { kind: 'rmRef', key: number }
  | { kind: 'pin', blob: number }
  | { kind: 'unpin', blob: number }
  | { kind: 'gc', maxKiB: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), size: fc.integer({ min: 1, max: 8192 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('addJson' as const), children: fc.array(fc.nat(30), { maxLength: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('setRef' as const), key: fc.nat(4), blobs: fc.array(fc.nat(30), { maxLength: 3 }), priority: fc.integer({ min: -2, max: 3 }), pin: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rmRef' as const), key: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pin' as const), blob: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unpin' as const), blob: fc.nat(30) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('gc' as const), maxKiB: fc.integer({ min: 1, max: 96 }) }) }
)

type Hold = { c: 0 } | { c: 1, p: number } | { c: 2 }

/**
 * The reference model: which blobs exist, which refs and pins hold what, which JSON blobs
 * reference what (and whether those links still count: a JSON blob evicted while nothing held
 * it takes its links with it). Holds are computed from scratch, the simplest possible way.
 */
class Model {
  blobs: Array<{ sha1: string, size: number, children: number[] }> = []
  present = new Set<number>()
  refs = new Map<number, { blobs: number[], priority: number, pin: boolean }>()
  pins = new Set<number>()
  linksAlive = new Set<number>()

  hold (id: number, seen = new Set<number>()): Hold {
    if (seen.has(id)) return { c: 0 }
    seen.add(id)
    let h: Hold = this.pins.has(id) ? { c: 2 } : { c: 0 }
    for (const r of this.refs.values()) {
      if (!r.blobs.includes(id)) continue
      h = strongest(h, r.pin ? { c: 2 } : { c: 1, p: r.priority })
    }
    for (const [pid, b] of this.blobs.entries()) {
      if (b.children.includes(id) && this.linksAlive.has(pid)) h = strongest(h, this.hold(pid, new Set(seen)))
    }
    return h
  }

  /** Links of JSON blobs that are gone and no longer held are dropped, as the index does. */
  dropDeadLinks (): void {
    for (const id of [...this.linksAlive]) {
      if (!this.present.has(id) && this.hold(id).c === 0) this.linksAlive.delete(id)
    }
  }
}

function strongest (a: Hold, b: Hold): Hold {
  if (a.c === 2 || b.c === 2) return { c: 2 }
  if (a.c === 0) return b
  if (b.c === 0) return a
  return { c: 1, p: Math.max(a.p, b.p) }
}

function rank (h: Hold): number {
  return h.c === 0 ? -Infinity : h.c === 1 ? h.p : Infinity
}

describe('space: randomized against a reference model', () => {
  it('never loses a protected blob, evicts in order, and ends under the limit when it can', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 4, maxLength: 24 }), async (ops) => {
      const h = await openSpaceTrove({ maxSize: '1GB', hardLimit: '1TB' })
      const t = h.trove
      const m = new Model()
      const blobAt = (n: number): number | undefined => m.blobs.length === 0 ? undefined : n % m.blobs.length
      try {
        for (const op of ops) {
          switch (op.kind) {
            case 'add': {
              const r = await t.store.putBytes(randomBytes(op.size))
              m.blobs.push({ sha1: r.sha1, size: r.size, children: [] })
              m.present.add(m.blobs.length - 1)
              break
            }
            case 'addJson': {
              const children = [...new Set(op.children.map(blobAt).filter((x): x is number => x !== undefined))]
              const doc = Buffer.from(JSON.stringify({ parts: children.map((c) => uri(m.blobs[c].sha1)), salt: randomBytes(4).toString('hex') }))
              const r = await t.store.putBytes(doc)
              m.blobs.push({ sha1: r.sha1, size: r.size, children })
              m.present.add(m.blobs.length - 1)
              m.linksAlive.add(m.blobs.length - 1)
              break
            }
            case 'setRef': {
              const blobs = [...new Set(op.blobs.map(blobAt).filter((x): x is number => x !== undefined))]
              await t.setRef(`model/r${op.key}`, blobs.map((b) => uri(m.blobs[b].sha1)), { priority: op.priority, pin: op.pin })
              m.refs.set(op.key, { blobs, priority: op.priority, pin: op.pin })
              m.dropDeadLinks()
              break
            }
            case 'rmRef':
              if (!m.refs.has(op.key)) break
              await t.rmRef(`model/r${op.key}`)
              m.refs.delete(op.key)
              m.dropDeadLinks()
              break
            case 'pin': {
              const b = blobAt(op.blob)
              if (b === undefined || !m.present.has(b)) break
              await t.pin(uri(m.blobs[b].sha1))
              m.pins.add(b)
              break
            }
            case 'unpin': {
              const b = blobAt(op.blob)
              if (b === undefined) break
              await t.unpin(uri(m.blobs[b].sha1))
              m.pins.delete(b)
              m.dropDeadLinks()
              break
            }
            case 'gc': {
              await settle(t)
              t.space.configure({ maxSize: op.maxKiB * 1024, lowWatermark: 0.5, highWatermark: 0.9 })
              const before = new Map([...m.present].map((id) => [id, m.hold(id)]))
              const report = await t.gc()
              const after = new Set<number>()
              for (const id of m.present) if (await t.store.has(m.blobs[id].sha1)) after.add(id)
              const evicted = [...m.present].filter((id) => !after.has(id))
              for (const [id, hold] of before) {
                if (hold.c === 2) assert.ok(after.has(id), `protected blob ${id} was evicted`)
              }
              // nothing evicted ranks above anything evictable that stayed
              const maxEvicted = Math.max(-Infinity, ...evicted.map((id) => rank(before.get(id) as Hold)))
              for (const id of after) {
                const hold = before.get(id) as Hold
                if (hold.c !== 2) assert.ok(rank(hold) >= maxEvicted, `blob ${id} (rank ${rank(hold)}) stayed while one of rank ${maxEvicted} went`)
              }
              if (!report.satisfied) {
                for (const id of after) assert.equal((before.get(id) as Hold).c, 2, `run stopped short with evictable blob ${id} left`)
              }
              for (const id of evicted) {
                m.present.delete(id)
                if ((before.get(id) as Hold).c === 0) m.linksAlive.delete(id)
              }
              m.dropDeadLinks()
              t.space.configure({ maxSize: '1GB' })
              break
            }
          }
        }
        await settle(t)
        assert.equal((await t.verify()).ok, true)
      } finally {
        await h.cleanup()
      }
    }), { numRuns: 30 })
  })
})
