/** `medsurface inventory list|show|findings|runs`: what the inventory holds, as a table or JSON. */
import type { Command } from 'commander';
import { identityText, makeTable } from '../../output/writer.js';
import { UsageError } from '../../core/errors.js';
import { SEVERITIES, type Severity } from '../../core/types.js';
import { type AssetFilter, openInventory } from '../../inventory/index.js';
import { intOption } from '../options.js';

interface FilterOpts {
  db?: string;
  json?: boolean;
  ip?: string;
  deviceType?: string;
  vendor?: string;
  product?: string;
  protocol?: string;
  port?: number;
  minSeverity?: string;
  withFindings?: boolean;
  limit: number;
  offset: number;
  state?: string;
  check?: string;
}

function filterOf(o: FilterOpts): AssetFilter {
  if (o.minSeverity && !SEVERITIES.includes(o.minSeverity as Severity)) {
    throw new UsageError(`--min-severity must be one of ${SEVERITIES.join(', ')}`);
  }
  return {
    ...(o.ip ? { ip: o.ip } : {}),
    ...(o.deviceType ? { deviceType: o.deviceType } : {}),
    ...(o.vendor ? { vendor: o.vendor } : {}),
    ...(o.product ? { product: o.product } : {}),
    ...(o.protocol ? { protocol: o.protocol } : {}),
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.minSeverity ? { minSeverity: o.minSeverity as Severity } : {}),
    ...(o.withFindings ? { hasFindings: true } : {}),
    limit: o.limit,
    offset: o.offset,
  };
}

function withFilters(cmd: Command): Command {
  return cmd
    .option('--db <path|url>', 'inventory location (default $MEDSURFACE_DB or the XDG data dir)')
    .option('--json', 'JSON output')
    .option('--ip <address|cidr>', 'an address or a CIDR block')
    .option('--device-type <type>', 'pacs, modality, workstation, viewer, dicom-toolkit, ...')
    .option('--vendor <name>')
    .option('--product <name>')
    .option('--protocol <probe-id>', 'dicom, ...')
    .option('--port <n>', 'service port', intOption('--port'))
    .option('--min-severity <level>', 'info, low, medium, high, critical')
    .option('--with-findings', 'only assets with open findings')
    .option('--limit <n>', 'rows', intOption('--limit'), 1000)
    .option('--offset <n>', 'skip rows', intOption('--offset'), 0);
}

const out = (s: string): void => {
  process.stdout.write(s.endsWith("\n") ? s : `${s}\n`);
};

export function registerInventory(program: Command): void {
  const inv = program.command('inventory').description('show what the asset inventory holds');

  withFilters(inv.command('list').description('list assets (one row per address)')).action(async (o: FilterOpts) => {
    const db = await openInventory(o.db);
    try {
      const rows = await db.listAssets(filterOf(o));
      if (o.json) return out(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return out(`No assets in ${db.location}${Object.keys(filterOf(o)).length > 2 ? ' matching these filters' : ''}.`);
      const t = makeTable(['address', 'vendor / product', 'device', 'services', 'open findings', 'max severity', 'last seen']);
      for (const r of rows) {
        t.push([
          r.hostname ? `${r.ip} (${r.hostname})` : r.ip,
          identityText(r.vendor, r.product) || '-',
          r.deviceType ?? '-',
          String(r.services),
          String(r.openFindings),
          r.maxSeverity ?? '-',
          r.lastSeen,
        ]);
      }
      out(t.toString());
      const s = await db.summary();
      out(`${rows.length} asset(s) shown; inventory ${db.location}: ${s.assets} assets, ${s.services} services, ${s.openFindings} open findings, ${s.runs} runs`);
    } finally {
      await db.close();
    }
  });

  inv
    .command('show')
    .description('one asset: its services, identity and findings')
    .argument('<address>')
    .option('--db <path|url>')
    .option('--json', 'JSON output')
    .action(async (ip: string, o: { db?: string; json?: boolean }) => {
      const db = await openInventory(o.db);
      try {
        const a = await db.getAsset(ip);
        if (!a) throw new UsageError(`no asset ${ip} in ${db.location}`);
        if (o.json) return out(JSON.stringify(a, null, 2));
        out(`${a.asset.ip}${a.asset.hostname ? ` (${a.asset.hostname})` : ''}: ${identityText(a.asset.vendor, a.asset.product) || 'unidentified'} [${a.asset.deviceType ?? 'unknown'}]`);
        out(`first seen ${a.asset.firstSeen}, last seen ${a.asset.lastSeen}`);
        for (const e of a.asset.evidence) out(`  evidence: ${e}`);
        const st = makeTable(['port', 'protocol', 'status', 'identified as', 'cpe', 'last seen']);
        for (const s of a.services) {
          st.push([String(s.port), s.protocol ?? '-', s.status, identityText(s.vendor, s.product, s.version) || '-', s.cpe ?? '-', s.lastSeen]);
        }
        out(st.toString());
        if (a.findings.length) {
          const ft = makeTable(['port', 'finding', 'severity', 'state', 'confidence', 'first seen', 'title']);
          for (const f of a.findings) {
            ft.push([String(f.port), f.checkId, f.severity, f.userState ? `${f.state} (${f.userState})` : f.state, f.confidence, f.firstSeen, f.title]);
          }
          out(ft.toString());
        } else out('no findings');
      } finally {
        await db.close();
      }
    });

  withFilters(inv.command('findings').description('list findings'))
    .option('--state <state>', 'open, resolved, unverified')
    .option('--check <id>', 'finding id, e.g. dicom-any-ae')
    .action(async (o: FilterOpts) => {
      const db = await openInventory(o.db);
      try {
        const rows = await db.listFindings({ ...filterOf(o), ...(o.state ? { state: o.state } : {}), ...(o.check ? { checkId: o.check } : {}) });
        if (o.json) return out(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return out('No findings.');
        const t = makeTable(['address', 'port', 'finding', 'severity', 'state', 'confidence', 'last seen']);
        for (const f of rows) t.push([f.ip, String(f.port), f.checkId, f.severity, f.userState ? `${f.state} (${f.userState})` : f.state, f.confidence, f.lastSeen]);
        out(t.toString());
      } finally {
        await db.close();
      }
    });

  inv
    .command('runs')
    .description('list scan runs')
    .option('--db <path|url>')
    .option('--json', 'JSON output')
    .option('--limit <n>', 'rows', intOption('--limit'), 50)
    .action(async (o: { db?: string; json?: boolean; limit: number }) => {
      const db = await openInventory(o.db);
      try {
        const runs = await db.listRuns(o.limit);
        if (o.json) return out(JSON.stringify(runs, null, 2));
        if (runs.length === 0) return out('No scan runs.');
        const t = makeTable(['run', 'state', 'profile', 'started', 'finished', 'hosts done', 'targets']);
        for (const r of runs) t.push([r.id, r.state, r.profile, r.startedAt, r.finishedAt ?? '-', `${r.doneTargets}/${r.totalTargets}`, r.targets.join(' ').slice(0, 60)]);
        out(t.toString());
      } finally {
        await db.close();
      }
    });
}
