import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CLI_BIN, CLI_TIMEOUT_MS, cliSandbox, runCli, runJson, type CliSandbox, type JsonError } from '../helpers/cli.js'

/** The CLI shows a progress bar from 16 MiB (PROGRESS_MIN_BYTES); a little over it to be clear of the edge. */
const LARGE_SIZE = 17 * 1024 * 1024
/** Room for the LevelDB files of a fresh data directory but far less than LARGE_SIZE. */
const SMALL_VOLUME = '4m'

function shellQuote (s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`
}

/** Runs a command line and returns its exit code and combined output. */
async function sh (program: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null, stdout: Buffer, stderr: string }> {
  const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', resolve)
    })
    return { code, stdout: Buffer.concat(out), stderr }
  } finally {
    clearTimeout(timer)
  }
}

function hasScript (): boolean {
  const res = spawnSync('script', ['--version'], { stdio: 'ignore' })
  return res.error === undefined && res.status === 0
}

describe('large files', () => {
  let t: CliSandbox
  let large: string
  let content: Buffer
  let uri: string

  before(async () => {
    t = await cliSandbox()
    // random head and tail around zeros: distinct content without hashing 17 MiB of randomness
    content = Buffer.alloc(LARGE_SIZE)
    randomBytes(4096).copy(content, 0)
    randomBytes(4096).copy(content, LARGE_SIZE - 4096)
    large = await t.file('large.bin', content)
    uri = `sha1://${createHash('sha1').update(content).digest('hex')}`
  })
  after(async () => { await t.cleanup() })

  it('add on a pipe writes nothing to stderr', async () => {
    const res = await t.run(['add', large])
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.stderr, '')
    assert.equal(res.stdout.trim(), `${uri}/large.bin`)
  })

  it('add on a terminal shows a progress bar on stderr', async (ctx) => {
    if (!hasScript()) {
      ctx.skip('`script` (util-linux / bsdutils) is not installed, so there is no way to give the CLI a terminal')
      return
    }
    const other = await t.file('large2.bin', Buffer.concat([content.subarray(0, LARGE_SIZE - 1), Buffer.from([7])]))
    const stdoutFile = path.join(t.dir, 'add-stdout.txt')
    // stdout goes to a file, so what the terminal shows is stderr alone
    const cmd = `${[process.execPath, CLI_BIN, 'add', other].map(shellQuote).join(' ')} >${shellQuote(stdoutFile)}`
    const env = { ...process.env, TROVE_DATA: t.data, HOME: t.home }
    const res = await sh('script', ['-qfec', cmd, '/dev/null'], env)
    assert.equal(res.code, 0, res.stdout.toString() + res.stderr)
    const tty = res.stdout.toString('utf8')
    assert.match(tty, /\d+%/, `percentage in terminal output: ${JSON.stringify(tty.slice(0, 300))}`)
    assert.match(tty, /[\u2588\u2591]/, 'bar characters in terminal output')
    assert.match(await fs.readFile(stdoutFile, 'utf8'), /^sha1:\/\/[0-9a-f]{40}\/large2\.bin\n$/, 'stdout holds just the URI')

    // --json is for scripts: no bar even on a terminal
    const third = await t.file('large3.bin', Buffer.concat([content.subarray(0, LARGE_SIZE - 1), Buffer.from([8])]))
    const jsonCmd = `${[process.execPath, CLI_BIN, '--json', 'add', third].map(shellQuote).join(' ')} >${shellQuote(stdoutFile)}`
    const json = await sh('script', ['-qfec', jsonCmd, '/dev/null'], env)
    assert.equal(json.code, 0)
    assert.doesNotMatch(json.stdout.toString('utf8'), /%/)
    assert.equal((JSON.parse(await fs.readFile(stdoutFile, 'utf8')) as unknown[]).length, 1)
  })

  it('cat URI | head -c 10 exits cleanly', async () => {
    for (const cmd of ['cat', 'get']) {
      const line = `set -o pipefail; ${[process.execPath, CLI_BIN, cmd, uri].map(shellQuote).join(' ')} | head -c 10`
      const res = await sh('bash', ['-c', line], { ...process.env, TROVE_DATA: t.data, HOME: t.home })
      assert.equal(res.code, 0, `trove ${cmd} | head: ${res.stderr}`)
      assert.equal(res.stderr, '', 'no stack trace or error')
      assert.ok(res.stdout.equals(content.subarray(0, 10)))
    }
  })
})

describe('disk full during add', () => {
  let t: CliSandbox
  let mountPoint: string | undefined
  let skipReason: string | undefined

  before(async () => {
    t = await cliSandbox({ init: false })
    if (process.getuid?.() !== 0) {
      skipReason = 'not running as root, so a small tmpfs cannot be mounted'
      return
    }
    const dir = path.join(t.dir, 'small')
    await fs.mkdir(dir)
    const res = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${SMALL_VOLUME}`, 'tmpfs', dir], { encoding: 'utf8' })
    if (res.error !== undefined || res.status !== 0) {
      skipReason = `mount -t tmpfs failed (${res.error?.message ?? res.stderr.trim()}), e.g. no CAP_SYS_ADMIN in this container`
      return
    }
    mountPoint = dir
  })
  after(async () => {
    if (mountPoint !== undefined) {
      const res = spawnSync('umount', [mountPoint], { encoding: 'utf8' })
      if (res.status !== 0) spawnSync('umount', ['-l', mountPoint])
    }
    await t.cleanup()
  })

  it('fails with STORAGE_FULL, leaves no temp file and changes nothing', async (ctx) => {
    if (mountPoint === undefined) {
      ctx.skip(skipReason)
      return
    }
    const data = path.join(mountPoint, 'data')
    const opts = { data, home: t.home }
    assert.equal((await runCli(['init'], opts)).code, 0)
    const large = await t.file('large.bin', Buffer.alloc(LARGE_SIZE, 1))
    const small = await t.file('small.txt', 'fits\n')
    assert.equal((await runCli(['add', small, '--ref', 'lab/small'], opts)).code, 0)
    const stored = (st: { usage: unknown, refs: number, pins: number }): unknown => ({ usage: st.usage, refs: st.refs, pins: st.pins })
    const before = stored((await runJson(['status'], opts)).json)

    const human = await runCli(['add', large, '--ref', 'lab/large'], opts)
    assert.equal(human.code, 1)
    assert.equal(human.stdout, '')
    assert.match(human.stderr, /^[^\n]+\n$/)

    const json = await runJson<JsonError>(['add', large], opts)
    assert.equal(json.code, 1)
    assert.equal(json.json.error.code, 'STORAGE_FULL')

    assert.deepEqual(await fs.readdir(path.join(data, 'tmp')), [])
    assert.deepEqual(stored((await runJson(['status'], opts)).json), before)
    const refs = (await runJson(['ref', 'ls'], opts)).json as Array<{ key: string }>
    assert.deepEqual(refs.map((r) => r.key), ['lab/small'])
    const cat = await runCli(['cat', `sha1://${createHash('sha1').update('fits\n').digest('hex')}`], opts)
    assert.equal(cat.stdout, 'fits\n')
  })
})
