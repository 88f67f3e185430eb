/**
 * Writing search-language terms (src/inventory/search/lexer.ts): `field:value`, the value
 * quoted with `\"` and `\\` escapes when it holds a space, a parenthesis or a quote.
 */

export function term(field: string, value: string | number): string {
  const v = String(value);
  if (/^[^\s()"\\]+$/.test(v)) return `${field}:${v}`;
  return `${field}:"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The query narrowed by one more term (AND); a query with OR is grouped first. */
export function addTerm(query: string, t: string): string {
  const q = query.trim();
  if (!q) return t;
  if (q.split(/\s+/).includes(t)) return q;
  return /\bOR\b/i.test(q) ? `(${q}) ${t}` : `${q} ${t}`;
}

/** Search-language fields the inventory offers facets on, with their labels. */
export const FACETS: Array<{ field: string; label: string }> = [
  { field: 'devicetype', label: 'Device type' },
  { field: 'severity', label: 'Severity' },
  { field: 'product', label: 'Product' },
  { field: 'protocol', label: 'Protocol' },
  { field: 'port', label: 'Port' },
  { field: 'finding', label: 'Finding' },
  { field: 'country', label: 'Country' },
  { field: 'org', label: 'Organisation' },
  { field: 'tag', label: 'Tag' },
];

export const EXAMPLES: Array<{ q: string; what: string }> = [
  { q: 'devicetype:pacs', what: 'picture archives' },
  { q: 'port:104,11112 severity>=high', what: 'DICOM ports with a high or critical finding' },
  { q: 'finding:dicom-records-reachable', what: 'archives answering record queries without credentials' },
  { q: 'product:orthanc -tag:known', what: 'Orthanc servers not tagged known' },
  { q: 'lastseen>7d OR state:unverified', what: 'seen in the last 7 days, or with an unverified finding' },
  { q: 'net:10.0.0.0/8 risk>=70', what: 'services with a risk of 70 or more in a range' },
];
