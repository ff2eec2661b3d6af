import { TroveError } from '../errors.js'

/** No peer could be found that holds the blob within the time allowed. */
export class NoProvidersError extends TroveError {
  static override name = 'NoProvidersError'
  static readonly code = 'NO_PROVIDERS'
  /** Peer ids of the peers that were asked and do not have it (a user's first question: asked whom?). */
  peers?: string[]
}

/** Providers were found but every one of them failed; the message names each and why. */
export class TransferFailedError extends TroveError {
  static override name = 'TransferFailedError'
  static readonly code = 'TRANSFER_FAILED'
}
