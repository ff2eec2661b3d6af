import type { GroupListing } from '../../api/routes/ui.js'
import type { HistoryEntry } from '../../refs/ref-store.js'
import { call, get, keyPath, qs } from '../api.js'
import { bytes, h, show, when } from '../dom.js'
import { errorBox } from '../errors.js'

type Listing = GroupListing
type RefRecord = HistoryEntry
interface RefBlobs { total: number, offset: number, blobs: Array<{ sha1: string, size?: number, local: boolean, pinned: boolean, peers: string[] }> }

const SEARCH_PAGE = 100
const BLOB_PAGE = 100

export const refHref = (key: string): string => `#/ref?${new URLSearchParams({ key }).toString()}`
const groupHref = (prefix: string): string => `#/refs?${new URLSearchParams({ prefix }).toString()}`
export const blobHref = (sha1: string): string => `#/blob?${new URLSearchParams({ uri: `sha1://${sha1}` }).toString()}`

/** The key hierarchy as groups, or, with a search (prefix or meta), the refs that match, a page at a time. */
export async function refsPage (main: HTMLElement, params: URLSearchParams): Promise<void> {
  const prefix = params.get('prefix') ?? ''
  const meta = params.get('meta') ?? ''
  const search = params.get('search') === '1'
  const form = h('form', { class: 'search', id: 'ref-search' },
    h('label', {}, 'Key prefix ', h('input', { name: 'prefix', value: prefix, placeholder: 'lab/mouse7/' })),
    h('label', {}, ' Meta ', h('input', { name: 'meta', value: meta, placeholder: 'field=value' })),
    h('button', { type: 'submit' }, 'Search'))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const data = new FormData(form as HTMLFormElement)
    location.hash = `#/refs?${new URLSearchParams({ prefix: String(data.get('prefix') ?? ''), meta: String(data.get('meta') ?? ''), search: '1' }).toString()}`
  })
  const crumbs = breadcrumbs(prefix)
  if (search || meta !== '' || (prefix !== '' && !prefix.endsWith('/'))) {
    const results = h('div', { id: 'results' })
    show(main, h('h1', {}, 'Refs'), form, crumbs, results)
    await searchPage(results, prefix, meta, undefined)
    return
  }
  const listing = await get<Listing>(`/ui/ref-groups${qs({ prefix })}`)
  show(main,
    h('h1', {}, 'Refs'), form, crumbs,
    h('p', { class: 'muted' }, `${listing.total} refs under ${prefix === '' ? 'the root' : prefix}`, listing.sized ? '' : ' (too many to sum sizes on the fly: open a group for its sizes)'),
    listing.groups.length > 0
      ? h('table', { id: 'groups' },
        h('thead', {}, h('tr', {}, h('th', {}, 'group'), h('th', { class: 'num' }, 'refs'), h('th', { class: 'num' }, 'size'))),
        h('tbody', {}, listing.groups.map((g) => h('tr', {},
          h('td', {}, h('a', { href: groupHref(g.prefix), class: 'group' }, g.prefix.slice(prefix.length))),
          h('td', { class: 'num' }, g.refs), h('td', { class: 'num' }, bytes(g.bytes))))))
      : null,
    listing.moreGroups ? h('p', { class: 'muted' }, 'More groups than one page holds: search by prefix to find the others.') : null,
    listing.refs.length > 0
      ? h('table', { id: 'refs' },
        h('thead', {}, h('tr', {}, h('th', {}, 'ref'), h('th', { class: 'num' }, 'size'))),
        h('tbody', {}, listing.refs.map((r) => h('tr', {}, h('td', {}, h('a', { href: refHref(r.key), class: 'ref' }, r.key.slice(prefix.length))), h('td', { class: 'num' }, bytes(r.bytes))))))
      : null,
    listing.after !== undefined ? h('p', { class: 'muted' }, 'More refs in this group: search with this prefix to page through them.') : null)
}

function breadcrumbs (prefix: string): HTMLElement {
  const parts = prefix.split('/').filter((p) => p !== '')
  const links: Array<HTMLElement | string> = [h('a', { href: groupHref('') }, 'all')]
  let acc = ''
  for (const p of parts) {
    acc += p + '/'
    links.push(' / ', h('a', { href: groupHref(acc) }, p))
  }
  return h('p', { class: 'crumbs' }, links)
}

async function searchPage (el: HTMLElement, prefix: string, meta: string, cursor: string | undefined): Promise<void> {
  const query: Record<string, string | number | undefined> = { prefix, limit: SEARCH_PAGE, cursor }
  for (const part of meta.split(',').map((m) => m.trim()).filter((m) => m !== '')) {
    const eq = part.indexOf('=')
    if (eq > 0) query[`meta.${part.slice(0, eq).trim()}`] = part.slice(eq + 1).trim()
  }
  const page = await get<{ refs: RefRecord[], cursor?: string }>(`/refs${qs(query)}`)
  const more = h('div', {})
  el.append(
    h('table', { class: 'search-results' },
      h('thead', {}, h('tr', {}, h('th', {}, 'ref'), h('th', {}, 'version'), h('th', {}, 'priority'), h('th', {}, 'set'))),
      h('tbody', {}, page.refs.map((r) => h('tr', {}, h('td', {}, h('a', { href: refHref(r.key), class: 'ref' }, r.key)), h('td', { class: 'num' }, r.version),
        h('td', { class: 'num' }, String(r.meta.priority ?? 0)), h('td', {}, when(r.setAt)))))),
    page.refs.length === 0 ? h('p', { class: 'muted' }, 'No ref matches.') : '',
    more)
  if (page.cursor !== undefined) {
    const next = page.cursor
    more.append(h('button', { onclick: () => { more.remove(); void searchPage(el, prefix, meta, next) } }, 'Next page'))
  }
}

/** One ref: its object, meta, versions with what changed, the blobs it references; pin, priority, delete. */
export async function refPage (main: HTMLElement, params: URLSearchParams): Promise<void> {
  const key = params.get('key') ?? ''
  const [ref, hist] = await Promise.all([
    get<RefRecord>(`/refs/${keyPath(key)}`),
    get<{ history: RefRecord[] }>(`/refs/${keyPath(key)}/history`)
  ])
  const status = h('div', { id: 'action-status', role: 'status' })
  const act = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    if (!confirm(what)) return
    try {
      await fn()
      await refPage(main, params)
    } catch (err) {
      show(status, errorBox(err))
    }
  }
  const write = async (meta: Record<string, unknown>): Promise<unknown> => call('PUT', `/refs/${keyPath(key)}`, { obj: ref.obj, meta })
  const priority = Number(ref.meta.priority ?? 0)
  const blobs = h('div', { id: 'ref-blobs' })
  show(main,
    h('h1', {}, ref.key),
    h('p', { class: 'muted' }, `version ${ref.version}, set ${when(ref.setAt)}${ref.by !== undefined ? ` by ${ref.by}` : ''}`),
    h('div', { class: 'actions' },
      ref.meta.pin === true
        ? h('button', { id: 'unpin-ref', onclick: () => { void act(`Unpin ${key}? Its blobs can then be evicted by priority.`, async () => write({ ...ref.meta, pin: false })) } }, 'Unpin ref')
        : h('button', { id: 'pin-ref', onclick: () => { void act(`Pin ${key}? Its blobs will never be evicted.`, async () => write({ ...ref.meta, pin: true })) } }, 'Pin ref'),
      h('button', {
        id: 'priority',
        onclick: () => {
          const answer = prompt(`New priority of ${key} (an integer; higher is kept longer):`, String(priority))
          if (answer === null) return
          const n = Number(answer)
          if (!Number.isInteger(n)) { show(status, errorBox(new Error(`"${answer}" is not an integer`))); return }
          void act(`Change the priority of ${key} from ${priority} to ${n}?`, async () => write({ ...ref.meta, priority: n }))
        }
      }, `Priority ${priority}…`),
      h('button', {
        id: 'delete-ref',
        class: 'danger',
        onclick: () => {
          if (!confirm(`Delete ${key}? Its history is kept.`)) return
          // the ref is gone: back to its group rather than reloading this page
          call('DELETE', `/refs/${keyPath(key)}`).then(() => { location.hash = groupHref(key.slice(0, key.lastIndexOf('/') + 1)) }, (err: unknown) => { show(status, errorBox(err)) })
        }
      }, 'Delete')),
    status,
    h('h2', {}, 'Meta'),
    h('table', { id: 'meta' }, h('tbody', {}, Object.entries(ref.meta).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, JSON.stringify(v)))))),
    h('h2', {}, 'Object'),
    h('pre', { id: 'obj' }, JSON.stringify(ref.obj, null, 2)),
    h('h2', {}, 'Blobs'),
    blobs,
    h('h2', {}, 'Versions'),
    versions(hist.history))
  await blobPageOf(blobs, key, 0, async () => refPage(main, params))
}

async function blobPageOf (el: HTMLElement, key: string, offset: number, reload: () => Promise<void>): Promise<void> {
  const page = await get<RefBlobs>(`/ui/ref-blobs${qs({ key, offset, limit: BLOB_PAGE })}`)
  const status = h('div', { role: 'status' })
  const toggle = async (sha1: string, pinned: boolean): Promise<void> => {
    if (!confirm(pinned ? `Unpin sha1://${sha1}?` : `Pin sha1://${sha1}? It will never be evicted.`)) return
    try {
      await call(pinned ? 'DELETE' : 'PUT', `/pins/${sha1}`)
      await reload()
    } catch (err) {
      show(status, errorBox(err))
    }
  }
  show(el,
    h('p', { class: 'muted' }, `${page.total} blob(s) referenced`),
    status,
    page.total > 0
      ? h('table', { class: 'blobs' },
        h('thead', {}, h('tr', {}, h('th', {}, 'blob'), h('th', { class: 'num' }, 'size'), h('th', {}, 'local'), h('th', {}, 'peers'), h('th', {}, 'pin'))),
        h('tbody', {}, page.blobs.map((b) => h('tr', { 'data-sha1': b.sha1 },
          h('td', {}, h('a', { href: blobHref(b.sha1) }, `sha1://${b.sha1.slice(0, 12)}…`)),
          h('td', { class: 'num' }, bytes(b.size)),
          h('td', {}, b.local ? 'yes' : 'no'),
          h('td', { title: b.peers.join('\n') }, b.peers.length),
          h('td', {}, b.local || b.pinned ? h('button', { class: b.pinned ? 'unpin' : 'pin', onclick: () => { void toggle(b.sha1, b.pinned) } }, b.pinned ? 'Unpin' : 'Pin') : '—')))))
      : null,
    h('div', { class: 'pager' },
      offset > 0 ? h('button', { onclick: () => { void blobPageOf(el, key, Math.max(0, offset - BLOB_PAGE), reload) } }, 'Previous') : null,
      offset + BLOB_PAGE < page.total ? h('button', { onclick: () => { void blobPageOf(el, key, offset + BLOB_PAGE, reload) } }, 'Next') : null))
}

/** Versions, newest first, each with what changed from the one before. */
function versions (history: RefRecord[]): HTMLElement {
  const ordered = [...history].sort((a, b) => b.version - a.version)
  return h('ol', { id: 'versions', reversed: true }, ordered.map((v, i) => {
    const prev = ordered[i + 1]
    return h('li', {}, h('strong', {}, `v${v.version}`), ` ${when(v.setAt)}${v.by !== undefined ? ` by ${v.by}` : ''}: `, v.deleted === true ? 'deleted' : changes(prev, v))
  }))
}

function changes (prev: RefRecord | undefined, cur: RefRecord): string {
  if (prev === undefined || prev.deleted === true) return 'created'
  const out: string[] = []
  const a = members(prev.obj)
  const b = members(cur.obj)
  if (a !== undefined && b !== undefined) {
    for (const k of Object.keys(b)) if (!(k in a)) out.push(`+${k}`)
    for (const k of Object.keys(a)) if (!(k in b)) out.push(`-${k}`)
    for (const k of Object.keys(b)) if (k in a && JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(`~${k}`)
  } else if (JSON.stringify(prev.obj) !== JSON.stringify(cur.obj)) {
    out.push('object replaced')
  }
  for (const k of new Set([...Object.keys(prev.meta), ...Object.keys(cur.meta)])) {
    if (JSON.stringify(prev.meta[k]) !== JSON.stringify(cur.meta[k])) out.push(`${k}: ${JSON.stringify(prev.meta[k]) ?? '—'} → ${JSON.stringify(cur.meta[k]) ?? '—'}`)
  }
  return out.length === 0 ? 'no change' : out.join(', ')
}

function members (obj: unknown): Record<string, unknown> | undefined {
  return obj !== null && typeof obj === 'object' && !Array.isArray(obj) ? obj as Record<string, unknown> : undefined
}
