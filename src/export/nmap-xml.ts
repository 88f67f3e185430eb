/**
 * nmap-XML-like export, for tools that read nmap's XML output (host/port inventories, report
 * generators): `<nmaprun>` with one `<host>` per address (its services in port order) and one
 * `<port>` per selected service, `<service name product version devicetype tunnel>` with its
 * `<cpe>`, and the service's open findings as a `<script id="medsurface-findings">` whose
 * `output` lists them and whose `<table>`s carry them field by field, as NSE scripts do.
 *
 * It follows the element and attribute names of nmap's XML (nmap.dtd, xmloutputversion 1.05)
 * but is not nmap output: the ports are services medsurface observed, not a port scan, and a
 * `<medsurface>` element (which nmap's DTD does not know) carries the TLP marking, as does an
 * XML comment before the root. Every value is escaped; characters XML 1.0 cannot carry
 * (control characters, lone surrogates) are dropped.
 */
import type { ExportSink } from './sink.js';
import type { ExportItem, ExportMeta, FormatWriter } from './types.js';

/** Characters XML 1.0 allows (production [2] Char), negated. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text for an attribute value (double-quoted) or element content. Line breaks become character references so attributes keep them. */
export function xmlEscape(s: string): string {
  return s
    .replace(NOT_XML_CHAR, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

function attrs(list: Record<string, string | number | null | undefined>): string {
  return Object.entries(list)
    .filter((e): e is [string, string | number] => e[1] !== null && e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

/** A comment's text: no `--` inside (XML 1.0 production [15]) and no control characters. */
function commentText(s: string): string {
  return s.replace(NOT_XML_CHAR, '').replace(/-{2,}/g, (m) => m.split('').join(' ')).replace(/-$/, '- ');
}

function unixSeconds(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

function portXml(item: ExportItem): string {
  const s = item.service;
  const service = attrs({
    name: s.protocol ?? 'unknown',
    product: s.product,
    version: s.version,
    extrainfo: s.vendor !== null && s.product === null ? s.vendor : null,
    devicetype: s.deviceType,
    tunnel: s.tls ? 'ssl' : null,
    method: s.protocol === null ? 'table' : 'probed',
    conf: s.protocol === null ? 3 : 10,
  });
  const cpe = s.cpe !== null && s.cpe !== '' ? `<cpe>${xmlEscape(s.cpe)}</cpe>` : '';
  let script = '';
  if (item.findings.length > 0) {
    const output = item.findings.map((f) => `${f.severity.toUpperCase()} ${f.findingId}: ${f.title}${f.userState ? ` [${f.userState}]` : ''}`).join('\n');
    const tables = item.findings
      .map((f) => {
        const elems: [string, string][] = [
          ['severity', f.severity],
          ['title', f.title],
          ['confidence', f.confidence],
          ['state', f.state],
          ['userState', f.userState ?? ''],
          ['firstSeen', f.firstSeen],
          ['lastSeen', f.lastSeen],
        ];
        const body = elems
          .filter(([, v]) => v !== '')
          .map(([k, v]) => `<elem key="${xmlEscape(k)}">${xmlEscape(v)}</elem>`)
          .join('');
        return `<table key="${xmlEscape(f.findingId)}">${body}</table>`;
      })
      .join('');
    script = `<script id="medsurface-findings" output="${xmlEscape(output)}">${tables}</script>`;
  }
  return (
    `<port protocol="tcp" portid="${s.port}"><state state="open" reason="medsurface" reason_ttl="0"/>` +
    `<service${service}>${cpe}</service>${script}</port>\n`
  );
}

export function nmapXmlWriter(sink: ExportSink): FormatWriter {
  let meta: ExportMeta | null = null;
  let openIp: string | null = null;
  let hosts = 0;
  const closeHost = async (): Promise<void> => {
    if (openIp === null) return;
    await sink.write('</ports></host>\n');
    openIp = null;
  };
  const w = {
    count: 0,
    async begin(m: ExportMeta) {
      meta = m;
      const start = unixSeconds(m.generatedAt);
      await sink.write(
        `<?xml version="1.0" encoding="UTF-8"?>\n<!-- ${commentText(`${m.tlp.label}: ${m.tlp.description}`)} -->\n` +
          `<nmaprun${attrs({
            scanner: 'medsurface',
            args: `medsurface export --format nmap-xml${m.query === '' ? '' : ` --query ${JSON.stringify(m.query)}`}`,
            start,
            startstr: m.generatedAt,
            version: m.toolVersion,
            xmloutputversion: '1.05',
          })}>\n` +
          `<medsurface${attrs({
            tlp: m.tlp.label,
            tlpDescription: m.tlp.description,
            generatedAt: m.generatedAt,
            query: m.query,
            honeypotsExcluded: String(m.honeypotsExcluded),
          })}/>\n`,
      );
    },
    async item(item: ExportItem) {
      const s = item.service;
      if (s.ip !== openIp) {
        await closeHost();
        openIp = s.ip;
        hosts++;
        const hostnames = s.hostname ? `<hostnames><hostname name="${xmlEscape(s.hostname)}" type="user"/></hostnames>` : '<hostnames/>';
        await sink.write(
          `<host><status state="up" reason="medsurface" reason_ttl="0"/>` +
            `<address addr="${xmlEscape(s.ip)}" addrtype="${s.ip.includes(':') ? 'ipv6' : 'ipv4'}"/>${hostnames}<ports>\n`,
        );
      }
      await sink.write(portXml(item));
      w.count++;
    },
    async end() {
      if (meta === null) throw new Error('nmapXmlWriter.end before begin');
      await closeHost();
      const summary = `medsurface export: ${hosts} host(s), ${w.count} service(s), marked ${meta.tlp.label}`;
      await sink.write(
        `<runstats><finished${attrs({ time: unixSeconds(meta.generatedAt), timestr: meta.generatedAt, summary, exit: 'success' })}/>` +
          `<hosts up="${hosts}" down="0" total="${hosts}"/></runstats>\n</nmaprun>\n`,
      );
    },
  };
  return w;
}
