/**
 * Limits of the directory manifest format (docs/formats.md). Each bounds what a manifest received
 * from a peer can make this node do before anything is written.
 */

/** The `type` field every directory manifest carries, so a stored blob can be recognised as one. */
export const DIR_MANIFEST_TYPE = 'trove/dir'
/** Format version; a manifest with any other version is refused rather than half-understood. */
export const DIR_MANIFEST_VERSION = 1
/**
 * Largest manifest accepted, in bytes. 100,000 entries with 40-character names take about 12 MiB;
 * this leaves room for long names and stays a size that can be parsed in memory at once. The space
 * layer must follow a manifest of this size for liveness (see LINKS_MAX_BYTES in space/constants.ts).
 */
export const MAX_DIR_MANIFEST_BYTES = 32 * 1024 * 1024
/** Most entries in one directory: bounds the memory of one parsed manifest (about 300 B per entry). */
export const MAX_DIR_ENTRIES = 250_000
/** Longest name in bytes of UTF-8: what common filesystems (ext4, xfs, apfs, ntfs) allow. */
export const MAX_NAME_BYTES = 255
/** Deepest nesting followed; a peer's manifest chain deeper than this is refused, not recursed. */
export const MAX_DIR_DEPTH = 128

// --- reading a tree (listing, get) ---

/**
 * Entries one listing page returns when no limit is given: a whole folder of a typical result
 * set in one answer (about 2 MB of JSON), while a 100,000-entry folder still comes in pages.
 */
export const DIR_LIST_DEFAULT_LIMIT = 10_000
/** Largest page a listing may ask for: the largest folder the format allows still needs few pages. */
export const DIR_LIST_MAX_LIMIT = 100_000
/**
 * Most entries one `get` walks, counting a subtree each time it appears. Manifests may name the
 * same subdirectory many times (legitimately: identical folders share one manifest), so a small
 * forged tree could otherwise expand into billions of files; this is ten times the largest folder
 * a lab is likely to keep and still a walk of seconds.
 */
export const MAX_GET_ENTRIES = 2_000_000
