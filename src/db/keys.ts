import type { HoldCode } from './schema.js'

/**
 * Key layouts of the tables (schema.ts). Every composite key is built and taken apart here, so
 * that no layer slices another's keys by hand. The exact bytes are the on-disk format: a change
 * here is a SCHEMA_VERSION bump (db.ts), and test/unit/db-keys.test.ts pins them.
 */

/** Separates the parts of a composite key. Ref keys (refs/keys.ts) and sha1s never contain it. */
export const SEP = '\x00'
/** The character after SEP: every key `<p>\0...` sorts between `<p>\0` and `<p>\x01`. */
const SEP_END = '\x01'
/** Above every character keys use: `<p>\uffff` bounds the keys that start with `<p>`. */
const TOP = '\uffff'

export interface KeyRange {
  gt?: string
  lt?: string
  lte?: string
}

/** Keys `<first>\0<anything>`. */
function firstPartIs (first: string): KeyRange {
  return { gt: `${first}${SEP}`, lt: `${first}${SEP_END}` }
}

function prefixed (prefix: string): KeyRange {
  return { gt: prefix, lt: `${prefix}${TOP}` }
}

function split (key: string): [string, string] {
  const at = key.indexOf(SEP)
  return at < 0 ? [key, ''] : [key.slice(0, at), key.slice(at + 1)]
}

// edges: `<blob sha1>\0<ref key>`, so a blob's holders are one range

export function edgeKey (sha1: string, ref: string): string {
  return `${sha1}${SEP}${ref}`
}

export function parseEdgeKey (key: string): { sha1: string, ref: string } {
  const [sha1, ref] = split(key)
  return { sha1, ref }
}

/** The edges of one blob. */
export function edgesOf (sha1: string): KeyRange {
  return firstPartIs(sha1)
}

// versions: `<ref key>\0<version, 10 digits>`, a ref's history in order

const VERSION_DIGITS = 10

export function versionKey (ref: string, version: number): string {
  return `${ref}${SEP}${String(version).padStart(VERSION_DIGITS, '0')}`
}

/** The history of one ref. */
export function versionsOf (ref: string): KeyRange {
  return firstPartIs(ref)
}

// expiry: `<expiry ms, 15 digits>\0<ref key>`, refs in the order they expire

const EXPIRY_DIGITS = 15

export function expiryKey (expiresMs: number, ref: string): string {
  return `${String(expiresMs).padStart(EXPIRY_DIGITS, '0')}${SEP}${ref}`
}

export function parseExpiryKey (key: string): { expiresMs: number, ref: string } {
  const [ms, ref] = split(key)
  return { expiresMs: Number(ms), ref }
}

/** The refs that expire at or before `now`. */
export function expiryUpTo (now: number): KeyRange {
  return { lte: expiryKey(now, TOP) }
}

// packs: the pack number in decimal

export function packKey (id: number): string {
  return String(id)
}

export function parsePackKey (key: string): number {
  return Number(key)
}

// meta

export const META_SCHEMA = 'schema'
export const META_USAGE = 'usage'

// space-links `<parent>\0<child>` and space-linked-by `<child>\0<parent>`

export function linkKey (from: string, to: string): string {
  return `${from}${SEP}${to}`
}

export function parseLinkKey (key: string): { from: string, to: string } {
  const [from, to] = split(key)
  return { from, to }
}

/** The links from one blob. */
export function linksFrom (from: string): KeyRange {
  return firstPartIs(from)
}

// space-dirty: `g<seq>` -> [sha1, ...], one record per batch of marks; `<sha1>` -> seq in earlier versions

const DIRTY_GROUP_PREFIX = 'g'
const SHA1_LENGTH = 40

export function dirtyGroupKey (seq: number): string {
  return `${DIRTY_GROUP_PREFIX}${seq}`
}

export type DirtyKey = { group: true, seq: number } | { group: false, sha1: string }

export function parseDirtyKey (key: string): DirtyKey {
  if (key.length === SHA1_LENGTH) return { group: false, sha1: key }
  return { group: true, seq: Number(key.slice(DIRTY_GROUP_PREFIX.length)) }
}

// space-meta: a few fixed keys, refs asking for minCopies, and deletion intents of GC runs

export const SPACE_TOTALS = 'totals'
export const SPACE_VERSION = 'version'
export const SPACE_RUNS = 'runs'

const MIN_COPIES_PREFIX = 'minCopies!'

export function minCopiesKey (ref: string): string {
  return `${MIN_COPIES_PREFIX}${ref}`
}

export function parseMinCopiesKey (key: string): string {
  return key.slice(MIN_COPIES_PREFIX.length)
}

export const MIN_COPIES_KEYS: KeyRange = prefixed(MIN_COPIES_PREFIX)

/**
 * Deletion intents: one record per delete batch listing its blobs (one key per batch, not per
 * blob: every blob key put and deleted again would leave a tombstone that range reads landing
 * nearby walk over until the next compaction). The legacy layout had one key per blob.
 */
const INTENTS_PREFIX = 'intents!'
const INTENT_SEQ_DIGITS = 16
const LEGACY_INTENT_PREFIX = 'intent!'

export function intentsKey (seq: number): string {
  return `${INTENTS_PREFIX}${String(seq).padStart(INTENT_SEQ_DIGITS, '0')}`
}

export const INTENTS_KEYS: KeyRange = prefixed(INTENTS_PREFIX)

export function legacyIntentKey (sha1: string): string {
  return `${LEGACY_INTENT_PREFIX}${sha1}`
}

export function parseLegacyIntentKey (key: string): string {
  return key.slice(LEGACY_INTENT_PREFIX.length)
}

export const LEGACY_INTENT_KEYS: KeyRange = prefixed(LEGACY_INTENT_PREFIX)

// space-evict: eviction order

const TIME_DIGITS = 15
const PRIO_DIGITS = 17
const PRIO_OFFSET = 2n ** 53n
const UNHELD_CLASS = '1'
const HELD_CLASS = '2'

/**
 * Eviction index key. LevelDB keeps keys sorted, so reading the index from the start yields
 * blobs in eviction order: unheld ('1') before held ('2'), lower priority first, least recently
 * used first. Priorities are offset so negative ones sort below zero as text. None for class 'p'.
 */
export function evictKey (sha1: string, hold: { c: HoldCode, p?: number }, lastAccess: number): string | undefined {
  const a = String(Math.max(0, Math.floor(lastAccess))).padStart(TIME_DIGITS, '0')
  if (hold.c === 'u') return `${UNHELD_CLASS}${a}${sha1}`
  if (hold.c === 'r') return `${HELD_CLASS}${(BigInt(hold.p ?? 0) + PRIO_OFFSET).toString().padStart(PRIO_DIGITS, '0')}${a}${sha1}`
  return undefined
}

export interface ParsedEvictKey {
  c: 'u' | 'r'
  p?: number
  a: number
  sha1: string
}

export function parseEvictKey (key: string): ParsedEvictKey {
  if (key[0] === UNHELD_CLASS) {
    return { c: 'u', a: Number(key.slice(1, 1 + TIME_DIGITS)), sha1: key.slice(1 + TIME_DIGITS) }
  }
  const p = Number(BigInt(key.slice(1, 1 + PRIO_DIGITS)) - PRIO_OFFSET)
  const a = Number(key.slice(1 + PRIO_DIGITS, 1 + PRIO_DIGITS + TIME_DIGITS))
  return { c: 'r', p, a, sha1: key.slice(1 + PRIO_DIGITS + TIME_DIGITS) }
}

/** The unheld part of the eviction index (what a run limited to unreferenced blobs reads). */
export const UNHELD_EVICT_KEYS: KeyRange = { lt: HELD_CLASS }
