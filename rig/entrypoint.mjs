#!/usr/bin/env node
// @ts-check
/**
 * Entrypoint of the rig image (Dockerfile) and of every node the local rig starts (test/rig), so
 * a container and a local process go through the same steps:
 *
 *   1. `trove init` on $TROVE_DATA when it is not initialized yet;
 *   2. TROVE_RIG_CONFIG (a JSON object) merged into the data directory's config.json, for settings
 *      that have no `trove start` flag (e.g. gracePeriodMs);
 *   3. each argument `rig:<service>` replaced by that service's multiaddr, read from
 *      $TROVE_RIG_DIR/<service>.json, which the service writes when it has started (waiting for it:
 *      this is how peers learn the bootstrap peer's id, which exists only once it has started);
 *   4. `trove --json <args>` run; with TROVE_RIG_PUBLISH set, its start line (peer id, addresses)
 *      is written to that file for step 3 of the others, and passed on to stdout as well;
 *   5. SIGTERM/SIGINT passed on to trove; exits with trove's status.
 *
 * Plain JavaScript on purpose: the image runs it as is, without the TypeScript build of tests.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** How long a peer waits for the service it bootstraps from to publish its address (image pulls and slow starts included). */
const PUBLISH_WAIT_MS = 120_000
/** Poll interval while waiting for a published address: cheap, and a start takes about a second. */
const PUBLISH_POLL_MS = 200
/** Prefix of an argument naming another service whose address is substituted. */
const SERVICE_REF = 'rig:'

const bin = process.env.TROVE_BIN ?? fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url))
/** The Node flags the `trove` command's launcher line gives (src/node-flags.ts): spawning node directly skips that line. */
const { TROVE_NODE_FLAGS } = await import(pathToFileURL(path.join(path.dirname(bin), '..', 'node-flags.js')).href)
const dataDir = process.env.TROVE_DATA
const rigDir = process.env.TROVE_RIG_DIR
const publish = process.env.TROVE_RIG_PUBLISH

/** @param {string} message */
function fail (message) {
  process.stderr.write(`rig entrypoint: ${message}\n`)
  process.exit(2)
}

async function main () {
  if (dataDir === undefined || dataDir === '') fail('TROVE_DATA must name the data directory')
  const args = process.argv.slice(2)
  if (args.length === 0) args.push('start')
  await initialize(String(dataDir))
  const resolved = []
  for (const arg of args) resolved.push(arg.startsWith(SERVICE_REF) ? await serviceAddress(arg.slice(SERVICE_REF.length)) : arg)
  if (publish !== undefined) await fs.rm(publish, { force: true })
  await run(resolved)
}

/** @param {string} dir */
async function initialize (dir) {
  if (!existsSync(path.join(dir, 'config.json'))) {
    const res = spawnSync(process.execPath, [bin, '--data', dir, 'init'], { stdio: ['ignore', 'ignore', 'inherit'] })
    if (res.status !== 0) fail(`trove init ${dir} failed (exit ${String(res.status)})`)
  }
  const extra = process.env.TROVE_RIG_CONFIG
  if (extra === undefined || extra.trim() === '') return
  let settings
  try {
    settings = JSON.parse(extra)
  } catch {
    fail('TROVE_RIG_CONFIG is not JSON')
  }
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) fail('TROVE_RIG_CONFIG must be a JSON object')
  const file = path.join(dir, 'config.json')
  const config = JSON.parse(await fs.readFile(file, 'utf8'))
  await fs.writeFile(file, JSON.stringify({ ...config, ...settings }, null, 2) + '\n')
}

/**
 * The address of a service that published its start line. A non-loopback address first: in
 * containers and namespaces the loopback address is the reader's own; only when the publisher
 * listens on loopback alone (the local rig) is loopback the right one.
 * @param {string} service
 */
async function serviceAddress (service) {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(service)) fail(`"${SERVICE_REF}${service}" does not name a service`)
  if (rigDir === undefined || rigDir === '') fail(`TROVE_RIG_DIR must be set to resolve ${SERVICE_REF}${service}`)
  const file = path.join(String(rigDir), `${service}.json`)
  const deadline = Date.now() + PUBLISH_WAIT_MS
  for (;;) {
    const text = await fs.readFile(file, 'utf8').catch(() => undefined)
    if (text !== undefined) {
      /** @type {{ multiaddrs?: unknown }} */
      let info = {}
      try {
        info = JSON.parse(text)
      } catch {}
      const addrs = Array.isArray(info.multiaddrs) ? info.multiaddrs.filter((a) => typeof a === 'string' && a.startsWith('/ip4/')) : []
      const outside = addrs.find((a) => !a.startsWith('/ip4/127.'))
      const chosen = outside ?? addrs[0]
      if (chosen !== undefined) return chosen
    }
    if (Date.now() > deadline) fail(`${service} did not publish its address in ${file} within ${PUBLISH_WAIT_MS / 1000} s`)
    await new Promise((resolve) => setTimeout(resolve, PUBLISH_POLL_MS))
  }
}

/** @param {string[]} args */
async function run (args) {
  const child = spawn(process.execPath, [...TROVE_NODE_FLAGS, bin, '--json', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT'])) {
    process.on(signal, () => { child.kill(signal) })
  }
  let first = true
  let pending = ''
  child.stdout.on('data', (/** @type {Buffer} */ chunk) => {
    process.stdout.write(chunk)
    if (!first || publish === undefined) return
    pending += chunk.toString('utf8')
    const nl = pending.indexOf('\n')
    if (nl < 0) return
    first = false
    const line = pending.slice(0, nl)
    const tmp = `${publish}.${process.pid}.tmp`
    fs.writeFile(tmp, line + '\n').then(async () => { await fs.rename(tmp, publish) }).catch((err) => {
      process.stderr.write(`rig entrypoint: cannot publish to ${publish}: ${String(err)}\n`)
    })
  })
  const [code, signal] = await new Promise((resolve) => child.once('close', (c, s) => resolve([c, s])))
  if (publish !== undefined) await fs.rm(publish, { force: true }).catch(() => {})
  process.exit(code ?? (signal === 'SIGINT' ? 130 : 143))
}

await main()
