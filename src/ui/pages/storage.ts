import type { SpaceStatus, StatusReport } from '../../ops.js'
import type { ClassBytes, RunSummary } from '../../space/report.js'
import { get } from '../api.js'
import { bytes, h, s, show, when } from '../dom.js'

type Storage = Pick<StatusReport, 'usage' | 'packs'> & { space: SpaceStatus }

const W = 640

export async function storagePage (main: HTMLElement): Promise<void> {
  const st = await get<Storage>('/ui/storage')
  const sp = st.space
  const max = sp.limits.maxSize
  // without a limit the bar is the share of the volume this node uses
  const scale = Math.max(max ?? sp.usage.total + (sp.usage.diskFree ?? 0), sp.usage.total, sp.thresholds?.hard ?? 0, 1)
  const x = (n: number): number => Math.round((n / scale) * W)
  const bar = s('svg', { width: W, height: 44, viewBox: `0 0 ${W} 44`, role: 'img', 'aria-label': 'usage against the limit' },
    s('rect', { x: 0, y: 10, width: W, height: 20, class: 'track' }),
    s('rect', { x: 0, y: 10, width: x(sp.usage.total), height: 20, class: 'used' }),
    ...(sp.thresholds !== undefined
      ? [line(x(sp.thresholds.low), 'low'), line(x(sp.thresholds.high), 'high'), ...(sp.thresholds.hard !== undefined ? [line(x(sp.thresholds.hard), 'hard')] : [])]
      : []))
  const classes = sp.classes
  show(main,
    h('h1', {}, 'Storage'),
    h('p', { class: 'big', id: 'usage' }, `${bytes(sp.usage.total)} used`, max !== undefined ? ` of ${bytes(max)}` : ' (no size limit; the bar is the share of the volume)',
      sp.usage.diskFree !== undefined ? h('span', { class: 'muted' }, ` · ${bytes(sp.usage.diskFree)} free on disk`) : null),
    bar,
    sp.thresholds !== undefined
      ? h('p', { class: 'muted' }, `GC starts above the high watermark (${bytes(sp.thresholds.high)}) and evicts down to the low one (${bytes(sp.thresholds.low)})`, sp.thresholds.hard !== undefined ? `; writes fail past ${bytes(sp.thresholds.hard)}.` : '.')
      : null,
    sp.overLimit !== undefined ? h('div', { class: 'error' }, `Over the limit by ${bytes(sp.overLimit.bytesOver)} since ${when(sp.overLimit.since)}: ${sp.overLimit.reason}`) : null,
    h('h2', {}, 'What the bytes are'),
    h('table', { id: 'classes' },
      h('thead', {}, h('tr', {}, h('th', {}, 'class'), h('th', { class: 'num' }, 'blobs'), h('th', { class: 'num' }, 'bytes'), h('th', {}, 'meaning'))),
      h('tbody', {},
        row('pinned', classes.pinned, 'never evicted'),
        row('referenced', classes.referenced, 'held by refs; evicted by priority, lowest first, when space runs short'),
        row('unreferenced', classes.unreferenced, 'cache: evicted first, least recently used first'),
        row('expired', classes.expired, 'held only by expired refs: released at the next sweep (part of referenced)'),
        row('leased', classes.leased, 'being written, fetched or served right now'),
        row('pending', classes.pending, 'just stored, not classified yet'))),
    h('p', {}, `${st.usage.blobs} blobs stored (${bytes(st.usage.bytes)})${st.packs !== undefined ? `, ${st.packs.files} pack files` : ''}; database ${bytes(sp.usage.db)}, reserved for writes in progress ${bytes(sp.usage.reserved)}.`),
    h('h2', {}, 'GC runs'),
    runChart(sp.lastRuns),
    runTable(sp.lastRuns))
}

function line (x: number, label: string): SVGElement {
  return s('g', { class: `mark ${label}` }, s('line', { x1: x, x2: x, y1: 4, y2: 36 }), s('text', { x: Math.min(x + 2, W - 30), y: 44 }, label))
}

function row (name: string, c: ClassBytes, meaning: string): HTMLElement {
  return h('tr', { 'data-class': name }, h('td', {}, name), h('td', { class: 'num' }, c.blobs), h('td', { class: 'num' }, bytes(c.bytes)), h('td', { class: 'muted' }, meaning))
}

/** Bytes each run evicted, oldest left: an inline SVG, one bar a run. */
function runChart (runs: RunSummary[]): Element {
  if (runs.length === 0) return h('p', { class: 'muted' }, 'No GC run yet.')
  const ordered = [...runs].reverse()
  const most = Math.max(...ordered.map((r) => r.evictedBytes), 1)
  const bw = Math.min(40, Math.max(4, Math.floor(W / ordered.length) - 2))
  const H = 120
  return s('svg', { width: W, height: H + 20, viewBox: `0 0 ${W} ${H + 20}`, role: 'img', 'aria-label': 'bytes evicted by each GC run', id: 'run-chart' },
    ...ordered.map((r, i) => {
      const bh = Math.max(1, Math.round((r.evictedBytes / most) * H))
      return s('rect', { x: i * (bw + 2), y: H - bh, width: bw, height: bh, class: r.satisfied ? 'run' : 'run blocked' },
        s('title', {}, `${when(r.startedAt)} (${r.trigger}): ${bytes(r.evictedBytes)} in ${r.evictedBlobs} blobs, ${r.durationMs} ms`))
    }),
    s('text', { x: 0, y: H + 16 }, when(ordered[0].startedAt)),
    ...(ordered.length > 1 ? [s('text', { x: W, y: H + 16, 'text-anchor': 'end' }, when(ordered[ordered.length - 1].startedAt))] : []))
}

function runTable (runs: RunSummary[]): HTMLElement | null {
  if (runs.length === 0) return null
  return h('table', { id: 'runs' },
    h('thead', {}, h('tr', {}, ['started', 'trigger', 'evicted', 'blobs', 'expired refs', 'took', 'outcome'].map((t) => h('th', {}, t)))),
    h('tbody', {}, runs.slice(0, 20).map((r) => h('tr', {},
      h('td', {}, when(r.startedAt)), h('td', {}, r.trigger), h('td', { class: 'num' }, bytes(r.evictedBytes)), h('td', { class: 'num' }, r.evictedBlobs),
      h('td', { class: 'num' }, r.expiredRefs), h('td', { class: 'num' }, `${r.durationMs} ms`), h('td', {}, r.satisfied ? 'reached its target' : r.blocked ?? 'target not reached')))))
}
