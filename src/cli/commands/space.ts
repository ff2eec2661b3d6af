import type { Command } from 'commander'
import type { Eviction, GcReport, SpaceStatus, StatusReport, WhyReport } from '../../ops.js'
import { ago } from '../../space/planner.js'
import { formatSize } from '../../units.js'
import { withBackend } from '../backend.js'
import { emit, type GlobalOptions } from '../output.js'

type Globals = () => GlobalOptions

export function registerSpaceCommands (program: Command, globals: Globals): void {
  program.command('gc')
    .description('remove expired refs and evict down to the low watermark (without a size limit: every unreferenced blob)')
    .option('--dry-run', 'only list what would go, in order, with size and reason')
    .action(async (flags: { dryRun?: boolean }) => {
      const opts = globals()
      const report = await withBackend(opts, 'gc', async (trove) => trove.gc({ dryRun: flags.dryRun === true }))
      emit(opts, report, () => gcLines(report))
    })
}

export function gcLines (r: GcReport): string[] {
  const lines: string[] = []
  const verb = r.dryRun ? 'would evict' : 'evicted'
  const target = r.target.mode === 'bytes' ? `target ${formatSize(r.target.bytes)}: ${r.target.why}` : r.target.why
  lines.push(`${r.dryRun ? 'dry run: ' : ''}${verb} ${r.evicted.blobs} blob${r.evicted.blobs === 1 ? '' : 's'} (${formatSize(r.evicted.bytes)}); usage ${formatSize(r.usageBefore)} -> ${formatSize(r.usageAfter)}`)
  lines.push(`  (${target})`)
  for (const e of r.expiredRefs) {
    lines.push(`${r.dryRun ? 'would remove' : 'removed'} ref ${e.key}: ${e.reason === 'expires' ? 'expired' : 'unused longer than its ttl'} ${ago(Date.now() - e.at)} ago`)
  }
  lines.push(...blobLines(r.blobs, r.dryRun ? r.blobs.length : r.evicted.blobs))
  const s = r.skipped
  const skipped = ([['leased', 'in use'], ['grace', 'in the grace period'], ['minCopies', 'kept for minCopies'], ['changing', 'being reclassified']] as const)
    .filter(([k]) => s[k].blobs > 0).map(([k, label]) => `${s[k].blobs} ${label} (${formatSize(s[k].bytes)})`)
  if (skipped.length > 0) lines.push(`skipped: ${skipped.join(', ')}`)
  for (const e of r.errors) lines.push(`error: sha1://${e.sha1}: ${e.error}`)
  if (!r.satisfied) lines.push(`limit not reached: ${r.blocked ?? 'nothing more can be evicted'}`)
  if (r.compacted === true) lines.push('database compacted')
  return lines
}

/**
 * One numbered line per evicted blob (with its size, class and reason), then how many more went
 * unlisted. Blobs of a directory (a dry run's `dir`) are listed together under it, at the place of
 * the first of them, with their path in it.
 */
function blobLines (blobs: Array<Eviction['blobs'][number] & { heldBy?: string[], dir?: string }>, total: number): string[] {
  const line = (b: typeof blobs[number], i: number, indent: string, name: string): string => {
    const held = b.heldBy !== undefined && b.heldBy.length > 0 ? ` [${b.heldBy.join(', ')}]` : ''
    return `${indent}${String(i + 1).padStart(3)}. ${name}  ${formatSize(b.size).padStart(10)}  ${b.class}${b.priority !== undefined ? ` p${b.priority}` : ''}${held}: ${b.reason}`
  }
  const byRoot = new Map<string, Array<[typeof blobs[number], number]>>()
  for (const [i, b] of blobs.entries()) {
    if (b.dir === undefined) continue
    const root = b.dir.slice(0, 'sha1dir://'.length + 40)
    byRoot.set(root, [...(byRoot.get(root) ?? []), [b, i]])
  }
  const lines: string[] = []
  for (const [i, b] of blobs.entries()) {
    if (b.dir === undefined) {
      lines.push(line(b, i, '  ', b.uri))
      continue
    }
    const root = b.dir.slice(0, 'sha1dir://'.length + 40)
    const group = byRoot.get(root)
    if (group === undefined) continue
    byRoot.delete(root)
    lines.push(`  in directory ${root} (${group.length} blob${group.length === 1 ? '' : 's'}, ${formatSize(group.reduce((n, [g]) => n + g.size, 0))}):`)
    for (const [g, j] of group) lines.push(line(g, j, '    ', `${g.dir === root ? '(its manifest)' : (g.dir ?? '').slice(root.length + 1)} ${g.uri}`))
  }
  if (total > blobs.length) lines.push(`  ... and ${total - blobs.length} more`)
  return lines
}

/**
 * What `add` and the fetching commands tell a person (on stderr) when space runs evicted content
 * while they ran: per run, what went, how much and why.
 */
export function evictionLines (evictions: Eviction[]): string[] {
  const lines: string[] = []
  for (const e of evictions) {
    const parts: string[] = []
    if (e.evicted.blobs > 0) parts.push(`evicted ${e.evicted.blobs} blob${e.evicted.blobs === 1 ? '' : 's'} (${formatSize(e.evicted.bytes)})`)
    if (e.removedRefs > 0) parts.push(`removed ${e.removedRefs} expired ref${e.removedRefs === 1 ? '' : 's'}`)
    lines.push(`trove: space: ${parts.join(' and ')} to make room (${e.trigger} run): ${e.why}`)
    lines.push(...blobLines(e.blobs, e.evicted.blobs))
    for (const x of e.expiredRefs) lines.push(`  removed ref ${x.key}: ${x.reason === 'expires' ? 'expired' : 'unused longer than its ttl'}`)
    if (e.removedRefs > e.expiredRefs.length) lines.push(`  ... and ${e.removedRefs - e.expiredRefs.length} more refs`)
    if (e.blocked !== undefined) lines.push(`  limit not reached: ${e.blocked}`)
  }
  return lines
}

/** Lines `trove why` adds for space management: links, leases, grace, class. */
export function whySpaceLines (report: WhyReport): string[] {
  const lines: string[] = []
  // the directory root a blob is inside (sha1dir://<root>/...): links that reach it are said as "in directory"
  const root = report.dir?.slice('sha1dir://'.length, 'sha1dir://'.length + 40)
  if (report.dir !== undefined) lines.push(`  in directory ${report.dir}`)
  for (const r of report.reasons) {
    if (r.kind === 'link') {
      const holder = r.key !== undefined ? `held by ref ${r.key} (priority ${r.priority ?? 0}${r.pin === true ? ', pinned ref' : ''})` : 'pinned'
      const via = r.via ?? []
      if (root !== undefined && via[via.length - 1] === root) {
        lines.push(`  directory sha1dir://${root} is ${holder}`)
        continue
      }
      lines.push(`  referenced by JSON ${via.map((s) => `sha1://${s.slice(0, 12)}...`).join(' <- ')}, which is ${holder}`)
    }
  }
  const s = report.space
  if (s?.leased === true) lines.push('  in use right now (being written, fetched or served)')
  if (s?.graceUntil !== undefined) lines.push(`  just stored: kept for the grace period, until ${new Date(s.graceUntil).toISOString()}`)
  if (s?.minCopies !== undefined && s.replicas < s.minCopies) lines.push(`  a ref asks for ${s.minCopies} copies; peers are known to hold ${s.replicas}`)
  if (s !== undefined && report.local) {
    const used = s.lastUsed !== undefined ? `, last used ${ago(Date.now() - s.lastUsed)} ago` : ''
    const peers = s.replicas > 0 ? `, ${s.replicas} peer(s) hold a copy` : ''
    lines.push(`  class: ${s.class}${s.priority !== undefined ? ` (priority ${s.priority})` : ''}${used}${peers}; ${s.evictable ? 'may be evicted when space runs short' : 'not evictable now'}`)
  }
  return lines
}

/** Lines `trove status` adds for space management: usage, limits, classes, last runs. */
export function statusSpaceLines (st: StatusReport): string[] {
  const s = st.space as SpaceStatus | undefined
  if (s === undefined) return []
  const u = s.usage
  const lines = [`space: ${formatSize(u.total)} in use (blobs ${formatSize(u.blobs)}, database ${formatSize(u.db)}, reserved ${formatSize(u.reserved)})${u.diskFree !== undefined ? `, ${formatSize(u.diskFree)} free on disk` : ''}`]
  const l = s.limits
  if (l.maxSize !== undefined) {
    lines.push(`limits: maxSize ${formatSize(l.maxSize)}, evict above ${Math.round(l.highWatermark * 100)}% down to ${Math.round(l.lowWatermark * 100)}%${l.hardLimit !== undefined ? `, hard limit ${formatSize(l.hardLimit)}` : ''}${l.minFree > 0 ? `, keep ${formatSize(l.minFree)} free` : ''}`)
  } else {
    lines.push(`limits: none${l.minFree > 0 ? ` (keep ${formatSize(l.minFree)} free)` : ''}; \`trove gc\` removes unreferenced blobs`)
  }
  const c = s.classes
  lines.push(`by class: pinned ${formatSize(c.pinned.bytes)}, referenced ${formatSize(c.referenced.bytes)}, unreferenced ${formatSize(c.unreferenced.bytes)}, expired ${formatSize(c.expired.bytes)}, leased ${formatSize(c.leased.bytes)}${c.pending.blobs > 0 ? `, pending ${formatSize(c.pending.bytes)}` : ''}`)
  if (s.overLimit !== undefined) lines.push(`OVER LIMIT by ${formatSize(s.overLimit.bytesOver)} since ${s.overLimit.since}: ${s.overLimit.reason}`)
  for (const r of s.lastRuns.slice(0, 3)) {
    lines.push(`gc ${r.startedAt} (${r.trigger}): evicted ${r.evictedBlobs} (${formatSize(r.evictedBytes)}), ${r.expiredRefs} expired refs, ${r.durationMs} ms${r.satisfied ? '' : `; ${r.blocked ?? 'limit not reached'}`}`)
  }
  return lines
}
