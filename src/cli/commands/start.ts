import fs from 'node:fs/promises'
import type { Command } from 'commander'
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from '../../api/constants.js'
import { networkInfo } from '../../api/context.js'
import { removeDiscovery, writeDiscovery } from '../../api/discovery.js'
// type only: fastify is loaded when a node starts, not by every CLI command
import type { ApiServer } from '../../api/server.js'
import { ensureApiToken } from '../../api/token.js'
import { readConfig, resolveDataDir, type TroveConfig } from '../../datadir.js'
import { FileNotFoundError, InvalidArgumentError } from '../../errors.js'
import { stderrLogger } from '../../logger.js'
import type { StartOptions } from '../../ops.js'
import { ENCRYPTIONS, type Encryption, MAX_STREAM_WINDOW, MIN_STREAM_WINDOW } from '../../net/constants.js'
import { parseDuration, parseSize } from '../../units.js'
import type { GlobalOptions } from '../output.js'

type Globals = () => GlobalOptions

/**
 * After shutdown, a handle someone forgot (a socket, a timer) must not keep the process alive:
 * this long after a clean shutdown the process exits anyway.
 */
const EXIT_AFTER_SHUTDOWN_MS = 5_000

interface StartFlags {
  listen?: string[]
  bootstrap?: string[]
  api?: string
  maxSize?: string
  swarmKey?: string
  mdns?: boolean
  dht?: boolean
  findTimeout?: string
  allowPeer?: string[]
  streamWindow?: string
  directWrites?: boolean
  encryption?: string
}

export function registerStartCommand (program: Command, globals: Globals): void {
  program.command('start')
    .description('run a node: network, HTTP API; until SIGINT/SIGTERM')
    .option('--listen <multiaddr...>', 'multiaddrs to listen on (repeatable), e.g. /ip4/0.0.0.0/tcp/4737')
    .option('--bootstrap <multiaddr...>', 'peers to connect to at start (repeatable), with /p2p/<id>')
    .option('--api <host:port|port>', `HTTP API address (default ${DEFAULT_API_HOST}:${DEFAULT_API_PORT}; port 0 picks a free one)`)
    .option('--max-size <size>', 'size limit of the store, like 500GB or 10GiB')
    .option('--swarm-key <file>', 'libp2p private network key file: only peers with the same key connect')
    .option('--no-mdns', 'no mDNS discovery on the LAN')
    .option('--dht', 'use the Kademlia DHT to find content beyond connected peers')
    .option('--find-timeout <duration>', 'how long a get looks for providers before failing (default 15s)')
    .option('--allow-peer <peerId...>', 'only these peer IDs may connect (repeatable; with --swarm-key closes a lab network)')
    .option('--stream-window <size>', 'yamux stream window per transfer stream (default 16MiB; see docs/operations.md)')
    .option('--no-direct-writes', 'write downloads through the page cache instead of O_DIRECT')
    .option('--encryption <list>', 'connection encryption in order of preference: noise (default), tls, or tls,noise')
    .action(async (flags: StartFlags, cmd: Command) => {
      await runNode(globals(), flags, (name) => cmd.getOptionValueSource(name) === 'cli')
    })
}

async function runNode (opts: GlobalOptions, flags: StartFlags, given: (flag: string) => boolean): Promise<void> {
  const dataDir = resolveDataDir(opts.data)
  const config = await readConfig(dataDir)
  const startOptions = await startOptionsFrom(config, flags, given)
  const api = apiAddress(config, flags.api)

  // a one-shot command holding the directory is waited out; another node is an error at once.
  // Background failures (access flushes, announces, DHT provides, space runs) go to stderr, at
  // the level TROVE_LOG names (docs/operations.md)
  // loaded here, not with the command list: every other command starts without the store and LevelDB
  const { openWaitingForLock } = await import('../lock-wait.js')
  const trove = await openWaitingForLock(dataDir, 'trove start', undefined, { logger: stderrLogger() })
  let server: ApiServer | undefined
  let networkStarted = false
  let stopRequested: Promise<string> | undefined
  try {
    await trove.start(startOptions)
    networkStarted = true
    const token = await ensureApiToken(dataDir)
    const { startApiServer } = await import('../../api/server.js')
    const { NodeMetrics } = await import('../../metrics/metrics.js')
    server = await startApiServer({ ops: trove, node: trove, metrics: new NodeMetrics({ source: trove }), ui: trove }, {
      host: api.host,
      port: api.port,
      token,
      log: (message) => { process.stderr.write(`trove: ${message}\n`) }
    })
    // from the moment anyone can learn of this node (api.json, the start line), a signal must
    // mean a clean shutdown; before, the default (exit at once) is right for a start that hangs
    stopRequested = shutdownSignal()
    await writeDiscovery(dataDir, { url: server.url, pid: process.pid, startedAt: new Date().toISOString() })
  } catch (err) {
    // the start's own error is the one to report; undoing what did start is only cleanup
    await server?.close().catch(() => {})
    if (networkStarted) await trove.stop().catch(() => {})
    await trove.close().catch(() => {})
    await removeDiscovery(dataDir).catch(() => {})
    throw err
  }

  const net = networkInfo(trove)
  const started = { apiUrl: server.url, dashboardUrl: `${server.url}/`, dataDir, pid: process.pid, ...net }
  if (opts.json === true) {
    // one line, so a script reading the stream knows where the object ends
    process.stdout.write(JSON.stringify(started) + '\n')
  } else {
    const parts = [`API ${server.url}`, `dashboard ${server.url}/ (log in with "trove ui")`]
    if (net.peerId !== undefined) parts.push(`peer ${net.peerId}`)
    if (net.multiaddrs !== undefined && net.multiaddrs.length > 0) parts.push(`listening on ${net.multiaddrs.join(' ')}`)
    process.stdout.write(`trove node running on ${dataDir}: ${parts.join(', ')}\n`)
  }

  const signal = await stopRequested
  if (opts.json !== true) process.stderr.write(`trove: ${signal}, shutting down\n`)
  const failures: unknown[] = []
  const step = async (fn: () => Promise<void>): Promise<void> => {
    try {
      await fn()
    } catch (err) {
      failures.push(err)
    }
  }
  // the API first, so no request arrives at a node that is going away; the lock last
  await step(async () => { await server?.close() })
  await step(async () => { await trove.stop() })
  await step(async () => { await trove.close() })
  await step(async () => { await removeDiscovery(dataDir) })
  setTimeout(() => { process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0) }, EXIT_AFTER_SHUTDOWN_MS).unref()
  if (failures.length > 0) throw failures[0]
}

/**
 * Resolves on the first SIGINT or SIGTERM. The handlers stay installed: a second signal during
 * shutdown is acknowledged and otherwise ignored, instead of killing the process half-way.
 */
async function shutdownSignal (): Promise<string> {
  return new Promise((resolve) => {
    let received = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        process.stderr.write(`trove: ${signal} ignored, already shutting down\n`)
        return
      }
      received = true
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

async function startOptionsFrom (config: TroveConfig, flags: StartFlags, given: (flag: string) => boolean): Promise<StartOptions> {
  const options: StartOptions = {}
  const listen = flags.listen ?? config.listen
  if (listen !== undefined) options.listen = await checkAddresses(stringList(listen, 'listen'), flags.listen !== undefined ? '--listen' : 'config "listen"', false)
  const bootstrap = flags.bootstrap ?? config.bootstrap
  if (bootstrap !== undefined) options.bootstrap = await checkAddresses(stringList(bootstrap, 'bootstrap'), flags.bootstrap !== undefined ? '--bootstrap' : 'config "bootstrap"', true)
  const mdns = given('mdns') ? flags.mdns : config.mdns
  if (mdns !== undefined) options.mdns = mdns !== false
  const dht = given('dht') ? flags.dht : config.dht
  if (dht !== undefined) options.dht = dht === true
  const maxSize = flags.maxSize ?? config.maxSize
  if (maxSize !== undefined) {
    parseSize(maxSize) // refuse a bad size before anything starts
    options.maxSize = String(maxSize)
  }
  const swarmKey = flags.swarmKey ?? (typeof config.swarmKey === 'string' ? config.swarmKey : undefined)
  if (swarmKey !== undefined) {
    const stat = await fs.stat(swarmKey).catch(() => undefined)
    if (stat?.isFile() !== true) throw new FileNotFoundError(`swarm key file not found: ${swarmKey}`)
    options.swarmKey = swarmKey
  }
  const findTimeout = flags.findTimeout ?? (config.findTimeout as string | undefined)
  if (findTimeout !== undefined) options.findTimeoutMs = parseDuration(String(findTimeout))
  const allowPeers = flags.allowPeer ?? config.allowPeers
  if (allowPeers !== undefined) options.allowPeers = stringList(allowPeers, 'allowPeers')
  const streamWindow = flags.streamWindow ?? config.streamWindow
  if (streamWindow !== undefined) options.streamWindow = streamWindowFrom(streamWindow)
  const directWrites = given('directWrites') ? flags.directWrites : config.directWrites
  if (directWrites !== undefined) options.directWrites = directWrites !== false
  const encryption = flags.encryption ?? config.encryption
  if (encryption !== undefined) options.encryption = encryptionFrom(encryption)
  return options
}

function streamWindowFrom (value: unknown): number {
  const bytes = parseSize(value as string | number)
  if (bytes < MIN_STREAM_WINDOW || bytes > MAX_STREAM_WINDOW) {
    throw new InvalidArgumentError(`stream window must be between 256KiB and 1GiB, got ${String(value)}`)
  }
  return bytes
}

/** `tls,noise` on the command line, ["tls", "noise"] (or the same string) in config.json. */
function encryptionFrom (value: unknown): Encryption[] {
  const names = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => !(ENCRYPTIONS as readonly unknown[]).includes(n))) {
    throw new InvalidArgumentError(`encryption must list one or more of ${ENCRYPTIONS.join(', ')}, got ${JSON.stringify(value)}`)
  }
  return names as Encryption[]
}

/** Multiaddrs checked before anything starts (src/net/addresses.ts says how). */
async function checkAddresses (addrs: string[], what: string, needsPeer: boolean): Promise<string[]> {
  // loaded only by `trove start`, which loads libp2p right after anyway
  const { parseAddress } = await import('../../net/addresses.js')
  for (const addr of addrs) parseAddress(addr, what, needsPeer)
  return addrs
}

function stringList (value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidArgumentError(`config "${what}" must be a list of multiaddr strings`)
  }
  return value as string[]
}

/** `--api PORT`, `--api HOST:PORT` or `--api [v6]:PORT`; the config fills in what is not given. */
export function apiAddress (config: TroveConfig, flag: string | undefined): { host: string, port: number } {
  let host = config.api?.host ?? DEFAULT_API_HOST
  let port: unknown = config.api?.port ?? DEFAULT_API_PORT
  if (flag !== undefined) {
    const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d+)$/.exec(flag.trim())
    if (m === null) throw new InvalidArgumentError(`--api must be PORT or HOST:PORT (like 4738 or 127.0.0.1:4738), got "${flag}"`)
    if (m[1] !== undefined) host = m[1].replace(/^\[(.*)\]$/, '$1')
    port = Number(m[2])
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`API port must be 0..65535, got ${String(port)}`)
  }
  return { host, port }
}
