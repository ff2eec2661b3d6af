#!/usr/bin/env node
/**
 * Tabulates the output of scripts/bench-ab.sh: for each bench, the headline figures of every
 * before and after run side by side, as JSON (and a Markdown table with --markdown).
 *
 *   node scripts/bench-ab-summary.mjs OUT_DIR [--markdown]
 */
import fs from 'node:fs'
import path from 'node:path'

const FIGURES = {
  ingest: { 'add MiB/s': 'trove.mibPerSec', 'ratio to sha1sum+cp+sync': 'ratio', 'peak RSS MB': 'trove.peakRssMB' },
  refs: { 'sets/s': 'setsPerSec', 'gets/s': 'getsPerSec', 'CPU µs per set': 'sets.cpuMicrosPerOp', 'CPU µs per get': 'gets.cpuMicrosPerOp' },
  small: { 'fetchMany blobs/s': 'runs.fetchMany.blobsPerSec', 'fetchMany receiver CPU ms/blob': 'runs.fetchMany.cpuMsPerBlob.receiver', 'ensureLocal x64 blobs/s': 'runs.ensureLocal x64.blobsPerSec', 'ensureLocal x64 receiver CPU ms/blob': 'runs.ensureLocal x64.cpuMsPerBlob.receiver' },
  fetch: { 'fetch MiB/s (16 MiB window)': 'windows.16MiB.trove.mibPerSec', 'receiver CPU s/GiB': 'windows.16MiB.trove.cpuSecondsPerGiB.receiver', '3 providers MiB/s': 'multiProvider.mibPerSec', 'TTFB median ms': 'timeToFirstByte.medianMs' },
  space: { 'index rebuild s': 'results.0.rebuildIndexSeconds', 'dry run 10% s': 'results.0.plan10pct.dryRunSeconds', 'run 10k CPU µs/blob': 'results.0.runs.1.cpuUsPerBlob', 'ref sets/s idle': 'results.0.refSetRate.idlePerSec' }
}

function pick (obj, dotted) {
  let v = obj
  for (const part of dotted.split('.')) {
    if (v === undefined || v === null) return undefined
    v = Array.isArray(v) ? v[Number(part)] : v[part]
  }
  return v
}

const [dir, ...flags] = process.argv.slice(2)
if (dir === undefined) {
  console.error('usage: node scripts/bench-ab-summary.mjs OUT_DIR [--markdown]')
  process.exit(2)
}
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
const out = {}
for (const [bench, figures] of Object.entries(FIGURES)) {
  for (const [label, key] of Object.entries(figures)) {
    const row = { before: [], after: [] }
    for (const side of ['before', 'after']) {
      for (const f of files.filter((f) => f.startsWith(`${bench}.${side}.`)).sort()) {
        try {
          row[side].push(pick(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')), key) ?? null)
        } catch {
          row[side].push(null)
        }
      }
    }
    out[`${bench}: ${label}`] = row
  }
}
if (flags.includes('--markdown')) {
  console.log('| figure | before | after |\n| --- | --- | --- |')
  for (const [k, v] of Object.entries(out)) console.log(`| ${k} | ${v.before.join(', ')} | ${v.after.join(', ')} |`)
} else {
  console.log(JSON.stringify(out, null, 2))
}
