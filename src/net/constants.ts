/**
 * Yamux stream window. The default 256 KiB window caps one stream at window/RTT and costs a
 * window update per frame; measured on loopback (bench/fetch, 1 GiB, 2 cores under other load),
 * 16 MiB windows cut a Trove fetch's CPU from 9.2 to 8.0 s/GiB on the receiver and 5.0 to 3.9 on
 * the sender (rates too noisy there to rank: 43-70 MiB/s either way); on a LAN with real RTT the
 * window/RTT cap matters more.
 */
export const YAMUX_MAX_STREAM_WINDOW = 16 * 1024 * 1024
/** yamux refuses windows under its 256 KiB minimum, and past 1 GiB one stream could hold too much. */
export const MIN_STREAM_WINDOW = 256 * 1024
export const MAX_STREAM_WINDOW = 1024 * 1024 * 1024
/**
 * A paused stream buffers up to one window before the sender stops; the read buffer limit must
 * exceed that or yamux would reset our own paused downloads.
 */
export const YAMUX_MAX_READ_BUFFER = 2 * YAMUX_MAX_STREAM_WINDOW + 1024 * 1024
/** Connections kept open at most: a lab is tens of machines, the DHT needs some more. */
export const MAX_CONNECTIONS = 300
/** A dial that has not completed by then is given up (a dead bootstrap address must not stall start). */
export const DIAL_TIMEOUT_MS = 10_000
/** mDNS query interval: lab LANs are small, so a peer joining is noticed within this time. */
export const MDNS_INTERVAL_MS = 5_000
/** Protocol prefix of our DHT, so Trove nodes form their own DHT rather than joining IPFS's. */
export const DHT_PROTOCOL = '/trove/kad/1.0.0'
/** mDNS service tag, so Trove nodes discover each other and not every libp2p app on the LAN. */
export const MDNS_SERVICE_TAG = 'trove.local'
/**
 * Connection encrypters Trove offers. noise is libp2p's default and what every Trove node speaks;
 * TLS 1.3 (@libp2p/tls) is OpenSSL's AES-GCM in native code: a plain stream runs faster over it
 * (378 against 307-355 MiB/s in bench/fetch), a Trove fetch does not (292 against 320-345), so
 * it is an option, not the default (docs/performance.md).
 */
export const ENCRYPTIONS = ['noise', 'tls'] as const
export type Encryption = typeof ENCRYPTIONS[number]
/** noise alone by default: nodes of every version connect, and TLS's libraries are not loaded. */
export const DEFAULT_ENCRYPTION: readonly Encryption[] = ['noise']
/**
 * First redial of a peer that went away, after this long: a restarting node is usually back
 * within seconds, and one second is long enough not to dial a node still closing its sockets.
 */
export const REDIAL_INITIAL_DELAY_MS = 1_000
/**
 * Longest wait between two redials of one peer (the back-off doubles up to it): a peer that comes
 * back after a long outage is found again within a minute, and a dead peer costs one dial a minute.
 */
export const REDIAL_MAX_DELAY_MS = 60_000
/**
 * Each redial delay is moved by up to this fraction either way, so nodes that lost the same
 * switch or the same restarted peer do not all dial in lockstep.
 */
export const REDIAL_JITTER = 0.2
/**
 * A peer we were connected to is redialled for this long after it went away (bootstrap peers and
 * peers given to `trove connect` for as long as the node runs). One hour is the peer store's own
 * address lifetime: after it, libp2p itself no longer trusts the addresses.
 */
export const REDIAL_RECENT_MS = 60 * 60_000
/**
 * Recent peers remembered for redial at most (bootstrap peers do not count): a lab is tens of
 * machines, and a DHT node that met hundreds of peers must not redial them all.
 */
export const REDIAL_MAX_PEERS = 64
