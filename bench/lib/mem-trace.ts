/**
 * Memory trace of a bench child (investigation aid, off unless TROVE_BENCH_MEM_TRACE names a file):
 * while a measured phase runs, samples the process's memory every MEM_TRACE_INTERVAL_MS and
 * appends one JSON line per sample, splitting the resident set into what V8's heap holds, what
 * ArrayBuffers hold outside it, malloc's arenas (main and per-thread) and mapped files, so a peak
 * can be attributed instead of guessed at.
 */
import fs from 'node:fs'
import v8 from 'node:v8'

/** Often enough to see the sawtooth of collections, rarely enough that parsing smaps stays cheap. */
const MEM_TRACE_INTERVAL_MS = 100
/**
 * glibc gives each thread arena a 64 MiB-aligned reservation (HEAP_MAX_SIZE on 64-bit). A heuristic:
 * other anonymous mappings that happen to start so aligned (WebAssembly memories, such as the
 * chunk buffers of src/transfer/direct-io.ts) are counted there too.
 */
const THREAD_ARENA_ALIGN = 64 * 1024 * 1024

const MB = 1024 * 1024
const r1 = (n: number): number => Math.round(n / MB * 10) / 10

interface Smaps { file: number, brk: number, threadArenas: number, anonOther: number, stacks: number }

/** Read into one reused buffer: a string of the whole file per sample (~0.5 MB) would itself land in V8's large-object space. */
const smapsBuf = Buffer.alloc(4 * 1024 * 1024)
const RSS_PREFIX = Buffer.from('Rss:')

/** Resident bytes by kind of mapping, from /proc/self/smaps. */
function smaps (): Smaps {
  const out: Smaps = { file: 0, brk: 0, threadArenas: 0, anonOther: 0, stacks: 0 }
  let n = 0
  try {
    const fd = fs.openSync('/proc/self/smaps', 'r')
    try {
      for (let r; (r = fs.readSync(fd, smapsBuf, n, smapsBuf.length - n, null)) > 0;) n += r
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return out
  }
  let kind: keyof Smaps = 'anonOther'
  for (let at = 0; at < n;) {
    let end = smapsBuf.indexOf(10, at)
    if (end < 0 || end > n) end = n
    const c = smapsBuf[at]
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) {
      // a mapping's header: start-end perms offset dev inode [name]
      const line = smapsBuf.toString('latin1', at, end)
      const dash = line.indexOf('-')
      const start = parseInt(line.slice(0, dash), 16)
      const name = line.split(/\s+/)[5] ?? ''
      if (name === '[heap]') kind = 'brk'
      else if (name.startsWith('[stack')) kind = 'stacks'
      else if (name.startsWith('/')) kind = 'file'
      else if (name === '' && start % THREAD_ARENA_ALIGN === 0) kind = 'threadArenas'
      else kind = 'anonOther'
    } else if (smapsBuf.compare(RSS_PREFIX, 0, 4, at, at + 4) === 0) {
      out[kind] += Number(/(\d+)/.exec(smapsBuf.toString('latin1', at, end))?.[1] ?? 0) * 1024
    }
    at = end + 1
  }
  return out
}

export interface MemTrace { stop: () => void }

/** Starts sampling when TROVE_BENCH_MEM_TRACE is set; `label` tags the lines of this phase. */
export function startMemTrace (label: string): MemTrace {
  const file = process.env.TROVE_BENCH_MEM_TRACE
  if (file === undefined || file === '') return { stop: () => {} }
  const begin = Date.now()
  let peak: Record<string, unknown> | undefined
  let peakRss = 0
  const sample = (): void => {
    const m = process.memoryUsage()
    const spaces: Record<string, number> = {}
    for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name.replace(/_space$/, '')] = r1(s.physical_space_size)
    const s = smaps()
    const line = {
      label,
      ms: Date.now() - begin,
      rss: r1(m.rss),
      heapTotal: r1(m.heapTotal),
      heapUsed: r1(m.heapUsed),
      external: r1(m.external),
      arrayBuffers: r1(m.arrayBuffers),
      file: r1(s.file),
      brk: r1(s.brk),
      threadArenas: r1(s.threadArenas),
      anonOther: r1(s.anonOther),
      spaces,
      // investigation hooks a patched build may install (e.g. buffered stream bytes)
      ...(globalThis as { __memProbe?: () => Record<string, unknown> }).__memProbe?.()
    }
    if (m.rss > peakRss) { peakRss = m.rss; peak = line }
    fs.appendFileSync(file, JSON.stringify(line) + '\n')
  }
  sample()
  const timer = setInterval(sample, MEM_TRACE_INTERVAL_MS)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      fs.appendFileSync(file, JSON.stringify({ label, peak }) + '\n')
    }
  }
}
