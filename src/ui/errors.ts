import { ApiError } from './api.js'
import { h } from './dom.js'

/** An error as the page shows it: the API's code and message. */
export function errorBox (err: unknown): HTMLElement {
  return h('div', { class: 'error', role: 'alert' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err))
}
