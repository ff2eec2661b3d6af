import type { BlobInfoReport, WhyReport } from '../../ops.js'
import { get } from '../api.js'
import { bytes, h, show, when } from '../dom.js'
import { errorBox } from '../errors.js'
import { refHref } from './refs.js'

type Why = WhyReport

/** Look up a URI: size, whether it is here, what keeps it (the why), who else has it, a download link. */
export async function blobPage (main: HTMLElement, params: URLSearchParams): Promise<void> {
  const uri = params.get('uri') ?? ''
  const form = h('form', { class: 'search', id: 'blob-form' },
    h('label', {}, 'URI or sha1 ', h('input', { name: 'uri', value: uri, size: 60, placeholder: 'sha1://…' })),
    h('button', { type: 'submit' }, 'Look up'))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    location.hash = `#/blob?${new URLSearchParams({ uri: String(new FormData(form as HTMLFormElement).get('uri') ?? '').trim() }).toString()}`
  })
  const out = h('div', { id: 'blob' })
  show(main, h('h1', {}, 'Blob'), form, out)
  if (uri === '') return
  const sha1 = uri.replace(/^sha1:\/\//, '').split(/[/?]/)[0]
  try {
    const [why, info] = await Promise.all([get<Why>(`/why/${sha1}`), get<BlobInfoReport>(`/blobs/${sha1}/info`)])
    const sp = why.space
    show(out,
      h('table', { id: 'blob-facts' }, h('tbody', {},
        fact('URI', why.uri), fact('size', bytes(why.size ?? info.size)), fact('stored here', why.local ? 'yes' : 'no'),
        fact('kept', why.kept ? (why.pinned ? 'yes, pinned' : `yes, by refs (priority ${why.priority ?? 0})`) : 'no: evictable cache'),
        sp !== undefined ? fact('space class', sp.class) : null,
        sp !== undefined ? fact('evictable now', sp.evictable ? 'yes' : 'no') : null,
        sp?.lastUsed !== undefined ? fact('last used', when(sp.lastUsed)) : null,
        sp?.graceUntil !== undefined ? fact('grace period until', when(sp.graceUntil)) : null,
        sp?.leased === true ? fact('in use', 'being written, fetched or served') : null,
        fact('peers that have it', info.providers.length === 0 ? 'none known' : info.providers.join(', ')))),
      why.local ? h('p', {}, h('a', { href: `/api/v1/blobs/${sha1}`, download: sha1, id: 'download' }, 'Download')) : null,
      h('h2', {}, 'Why it is kept'),
      why.reasons.length === 0
        ? h('p', { class: 'muted' }, 'No pin or ref holds it.')
        : h('ul', { id: 'reasons' }, why.reasons.map((r) => h('li', {}, reason(r)))))
  } catch (err) {
    show(out, errorBox(err))
  }
}

function fact (name: string, value: string): HTMLElement {
  return h('tr', {}, h('th', {}, name), h('td', {}, value))
}

function reason (r: Why['reasons'][number]): Array<HTMLElement | string> {
  if (r.kind === 'pin') return [`pinned${r.since !== undefined ? ` since ${when(r.since)}` : ''}`]
  const ref = r.key !== undefined ? h('a', { href: refHref(r.key) }, r.key) : 'a pin'
  const how = r.pin === true ? ' (pinned ref)' : r.priority !== undefined ? ` (priority ${r.priority})` : ''
  if (r.kind === 'ref') return ['ref ', ref, how]
  return ['through ', String(r.via?.length ?? 0), ' JSON blob(s) held by ', ref, how]
}
