import fs from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Debian's chromium (installed by .ci/run); TROVE_CHROMIUM names another. */
export const CHROMIUM = process.env.TROVE_CHROMIUM ?? '/usr/bin/chromium'
/** Launching a headless browser on a loaded 2-core machine: generous, but never a hang. */
const LAUNCH_TIMEOUT_MS = 60_000

/**
 * A headless chromium driven by playwright-core. Fails at once with one line when the browser is
 * not installed, rather than waiting for a launch that cannot happen.
 */
export async function launchBrowser (): Promise<Browser> {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK)
  } catch {
    throw new Error(`chromium is not installed at ${CHROMIUM}: install Debian's chromium package (.ci/run does) or set TROVE_CHROMIUM`)
  }
  // as root (containers, CI) chromium refuses to start its sandbox
  return chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: LAUNCH_TIMEOUT_MS, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
}
