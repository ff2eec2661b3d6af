import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { loadCompose, mapCompose, type NodeService } from '../rig/compose-map.js'
import { RigConfigError } from '../rig/errors.js'
import { RIG_PATHS } from '../rig/run.js'
import { tempDir } from '../helpers/tmp.js'

/**
 * docker-compose.yml is valid compose (checked by Docker's own tool when this machine has one that
 * works without an engine) and mappable by the local rig; shapes the rig cannot map are refused
 * with an error naming the service and the field.
 */

/** `docker-compose config` (Debian's docker-compose) or `docker compose config`, when either runs here. */
function composeTool (): string[] | undefined {
  for (const argv of [['docker-compose'], ['docker', 'compose']]) {
    const res = spawnSync(argv[0], [...argv.slice(1), 'version'], { encoding: 'utf8' })
    if (res.status === 0) return argv
  }
  return undefined
}

test('docker-compose.yml passes the compose tool\'s own validation, or is skipped with the reason', (t) => {
  const tool = composeTool()
  if (tool === undefined) {
    t.skip('neither docker-compose nor docker compose is installed; the schema check below still runs')
    return
  }
  const res = spawnSync(tool[0], [...tool.slice(1), '-f', RIG_PATHS.compose, 'config', '-q'], { encoding: 'utf8' })
  assert.equal(res.status, 0, `${tool.join(' ')} config: ${res.stderr}`)
})

test('docker-compose.yml: every service is mappable; one bootstrap, peers that find it, scenarios on peers', async () => {
  const plan = await loadCompose(RIG_PATHS.compose)
  const services = [...plan.services.values()]
  const nodes = services.filter((s): s is NodeService => s.kind === 'node')
  assert.equal(nodes.filter((s) => s.role === 'bootstrap').length, 1)
  const peers = nodes.filter((s) => s.role === 'peer')
  assert.ok(peers.length >= 3)
  for (const p of peers) {
    assert.deepEqual(p.bootstrapFrom, ['bootstrap'], p.name)
    assert.ok(p.maxSize !== undefined, `${p.name} has a size limit`)
  }
  // each node its own data volume
  assert.equal(new Set(nodes.map((n) => n.dataVolume)).size, nodes.length)
  const scripts = services.filter((s) => s.kind === 'script')
  assert.ok(scripts.length >= 2)
  assert.ok(new Set(scripts.map((s) => s.kind === 'script' ? s.on : '')).size >= 2, 'scenarios add on one peer and fetch on another')
  // dependencies first
  for (const s of services) for (const d of s.dependsOn) assert.ok(plan.order.indexOf(d.service) < plan.order.indexOf(s.name))
})

/** docs/rig.md, beside the compose file. */
const RIG_DOC = path.join(path.dirname(RIG_PATHS.compose), 'docs', 'rig.md')

/** The `docker compose` command lines a user is told to run: in rig.md's sh blocks and the compose file's header comment. */
async function documentedCommands (): Promise<Array<{ where: string, block: number, line: string }>> {
  const out: Array<{ where: string, block: number, line: string }> = []
  const doc = (await fs.readFile(RIG_DOC, 'utf8')).split('\n')
  let block = -1
  let inBlock = false
  for (const line of doc) {
    if (line.startsWith('```')) {
      inBlock = !inBlock
      if (inBlock) block++
      continue
    }
    if (inBlock && line.startsWith('docker compose')) out.push({ where: 'docs/rig.md', block, line })
  }
  for (const line of (await fs.readFile(RIG_PATHS.compose, 'utf8')).split('\n')) {
    const m = /^#\s+(docker compose .*)$/.exec(line)
    if (m !== null) out.push({ where: 'docker-compose.yml', block: 1000, line: m[1] })
  }
  return out
}

test('the documented docker commands run each scenario once and exit with the scenarios\' status', async () => {
  const plan = await loadCompose(RIG_PATHS.compose)
  const dependsOnAdd = (name: string): boolean => {
    const s = plan.services.get(name)
    return s !== undefined && s.dependsOn.some((d) => d.service === 'scenario-add' || dependsOnAdd(d.service))
  }
  const commands = await documentedCommands()
  const oneLiner = 'docker compose build && docker compose run --rm scenario-late'
  for (const where of ['docs/rig.md', 'docker-compose.yml']) {
    assert.ok(commands.some((c) => c.where === where && c.line.startsWith(oneLiner)), `${where} gives: ${oneLiner}`)
  }
  let added = false
  let block = -1
  for (const { where, block: b, line } of commands) {
    const code = line.split('#')[0]
    const comment = line.slice(code.length)
    // --exit-code-from implies --abort-on-container-exit: the first scenario to exit stops the rig (exit 143)
    assert.doesNotMatch(code, /--exit-code-from|--abort-on-container-exit/, `${where}: ${line}`)
    if (/--wait\b/.test(code)) assert.match(comment, /compose v2/, `${where}: --wait is marked compose v2 only: ${line}`)
    if (b !== block) {
      block = b
      added = false
    }
    for (const part of code.split('&&')) {
      const words = part.trim().split(/\s+/)
      if (words[2] !== 'run' && words[2] !== 'up') continue
      const services = words.filter((w) => plan.services.has(w))
      const noDeps = words.includes('--no-deps')
      if (added) {
        for (const s of services) assert.ok(noDeps || !dependsOnAdd(s), `${where}: "${part.trim()}" would run scenario-add again: give --no-deps`)
      }
      if (services.includes('scenario-add') || (!noDeps && services.some(dependsOnAdd))) added = true
    }
  }
  const readme = await fs.readFile(path.join(path.dirname(RIG_PATHS.compose), 'README.md'), 'utf8')
  assert.doesNotMatch(readme, /--exit-code-from/)
})

test('scenario-add adds its sample once, however often compose starts it', async () => {
  const plan = await loadCompose(RIG_PATHS.compose)
  const add = plan.services.get('scenario-add')
  assert.ok(add?.kind === 'script')
  const { dir, cleanup } = await tempDir('trove-rig-once-')
  try {
    const bin = path.join(dir, 'bin')
    const rigDir = path.join(dir, 'rig')
    await fs.mkdir(bin)
    await fs.mkdir(rigDir)
    // a stand-in for `trove add`: prints a URI of what it was given and counts its calls
    await fs.writeFile(path.join(bin, 'trove'), '#!/bin/sh\necho call >> "$TROVE_RIG_DIR/calls"\necho "sha1://$(sha1sum "$2" | cut -c1-40)/sample.bin"\n', { mode: 0o755 })
    const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, TROVE_RIG_DIR: rigDir, TROVE_DATA: path.join(dir, 'data') }
    const first = spawnSync('sh', ['-c', add.script], { env, encoding: 'utf8' })
    assert.equal(first.status, 0, first.stderr)
    const uri = await fs.readFile(path.join(rigDir, 'sample.uri'), 'utf8')
    assert.match(uri, /^sha1:\/\/[0-9a-f]{40}\/sample\.bin\n$/)
    const again = spawnSync('sh', ['-c', add.script], { env, encoding: 'utf8' })
    assert.equal(again.status, 0, again.stderr)
    assert.equal(await fs.readFile(path.join(rigDir, 'sample.uri'), 'utf8'), uri, 'the sample the later steps fetch stays the same')
    assert.equal(await fs.readFile(path.join(rigDir, 'calls'), 'utf8'), 'call\n', 'trove add ran once')
    assert.deepEqual((await fs.readdir(rigDir)).sort(), ['calls', 'sample.uri'])
  } finally {
    await cleanup()
  }
})

const BASE = `
services:
  bootstrap:
    image: trove-rig:local
    command: [start, --listen, /ip4/0.0.0.0/tcp/4737, --dht]
    environment: { TROVE_DATA: /data, TROVE_RIG_DIR: /rig, TROVE_RIG_PUBLISH: /rig/bootstrap.json }
    volumes: [b:/data, rig:/rig]
    x-trove: { role: bootstrap }
  peer1:
    image: trove-rig:local
    command: [start, --listen, /ip4/0.0.0.0/tcp/4737, --bootstrap, "rig:bootstrap"]
    environment: { TROVE_DATA: /data, TROVE_RIG_DIR: /rig }
    volumes: [p1:/data, rig:/rig:ro]
    depends_on: { bootstrap: { condition: service_healthy } }
    x-trove: { role: peer }
  check:
    image: trove-rig:local
    entrypoint: [sh, -c]
    command: ['trove status']
    network_mode: service:peer1
    environment: { TROVE_DATA: /data }
    volumes: [p1:/data]
    depends_on: [peer1]
    x-trove: { role: scenario }
volumes: { b: , p1: , rig: }
`

test('the base fixture maps (the refusals below each change one thing)', () => {
  const plan = mapCompose(BASE)
  assert.deepEqual(plan.order, ['bootstrap', 'peer1', 'check'])
})

/** Each: an edit of BASE, and the service and field the error must name. */
const UNMAPPABLE: Array<{ what: string, edit: (s: string) => string, service?: string, field: string }> = [
  { what: 'a key the rig cannot reproduce', edit: (s) => s.replace('  peer1:\n', '  peer1:\n    privileged: true\n'), service: 'peer1', field: 'privileged' },
  { what: 'no x-trove role', edit: (s) => s.replace('    x-trove: { role: peer }\n', ''), service: 'peer1', field: 'x-trove.role' },
  { what: 'an unknown role', edit: (s) => s.replace('role: peer }', 'role: relay }'), service: 'peer1', field: 'x-trove.role' },
  { what: 'a command as one string', edit: (s) => s.replace('command: [start, --listen, /ip4/0.0.0.0/tcp/4737, --bootstrap, "rig:bootstrap"]', 'command: "start --listen /ip4/0.0.0.0/tcp/4737"'), service: 'peer1', field: 'command' },
  { what: 'a flag trove start does not have', edit: (s) => s.replace('--bootstrap, "rig:bootstrap"]', '--bootstrap, "rig:bootstrap", --turbo]'), service: 'peer1', field: 'command' },
  { what: 'a literal bootstrap address', edit: (s) => s.replace('"rig:bootstrap"', '/dns4/bootstrap/tcp/4737'), service: 'peer1', field: 'command' },
  { what: 'bootstrapping from a service not depended on', edit: (s) => s.replace("    depends_on: { bootstrap: { condition: service_healthy } }\n", ''), service: 'peer1', field: 'depends_on' },
  { what: 'a bind mount', edit: (s) => s.replace('[p1:/data, rig:/rig:ro]', '[./p1:/data, rig:/rig:ro]'), service: 'peer1', field: 'volumes' },
  { what: 'an undeclared volume', edit: (s) => s.replace('[p1:/data, rig:/rig:ro]', '[other:/data, rig:/rig:ro]'), service: 'peer1', field: 'volumes' },
  { what: 'data outside every volume', edit: (s) => s.replace('TROVE_DATA: /data, TROVE_RIG_DIR: /rig }', 'TROVE_DATA: /srv, TROVE_RIG_DIR: /rig }'), service: 'peer1', field: 'environment.TROVE_DATA' },
  { what: 'interpolation from the host', edit: (s) => s.replace("command: ['trove status']", "command: ['trove status $${HOME} ${HOME}']"), service: 'check', field: 'command' },
  { what: 'a script naming a container path', edit: (s) => s.replace("command: ['trove status']", "command: ['ls /data']"), service: 'check', field: 'command' },
  { what: 'a scenario on no peer', edit: (s) => s.replace('    network_mode: service:peer1\n', ''), service: 'check', field: 'network_mode' },
  { what: 'a scenario on another peer\'s data', edit: (s) => s.replace('volumes: [p1:/data]', 'volumes: [b:/data]'), service: 'check', field: 'volumes' },
  { what: 'a scenario that is not a shell script', edit: (s) => s.replace('entrypoint: [sh, -c]', 'entrypoint: [bash, -c]'), service: 'check', field: 'entrypoint' },
  { what: 'waiting for a node to complete', edit: (s) => s.replace('depends_on: [peer1]', 'depends_on: { peer1: { condition: service_completed_successfully } }'), service: 'check', field: 'depends_on.peer1' },
  { what: 'a dependency cycle', edit: (s) => s.replace("    x-trove: { role: bootstrap }\n", "    depends_on: [check]\n    x-trove: { role: bootstrap }\n"), field: 'depends_on' },
  { what: 'two bootstrap peers', edit: (s) => s.replace('role: peer }', 'role: bootstrap }').replace('TROVE_DATA: /data, TROVE_RIG_DIR: /rig }', 'TROVE_DATA: /data, TROVE_RIG_DIR: /rig, TROVE_RIG_PUBLISH: /rig/peer1.json }'), field: 'services' },
  { what: 'an unknown top-level key', edit: (s) => s + 'networks: { lab: }\n', field: 'networks' }
]

for (const c of UNMAPPABLE) {
  test(`unmappable compose: ${c.what} is a RigConfigError naming ${c.service ?? '(top level)'} / ${c.field}`, () => {
    const text = c.edit(BASE)
    assert.notEqual(text, BASE, 'the edit applies')
    assert.throws(() => mapCompose(text), (err: unknown) => {
      assert.ok(err instanceof RigConfigError, String(err))
      assert.equal(err.name, 'RigConfigError')
      assert.equal(err.code, 'RIG_UNMAPPABLE')
      if (c.service !== undefined) assert.equal(err.service, c.service)
      assert.equal(err.field, c.field)
      return true
    })
  })
}

test('not YAML, or not a mapping: RigConfigError', () => {
  for (const text of ['services: [unclosed', '- a\n- b\n', 'services: {}\n']) {
    assert.throws(() => mapCompose(text), { name: 'RigConfigError', code: 'RIG_UNMAPPABLE' })
  }
})

test('npm run rig with an unmappable compose file exits 2 before starting anything', async () => {
  const { dir, cleanup } = await tempDir('trove-rig-bad-')
  try {
    const file = path.join(dir, 'compose.yml')
    await fs.writeFile(file, BASE.replace('role: peer }', 'role: relay }'))
    const main = path.join(path.dirname(RIG_PATHS.trovebin), '../../test/rig/main.js')
    const res = spawnSync(process.execPath, [main, '--compose', file, '--quiet'], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(res.status, 2, res.stderr)
    assert.equal(res.stdout, '')
    assert.notEqual(res.stderr.trim(), '')
  } finally {
    await cleanup()
  }
})
