import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * The layers of src/ run one way: scripts/import-graph.mjs (`npm run imports`) finds no import
 * cycle and no import from a lower layer to a higher one (the layer list and the intended design
 * are at the top of the script).
 */

// compiled to dist/test/unit: the repository root is three levels up
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

interface Report {
  layers: string[]
  files: number
  imports: number
  generated: string[]
  largest: Array<{ file: string, lines: number }>
  cycles: string[][]
  upward: Array<{ from: string, to: string, fromLayer: string, toLayer: string, kind: string }>
  unassigned: string[]
  unresolved: Array<{ from: string, spec: string }>
}

interface ImportGraph {
  analyze: (root: string) => Report
  importsOf: (text: string) => Array<{ spec: string, kind: string }>
  layerOf: (rel: string) => { index: number, name: string } | undefined
}

// a plain .mjs script outside the TypeScript build: loaded by URL
const graph = await import(pathToFileURL(path.join(root, 'scripts/import-graph.mjs')).href) as ImportGraph
const report = graph.analyze(root)

/** Cycles known to go with a change under way elsewhere; each entry names the change. */
const ALLOWED_CYCLES: string[][] = []

describe('import graph', () => {
  it('reads the whole tree', () => {
    assert.ok(report.files > 100, `${report.files} files`)
    assert.ok(report.imports > 300, `${report.imports} imports`)
    assert.deepEqual(report.unassigned, [], 'every file of src/ is in a layer')
    assert.deepEqual(report.unresolved, [], 'every relative import names a file of src/')
  })

  it('has no import cycle', () => {
    const allowed = new Set(ALLOWED_CYCLES.map((c) => c.join(' ')))
    assert.deepEqual(report.cycles.filter((c) => !allowed.has(c.join(' '))), [])
  })

  it('has no import that runs up a layer', () => {
    assert.deepEqual(report.upward, [])
  })

  it('counts generated codecs apart from hand-written files', () => {
    assert.deepEqual(report.generated, ['src/protocols/announce/pb/announce.ts', 'src/protocols/fetch/pb/fetch.ts', 'src/protocols/have/pb/have.ts'])
    assert.ok(report.largest.every((f) => !f.file.includes('/pb/')))
    assert.ok(report.largest.length > 0 && report.largest[0].lines >= report.largest[report.largest.length - 1].lines)
  })

  it('finds every form of import', () => {
    const text = [
      "import fs from 'node:fs'",
      "import { a, type B } from './a.js'",
      "import type { C } from '../c.js'",
      'import {',
      '  d,',
      '  e',
      "} from './d.js'",
      "import * as f from './f.js'",
      "export { g } from './g.js'",
      "export * from './h.js'",
      "export type { I } from './i.js'",
      "import './j.js'",
      "const k = await import('./k.js')",
      "export const l = 'from ./not-an-import.js'",
      " * import { m } from './in-a-comment.js'"
    ].join('\n')
    assert.deepEqual(graph.importsOf(text), [
      { spec: 'node:fs', kind: 'static' },
      { spec: './a.js', kind: 'static' },
      { spec: '../c.js', kind: 'type' },
      { spec: './d.js', kind: 'static' },
      { spec: './f.js', kind: 'static' },
      { spec: './g.js', kind: 'static' },
      { spec: './h.js', kind: 'static' },
      { spec: './i.js', kind: 'type' },
      { spec: './j.js', kind: 'side-effect' },
      { spec: './k.js', kind: 'dynamic' }
    ])
  })

  it('puts the composition roots above what they compose', () => {
    const order = (rel: string): number => graph.layerOf(rel)?.index ?? -1
    assert.ok(order('net/libp2p.ts') < order('protocols/stream-io.ts'))
    assert.ok(order('protocols/announce/index.ts') < order('transfer/providers.ts'))
    assert.ok(order('transfer/fetcher.ts') < order('network.ts'))
    assert.ok(order('network.ts') < order('node.ts'))
    assert.ok(order('node.ts') < order('api/server.ts'))
    assert.ok(order('api/client.ts') < order('cli/program.ts'))
  })
})
