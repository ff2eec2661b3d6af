import { randomBytes } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TroveLibp2p } from '../../src/net/libp2p.js'
import { ANNOUNCE_PROTOCOL, MAX_ANNOUNCE_BLOBS, MAX_ANNOUNCE_MESSAGES_PER_STREAM } from '../../src/protocols/announce/constants.js'
import { Announce } from '../../src/protocols/announce/pb/announce.js'
import { frame, send } from '../../src/protocols/stream-io.js'

/** A maximal announce message: MAX_ANNOUNCE_BLOBS random blobs. */
export function maximalAnnounce (): ReturnType<typeof frame> {
  return frame(Announce.encode({ blobs: Array.from({ length: MAX_ANNOUNCE_BLOBS }, () => ({ hash: randomBytes(20), size: BigInt(1 + Math.floor(Math.random() * 2 ** 40)) })) }))
}

/** One stream of MAX_ANNOUNCE_MESSAGES_PER_STREAM maximal messages, as a flooding peer sends it (tests and bench/floods). */
export async function floodAnnounceStream (libp2p: Pick<TroveLibp2p, 'dialProtocol'>, target: PeerId | Multiaddr, timeoutMs = 30_000): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  const stream = await libp2p.dialProtocol(target, ANNOUNCE_PROTOCOL, { signal })
  try {
    for (let i = 0; i < MAX_ANNOUNCE_MESSAGES_PER_STREAM; i++) await send(stream, maximalAnnounce(), signal)
    await stream.close({ signal })
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
