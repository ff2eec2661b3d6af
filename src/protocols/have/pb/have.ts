import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface HaveRequest {
  hashes: Uint8Array<ArrayBuffer>[]
}

export namespace HaveRequest {
  let _codec: Codec<HaveRequest>

  export const codec = (): Codec<HaveRequest> => {
    if (_codec == null) {
      _codec = message<HaveRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.hashes != null && obj.hashes.length > 0) {
          for (const value of obj.hashes) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          hashes: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.hashes != null && obj.hashes.length === opts.limits.hashes) {
                throw new MaxLengthError('Decode error - repeated field "hashes" had too many elements')
              }

              obj.hashes.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          hashes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.hashes != null && obj.hashes === opts.limits.hashes) {
                throw new MaxLengthError('Streaming decode error - repeated field "hashes" had too many elements')
              }

              yield {
                field: `${prefix}.hashes[]`,
                index: obj.hashes,
                value: reader.bytes()
              }

              obj.hashes++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HaveRequestHashesFieldEvent {
    field: '$.hashes[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<HaveRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HaveRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HaveRequest>): HaveRequest {
    return decodeMessage(buf, HaveRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HaveRequest>): Generator<HaveRequestHashesFieldEvent> {
    return streamMessage(buf, HaveRequest.codec(), opts)
  }
}

export interface HaveEntry {
  hash: Uint8Array<ArrayBuffer>
  have: boolean
  size: bigint
  manifest?: Uint8Array<ArrayBuffer>
}

export namespace HaveEntry {
  let _codec: Codec<HaveEntry>

  export const codec = (): Codec<HaveEntry> => {
    if (_codec == null) {
      _codec = message<HaveEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.hash != null && obj.hash.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.hash)
        }

        if ((obj.have != null && obj.have !== false)) {
          w.uint32(16)
          w.bool(obj.have)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(24)
          w.uint64(obj.size)
        }

        if (obj.manifest != null) {
          w.uint32(34)
          w.bytes(obj.manifest)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          hash: uint8ArrayAlloc(0),
          have: false,
          size: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.hash = reader.bytes()
              break
            }
            case 2: {
              obj.have = reader.bool()
              break
            }
            case 3: {
              obj.size = reader.uint64()
              break
            }
            case 4: {
              obj.manifest = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.hash`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.have`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.manifest`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HaveEntryHashFieldEvent {
    field: '$.hash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HaveEntryHaveFieldEvent {
    field: '$.have'
    value: boolean
  }

  export interface HaveEntrySizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface HaveEntryManifestFieldEvent {
    field: '$.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<HaveEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HaveEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HaveEntry>): HaveEntry {
    return decodeMessage(buf, HaveEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HaveEntry>): Generator<HaveEntryHashFieldEvent | HaveEntryHaveFieldEvent | HaveEntrySizeFieldEvent | HaveEntryManifestFieldEvent> {
    return streamMessage(buf, HaveEntry.codec(), opts)
  }
}

export interface HaveResponse {
  entries: HaveEntry[]
}

export namespace HaveResponse {
  let _codec: Codec<HaveResponse>

  export const codec = (): Codec<HaveResponse> => {
    if (_codec == null) {
      _codec = message<HaveResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.entries != null && obj.entries.length > 0) {
          for (const value of obj.entries) {
            w.uint32(10)
            HaveEntry.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          entries: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - repeated field "entries" had too many elements')
              }

              obj.entries.push(HaveEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          entries: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.entries != null && obj.entries === opts.limits.entries) {
                throw new MaxLengthError('Streaming decode error - repeated field "entries" had too many elements')
              }

              for (const evt of HaveEntry.codec().stream(reader, reader.uint32(), `${prefix}.entries[]`, {
                limits: opts.limits?.entries$
              })) {
                yield {
                  ...evt,
                  index: obj.entries
                }
              }

              obj.entries++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HaveResponseEntriesHashFieldEvent {
    field: '$.entries[].hash'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface HaveResponseEntriesHaveFieldEvent {
    field: '$.entries[].have'
    value: boolean
    index: number
  }

  export interface HaveResponseEntriesSizeFieldEvent {
    field: '$.entries[].size'
    value: bigint
    index: number
  }

  export interface HaveResponseEntriesManifestFieldEvent {
    field: '$.entries[].manifest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<HaveResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HaveResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HaveResponse>): HaveResponse {
    return decodeMessage(buf, HaveResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HaveResponse>): Generator<HaveResponseEntriesHashFieldEvent | HaveResponseEntriesHaveFieldEvent | HaveResponseEntriesSizeFieldEvent | HaveResponseEntriesManifestFieldEvent> {
    return streamMessage(buf, HaveResponse.codec(), opts)
  }
}
