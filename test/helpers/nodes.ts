import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { createTrove, type Trove, type TroveOptions } from '../../src/node.js'
import type { ChildNodeConfig, ChildNodeReady } from './node-process.js'
import type { StartOptions } from '../../src/ops.js'
import type { BlobLocation, BlobStore } from '../../src/store/blob-store.js'
import { tempDir } from './tmp.js'

export interface TestNode {
  trove: Trove
  dir: string
  /** The node's dialable address (with /p2p/<id>). */
  addr: string
  stop: () => Promise<void>
}

/** Start options, and what the node's data directory is opened with (space limits, pack settings). */
export interface NodeOptions extends StartOptions {
  trove?: Pick<TroveOptions, 'space' | 'packs'>
}

export interface SpawnOptions extends NodeOptions {
  /**
   * How the nodes find each other: 'line' bootstraps node i from node i-1, 'star' from node 0,
   * 'full' from every node before it (so every pair is connected).
   */
  topology?: 'line' | 'star' | 'full' | 'none'
}

/**
 * Starts `n` real nodes on 127.0.0.1 (random ports, temp data dirs, mDNS off) and connects them
 * per the topology. Stop them with `stopNodes`.
 */
export async function spawnNodes (n: number, options: SpawnOptions = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = []
  const { topology = 'star', ...start } = options
  for (let i = 0; i < n; i++) {
    const bootstrap = topology === 'none' || i === 0
      ? []
      : topology === 'full' ? nodes.map((n) => n.addr) : [topology === 'line' ? nodes[i - 1].addr : nodes[0].addr]
    nodes.push(await spawnNode({ mdns: false, findTimeoutMs: 5_000, ...start, bootstrap: [...(start.bootstrap ?? []), ...bootstrap] }))
  }
  return nodes
}

export async function spawnNode (options: NodeOptions = {}, dataDir?: { dir: string, cleanup: () => Promise<void> }): Promise<TestNode> {
  const tmp = dataDir ?? await tempDir('trove-node-')
  const { trove: troveOptions, ...start } = options
  const trove = await createTrove({ dataDir: tmp.dir, create: true, durable: false, ...troveOptions })
  await trove.start({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], ...start })
  const addr = trove.multiaddrs().find((a) => a.includes('127.0.0.1')) ?? trove.multiaddrs()[0]
  let stopped = false
  return {
    trove,
    dir: tmp.dir,
    addr,
    stop: async () => {
      if (stopped) return
      stopped = true
      await trove.close()
      if (dataDir === undefined) await tmp.cleanup()
    }
  }
}

export async function stopNodes (nodes: TestNode[]): Promise<void> {
  await Promise.allSettled(nodes.map(async (n) => n.stop()))
}

/** Waits until `cond` holds, polling; fails after `ms`. */
export async function waitFor (cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Deterministic-enough random content of `size` bytes, generated in pieces (no big buffer). */
export async function * randomContent (size: number, piece = 1024 * 1024): AsyncGenerator<Uint8Array> {
  const block = randomBytes(Math.min(piece, Math.max(size, 1)))
  let left = size
  let counter = 0
  while (left > 0) {
    const n = Math.min(left, block.length)
    const out = Buffer.from(block.subarray(0, n))
    out.writeUInt32LE(counter++ >>> 0, 0)
    left -= n
    yield out
  }
}

/** Dials `to` from `from` and waits until both ends see the connection. */
export async function connect (from: TestNode, to: TestNode, ms = 10_000): Promise<void> {
  await from.trove.network!.libp2p.dial(multiaddr(to.addr))
  await waitFor(() => isConnected(from, to) && isConnected(to, from), ms, 'the connection to be seen by both ends')
}

/** Whether `a` has an open connection to `b`. */
export function isConnected (a: TestNode, b: TestNode): boolean {
  const id = b.trove.peerId
  return a.trove.network!.libp2p.getConnections().some((c) => c.remotePeer.toString() === id && c.status === 'open')
}

/** Writes `size` random bytes to `file` (so several nodes can add the same content). */
export async function writeRandomFile (file: string, size: number): Promise<void> {
  await pipeline(randomContent(size), createWriteStream(file))
}

/** Where `store` keeps `sha1`'s bytes (a loose file or a range of a pack); fails if it is not stored. */
export async function locateStored (store: BlobStore, sha1: string): Promise<BlobLocation> {
  const loc = await store.locate(sha1)
  if (loc === undefined) throw new Error(`sha1://${sha1} is not stored`)
  return loc
}

/**
 * sha1 of the bytes a store really holds for `sha1`, read from disk where `locate` says they are
 * (a loose blob file, or the blob's range of a pack file), not through the store's read path.
 * Also checks that the file has all `size` bytes there.
 */
export async function sha1OfStored (store: BlobStore, sha1: string): Promise<string> {
  const loc = await locateStored(store, sha1)
  const hash = createHash('sha1')
  let read = 0
  if (loc.size > 0) {
    for await (const piece of createReadStream(loc.path, { start: loc.offset, end: loc.offset + loc.size - 1 })) {
      hash.update(piece as Buffer)
      read += (piece as Buffer).length
    }
  }
  if (read !== loc.size) throw new Error(`${loc.path} holds ${read} of the ${loc.size} bytes of sha1://${sha1}`)
  return hash.digest('hex')
}

/**
 * Writes `bytes` over a stored blob's content at `offset` within the blob, bypassing the store
 * (bit rot, a bad disk, a lying peer): in its loose file, or in its range of a pack file.
 */
export async function overwriteStored (store: BlobStore, sha1: string, offset: number, bytes: Uint8Array): Promise<BlobLocation> {
  const loc = await locateStored(store, sha1)
  if (offset < 0 || offset + bytes.length > loc.size) throw new RangeError(`${offset}+${bytes.length} is outside the ${loc.size} bytes of sha1://${sha1}`)
  // blob files are read-only; a pack may be too
  await fs.chmod(loc.path, ((await fs.stat(loc.path)).mode & 0o777) | 0o200)
  const fh = await fs.open(loc.path, 'r+')
  try {
    let done = 0
    while (done < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, loc.offset + offset + done)
      done += bytesWritten
    }
  } finally {
    await fh.close()
  }
  return loc
}

export interface ChildNode extends ChildNodeReady {
  child: ChildProcess
  /** SIGKILLs the process (if still running) and removes its data directory. */
  kill: () => Promise<void>
}

/** Time a child node has to start and add its files. */
const CHILD_START_MS = 60_000

/**
 * Starts a node in a child process (temp data dir, mDNS off), adding `add` files before it
 * reports ready. Freeze it with `child.kill('SIGSTOP')`; always `kill()` it.
 */
export async function spawnChildNode (options: { start?: StartOptions, add?: string[] } = {}): Promise<ChildNode> {
  const tmp = await tempDir('trove-child-')
  const config: ChildNodeConfig = { dataDir: tmp.dir, start: options.start, add: options.add }
  const script = new URL('./node-process.js', import.meta.url)
  const child = spawn(process.execPath, [script.pathname, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    await tmp.cleanup()
  }
  try {
    const ready = await new Promise<ChildNodeReady>((resolve, reject) => {
      let out = ''
      let err = ''
      const timer = setTimeout(() => reject(new Error(`child node did not start: ${err}`)), CHILD_START_MS)
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        const nl = out.indexOf('\n')
        if (nl >= 0) { clearTimeout(timer); resolve(JSON.parse(out.slice(0, nl)) as ChildNodeReady) }
      })
      child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`child node exited with ${code}: ${err}`)) })
    })
    return { ...ready, child, kill }
  } catch (err) {
    await kill()
    throw err
  }
}
