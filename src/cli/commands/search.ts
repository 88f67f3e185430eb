/**
 * `medsurface search QUERY`: the inventory's search language (src/inventory/search/), with
 * paging, sorting, host grouping and facets. A malformed query exits 2 with the query and a
 * caret under the bad token. Honeypot hosts are left out unless the query has a `honeypot:`
 * term or --include-honeypots is given; the footer says so.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { openInventory } from '../../inventory/index.js';
import {
  DEFAULT_SEARCH_LIMIT,
  FACET_FIELDS,
  FIELDS,
  FIELD_NAMES,
  type FacetResult,
  parseFacetSpec,
  SEARCH_LIMITS,
  SORT_KEYS,
} from '../../inventory/search/index.js';
import { identityText, makeTable } from '../../output/writer.js';
import { intOption } from '../options.js';

interface SearchOpts {
  db?: string;
  json?: boolean;
  limit: number;
  offset: number;
  sort?: string;
  facet: string[];
  assets?: boolean;
  includeHoneypots?: boolean;
}

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};

const HELP = `
Query language (AND is implied between terms):
  ${FIELD_NAMES.map((k) => `${k.padEnd(10)} ${FIELDS[k].help}`).join('\n  ')}
  "free text"  substring of vendor, product or host name (a bare word works too; * is a wildcard)
  OR, NOT or -, ( )   e.g.  (port:104 OR port:11112) -vendor:acme
  Times are UTC; a day is the whole day (lastseen>2026-11-01 means after that day); 7d, 12h, 2w are ages.
  Honeypots and decoys are left out unless the query has a honeypot: term or --include-honeypots is given.

Examples:
  medsurface search 'finding:dicom-any-ae severity>=high devicetype:pacs'
  medsurface search 'port:104,4242,11112 -product:* lastseen>7d' --sort -lastseen
  medsurface search 'protocol:dicom' --facet devicetype --facet product:20 --limit 0
  medsurface search '' --assets --sort -severity
  medsurface search 'country:NL risk>=70 tag:radiology' --sort -risk --facet org
`;

/** Footer words when the default honeypot exclusion applied (see the help text for how to lift it). */
const HONEYPOTS_LEFT_OUT = 'honeypots left out';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function facetTable(f: FacetResult): string {
  const t = makeTable([f.field, f.unit]);
  for (const b of f.buckets) t.push([String(b.value), String(b.count)]);
  const notes = [
    `${f.total} ${f.unit} matched${f.honeypotsExcluded ? ` (${HONEYPOTS_LEFT_OUT})` : ''}`,
    `${f.distinct} distinct value(s)${f.truncated ? ' (cut)' : ''}`,
  ];
  if (f.missing > 0) notes.push(`${f.missing} without a ${f.field}`);
  return `${t.toString()}\n${notes.join(', ')}`;
}

export function registerSearch(program: Command): void {
  program
    .command('search')
    .description('search the inventory with a Shodan-like query language; facets count values')
    .argument('[query...]', 'the query (quote it as one argument); empty matches every service')
    .option('--db <path|url>', 'inventory location (default $MEDSURFACE_DB or the XDG data dir)')
    .option('--json', 'JSON output')
    .option('--limit <n>', `rows (0 for facets only, at most ${SEARCH_LIMITS.rows})`, intOption('--limit'), DEFAULT_SEARCH_LIMIT)
    .option('--offset <n>', 'skip rows', intOption('--offset'), 0)
    .option('--sort <key>', `${SORT_KEYS.join(', ')}; a leading - sorts descending (default ip)`)
    .option('--facet <field[:count]>', `count matches per value (repeatable): ${FACET_FIELDS.join(', ')}`, collect, [])
    .option('--assets', 'one row per host that has a matching service')
    .option('--include-honeypots', 'keep hosts judged honeypots or decoys in the results and facets')
    // A negated term (-vendor:acme) looks like an option to the shell parser: let it through as query text.
    .allowUnknownOption()
    .addHelpText('after', HELP)
    .action(async (words: string[], o: SearchOpts) => {
      const flag = words.find((w) => /^--[A-Za-z]/.test(w));
      if (flag !== undefined) throw new UsageError(`unknown option ${flag} (run medsurface search --help)`);
      const query = words.join(' ');
      const facets = o.facet.map(parseFacetSpec);
      const db = await openInventory(o.db);
      try {
        const result = await db.search(query, {
          limit: o.limit,
          offset: o.offset,
          ...(o.sort !== undefined ? { sort: o.sort } : {}),
          assets: o.assets === true,
          includeHoneypots: o.includeHoneypots === true,
        });
        const facetResults: FacetResult[] = [];
        for (const f of facets) {
          facetResults.push(
            await db.facets(query, f.field, { limit: f.limit, assets: o.assets === true, includeHoneypots: o.includeHoneypots === true }),
          );
        }
        if (o.json) {
          out(JSON.stringify({ ...result, facets: facetResults }, null, 2));
          return;
        }
        if (o.limit > 0) {
          if (result.rows.length === 0) {
            out(result.offset > 0 && (result.total ?? 0) > 0 ? `No rows past offset ${result.offset}.` : 'No matches.');
          } else if (result.kind === 'services') {
            const t = makeTable(['address', 'port', 'protocol', 'identified as', 'device', 'max severity', 'risk', 'last seen']);
            for (const r of result.rows) {
              const own = identityText(r.vendor, r.product, r.version);
              t.push([
                r.hostname ? `${r.ip} (${r.hostname})` : r.ip,
                String(r.port),
                r.protocol ?? '-',
                own || identityText(r.asset.vendor, r.asset.product) || '-',
                r.asset.deviceType ?? r.deviceType ?? '-',
                r.maxSeverity ?? '-',
                String(r.risk),
                r.lastSeen,
              ]);
            }
            out(t.toString());
          } else {
            const t = makeTable(['address', 'vendor / product', 'device', 'matching ports', 'max severity', 'risk', 'last seen']);
            for (const r of result.rows) {
              t.push([
                r.hostname ? `${r.ip} (${r.hostname})` : r.ip,
                identityText(r.vendor, r.product) || '-',
                r.deviceType ?? '-',
                r.ports.join(', '),
                r.maxSeverity ?? '-',
                String(r.risk),
                r.lastSeen,
              ]);
            }
            out(t.toString());
          }
          const unit = result.kind === 'assets' ? 'host(s)' : 'service(s)';
          const first = result.rows.length === 0 ? 0 : result.offset + 1;
          const left = result.honeypotsExcluded ? `, ${HONEYPOTS_LEFT_OUT}` : '';
          out(`${first}-${result.offset + result.rows.length} of ${result.total ?? '?'} ${unit}, sorted by ${result.sort}${left}; inventory ${db.location}`);
        }
        for (const f of facetResults) out(facetTable(f));
      } finally {
        await db.close();
      }
    });
}
