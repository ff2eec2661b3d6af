/**
 * Malformed and well-formed-but-unusual messages from the "Malformed messages" sections of
 * protocols/*.md, as hex of the bytes on the stream (length prefix included). protocol-specs.test.ts
 * checks the pages carry exactly these; the protocol tests send them.
 */

/** sha1 of the 6 bytes `hello\n`, the blob of every example in the specs. */
export const HELLO_SHA1_HEX = 'f572d396fae9206628714fb2ce00f72e94f2258f'

/** An 11-byte varint: ten bytes with the continuation bit, then one more (a varint ends within 10). */
const VARINT_11 = 'ff'.repeat(10) + '01'

export const WIRE_VECTORS = {
  have: {
    /** HaveRequest { hashes: [hello] } plus unknown field 15 (varint) of 11 bytes: reset. */
    requestLongVarint: '22' + '0a14' + HELLO_SHA1_HEX + '78' + VARINT_11,
    /** HaveResponse for hello plus unknown field 15 (varint) of 11 bytes: reset. */
    responseLongVarint: '28' + '0a1a' + '0a14' + HELLO_SHA1_HEX + '1001' + '1806' + '78' + VARINT_11,
    /** HaveRequest { hashes: [hello] } plus unknown field 15 = 1 and unknown field 16 = "hi": answered. */
    requestUnknownFields: '1d' + '0a14' + HELLO_SHA1_HEX + '7801' + '8201' + '02' + '6869'
  },
  announce: {
    /** Announce { blobs: [{ hello, size 6 }] } plus unknown field 15 (varint) of 11 bytes: reset. */
    longVarint: '26' + '0a18' + '0a14' + HELLO_SHA1_HEX + '1006' + '78' + VARINT_11,
    /** Announce of hello with unknown field 15 = 1 inside the blob and at the top: recorded. */
    unknownFields: '1e' + '0a1a' + '0a14' + HELLO_SHA1_HEX + '1006' + '7801' + '7801'
  },
  fetch: {
    /** FetchRequest whose field 1 (hash) has wire type 7, which does not exist: reset. */
    requestWireType7: '16' + '0f14' + HELLO_SHA1_HEX,
    /** FetchResponse header whose field 1 (status) has wire type 7, then size 6 and length 6: reset. */
    responseWireType7: '06' + '0f00' + '1006' + '1806',
    /** FetchRequest { hash: hello } plus unknown field 15 as fixed32: served. */
    requestUnknownField: '1b' + '0a14' + HELLO_SHA1_HEX + '7d' + '01020304'
  }
} as const

export const hexBytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'))
