/**
 * `medsurface inventory list|show|findings|runs`: what the inventory holds, as a table or JSON;
 * `inventory tag|import` for the metadata the user owns (tags, owner, criticality, notes, the
 * known-asset list) and `inventory prune|forget` to keep it small and to honour data-protection
 * requests (src/inventory/metadata.ts, asset-import.ts, retention.ts).
 *
 * The subcommands that need more than the Inventory interface open the Kysely store. Each
 * writes through a CommandIo so tests run them in-process (inventory.test.ts).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { identityText, makeTable } from '../../output/writer.js';
import { messageOf, UsageError } from '../../core/errors.js';
import { SEVERITIES, type Severity } from '../../core/types.js';
import { importAssets, parseAssetList, readAssetListFile } from '../../inventory/asset-import.js';
import { type AssetFilter, defaultInventoryPath, type KyselyInventory, openInventory, openKyselyInventory } from '../../inventory/index.js';
import {
  assetHistory,
  assetMetadata,
  type Criticality,
  HISTORY_LIMIT,
  type HistoryEntry,
  listedAssetCount,
  NoMatchingAssetError,
  parseCriticality,
  tagAssets,
  unlistedExposedAssets,
} from '../../inventory/metadata.js';
import {
  addressRangeMatcher,
  FORGET_TABLES,
  type ForgetCounts,
  type ForgetTarget,
  forgetAssets,
  parseKeepDuration,
  pruneInventory,
  rewriteSendLog,
  sendLogFiles,
} from '../../inventory/retention.js';
import { intOption } from '../options.js';

/** Where a command writes, and how it reports a non-zero exit status without throwing. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  setExitCode(code: number): void;
}

const processIo: CommandIo = {
  out: process.stdout,
  err: process.stderr,
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

const line = (w: NodeJS.WritableStream, s: string): void => {
  w.write(s.endsWith('\n') ? s : `${s}\n`);
};

/** Rejected import rows printed at most (the count says how many there were). */
const REJECTED_SHOWN = 50;
/** Send-log files named at most in forget's note. */
const SEND_LOGS_SHOWN = 10;

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
  unlisted?: boolean;
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

// ---------------------------------------------------------------- list --unlisted

/** `inventory list --unlisted`: exposed devices nobody listed (services, listed = 0). */
export async function executeListUnlisted(o: FilterOpts, io: CommandIo = processIo): Promise<void> {
  const others = ['deviceType', 'vendor', 'product', 'protocol', 'port', 'minSeverity', 'withFindings'] as const;
  if (others.some((k) => o[k] !== undefined && o[k] !== false)) {
    throw new UsageError('--unlisted combines only with --ip, --limit and --offset');
  }
  const inv = await openKyselyInventory(o.db);
  try {
    const rows = await unlistedExposedAssets(inv.db, { ...(o.ip ? { ip: o.ip } : {}), limit: o.limit, offset: o.offset });
    const listed = await listedAssetCount(inv.db);
    if (o.json) return line(io.out, JSON.stringify(rows, null, 2));
    const hint = listed === 0 ? ' (no known-asset list imported yet: medsurface inventory import assets.csv)' : '';
    if (rows.length === 0) return line(io.out, `No exposed asset outside the known-asset list in ${inv.location}${hint}.`);
    const t = makeTable(['address', 'vendor / product', 'device', 'organisation', 'services', 'first seen', 'last seen'], io.out);
    for (const r of rows) {
      t.push([
        r.hostname ? `${r.ip} (${r.hostname})` : r.ip,
        identityText(r.vendor, r.product) || '-',
        r.deviceType ?? '-',
        r.org ?? '-',
        String(r.services),
        r.firstSeen,
        r.lastSeen,
      ]);
    }
    line(io.out, t.toString());
    line(io.out, `${rows.length} exposed asset(s) shown that are not on the known-asset list (${listed} listed)${hint}`);
  } finally {
    await inv.close();
  }
}

// ---------------------------------------------------------------- show

function historyText(h: HistoryEntry): string {
  if (h.kind === 'service') return `${h.field}: ${h.oldValue ?? '-'} → ${h.newValue ?? '-'}`;
  const d = h.detail as Record<string, unknown> | null;
  const extra = d && typeof d === 'object' ? Object.entries(d).map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ') : '';
  return `finding ${h.checkId} ${h.event}${extra ? ` (${extra})` : ''}`;
}

/** `inventory show ADDRESS`: identity, metadata, services, findings, history. */
export async function executeShow(ip: string, o: { db?: string; json?: boolean; history?: number }, io: CommandIo = processIo): Promise<void> {
  const inv = await openKyselyInventory(o.db);
  try {
    const a = await inv.getAsset(ip);
    if (!a) throw new UsageError(`no asset ${ip} in ${inv.location}`);
    const metadata = await assetMetadata(inv.db, a.asset.id);
    const history = await assetHistory(inv.db, a.asset.id, o.history);
    if (o.json) return line(io.out, JSON.stringify({ ...a, metadata, history }, null, 2));
    const out = (s: string) => line(io.out, s);
    out(`${a.asset.ip}${a.asset.hostname ? ` (${a.asset.hostname})` : ''}: ${identityText(a.asset.vendor, a.asset.product) || 'unidentified'} [${a.asset.deviceType ?? 'unknown'}]`);
    out(`first seen ${a.asset.firstSeen}, last seen ${a.asset.lastSeen}`);
    for (const e of a.asset.evidence) out(`  evidence: ${e}`);
    if (metadata) {
      out(`owner: ${metadata.owner ?? '-'}, criticality: ${metadata.criticality ?? '-'}, listed: ${metadata.listed ? 'yes' : 'no'}`);
      out(`tags: ${metadata.tags.length ? metadata.tags.join(', ') : '-'}`);
      if (metadata.notes) out(`notes: ${metadata.notes.replace(/\n/g, '\n       ')}`);
    }
    const st = makeTable(['port', 'protocol', 'status', 'identified as', 'cpe', 'last seen'], io.out);
    for (const s of a.services) {
      st.push([String(s.port), s.protocol ?? '-', s.status, identityText(s.vendor, s.product, s.version) || '-', s.cpe ?? '-', s.lastSeen]);
    }
    out(st.toString());
    if (a.findings.length) {
      const ft = makeTable(['port', 'finding', 'severity', 'state', 'confidence', 'first seen', 'title'], io.out);
      for (const f of a.findings) {
        ft.push([String(f.port), f.checkId, f.severity, f.userState ? `${f.state} (${f.userState})` : f.state, f.confidence, f.firstSeen, f.title]);
      }
      out(ft.toString());
    } else out('no findings');
    if (history.length) {
      out(`history, newest first (at most ${o.history ?? HISTORY_LIMIT} entries):`);
      const ht = makeTable(['when', 'port', 'change', 'run'], io.out);
      for (const h of history) ht.push([h.at, String(h.port), historyText(h), h.runId ?? '-']);
      out(ht.toString());
    } else out('no history');
  } finally {
    await inv.close();
  }
}

// ---------------------------------------------------------------- tag

export interface TagOptions {
  db?: string;
  json?: boolean;
  remove?: boolean;
  owner?: string;
  criticality?: string;
  notes?: string;
}

/** `inventory tag TARGET TAG...`: tags and metadata on every asset in TARGET. */
export async function executeTag(target: string, tags: string[], o: TagOptions, io: CommandIo = processIo): Promise<void> {
  if (o.remove && tags.length === 0) throw new UsageError('--remove needs at least one tag to remove');
  let criticality: Criticality | null | undefined;
  if (o.criticality !== undefined) criticality = ['', 'none'].includes(o.criticality.trim().toLowerCase()) ? null : parseCriticality(o.criticality);
  const inv = await openKyselyInventory(o.db);
  try {
    const r = await tagAssets(inv.db, target, {
      ...(o.remove ? { remove: tags } : { add: tags }),
      ...(o.owner !== undefined ? { owner: o.owner.trim() === '' ? null : o.owner } : {}),
      ...(criticality !== undefined ? { criticality } : {}),
      ...(o.notes !== undefined ? { notes: o.notes.trim() === '' ? null : o.notes } : {}),
    });
    if (o.json) return line(io.out, JSON.stringify(r));
    line(io.out, `${r.changed} asset(s) changed, ${r.matched} matched ${target}`);
  } finally {
    await inv.close();
  }
}

// ---------------------------------------------------------------- import

export interface ImportOptions {
  db?: string;
  json?: boolean;
  dryRun?: boolean;
  skipBadRows?: boolean;
}

/** `inventory import assets.csv`: merges a known-asset list, all or nothing. */
export async function executeImport(file: string, o: ImportOptions, io: CommandIo = processIo): Promise<void> {
  const list = parseAssetList(readAssetListFile(file), { skipBadRows: o.skipBadRows === true });
  const inv = await openKyselyInventory(o.db);
  try {
    const r = await importAssets(inv.db, list.rows, { dryRun: o.dryRun === true });
    const rejected = list.rejected.map((e) => ({ line: e.line, reason: e.reason }));
    if (o.json) return line(io.out, JSON.stringify({ ...r, rejected: rejected.length, rejectedRows: rejected, dryRun: o.dryRun === true }));
    for (const e of rejected.slice(0, REJECTED_SHOWN)) line(io.err, `medsurface: skipped line ${e.line}: ${e.reason}`);
    if (rejected.length > REJECTED_SHOWN) line(io.err, `medsurface: ... and ${rejected.length - REJECTED_SHOWN} more skipped line(s)`);
    line(
      io.out,
      `${o.dryRun ? 'dry run, nothing changed: would have ' : ''}updated ${r.updated}, added ${r.added}, unchanged ${r.unchanged}, rejected ${rejected.length} (${file} into ${inv.location})`,
    );
  } finally {
    await inv.close();
  }
}

// ---------------------------------------------------------------- prune

/** `inventory prune --keep 90d`: old observations and unreferenced old runs. */
export async function executePrune(o: { db?: string; json?: boolean; keep: string; dryRun?: boolean }, io: CommandIo = processIo): Promise<void> {
  const keepMs = parseKeepDuration(o.keep);
  const inv = await openKyselyInventory(o.db);
  try {
    const r = await pruneInventory(inv.db, { keepMs, dryRun: o.dryRun === true });
    if (o.json) return line(io.out, JSON.stringify({ ...r, dryRun: o.dryRun === true }));
    if (o.dryRun) line(io.out, 'dry run: nothing was deleted');
    const verb = o.dryRun ? 'would delete' : 'deleted';
    line(io.out, `${verb} ${r.observations} observation(s) older than ${r.cutoff} (the latest observation of every service is kept)`);
    line(io.out, `${verb} ${r.runs} scan run(s) older than that which nothing refers to any more`);
    line(io.out, 'findings, finding events and service history are kept whole');
  } finally {
    await inv.close();
  }
}

// ---------------------------------------------------------------- forget

export interface ForgetOptions {
  db?: string;
  json?: boolean;
  org?: string;
  yes?: boolean;
  sendLogs?: boolean;
}

/** Beside a SQLite inventory; in the default data directory for PostgreSQL (as `medsurface scan` writes them). */
function runsDirOf(inv: KyselyInventory): string {
  return path.join(inv.kind === 'sqlite' ? path.dirname(inv.location) : path.dirname(defaultInventoryPath()), 'runs');
}

function countsText(c: ForgetCounts): string {
  return FORGET_TABLES.map((t) => `  ${t.padEnd(15)} ${c[t]}`).join('\n');
}

/**
 * `inventory forget TARGET|--org NAME`: without --yes prints what would go and sets exit status
 * 1; with --yes deletes it. --send-logs (with --yes) also rewrites the send logs without the
 * addresses; for an address or CIDR that works again after the assets are gone.
 */
export async function executeForget(target: string | undefined, o: ForgetOptions, io: CommandIo = processIo): Promise<void> {
  if ((target === undefined) === (o.org === undefined)) throw new UsageError('forget needs an address or CIDR, or --org NAME (one of them)');
  const what: ForgetTarget = o.org !== undefined ? { kind: 'org', name: o.org } : { kind: 'range', spec: target! };
  const label = o.org !== undefined ? `--org ${JSON.stringify(o.org)}` : target!;
  const inv = await openKyselyInventory(o.db);
  try {
    const runsDir = runsDirOf(inv);
    const logs = await sendLogFiles(inv.db, runsDir);
    let result: Awaited<ReturnType<typeof forgetAssets>> | null = null;
    try {
      result = await forgetAssets(inv.db, what, { dryRun: !o.yes });
    } catch (err) {
      // The assets may be gone already (an earlier forget without --send-logs): the logs still can be cleaned.
      if (!(err instanceof NoMatchingAssetError && what.kind === 'range' && o.yes && o.sendLogs)) throw err;
    }
    const rewritten: { file: string; removed: number; error?: string }[] = [];
    if (o.yes && o.sendLogs) {
      const matches = result?.matches ?? (what.kind === 'range' ? addressRangeMatcher(what.spec) : () => false);
      for (const file of logs) {
        try {
          rewritten.push({ file, removed: (await rewriteSendLog(file, matches)).removed });
        } catch (err) {
          rewritten.push({ file, removed: 0, error: messageOf(err) });
        }
      }
    }
    const failed = rewritten.filter((r) => r.error !== undefined);
    if (!o.yes || failed.length > 0) io.setExitCode(1);
    if (o.json) {
      return line(
        io.out,
        JSON.stringify({
          deleted: o.yes === true && result !== null,
          counts: result?.counts ?? null,
          addresses: result?.sample ?? [],
          sendLogs: { dir: runsDir, files: logs, rewritten: o.sendLogs && o.yes ? rewritten : null },
        }),
      );
    }
    const out = (s: string) => line(io.out, s);
    if (result) {
      const more = result.counts.assets > result.sample.length ? ` and ${result.counts.assets - result.sample.length} more` : '';
      out(`${o.yes ? 'deleted' : 'would delete'} everything the inventory holds about ${label}: ${result.sample.join(', ')}${more}`);
      out(countsText(result.counts));
      out('scan run records keep their target lists (the addresses and CIDRs each scan was given)');
    } else out(`no asset matches ${label} any more`);
    if (o.yes && o.sendLogs) {
      const removed = rewritten.reduce((n, r) => n + r.removed, 0);
      out(`send logs: removed ${removed} line(s) from ${rewritten.filter((r) => r.removed > 0).length} of ${logs.length} file(s) in ${runsDir} and paths runs recorded`);
      for (const f of failed) line(io.err, `medsurface: ${f.error}`);
    } else if (logs.length > 0) {
      out(`send logs still name these addresses (what was sent to them and when): ${logs.length} file(s), in ${runsDir} and paths runs recorded:`);
      for (const f of logs.slice(0, SEND_LOGS_SHOWN)) out(`  ${f}`);
      if (logs.length > SEND_LOGS_SHOWN) out(`  ... and ${logs.length - SEND_LOGS_SHOWN} more`);
      out('add --send-logs (with --yes) to rewrite them without the forgotten addresses');
    } else out(`no send logs found in ${runsDir}`);
    if (!o.yes) out('nothing was deleted: run again with --yes to delete');
  } finally {
    await inv.close();
  }
}

// ---------------------------------------------------------------- registration

export function registerInventory(program: Command, io: CommandIo = processIo): void {
  const inv = program.command('inventory').description('show and manage what the asset inventory holds');
  const out = (s: string) => line(io.out, s);

  withFilters(inv.command('list').description('list assets (one row per address)'))
    .option('--unlisted', 'only exposed assets (with services) that are not on the known-asset list (inventory import)')
    .action(async (o: FilterOpts) => {
      if (o.unlisted) return executeListUnlisted(o, io);
      const db = await openInventory(o.db);
      try {
        const rows = await db.listAssets(filterOf(o));
        if (o.json) return out(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return out(`No assets in ${db.location}${Object.keys(filterOf(o)).length > 2 ? ' matching these filters' : ''}.`);
        const t = makeTable(['address', 'vendor / product', 'device', 'services', 'open findings', 'max severity', 'last seen'], io.out);
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
        out(`${rows.length} asset(s) shown; inventory ${db.location}: ${s.assets} assets, ${s.services} services, ${s.openFindings} open findings, ${s.runs} runs${s.honeypots > 0 && !s.honeypotsIncluded ? ` (${s.honeypots} likely honeypot host(s) left out)` : ''}`);
      } finally {
        await db.close();
      }
    });

  inv
    .command('show')
    .description('one asset: its services, identity, findings, metadata and history')
    .argument('<address>')
    .option('--db <path|url>')
    .option('--json', 'JSON output')
    .option('--history <n>', 'history entries shown (newest first)', intOption('--history'), HISTORY_LIMIT)
    .action((ip: string, o: { db?: string; json?: boolean; history?: number }) => executeShow(ip, o, io));

  withFilters(inv.command('findings').description('list findings'))
    .option('--state <state>', 'open, resolved, unverified')
    .option('--check <id>', 'finding id, e.g. dicom-any-ae')
    .action(async (o: FilterOpts) => {
      const db = await openInventory(o.db);
      try {
        const rows = await db.listFindings({ ...filterOf(o), ...(o.state ? { state: o.state } : {}), ...(o.check ? { checkId: o.check } : {}) });
        if (o.json) return out(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return out('No findings.');
        const t = makeTable(['address', 'port', 'finding', 'severity', 'state', 'confidence', 'last seen'], io.out);
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
        const t = makeTable(['run', 'state', 'profile', 'started', 'finished', 'hosts done', 'targets'], io.out);
        for (const r of runs) t.push([r.id, r.state, r.profile, r.startedAt, r.finishedAt ?? '-', `${r.doneTargets}/${r.totalTargets}`, r.targets.join(' ').slice(0, 60)]);
        out(t.toString());
      } finally {
        await db.close();
      }
    });

  inv
    .command('tag')
    .description('add (or with --remove, remove) tags and set owner, criticality, notes on the assets of an address or CIDR')
    .argument('<target>', 'an address or a CIDR (existing assets only)')
    .argument('[tags...]', 'tags: lower case letters, digits, . _ - (at most 64 characters)')
    .option('--remove', 'remove the tags instead of adding them')
    .option('--owner <name>', "who is responsible ('' clears)")
    .option('--criticality <level>', 'low, medium, high, critical (none clears)')
    .option('--notes <text>', "free text ('' clears)")
    .option('--db <path|url>')
    .option('--json', 'JSON output')
    .action((target: string, tags: string[], o: TagOptions) => executeTag(target, tags, o, io));

  inv
    .command('import')
    .description('merge a known-asset list (CSV: ip,hostname,owner,criticality,tags,notes) into the inventory, all or nothing')
    .argument('<file>', 'CSV with a header; tags separated by ; or |')
    .option('--dry-run', 'report what would change, change nothing')
    .option('--skip-bad-rows', 'import the good rows and report the bad ones (default: a bad row aborts the import)')
    .option('--db <path|url>')
    .option('--json', 'JSON output')
    .action((file: string, o: ImportOptions) => executeImport(file, o, io));

  inv
    .command('prune')
    .description('delete observations older than --keep (except each service\'s latest) and scan runs nothing refers to; findings and history are kept')
    .requiredOption('--keep <duration>', 'how much to keep: 90d, 12w, 36h (h, d or w)')
    .option('--dry-run', 'report what would be deleted, delete nothing')
    .option('--db <path|url>')
    .option('--json', 'JSON output')
    .action((o: { db?: string; json?: boolean; keep: string; dryRun?: boolean }) => executePrune(o, io));

  inv
    .command('forget')
    .description('delete everything the inventory holds about an address, a CIDR or an organisation (data-protection requests)')
    .argument('[target]', 'an address or a CIDR')
    .option('--org <name>', 'every asset of this organisation (exact name, any case)')
    .option('--yes', 'really delete (without it: print what would be deleted and exit 1)')
    .option('--send-logs', 'with --yes: also rewrite the send logs (runs/*.sendlog.jsonl) without these addresses')
    .option('--db <path|url>')
    .option('--json', 'JSON output')
    .action((target: string | undefined, o: ForgetOptions) => executeForget(target, o, io));
}
