import { errorKind } from '../errors.js'

/** No peer could be found that holds the blob within the time allowed. */
export const NoProvidersError = errorKind('NoProvidersError', 'NO_PROVIDERS', 404)

/** Providers were found but every one of them failed; the message names each and why. */
export const TransferFailedError = errorKind('TransferFailedError', 'TRANSFER_FAILED', 502)
