/**
 * What the main thread and the small-file worker exchange (small-io.ts sends, small-io-run.ts
 * runs, on the worker or inline). In a file of its own so that neither side imports the other.
 */

export type IoJob =
  | { op: 'write', path: string, length: number, sync: boolean }
  | { op: 'read', path: string, position: number, length: number }
  | { op: 'rename', path: string, to: string }
  | { op: 'remove', path: string }

/** Operation codes of IoBatch.ops. */
export const OP_WRITE = 1
export const OP_READ = 2
export const OP_RENAME = 3
export const OP_REMOVE = 4

/**
 * A batch as the worker gets it: flat arrays and one string rather than an object per operation,
 * which structured clone copies field by field (thousands per second). Per operation: `ops[i]`;
 * `nums[2i]`, `nums[2i+1]` (write: length, sync 0/1; read: position, length); its path (a rename
 * also its target) from `paths`, split at NUL. Writes' bytes lie back to back in `data`, in order.
 */
export interface IoBatch { id: number, ops: Uint8Array, nums: Float64Array, paths: string, data?: ArrayBuffer }
/** Reads' bytes back to back in `data`, in order; `errors` lists failed operations only. */
export interface IoReply { id: number, errors: Array<[index: number, message: string, code: string | undefined]>, data?: ArrayBuffer }
