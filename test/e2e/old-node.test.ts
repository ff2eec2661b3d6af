import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { MIN_NODE_MAJOR, bundledNode } from '../../src/cli/launcher.js'
import { CLI_BIN, cliSandbox, setConfig, type CliSandbox } from '../helpers/cli.js'
import { START_TIMEOUT_MS } from '../helpers/daemon.js'
import { waitFor } from '../helpers/nodes.js'
import { tempDir } from '../helpers/tmp.js'

/**
 * A fresh lab machine ships Node 20, older than Trove needs: the `trove` command, `npm start` and
 * `npm test` must still work there (the package's own Node, from the npm registry, runs them), or
 * say in one line which version they need and which they found. Run for real with this machine's
 * own old Node when it has one.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** An installed Node older than MIN_NODE_MAJOR (the machine's own), or undefined. */
function oldNode (): string | undefined {
  const which = spawnSync('sh', ['-c', 'which -a node'], { encoding: 'utf8' })
  const candidates = [...which.stdout.split('\n').filter((l) => l !== ''), '/usr/bin/node', '/usr/local/bin/node']
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue
    const v = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' })
    if (v.status === 0 && Number(v.stdout.split('.')[0]) < MIN_NODE_MAJOR) return candidate
  }
  return undefined
}

const OLD = oldNode()
const NO_OLD = OLD === undefined ? `no Node.js older than ${MIN_NODE_MAJOR} is installed here` : undefined
const NO_BUNDLED = bundledNode() === undefined ? 'the optional "node" package is not installed (npm install --omit=optional?)' : undefined

interface Proc { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

async function runWith (node: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Proc> {
  const res = spawnSync(node, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 })
  return { code: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr }
}

/** Starts a long-running command in its own process group; resolves once its stdout has a line matching `ready`. */
async function startUntil (argv: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ pid: number, out: () => string, err: () => string, exited: Promise<Proc> }> {
  const child = spawn(argv[0], argv.slice(1), { env, cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const exited = new Promise<Proc>((resolve) => { child.once('exit', (code, signal) => { resolve({ code, signal, stdout: out, stderr: err }) }) })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${argv.join(' ')} printed no ${String(ready)}; stdout: ${out} stderr: ${err}`)) }, START_TIMEOUT_MS)
    const check = (): void => {
      if (ready.test(out)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on('data', check)
    void exited.then((r) => {
      clearTimeout(timer)
      reject(new Error(`${argv.join(' ')} exited (${String(r.code)}) first; stdout: ${out} stderr: ${err}`))
    })
  })
  return { pid: child.pid as number, out: () => out, err: () => err, exited }
}

describe(`on a Node.js older than ${MIN_NODE_MAJOR} (the machine's own)`, { skip: NO_OLD }, () => {
  let t: CliSandbox
  before(async () => {
    t = await cliSandbox()
    // the node `npm start` runs must not take the default ports, which another node may hold
    await setConfig(t, { api: { host: '127.0.0.1', port: 0 }, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  })
  after(async () => { await t.cleanup() })

  it('trove start works: the package\'s own Node runs it, with the same flags, signals passed on', { skip: NO_BUNDLED }, async () => {
    const old = OLD as string
    const node = await startUntil([old, CLI_BIN, '--data', t.data, '--json', 'start'], { ...process.env, HOME: t.home }, /\n/)
    const started = JSON.parse(node.out().split('\n')[0]) as { pid: number, apiUrl: string }
    assert.notEqual(started.pid, node.pid, 'the node runs in the process the launcher started')
    const flags = (await fs.readFile(`/proc/${started.pid}/cmdline`, 'utf8')).split('\0')
    assert.ok(flags.includes('--max-semi-space-size=1') && flags.includes('--no-concurrent-array-buffer-sweeping'), flags.join(' '))
    const version = spawnSync(await fs.readlink(`/proc/${started.pid}/exe`), ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout
    assert.ok(Number(version.split('.')[0]) >= MIN_NODE_MAJOR, version)
    // other commands under the old Node reach it
    const status = await runWith(old, [CLI_BIN, '--data', t.data, '--json', 'status'], { HOME: t.home })
    assert.equal(status.code, 0, status.stderr)
    assert.equal(JSON.parse(status.stdout).mode, 'node')
    process.kill(node.pid, 'SIGTERM')
    const exit = await node.exited
    assert.deepEqual([exit.code, exit.signal], [0, null], exit.stderr)
    assert.equal(existsSync(path.join(t.data, 'api.json')), false, 'the node shut down cleanly')
  })

  it('npm start works with that Node first on PATH', { skip: NO_BUNDLED ?? (existsSync(path.join(path.dirname(OLD ?? '/'), 'npm')) ? undefined : 'no npm beside that Node') }, async () => {
    const old = OLD as string
    // as a person's shell would have it: no variables of the npm that runs this suite
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')))
    Object.assign(env, { PATH: `${path.dirname(old)}${path.delimiter}${process.env.PATH ?? ''}`, TROVE_DATA: t.data, HOME: t.home })
    const npm = await startUntil([path.join(path.dirname(old), 'npm'), 'start'], env, /trove node running on /)
    const status = await runWith(old, [CLI_BIN, '--data', t.data, '--json', 'status'], { HOME: t.home })
    assert.equal(JSON.parse(status.stdout).mode, 'node', status.stderr)
    const { pid } = JSON.parse(await fs.readFile(path.join(t.data, 'api.json'), 'utf8')) as { pid: number }
    // npm, its shell and the node: the whole group, as Ctrl-C would
    process.kill(-npm.pid, 'SIGINT')
    await npm.exited
    await waitFor(() => { try { process.kill(pid, 0); return false } catch { return true } }, START_TIMEOUT_MS, 'the node to exit')
    assert.equal(existsSync(path.join(t.data, 'api.json')), false, `the node shut down cleanly: ${npm.err()}`)
  })

  it('without the package\'s own Node, trove says in one line which version it needs and which it found', async () => {
    const old = OLD as string
    const { dir, cleanup } = await tempDir('trove-old-node-')
    try {
      // the launcher and what it loads, in a directory with no node_modules above it
      await fs.mkdir(path.join(dir, 'src', 'cli'), { recursive: true })
      for (const f of ['cli/bin.js', 'cli/launcher.js', 'node-flags.js']) await fs.copyFile(path.join(path.dirname(CLI_BIN), '..', f), path.join(dir, 'src', f))
      const res = await runWith(old, [path.join(dir, 'src', 'cli', 'bin.js'), 'status'])
      assert.equal(res.code, 1)
      assert.equal(res.stdout, '')
      const version = spawnSync(old, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim()
      assert.equal(res.stderr, `trove: needs Node.js ${MIN_NODE_MAJOR} or newer, found Node.js ${version} (${old}); "npm install" in the trove checkout installs Node.js 24 from the npm registry for it (the optional "node" package), or install Node.js 22+\n`)
    } finally {
      await cleanup()
    }
  })

  it('npm test\'s first step says the same in one line; on a new enough Node it says nothing', async () => {
    const res = await runWith(OLD as string, [path.join(ROOT, 'scripts', 'require-node.mjs'), 'npm test'])
    assert.equal(res.code, 1)
    assert.match(res.stderr, new RegExp(`^npm test: needs Node.js ${MIN_NODE_MAJOR} or newer, found Node.js \\d+\\.[^\\n]+\\n$`))
    const ok = await runWith(process.execPath, [path.join(ROOT, 'scripts', 'require-node.mjs'), 'npm test'])
    assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, '', ''])
  })
})
