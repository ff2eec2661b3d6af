// Runs on whatever Node started `trove`, before anything else is loaded: Node built-ins and
// node-flags.ts only, and nothing newer than Node 20 has.
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { TROVE_NODE_FLAGS } from '../node-flags.js'

/**
 * The oldest Node.js major Trove runs on: libp2p 3 and Trove itself use what Node 22 brought
 * (`Promise.withResolvers`, `node:test` features). A fresh lab machine ships Node 20.
 */
export const MIN_NODE_MAJOR = 22

/**
 * Set for the Node the launcher starts, naming the one that started it: a launched process never
 * launches again, however old the Node it was given turns out to be.
 */
export const LAUNCHED_BY_ENV = 'TROVE_LAUNCHED_BY'

/** Signals a person or a service manager sends `trove`; the launcher passes them on. */
const RELAYED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

export function nodeMajor (version: string = process.versions.node): number {
  return Number(version.split('.')[0])
}

/**
 * The Node.js the `node` package from the npm registry installed for Trove (an optional
 * dependency: `npm install` puts Node 24 in node_modules/node/bin), or undefined without one.
 */
export function bundledNode (from: string = import.meta.url): string | undefined {
  try {
    const pkg = createRequire(from).resolve('node/package.json')
    const bin = path.join(path.dirname(pkg), 'bin', 'node')
    accessSync(bin, constants.X_OK)
    return bin
  } catch {
    return undefined
  }
}

/**
 * What to do about a Node that is too old. scripts/require-node.mjs (npm test's first step, which
 * runs before anything is built) says the same; a unit test keeps the two equal.
 */
export const TOO_OLD_HINT = '"npm install" in the trove checkout installs Node.js 24 from the npm registry for it (the optional "node" package), or install Node.js 22+'

/** The one line an entry point prints when the Node running it is too old. */
export function tooOldLine (what: string): string {
  return `${what}: needs Node.js ${MIN_NODE_MAJOR} or newer, found Node.js ${process.versions.node} (${process.execPath}); ${TOO_OLD_HINT}`
}

/**
 * Makes sure the CLI runs under a Node.js new enough for it. On Node 22 or newer it returns false
 * at once: no extra process, nothing loaded. On an older Node it runs `script` again under the
 * package's own Node (`bundledNode`) with the same arguments and the Node flags `trove` runs
 * with, passes signals on, and resolves true once that process ended, its exit status set as
 * this one's; without such a Node it prints one line saying which version is needed and which was
 * found, and resolves true with exit status 1. The caller runs the CLI only on false.
 */
export async function relaunchIfNodeTooOld (script: string): Promise<boolean> {
  if (nodeMajor() >= MIN_NODE_MAJOR) return false
  const node = process.env[LAUNCHED_BY_ENV] === undefined ? bundledNode() : undefined
  if (node === undefined) {
    process.stderr.write(tooOldLine('trove') + '\n')
    process.exitCode = 1
    return true
  }
  const flags = [...process.execArgv]
  for (const flag of TROVE_NODE_FLAGS) if (!flags.includes(flag)) flags.push(flag)
  const child = spawn(node, [...flags, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [LAUNCHED_BY_ENV]: process.execPath }
  })
  const relay = (signal: NodeJS.Signals): void => { child.kill(signal) }
  for (const signal of RELAYED_SIGNALS) process.on(signal, relay)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (c, s) => { resolve([c, s]) })
  })
  for (const s of RELAYED_SIGNALS) process.off(s, relay)
  if (signal !== null) {
    // end the way the CLI ended, so a shell or service manager sees the same signal
    process.kill(process.pid, signal)
    return true
  }
  process.exitCode = code ?? 1
  return true
}
