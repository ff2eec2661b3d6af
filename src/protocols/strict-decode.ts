import type { DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from './errors.js'

/**
 * Wire types of the proto3 encoding. 3 and 4 (groups) belong to proto2 and 6 and 7 do not exist;
 * protons' generated decoders would read a known field whatever wire type it carried and skip an
 * unknown varint of any length, so the wire format is checked here first (protocols/README.md,
 * "What decodes").
 */
export const VARINT = 0
export const I64 = 1
export const LEN = 2
export const I32 = 5

/** A message's known fields: the wire type of each, or the schema of an embedded message. */
export interface WireSchema { readonly [field: number]: number | WireSchema }

/** A varint is at most 10 bytes, and the 10th may only carry bit 63 of a uint64. */
const MAX_VARINT_BYTES = 10
/** Tags and lengths are uint32 (protons reads them so): at most 5 bytes. */
const MAX_UINT32_BYTES = 5
const MAX_FIELD = 2 ** 29 - 1

interface Codec<T> {
  decode: (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<T>) => T
}

/**
 * Decodes one message with its generated codec after checking its wire format against the schema;
 * anything that does not decode is a ProtocolError (the stream is reset and the peer penalised).
 */
export function decodeStrict<T> (codec: Codec<T>, msg: Uint8Array | Uint8ArrayList, schema: WireSchema, opts?: DecodeOptions<T>): T {
  const bytes = msg instanceof Uint8Array ? msg : msg.subarray()
  checkMessage(bytes, 0, bytes.byteLength, schema)
  try {
    return codec.decode(bytes, opts)
  } catch (err) {
    throw new ProtocolError(`message does not decode: ${(err as Error).message}`, { cause: err })
  }
}

function checkMessage (buf: Uint8Array, start: number, end: number, schema: WireSchema): void {
  let pos = start
  while (pos < end) {
    const [tag, afterTag] = varint(buf, pos, end, MAX_UINT32_BYTES)
    pos = afterTag
    const field = Math.floor(tag / 8)
    const wireType = tag % 8
    if (field < 1 || field > MAX_FIELD) throw new ProtocolError(`field number ${field} at offset ${pos}`)
    const known = schema[field]
    if (known !== undefined && wireType !== (typeof known === 'number' ? known : LEN)) {
      throw new ProtocolError(`field ${field} has wire type ${wireType} at offset ${pos}`)
    }
    switch (wireType) {
      case VARINT:
        pos = varint(buf, pos, end, MAX_VARINT_BYTES)[1]
        break
      case I64:
        pos = fixed(pos, 8, end)
        break
      case I32:
        pos = fixed(pos, 4, end)
        break
      case LEN: {
        const [length, from] = varint(buf, pos, end, MAX_UINT32_BYTES)
        pos = fixed(from, length, end)
        if (typeof known === 'object') checkMessage(buf, from, pos, known)
        break
      }
      default:
        throw new ProtocolError(`wire type ${wireType} (field ${field}) at offset ${pos}`)
    }
  }
}

/** Reads a varint of at most `maxBytes` bytes; answers its value (exact up to 2^53) and where it ends. */
function varint (buf: Uint8Array, pos: number, end: number, maxBytes: number): [number, number] {
  let value = 0
  for (let i = 0; i < maxBytes; i++) {
    if (pos + i >= end) throw new ProtocolError(`message ends inside a varint at offset ${pos}`)
    const byte = buf[pos + i]
    if (i === MAX_VARINT_BYTES - 1 && byte > 1) throw new ProtocolError(`varint overflows 64 bits at offset ${pos}`)
    value += (byte & 0x7f) * 2 ** (7 * i)
    if (byte < 0x80) {
      if (maxBytes === MAX_UINT32_BYTES && value > 0xffffffff) throw new ProtocolError(`varint overflows 32 bits at offset ${pos}`)
      return [value, pos + i + 1]
    }
  }
  throw new ProtocolError(`varint longer than ${maxBytes} bytes at offset ${pos}`)
}

function fixed (pos: number, length: number, end: number): number {
  if (pos + length > end) throw new ProtocolError(`field of ${length} bytes runs past the message end at offset ${pos}`)
  return pos + length
}
