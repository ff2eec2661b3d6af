import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Announce {
  blobs: Announce.Blob[]
}

export namespace Announce {
  export interface Blob {
    hash: Uint8Array<ArrayBuffer>
    size: bigint
  }

  export namespace Blob {
    let _codec: Codec<Blob>

    export const codec = (): Codec<Blob> => {
      if (_codec == null) {
        _codec = message<Blob>((obj, w, opts = {}) => {
          if (opts.lengthDelimited !== false) {
            w.fork()
          }

          if ((obj.hash != null && obj.hash.byteLength > 0)) {
            w.uint32(10)
            w.bytes(obj.hash)
          }

          if ((obj.size != null && obj.size !== 0n)) {
            w.uint32(16)
            w.uint64(obj.size)
          }

          if (opts.lengthDelimited !== false) {
            w.ldelim()
          }
        }, (reader, length, opts = {}) => {
          const obj: any = {
            hash: uint8ArrayAlloc(0),
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
                obj.size = reader.uint64()
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
                  field: `${prefix}.size`,
                  value: reader.uint64()
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

    export interface BlobHashFieldEvent {
      field: '$.hash'
      value: Uint8Array<ArrayBuffer>
    }

    export interface BlobSizeFieldEvent {
      field: '$.size'
      value: bigint
    }

    export function encode (obj: Partial<Blob>): Uint8Array<ArrayBuffer> {
      return encodeMessage(obj, Blob.codec())
    }

    export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Blob>): Blob {
      return decodeMessage(buf, Blob.codec(), opts)
    }

    export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Blob>): Generator<BlobHashFieldEvent | BlobSizeFieldEvent> {
      return streamMessage(buf, Blob.codec(), opts)
    }
  }

  let _codec: Codec<Announce>

  export const codec = (): Codec<Announce> => {
    if (_codec == null) {
      _codec = message<Announce>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.blobs != null && obj.blobs.length > 0) {
          for (const value of obj.blobs) {
            w.uint32(10)
            Announce.Blob.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          blobs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.blobs != null && obj.blobs.length === opts.limits.blobs) {
                throw new MaxLengthError('Decode error - repeated field "blobs" had too many elements')
              }

              obj.blobs.push(Announce.Blob.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.blobs$
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
          blobs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.blobs != null && obj.blobs === opts.limits.blobs) {
                throw new MaxLengthError('Streaming decode error - repeated field "blobs" had too many elements')
              }

              for (const evt of Announce.Blob.codec().stream(reader, reader.uint32(), `${prefix}.blobs[]`, {
                limits: opts.limits?.blobs$
              })) {
                yield {
                  ...evt,
                  index: obj.blobs
                }
              }

              obj.blobs++

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

  export interface AnnounceBlobsHashFieldEvent {
    field: '$.blobs[].hash'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface AnnounceBlobsSizeFieldEvent {
    field: '$.blobs[].size'
    value: bigint
    index: number
  }

  export function encode (obj: Partial<Announce>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Announce.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announce>): Announce {
    return decodeMessage(buf, Announce.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announce>): Generator<AnnounceBlobsHashFieldEvent | AnnounceBlobsSizeFieldEvent> {
    return streamMessage(buf, Announce.codec(), opts)
  }
}
