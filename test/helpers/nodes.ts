import { randomBytes } from 'node:crypto'
import { createTrove, type Trove } from '../../src/node.js'
import type { StartOptions } from '../../src/ops.js'
import { tempDir } from './tmp.js'

export interface TestNode {
  trove: Trove
  dir: string
  /** The node's dialable address (with /p2p/<id>). */
  addr: string
  stop: () => Promise<void>
}

export interface SpawnOptions extends StartOptions {
  /** How the nodes find each other: 'line' bootstraps node i from node i-1, 'star' from node 0. */
  topology?: 'line' | 'star' | 'none'
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
      : [topology === 'line' ? nodes[i - 1].addr : nodes[0].addr]
    nodes.push(await spawnNode({ mdns: false, findTimeoutMs: 5_000, ...start, bootstrap: [...(start.bootstrap ?? []), ...bootstrap] }))
  }
  return nodes
}

export async function spawnNode (options: StartOptions = {}, dataDir?: { dir: string, cleanup: () => Promise<void> }): Promise<TestNode> {
  const tmp = dataDir ?? await tempDir('trove-node-')
  const trove = await createTrove({ dataDir: tmp.dir, create: true, durable: false })
  await trove.start({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], ...options })
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
