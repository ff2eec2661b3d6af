import { MAX_REF_BYTES } from '../refs/constants.js'

/** Every route lives under this prefix; a later incompatible API gets /api/v2 beside it. */
export const API_PREFIX = '/api/v1'

/** Where the API listens when neither the config nor `--api` says otherwise. */
export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_API_PORT = 4738

/**
 * Largest JSON request body. A ref may serialize to MAX_REF_BYTES compactly; a script that
 * pretty-prints the same ref sends more bytes for the same content, so twice the ref limit keeps
 * every storable ref sendable while one request still cannot tie up memory without bound.
 */
export const MAX_JSON_BODY_BYTES = 2 * MAX_REF_BYTES

/**
 * Longest route parameter (fastify's default is 100). A ref key is at most 512 characters and
 * percent-encoding can triple that; 4 KiB leaves room without letting a URL grow unbounded.
 */
export const MAX_PARAM_LENGTH = 4096

/**
 * Most paths one `POST /blobs/import` may name. Each becomes a result in one answer and, with a
 * ref, a member of one ref version; a few thousand keeps both far below the JSON body limit.
 */
export const MAX_IMPORT_PATHS = 4096

/** Longest file name an upload (`POST /blobs?name=`, `trove add - --name`) may carry into its URI: a common filesystem limit. */
export const MAX_FILE_NAME_LENGTH = 255

/** The media type of a progress stream (`POST /blobs/import`): one JSON object a line. */
export const NDJSON = 'application/x-ndjson'

/** Largest `limit` of one page of `GET /refs`: pages stay a few MB unless the refs are huge. */
export const MAX_LIST_LIMIT = 10_000

/**
 * On shutdown, requests in flight (a download, an upload) get this long to finish before their
 * connections are cut, so a stuck client cannot hold the node open.
 */
export const CLOSE_GRACE_MS = 5_000

/** File in the data directory announcing a running node's API to CLI invocations. */
export const DISCOVERY_FILE = 'api.json'

/**
 * How long the CLI waits for a running node's `GET /status` before deciding it is not usable.
 * The node answers from memory and LevelDB counters, so this is generous on a loaded machine
 * and still short enough that a hung node does not stall every command for long.
 */
export const DISCOVERY_TIMEOUT_MS = 2_000

/** Header a writer may set to name itself in ref history (default: the node's user@host). */
export const AUTHOR_HEADER = 'x-trove-by'

/** Longest author name accepted from a request, so history entries stay small. */
export const MAX_AUTHOR_LENGTH = 256

/**
 * Header of a `GET /blobs/{sha1}` answer listing the space runs that evicted content while the
 * node fetched the blob (percent-encoded JSON, an array of Eviction): the body is the blob, so
 * what making room for it cost travels beside it.
 */
export const EVICTIONS_HEADER = 'x-trove-evictions'

/**
 * Longest EVICTIONS_HEADER value. Clients refuse answers whose headers pass 16 KiB (Node's
 * default); past this the per-blob lists are dropped and only the counts and reasons stay.
 */
export const MAX_EVICTIONS_HEADER_BYTES = 8 * 1024

/**
 * How long a dashboard login link (`trove ui`) stays usable. It is one-time and travels through a
 * terminal and a browser's address bar: a minute is enough to click it and short enough that a
 * link seen later (shell history, a screen share) is useless.
 */
export const UI_LOGIN_CODE_TTL_MS = 60_000

/** How long a dashboard session lasts after its login: a working day; then `trove ui` again. */
export const UI_SESSION_TTL_MS = 12 * 60 * 60 * 1000

/** The dashboard's session cookie (HttpOnly, SameSite=Strict, Path=/). */
export const UI_SESSION_COOKIE = 'trove_session'

/**
 * Header the dashboard sends with every request that changes state, holding the value it read
 * from `GET /api/v1/ui/session` with its cookie. A page of another origin can make the browser
 * send the cookie but can read neither that answer nor the cookie, so it cannot send this.
 */
export const UI_CSRF_HEADER = 'x-trove-csrf'
