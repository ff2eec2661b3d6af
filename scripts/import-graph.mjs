#!/usr/bin/env node
/**
 * The import graph of src/: which file imports which, import cycles, and imports that run back up
 * a layer. `npm run imports` prints it as JSON; test/unit/import-graph.test.ts holds the code to
 * 0 cycles and 0 upward imports.
 *
 *   node scripts/import-graph.mjs [ROOT]     (ROOT: a checkout, default this one)
 *
 * Every edge counts: `import`, `import type`, `export ... from`, side-effect `import '...'` and
 * `await import('...')` with a literal path (a lazy import is still a dependency; laziness is a
 * cost choice, not a layering one). Only relative specifiers are followed: packages are outside.
 *
 * LAYERS, lowest first. A file may import its own layer and any layer below it; an import of a
 * higher layer is "upward". The first entry that matches assigns a file (a path ending in /
 * matches a folder, anything else one file). A file no entry matches is listed as unassigned.
 * The intended design:
 * - base: leaf modules every layer may use (URIs, errors, units, logger, data directory, the LevelDB
 *   handle and its schema, small fs and scheduling helpers).
 * - store, refs, space: the local node. Refs records what the store holds; space manages both.
 * - net: libp2p wiring only (transports, encryption, discovery, gater, key, DHT key); knows no
 *   Trove protocol and no storage.
 * - contract (ops.ts): the `TroveOps` contract and the option and report types it names. It
 *   sits below transfer because the fetcher takes and returns those types (`FetchOptions`,
 *   `FetchManyResult`, `TransferInfo`), and above store/refs/space/net because it names theirs.
 * - protocols: the wire protocols, over libp2p and the store; no transfer policy.
 * - transfer: fetching (provider choice, chunked download, scores, provide queue) over the
 *   protocols.
 * - dirs: directory manifests and sha1dir:// URIs; resolving, listing and writing out a tree over
 *   narrow interfaces of the store and the fetcher (it names the contract's and transfer's types).
 * - network (network.ts): composition root of the network side: libp2p, protocols, fetcher.
 * - dirs: directories (walking a local tree into manifests, and reading trees back) over the store,
 *   the contract and the network. The manifest format and sha1dir:// URIs themselves
 *   (dirs/constants, manifest, uri) are base: space follows manifests for liveness, and uri.ts
 *   finds sha1dir:// references.
 * - node (node.ts, index.ts): the `Trove` facade and the library entry.
 * - metrics: Prometheus counters and gauges of a node, fed by the events of the parts below.
 * - api: the HTTP server and the typed client; cli on top.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const LAYERS = [
  { name: 'base', match: ['uri.ts', 'errors.ts', 'units.ts', 'constants.ts', 'datadir.ts', 'db.ts', 'db/', 'fs-util.ts', 'serial.ts', 'version.ts', 'node-flags.ts', 'logger.ts', 'hex.ts', 'dirs/constants.ts', 'dirs/manifest.ts', 'dirs/uri.ts'] },
  { name: 'store', match: ['store/'] },
  { name: 'refs', match: ['refs/'] },
  { name: 'space', match: ['space/'] },
  { name: 'net', match: ['net/'] },
  { name: 'contract', match: ['ops.ts'] },
  { name: 'protocols', match: ['protocols/'] },
  { name: 'transfer', match: ['transfer/'] },
  { name: 'dirs', match: ['dirs/'] },
  { name: 'network', match: ['network.ts'] },
  { name: 'dirs', match: ['dirs/'] },
  { name: 'node', match: ['node.ts', 'index.ts'] },
  { name: 'metrics', match: ['metrics/'] },
  { name: 'api', match: ['api/'] },
  { name: 'cli', match: ['cli/'] },
  { name: 'ui', match: ['ui/'] }
]

/** Largest hand-written files listed. */
const LARGEST = 10
/** Generated code: protons codecs, under pb/ or (before they moved there) by their first line. */
const GENERATED_DIR = /(^|\/)pb\//
const GENERATED_HEAD = /^import \{[^}]*\bmessage\b[^}]*\} from 'protons-runtime'/

/** Specifier of every static import/export-from, side-effect import and literal dynamic import. */
const STATIC = /^(import|export)\s+(type\s+)?[\w*${},\s]*?\s*from\s*['"]([^'"]+)['"]/gm
const BARE = /^import\s*['"]([^'"]+)['"]/gm
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g

/** Layer of a path relative to src/: the first entry that matches it. */
export function layerOf (rel) {
  for (let i = 0; i < LAYERS.length; i++) {
    for (const m of LAYERS[i].match) {
      if (m.endsWith('/') ? rel.startsWith(m) : rel === m) return { index: i, name: LAYERS[i].name }
    }
  }
  return undefined
}

function listTs (dir) {
  const out = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listTs(full))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full)
  }
  return out
}

/** `./x.js` from `a/b.ts` -> `a/x.ts` (relative to src/); undefined for a package. */
function resolve (fromRel, spec, known) {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return undefined
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(fromRel), spec))
  for (const c of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, `${base}/index.ts`]) {
    if (known.has(c)) return c
  }
  return base.replace(/\.js$/, '.ts')
}

/** Imports of one file: `{ to, kind }` with kind `static`, `type`, `side-effect` or `dynamic`. */
export function importsOf (text) {
  const out = []
  for (const m of text.matchAll(STATIC)) out.push({ spec: m[3], kind: m[2] !== undefined ? 'type' : 'static' })
  for (const m of text.matchAll(BARE)) out.push({ spec: m[1], kind: 'side-effect' })
  for (const m of text.matchAll(DYNAMIC)) out.push({ spec: m[1], kind: 'dynamic' })
  return out
}

/** Tarjan's strongly connected components; returns those with more than one file. */
function cycles (nodes, edges) {
  let index = 0
  const idx = new Map()
  const low = new Map()
  const stack = []
  const on = new Set()
  const out = []
  const visit = (v) => {
    idx.set(v, index)
    low.set(v, index)
    index++
    stack.push(v)
    on.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v), low.get(w)))
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)))
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc = []
      let w
      do {
        w = stack.pop()
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1) out.push(scc.sort())
    }
  }
  for (const v of nodes) if (!idx.has(v)) visit(v)
  return out.sort((a, b) => a[0].localeCompare(b[0]))
}

/** The whole analysis of ROOT/src. */
export function analyze (root) {
  const src = path.join(root, 'src')
  const files = listTs(src).map((f) => path.relative(src, f).split(path.sep).join('/')).sort()
  const known = new Set(files)
  const edges = new Map()
  const imports = []
  const sizes = []
  const unassigned = []
  const unresolved = []
  for (const rel of files) {
    const text = fs.readFileSync(path.join(src, rel), 'utf8')
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
    const generated = GENERATED_DIR.test(rel) || GENERATED_HEAD.test(text)
    sizes.push({ file: `src/${rel}`, lines, generated })
    if (layerOf(rel) === undefined) unassigned.push(`src/${rel}`)
    const targets = new Set()
    for (const { spec, kind } of importsOf(text)) {
      const to = resolve(rel, spec, known)
      if (to === undefined) continue
      if (!known.has(to)) { unresolved.push({ from: `src/${rel}`, spec }); continue }
      targets.add(to)
      imports.push({ from: rel, to, kind })
    }
    edges.set(rel, [...targets])
  }
  const upward = []
  for (const { from, to, kind } of imports) {
    const a = layerOf(from)
    const b = layerOf(to)
    if (a === undefined || b === undefined || b.index <= a.index) continue
    upward.push({ from: `src/${from}`, fromLayer: a.name, to: `src/${to}`, toLayer: b.name, kind })
  }
  const handWritten = sizes.filter((s) => !s.generated).sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file))
  const found = cycles(files, edges).map((scc) => scc.map((f) => `src/${f}`))
  return {
    layers: LAYERS.map((l) => l.name),
    files: files.length,
    imports: imports.length,
    handWrittenLines: handWritten.reduce((n, s) => n + s.lines, 0),
    generated: sizes.filter((s) => s.generated).map((s) => s.file),
    largest: handWritten.slice(0, LARGEST).map(({ file, lines }) => ({ file, lines })),
    cycleCount: found.length,
    cycles: found,
    upwardCount: upward.length,
    upwardLayerPairs: [...new Set(upward.map((u) => `${u.fromLayer} -> ${u.toLayer}`))],
    upward,
    unassigned,
    unresolved
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'))
  process.stdout.write(JSON.stringify(analyze(root), null, 2) + '\n')
}
