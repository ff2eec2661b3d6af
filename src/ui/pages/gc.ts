import type { GcReport } from '../../ops.js'
import { call, get, qs } from '../api.js'
import { bytes, h, show } from '../dom.js'
import { errorBox } from '../errors.js'
import { blobHref } from './refs.js'

/** The dry run the dashboard asks for: the plan cut to its first rows, and their count. */
type Report = GcReport & { totalBlobs?: number }

const ROWS = 200

/** The dry run as a table in eviction order, and a button that runs GC and shows its report. */
export async function gcPage (main: HTMLElement): Promise<void> {
  const out = h('div', { id: 'gc-out' })
  const preview = async (): Promise<void> => {
    show(out, h('p', { class: 'muted' }, 'Planning…'))
    try {
      show(out, report(await get<Report>(`/ui/gc-preview${qs({ limit: ROWS })}`)))
    } catch (err) {
      show(out, errorBox(err))
    }
  }
  const run = async (): Promise<void> => {
    if (!confirm('Run GC now? Evicted blobs are deleted from this node (peers may still have them).')) return
    show(out, h('p', { class: 'muted' }, 'Running…'))
    try {
      show(out, report(await call<Report>('POST', '/gc', {})))
    } catch (err) {
      show(out, errorBox(err))
    }
  }
  show(main,
    h('h1', {}, 'GC'),
    h('p', {}, 'A preview changes nothing: it lists what a run would evict now, in order, and why. A run evicts down to the low watermark (with no size limit: every unreferenced blob past its grace period) and removes expired refs.'),
    h('div', { class: 'actions' },
      h('button', { id: 'gc-preview', onclick: () => { void preview() } }, 'Preview (dry run)'),
      h('button', { id: 'gc-run', class: 'danger', onclick: () => { void run() } }, 'Run GC')),
    out)
}

function report (r: Report): HTMLElement {
  const total = r.totalBlobs ?? r.blobs.length
  return h('div', { class: 'report', 'data-dry-run': String(r.dryRun) },
    h('h2', {}, r.dryRun ? 'Would evict' : 'Evicted'),
    h('p', { id: 'gc-summary' }, r.dryRun
      ? `${total} blob(s), ${bytes(r.blobs.reduce((n, b) => n + b.size, 0))}${total > r.blobs.length ? ` in the first ${r.blobs.length}` : ''}. ${r.target.why}.`
      : `${r.evicted.blobs} blob(s), ${bytes(r.evicted.bytes)} in ${r.durationMs} ms; usage ${bytes(r.usageBefore)} → ${bytes(r.usageAfter)}. ${r.target.why}.`),
    r.blocked !== undefined ? h('p', { class: 'error' }, `Target not reached: ${r.blocked}`) : null,
    r.expiredRefs.length > 0 ? h('p', {}, `Expired refs ${r.dryRun ? 'to remove' : 'removed'}: ${r.expiredRefs.map((e) => `${e.key} (${e.reason})`).join(', ')}`) : null,
    r.blobs.length > 0
      ? h('table', { id: 'gc-table' },
        h('thead', {}, h('tr', {}, ['#', 'blob', 'size', 'class', 'priority', 'why this one'].map((t) => h('th', {}, t)))),
        h('tbody', {}, r.blobs.map((b, i) => h('tr', { 'data-sha1': b.sha1 },
          h('td', { class: 'num' }, i + 1), h('td', {}, h('a', { href: blobHref(b.sha1) }, `sha1://${b.sha1.slice(0, 12)}…`)),
          h('td', { class: 'num' }, bytes(b.size)), h('td', {}, b.class), h('td', { class: 'num' }, b.priority ?? '—'), h('td', {}, b.reason)))))
      : h('p', { class: 'muted' }, 'Nothing to evict.'),
    r.errors.length > 0 ? h('ul', { class: 'error' }, r.errors.map((e) => h('li', {}, `${e.sha1}: ${e.error}`))) : null)
}
