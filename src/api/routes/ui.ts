import fs from 'node:fs/promises'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { InvalidArgumentError } from '../../errors.js'
import type { FetchFailure } from '../../metrics/metrics.js'
import type { Trove } from '../../node.js'
import { findReferences } from '../../uri.js'
import { API_PREFIX, MAX_LIST_LIMIT } from '../constants.js'
import type { ApiContext } from '../context.js'
import { NotFoundError, UnauthorizedError } from '../errors.js'
import { acceptJsonBodies } from './json-body.js'
import type { UiSessions } from './ui-session.js'
import { queryInt, queryString } from './util.js'

/** What the dashboard's own endpoints read beyond TroveOps: the node's refs, store and network. */
export type UiSource = Pick<Trove, 'refs' | 'store' | 'space' | 'network'>

/**
 * Refs under a prefix whose blob sizes the group listing sums on the fly. Past this the groups
 * come with counts only: summing sizes means reading every ref and looking up every blob it
 * references, which for 100,000 refs and a million blobs takes seconds.
 */
const GROUP_SIZE_BUDGET = 5_000
/** Groups or refs of one group listing page. */
const GROUP_PAGE = 500
/** Blobs of one ref per page of `GET /ui/ref-blobs`, and the most a page may ask for. */
const REF_BLOBS_PAGE = 100
/** Rows of a dry run's eviction plan the dashboard gets by default. */
const GC_PREVIEW_ROWS = 200

/** Where `npm run build` puts the dashboard's assets (dist/ui), relative to this compiled file. */
const ASSETS = new URL('../../../ui/', import.meta.url)
const ASSET_TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8'
}
/**
 * Only the node's own files, no inline script, no frames: a page that frames the dashboard cannot
 * trick a click on its buttons, and injected markup cannot run.
 */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store'
}

export interface UiRouteOptions {
  ctx: ApiContext
  sessions: UiSessions
  source?: UiSource
  failures: () => FetchFailure[]
}

/** The dashboard: its login, its page and assets, and the few listings the API cannot page itself. */
export async function uiRoutes (app: FastifyInstance, opts: UiRouteOptions): Promise<void> {
  const { ctx, sessions } = opts
  acceptJsonBodies(app)

  // POST: it needs the API token (`trove ui` has it); the answer is a one-time login link
  app.post(`${API_PREFIX}/ui/login-links`, async () => {
    const { code, expiresAt } = sessions.issueCode()
    return { url: `${ctx.url}/ui/login?code=${code}`, expiresAt: new Date(expiresAt).toISOString() }
  })

  app.get('/ui/login', async (request, reply) => {
    const code = queryString(request, 'code')
    if (code === undefined || code === '') throw new UnauthorizedError('the login link has no code: run "trove ui" for a new one')
    const { cookie } = sessions.exchange(code)
    return reply.code(303).headers({ ...PAGE_HEADERS, 'set-cookie': cookie, location: '/' }).send()
  })

  app.get(`${API_PREFIX}/ui/session`, async (request) => {
    const session = sessions.session(request.headers.cookie)
    if (session === undefined) throw new UnauthorizedError('no dashboard session: run "trove ui" and open the link it prints')
    return { csrf: session.csrf, expiresAt: new Date(session.expiresAt).toISOString() }
  })

  app.post(`${API_PREFIX}/ui/logout`, async (request) => {
    sessions.logout(request.headers.cookie)
    return { loggedOut: true }
  })

  app.get('/', async (_request, reply) => sendAsset(reply, 'index.html'))
  app.get('/ui/:file', async (request, reply) => {
    const file = (request.params as { file: string }).file
    if (!(file in ASSET_TYPES) || file === 'index.html') throw new NotFoundError(`no such dashboard file: ${file.slice(0, 80)}`)
    return sendAsset(reply, file)
  })

  // GET /status counts every ref and pin by scanning their keys (a third of a second at 100,000
  // refs); the storage page needs only what space management keeps counted
  app.get(`${API_PREFIX}/ui/storage`, async () => {
    const source = needSource(opts.source)
    return { usage: source.store.getUsage(), packs: source.store.packTotals(), space: await source.space.status() }
  })

  app.get(`${API_PREFIX}/ui/ref-groups`, async (request) => {
    const prefix = queryString(request, 'prefix') ?? ''
    if (prefix !== '' && !prefix.endsWith('/')) throw new InvalidArgumentError('prefix must be empty or end with "/" (a group)')
    return refGroups(needSource(opts.source), prefix, queryString(request, 'after'))
  })

  app.get(`${API_PREFIX}/ui/ref-blobs`, async (request) => {
    const key = queryString(request, 'key')
    if (key === undefined || key === '') throw new InvalidArgumentError('key is required')
    const offset = queryInt(request, 'offset', 0) ?? 0
    const limit = queryInt(request, 'limit', 1, MAX_LIST_LIMIT) ?? REF_BLOBS_PAGE
    const ref = await ctx.ops.getRef(key)
    const all = [...findReferences(ref.obj)]
    const page = all.slice(offset, offset + limit)
    const source = needSource(opts.source)
    const infos = await source.store.statMany(page)
    const blobs = await Promise.all(page.map(async (sha1, i) => ({
      sha1,
      size: infos[i]?.size,
      local: infos[i] !== undefined,
      pinned: await source.refs.getPin(sha1) !== undefined,
      peers: source.network?.providers.get(sha1) ?? []
    })))
    return { key, total: all.length, offset, blobs }
  })

  app.get(`${API_PREFIX}/ui/gc-preview`, async (request) => {
    const limit = queryInt(request, 'limit', 1, MAX_LIST_LIMIT) ?? GC_PREVIEW_ROWS
    const report = await ctx.ops.gc({ dryRun: true })
    return { ...report, totalBlobs: report.blobs.length, blobs: report.blobs.slice(0, limit) }
  })

  app.get(`${API_PREFIX}/ui/peers`, async () => {
    const network = opts.source?.network
    const peers = (await ctx.ops.peers()).map((p) => ({
      ...p,
      banned: network?.scores.isBanned(p.peerId) ?? false,
      reasons: network?.scores.reasons(p.peerId) ?? []
    }))
    return { peers, transfers: await ctx.ops.transfers(), failures: opts.failures(), bytesServed: network?.fetchProtocol.bytesServed ?? 0 }
  })
}

function needSource (source: UiSource | undefined): UiSource {
  if (source === undefined) throw new NotFoundError('this API serves no local node to inspect')
  return source
}

async function sendAsset (reply: FastifyReply, file: string): Promise<FastifyReply> {
  let body: Buffer
  try {
    body = await fs.readFile(new URL(file, ASSETS))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    throw new NotFoundError(`the dashboard is not built (no ${file} in dist/ui): run "npm run build"`)
  }
  return reply.headers(PAGE_HEADERS).type(ASSET_TYPES[file]).send(body)
}

export interface RefGroup {
  /** The group's prefix, ending in "/". */
  prefix: string
  refs: number
  /** Bytes of the distinct local blobs its refs reference (absent past the size budget). */
  bytes?: number
}

export interface GroupListing {
  prefix: string
  /** Refs under the prefix at any depth. */
  total: number
  groups: RefGroup[]
  /** Refs directly in this group (up to a page), with the bytes of their local blobs. */
  refs: Array<{ key: string, bytes?: number }>
  /** Pass as `after` for the next page of refs directly in this group. */
  after?: string
  /** Whether sizes were summed (at most GROUP_SIZE_BUDGET refs under the prefix). */
  sized: boolean
  /** More groups than one page holds are under the prefix (the rest are reached by searching). */
  moreGroups: boolean
}

/**
 * The groups (next path segment) and refs directly under `prefix`. Counts come from a scan of the
 * keys alone; sizes only when the prefix holds few enough refs to read them all quickly.
 */
async function refGroups (source: UiSource, prefix: string, after: string | undefined): Promise<GroupListing> {
  const groups: RefGroup[] = []
  const refs: GroupListing['refs'] = []
  let total = 0
  let more: string | undefined
  let moreGroups = false
  for await (const page of source.refs.keyPages(prefix)) {
    for (const key of page) {
      total++
      const rest = key.slice(prefix.length)
      const slash = rest.indexOf('/')
      if (slash >= 0) {
        const group = prefix + rest.slice(0, slash + 1)
        const last = groups[groups.length - 1]
        if (last?.prefix === group) last.refs++
        else if (groups.length < GROUP_PAGE) groups.push({ prefix: group, refs: 1 })
        else moreGroups = true
        continue
      }
      if (after !== undefined && key <= after) continue
      if (refs.length < GROUP_PAGE) refs.push({ key })
      else more ??= refs[refs.length - 1].key
    }
  }
  const listing: GroupListing = { prefix, total, groups, refs, sized: total <= GROUP_SIZE_BUDGET, moreGroups }
  if (more !== undefined) listing.after = more
  if (listing.sized && total > 0) await addSizes(source, listing)
  return listing
}

async function addSizes (source: UiSource, listing: GroupListing): Promise<void> {
  const byGroup = new Map<string, Set<string>>()
  const byRef = new Map<string, Set<string>>()
  const wanted = new Set(listing.refs.map((r) => r.key))
  let cursor: string | undefined
  do {
    const page = await source.refs.list({ prefix: listing.prefix, limit: MAX_LIST_LIMIT, ...(cursor !== undefined ? { cursor } : {}) })
    for (const ref of page.refs) {
      const sha1s = findReferences(ref.obj)
      const rest = ref.key.slice(listing.prefix.length)
      const slash = rest.indexOf('/')
      if (slash >= 0) {
        const group = listing.prefix + rest.slice(0, slash + 1)
        const set = byGroup.get(group) ?? new Set<string>()
        for (const s of sha1s) set.add(s)
        byGroup.set(group, set)
      } else if (wanted.has(ref.key)) {
        byRef.set(ref.key, sha1s)
      }
    }
    cursor = page.cursor
  } while (cursor !== undefined)
  const all = [...new Set([...byGroup.values(), ...byRef.values()].flatMap((s) => [...s]))]
  const sizes = new Map<string, number>()
  const infos = await source.store.statMany(all)
  all.forEach((sha1, i) => { if (infos[i] !== undefined) sizes.set(sha1, infos[i]?.size ?? 0) })
  const sum = (set: Set<string> | undefined): number => [...(set ?? [])].reduce((n, s) => n + (sizes.get(s) ?? 0), 0)
  for (const g of listing.groups) g.bytes = sum(byGroup.get(g.prefix))
  for (const r of listing.refs) r.bytes = sum(byRef.get(r.key))
}
