import type { ClassTotals, HoldCode } from '../db/schema.js'

/** The space tables' value types live with the rest of the schema. */
export type { BlobState, ClassTotals, EvictValue, HoldCode } from '../db/schema.js'

export interface Hold {
  c: HoldCode
  p?: number
  m?: number
}

export const CLASS_NAMES: Record<HoldCode, 'protected' | 'referenced' | 'unreferenced'> = {
  p: 'protected',
  r: 'referenced',
  u: 'unreferenced'
}

export function sameHold (a: Hold | undefined, b: Hold | undefined): boolean {
  return a?.c === b?.c && a?.p === b?.p && a?.m === b?.m
}

export function emptyTotals (): ClassTotals {
  return { protected: { blobs: 0, bytes: 0 }, referenced: { blobs: 0, bytes: 0 }, unreferenced: { blobs: 0, bytes: 0 } }
}
