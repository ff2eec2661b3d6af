import { ApiError, login } from './api.js'
import { h, show } from './dom.js'
import { errorBox } from './errors.js'
import { blobPage } from './pages/blob.js'
import { gcPage } from './pages/gc.js'
import { peersPage } from './pages/peers.js'
import { refPage, refsPage } from './pages/refs.js'
import { storagePage } from './pages/storage.js'

type Page = (main: HTMLElement, params: URLSearchParams) => Promise<(() => void) | void>

const PAGES: Record<string, { title: string, page: Page, nav?: boolean }> = {
  storage: { title: 'Storage', page: storagePage, nav: true },
  refs: { title: 'Refs', page: refsPage, nav: true },
  ref: { title: 'Ref', page: refPage },
  blob: { title: 'Blob', page: blobPage, nav: true },
  gc: { title: 'GC', page: gcPage, nav: true },
  peers: { title: 'Peers and transfers', page: peersPage, nav: true }
}

let stop: (() => void) | undefined

async function route (): Promise<void> {
  stop?.()
  stop = undefined
  const [name, query] = location.hash.replace(/^#\/?/, '').split('?')
  const entry = PAGES[name] ?? PAGES.storage
  const current = name in PAGES ? name : 'storage'
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.dataset.page === current || (current === 'ref' && a.dataset.page === 'refs'))
  const main = document.getElementById('main') as HTMLElement
  document.title = `${entry.title} · Trove`
  show(main, h('p', { class: 'muted' }, 'Loading…'))
  try {
    const s = await entry.page(main, new URLSearchParams(query ?? ''))
    if (typeof s === 'function') stop = s
  } catch (err) {
    show(main, errorBox(err))
  }
}

async function start (): Promise<void> {
  const app = document.getElementById('app') as HTMLElement
  const nav = h('nav', {}, h('span', { class: 'brand' }, 'Trove'),
    Object.entries(PAGES).filter(([, p]) => p.nav === true).map(([name, p]) => h('a', { href: `#/${name}`, 'data-page': name }, p.title)))
  show(app, nav, h('main', { id: 'main' }))
  try {
    await login()
  } catch (err) {
    const main = document.getElementById('main') as HTMLElement
    if (err instanceof ApiError && err.status === 401) {
      show(main, h('div', { class: 'error', role: 'alert' }, 'Not logged in. Run ', h('code', {}, 'trove ui'), ' on the node\'s machine and open the link it prints.'))
      return
    }
    show(main, errorBox(err))
    return
  }
  window.addEventListener('hashchange', () => { void route() })
  await route()
}

void start()
