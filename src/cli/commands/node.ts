import type { Command } from 'commander'
import { initDataDir, resolveDataDir } from '../../datadir.js'
import type { StatusReport, TransferInfo } from '../../ops.js'
import { formatSize } from '../../units.js'
import { runsNode, withBackend } from '../backend.js'
import { emit, type GlobalOptions } from '../output.js'
import { statusSpaceLines } from './space.js'

type Globals = () => GlobalOptions

export function registerNodeCommands (program: Command, globals: Globals): void {
  program.command('init')
    .description('create the data directory, its config and API token')
    .action(async () => {
      const opts = globals()
      const res = await initDataDir(resolveDataDir(opts.data))
      emit(opts, res, () => res.created ? `initialized ${res.dataDir}` : `already initialized: ${res.dataDir}`)
    })

  program.command('peers')
    .description('peers this node is connected to')
    .action(async () => {
      const opts = globals()
      const { peers, node } = await withBackend(opts, 'peers', async (trove) => ({ peers: await trove.peers(), node: runsNode(trove) }))
      emit(opts, peers, () => {
        if (peers.length > 0) return peers.map((p) => `${p.peerId}\t${p.addresses.join(' ')}${(p.faults ?? 0) > 0 ? `\tfaults ${p.faults ?? 0}` : ''}`)
        return node
          ? 'no peers connected: the node is running, but no other node is connected to it'
          : `no node is running on ${resolveDataDir(opts.data)}: peers are known only while "trove start" runs`
      })
    })

  program.command('connect <multiaddr>')
    .description('connect the running node to a peer (an address ending in /p2p/<peer id>); it is redialled if it goes away, while the node runs')
    .action(async (addr: string) => {
      const opts = globals()
      const peer = await withBackend(opts, 'connect', async (trove) => trove.connect(addr))
      emit(opts, peer, () => `connected to ${peer.peerId} at ${peer.addresses.join(' ')}`)
    })

  program.command('status')
    .description('usage, limits and counts')
    .action(async () => {
      const opts = globals()
      const st = await withBackend(opts, 'status', async (trove) => trove.status())
      emit(opts, st, () => [
        `data directory: ${st.dataDir} (${st.mode})`,
        `blobs: ${st.usage.blobs} (${formatSize(st.usage.bytes)})`,
        ...(st.packs !== undefined && st.packs.files > 0 ? [`packs: ${st.packs.files} file${st.packs.files === 1 ? '' : 's'}, ${formatSize(st.packs.bytes)} on disk, ${formatSize(st.packs.liveBytes)} live`] : []),
        `refs: ${st.refs}`,
        `pins: ${st.pins}`,
        ...statusSpaceLines(st),
        ...networkLines(st)
      ])
    })
}

/** The network part of `trove status`, when a node runs. */
function networkLines (st: StatusReport): string[] {
  const net = st.network as { peerId: string, addresses: string[], peers: number, dht: boolean } | undefined
  if (net === undefined) return []
  const lines = [`peer id: ${net.peerId}`, `listening: ${net.addresses.join(' ')}`, `peers: ${net.peers}${net.dht ? ' (DHT on)' : ''}`]
  const transfers = (st.transfers as TransferInfo[] | undefined) ?? []
  for (const t of transfers) {
    lines.push(`transfer sha1://${t.sha1}: ${t.state} ${formatSize(t.bytes)}${t.size !== undefined ? ` of ${formatSize(t.size)}` : ''} from ${t.peers.length} peer(s)`)
  }
  return lines
}
