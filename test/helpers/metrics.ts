import parsePrometheusTextFormat from 'parse-prometheus-text-format'

export type Scrape = ReturnType<typeof parsePrometheusTextFormat>

/** GET /metrics of a node's API, parsed by a Prometheus text parser (not our own code). */
export async function scrape (apiUrl: string): Promise<Scrape> {
  const res = await fetch(`${apiUrl}/metrics`)
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`)
  return parsePrometheusTextFormat(await res.text())
}

/**
 * The value of a counter or gauge sample whose labels include `labels` (the sum over the samples
 * that match, 0 when none do); for a histogram, its count.
 */
export function sample (families: Scrape, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name)
  if (family === undefined) throw new Error(`no metric ${name} in the scrape`)
  let total = 0
  for (const m of family.metrics) {
    if (!Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)) continue
    total += Number(family.type === 'HISTOGRAM' ? m.count : m.value)
  }
  return total
}
