/**
 * Errors of the rig. `name` and `code` are stable (tests match on them); the message says what to
 * change, naming the compose service and field, or the peer, step and the peer's log tail.
 */

/** A compose file the local rig cannot run as local processes. */
export class RigConfigError extends Error {
  readonly code = 'RIG_UNMAPPABLE'
  /** The compose service at fault, when one is. */
  readonly service?: string
  /** The field of that service (or the top-level key), like `command` or `depends_on.peer1`. */
  readonly field?: string

  constructor (message: string, where: { service?: string, field?: string } = {}) {
    const place = [where.service !== undefined ? `service "${where.service}"` : undefined, where.field !== undefined ? `field "${where.field}"` : undefined]
      .filter((s) => s !== undefined).join(', ')
    super(place === '' ? message : `${place}: ${message}`)
    this.name = 'RigConfigError'
    this.service = where.service
    this.field = where.field
  }
}

/** A scenario step that failed: which peer, which step, and the end of that peer's log. */
export class ScenarioError extends Error {
  readonly code = 'RIG_SCENARIO_FAILED'
  readonly scenario: string
  readonly peer: string
  readonly step: string
  readonly logTail: string

  constructor (init: { scenario: string, peer: string, step: string, reason: string, logTail: string }, options?: { cause?: unknown }) {
    super(`scenario "${init.scenario}", peer "${init.peer}", step "${init.step}": ${init.reason}`, options)
    this.name = 'ScenarioError'
    this.scenario = init.scenario
    this.peer = init.peer
    this.step = init.step
    this.logTail = init.logTail
  }
}

/** The netns variant cannot run here (not root, or `ip netns add` refused). */
export class NetnsUnavailableError extends Error {
  readonly code = 'RIG_NETNS_UNAVAILABLE'

  constructor (message: string) {
    super(message)
    this.name = 'NetnsUnavailableError'
  }
}
