import type { FetchFailure } from '../../metrics/metrics.js'
import type { PeerInfo, TransferInfo } from '../../ops.js'
import { get } from '../api.js'
import { bytes, h, show, when } from '../dom.js'
import { errorBox } from '../errors.js'
import { blobHref } from './refs.js'

type Peer = PeerInfo & { banned: boolean, reasons: string[] }
interface Snapshot { peers: Peer[], transfers: TransferInfo[], failures: FetchFailure[], bytesServed: number }

const POLL_MS = 1000

/** Why a fetch failed, in plain words (the code and message stay in the tooltip). */
const PLAIN: Record<string, string> = {
  NO_PROVIDERS: 'no peer has it (none connected holds it, or none answered in time)',
  TRANSFER_FAILED: 'peers had it but every one failed to deliver it',
  STORAGE_FULL: 'this node is out of space',
  ABORTED: 'cancelled by whoever asked for it',
  PEER_TIMEOUT: 'the peer stopped sending',
  HASH_MISMATCH: 'a peer sent bytes that are not this blob',
  BLOB_NOT_FOUND: 'no one has it'
}

/** Peers, transfers in flight with their rates, and recent failures; refreshed every second. */
export async function peersPage (main: HTMLElement): Promise<() => void> {
  const el = h('div', { id: 'peers-live' })
  show(main, h('h1', {}, 'Peers and transfers'), el)
  let last: { at: number, bytes: Map<string, number>, served: number } | undefined
  let stopped = false
  const tick = async (): Promise<void> => {
    let snap: Snapshot
    try {
      snap = await get<Snapshot>('/ui/peers')
    } catch (err) {
      show(el, errorBox(err))
      return
    }
    const now = performance.now()
    const dt = last !== undefined ? (now - last.at) / 1000 : 0
    const rate = (sha1: string, b: number): string => {
      const before = last?.bytes.get(sha1)
      return before === undefined || dt <= 0 ? '—' : `${bytes(Math.max(0, b - before) / dt)}/s`
    }
    const served = last !== undefined && dt > 0 ? `${bytes(Math.max(0, snap.bytesServed - last.served) / dt)}/s` : '—'
    show(el,
      h('p', {}, `${snap.peers.length} peer(s) connected; serving ${served} (${bytes(snap.bytesServed)} since start).`),
      h('h2', {}, 'Transfers'),
      snap.transfers.length === 0
        ? h('p', { class: 'muted', id: 'no-transfers' }, 'Nothing is being fetched.')
        : h('table', { id: 'transfers' },
          h('thead', {}, h('tr', {}, ['blob', 'state', 'progress', 'rate', 'peers', 'started'].map((t) => h('th', {}, t)))),
          h('tbody', {}, snap.transfers.map((t) => h('tr', {},
            h('td', {}, h('a', { href: blobHref(t.sha1) }, `sha1://${t.sha1.slice(0, 12)}…`)),
            h('td', {}, t.state),
            h('td', {}, h('progress', { max: t.size ?? 1, value: t.bytes }), ` ${bytes(t.bytes)} of ${bytes(t.size)}`),
            h('td', { class: 'num' }, rate(t.sha1, t.bytes)),
            h('td', {}, t.peers.length),
            h('td', {}, when(t.startedAt)))))),
      h('h2', {}, 'Peers'),
      snap.peers.length === 0
        ? h('p', { class: 'muted' }, 'No peer is connected.')
        : h('table', { id: 'peers' },
          h('thead', {}, h('tr', {}, ['peer', 'address', 'faults', 'state', 'recent faults'].map((t) => h('th', {}, t)))),
          h('tbody', {}, snap.peers.map((p) => h('tr', {},
            h('td', { title: p.peerId }, `${p.peerId.slice(0, 16)}…`),
            h('td', {}, p.addresses.join(' ')),
            h('td', { class: 'num' }, p.faults ?? 0),
            h('td', {}, p.banned ? 'banned for a while (too many faults)' : 'ok'),
            h('td', {}, p.reasons.length === 0 ? '—' : p.reasons.join('; ')))))),
      h('h2', {}, 'Recent failures'),
      snap.failures.length === 0
        ? h('p', { class: 'muted' }, 'No fetch has failed since the node started.')
        : h('table', { id: 'failures' },
          h('thead', {}, h('tr', {}, ['when', 'blob', 'why'].map((t) => h('th', {}, t)))),
          h('tbody', {}, snap.failures.map((f) => h('tr', {},
            h('td', {}, when(f.at)),
            h('td', {}, h('a', { href: blobHref(f.sha1) }, `sha1://${f.sha1.slice(0, 12)}…`)),
            h('td', { title: `${f.code}: ${f.message}` }, PLAIN[f.code] ?? f.message))))))
    last = { at: now, bytes: new Map(snap.transfers.map((t) => [t.sha1, t.bytes])), served: snap.bytesServed }
  }
  await tick()
  const timer = setInterval(() => { if (!stopped) void tick() }, POLL_MS)
  return () => { stopped = true; clearInterval(timer) }
}
