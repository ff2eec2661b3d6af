import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it, mock } from 'node:test'
import fc from 'fast-check'
import { openSpaceTrove, settle, uri, useAt } from '../helpers/space.js'

const KIB = 1024
const GRACE_MS = 60_000
/** The model's clock: old blobs are written at T0, fresh ones at T1, well past T0's grace. */
const T0 = 1_700_000_000_000
const T1 = T0 + 10 * GRACE_MS

type Hold = { kind: 'none' } | { kind: 'ref', priority: number } | { kind: 'pin' }

interface BlobSpec {
  kib: number
  hold: Hold
  /** Written at T1 rather than T0: an unreferenced fresh blob is in its grace period at the first run. */
  fresh: boolean
}

const holdArb: fc.Arbitrary<Hold> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 4, arbitrary: fc.integer({ min: -2, max: 9 }).map((priority) => ({ kind: 'ref' as const, priority })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'pin' as const }) }
)
const blobArb: fc.Arbitrary<BlobSpec> = fc.record({ kib: fc.integer({ min: 16, max: 192 }), hold: holdArb, fresh: fc.boolean() })

/** Eviction order: unheld before held, then by priority, then least recently used first. */
function rankKey (b: BlobSpec, lastUsed: number): [number, number, number] {
  return b.hold.kind === 'none' ? [0, 0, lastUsed] : [1, b.hold.kind === 'ref' ? b.hold.priority : 0, lastUsed]
}

function compare (x: [number, number, number], y: [number, number, number]): number {
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]
}

describe('space: eviction against a model with priorities, pins and grace periods', () => {
  it('evicts a prefix of the ranking that stops at the first blob in its grace, and finishes once the grace ends', async () => {
    mock.timers.enable({ apis: ['Date'], now: T0 })
    try {
      await fc.assert(fc.asyncProperty(
        fc.array(blobArb, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 20, max: 120 }),
        fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
        async (specs, limitPercent, useOrder) => {
          mock.timers.setTime(T0)
          const h = await openSpaceTrove({ maxSize: '1GB', hardLimit: '1TB', gracePeriodMs: GRACE_MS })
          const t = h.trove
          try {
            const sha1s: string[] = new Array(specs.length)
            let total = 0
            for (const fresh of [false, true]) {
              mock.timers.setTime(fresh ? T1 : T0)
              for (const [i, b] of specs.entries()) {
                if (b.fresh !== fresh) continue
                const r = await t.store.putBytes(randomBytes(b.kib * KIB))
                sha1s[i] = r.sha1
                total += r.size
                if (b.hold.kind === 'ref') await t.setRef(`model/${i}`, { f: uri(r.sha1) }, { priority: b.hold.priority })
                if (b.hold.kind === 'pin') await t.setRef(`model/${i}`, { f: uri(r.sha1) }, { pin: true })
              }
            }
            // distinct last uses in a random order, after every write
            const lastUsed = specs.map((_, i) => T1 + 1_000 * (1 + ((useOrder[i] * 7919 + i) % 1_000_003)))
            await useAt(t, specs.map((_, i) => [sha1s[i], lastUsed[i]]))
            await settle(t)
            const order = specs.map((b, i) => i).filter((i) => specs[i].hold.kind !== 'pin')
              .sort((x, y) => compare(rankKey(specs[x], lastUsed[x]), rankKey(specs[y], lastUsed[y])))

            const check = async (now: number, phase: string): Promise<void> => {
              mock.timers.setTime(now)
              const inGrace = (i: number): boolean => specs[i].hold.kind === 'none' && now - (specs[i].fresh ? T1 : T0) < GRACE_MS
              const report = await t.gc()
              const kept = new Set<number>()
              for (const [i, sha1] of sha1s.entries()) if (await t.store.has(sha1)) kept.add(i)
              for (const [i, b] of specs.entries()) if (b.hold.kind === 'pin') assert.ok(kept.has(i), `${phase}: pinned blob ${i} was evicted`)
              const evicted = order.filter((i) => !kept.has(i))
              // what went is a prefix of the ranking: nothing kept ranks below anything evicted
              const firstKept = order.findIndex((i) => kept.has(i))
              if (firstKept >= 0) {
                for (const i of order.slice(firstKept)) assert.ok(kept.has(i), `${phase}: blob ${i} was evicted while blob ${order[firstKept]} that ranks lower stayed`)
              }
              for (const i of evicted) assert.ok(!inGrace(i), `${phase}: blob ${i} was evicted in its grace period`)
              // a run that fell short stopped at a blob waiting out its grace, or ran out of blobs
              if (!report.satisfied && firstKept >= 0) {
                assert.ok(inGrace(order[firstKept]), `${phase}: the run stopped short before blob ${order[firstKept]}, which is not in its grace period`)
                assert.equal(report.skipped.deferred?.sha1, sha1s[order[firstKept]])
              }
            }

            t.space.configure({ maxSize: Math.max(64 * KIB, Math.floor(total * limitPercent / 100)) })
            await check(T1 + 5_000, 'during the grace')
            await check(T1 + 2 * GRACE_MS, 'after the grace')
          } finally {
            await h.cleanup()
          }
        }
      ), { numRuns: 25 })
    } finally {
      mock.timers.reset()
    }
  })
})
