import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generateKey } from '@libp2p/pnet'
import { tempDir } from '../helpers/tmp.js'

const HELPER = fileURLToPath(new URL('../helpers/loaded-packages.js', import.meta.url))
/** The parts of the network a node loads only when its config turns them on (src/net/libp2p.ts). */
const OPTIONAL = ['@libp2p/kad-dht', '@libp2p/mdns', '@libp2p/bootstrap', '@libp2p/pnet']
/** A swarm key file: a header and 32 random bytes in hex. */
const SWARM_KEY_BYTES = 95
/** Nothing listens on port 1: a bootstrap address that is never reached, only configured. */
const UNREACHABLE_PEER = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

/** The npm packages a node started with `start` options has loaded, in a fresh process. */
async function packagesLoaded (dataDir: string, start: Record<string, unknown>): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [HELPER, dataDir, JSON.stringify(start)])
  return JSON.parse(stdout.trim().split('\n').pop() as string) as string[]
}

describe('network: optional parts are loaded only when turned on', () => {
  it('a node with the DHT, mDNS, bootstrap and the swarm key off loads none of them', async () => {
    const tmp = await tempDir('trove-lazy-')
    try {
      const loaded = await packagesLoaded(tmp.dir, { mdns: false, dht: false })
      // the check sees what a node loads: the core stack is there
      for (const core of ['libp2p', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@libp2p/tcp']) assert.ok(loaded.includes(core), core)
      for (const optional of OPTIONAL) assert.ok(!loaded.includes(optional), `${optional} was loaded`)
      // nor the HTTP API: a library node has none
      assert.ok(!loaded.includes('fastify'), 'fastify was loaded')
    } finally {
      await tmp.cleanup()
    }
  })

  it('each is loaded, and the node starts, when the config turns it on', async () => {
    const tmp = await tempDir('trove-lazy-')
    try {
      const key = new Uint8Array(SWARM_KEY_BYTES)
      generateKey(key)
      const swarmKey = path.join(tmp.dir, 'swarm.key')
      await fs.writeFile(swarmKey, key, { mode: 0o600 })
      const loaded = await packagesLoaded(path.join(tmp.dir, 'data'), { mdns: true, dht: true, bootstrap: [UNREACHABLE_PEER], swarmKey })
      for (const optional of OPTIONAL) assert.ok(loaded.includes(optional), `${optional} was not loaded`)
    } finally {
      await tmp.cleanup()
    }
  })
})
