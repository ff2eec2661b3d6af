import { TroveError } from '../errors.js'

/** No peer could be found that holds the blob within the time allowed. */
export class NoProvidersError extends TroveError {
  constructor (message: string) {
    super(message, 'NO_PROVIDERS', 404)
    this.name = 'NoProvidersError'
  }
}

/** Providers were found but every one of them failed; the message names each and why. */
export class TransferFailedError extends TroveError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'TRANSFER_FAILED', 502, options)
    this.name = 'TransferFailedError'
  }
}
