/**
 * Keeping the inventory small and forgetting on request (issue "Asset inventory with history"):
 *
 * - `pruneInventory` (`medsurface inventory prune --keep 90d`) drops observations older than the
 *   cutoff, except the latest observation of each service (rescore re-judges from it, and the
 *   next run's history compares with the service row) and the observations of runs still
 *   running. Findings, finding_events and service_events are never touched: the history of
 *   findings outlives the raw observations. A scan run older than the cutoff is deleted only
 *   when nothing refers to it any more (no observation, no finding or service event, no asset,
 *   service or finding whose last run it is, no monitor job), so no run id in the history
 *   dangles and no `ON DELETE` rule fires.
 * - `forgetAssets` (`medsurface inventory forget`) deletes everything the inventory holds about
 *   addresses (an address, a CIDR, or every asset of an organisation): finding_events,
 *   findings, service_events, observations, services, asset_tags, assets, children first, in
 *   one transaction, so the result is the same whether or not the engine enforces the foreign
 *   keys' cascades (SQLite only does with `PRAGMA foreign_keys = ON`).
 * - The per-run send logs (runs/<run-id>.sendlog.jsonl, DESIGN.md device safety) are files, not
 *   rows: `sendLogFiles` finds them and `rewriteSendLog` streams one through a filter, with a
 *   bounded line length, replacing it atomically.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { ipKey } from './ip-key.js';
import { type InventoryDb, inTransaction, METADATA_CHUNK, NoMatchingAssetError, targetRange } from './metadata.js';

const HOUR_MS = 3_600_000;
const UNIT_MS = { h: HOUR_MS, d: 24 * HOUR_MS, w: 7 * 24 * HOUR_MS } as const;
/** Longest --keep accepted: 100 years (a cutoff before year 0 would not sort as text). */
const MAX_KEEP_MS = 36_500 * UNIT_MS.d;
/** Longest send-log line read, in characters; a real one is under 300. */
export const SEND_LOG_MAX_LINE_CHARS = 64 * 1024;

/**
 * `90d`, `12w`, `36h` → milliseconds. Months and years have no fixed length and `m` could be
 * minutes or months, so only h, d and w are accepted.
 */
export function parseKeepDuration(spec: string): number {
  const s = spec.trim().toLowerCase();
  const m = /^(\d{1,6})([a-z]*)$/.exec(s);
  if (m === null) throw new UsageError(`--keep: ${JSON.stringify(spec)} is not a duration (e.g. 90d, 12w, 36h)`);
  const unit = m[2] as string;
  if (unit === 'm' || unit === 'mo' || unit === 'y') {
    throw new UsageError(`--keep: ${JSON.stringify(spec)} is ambiguous (minutes? months?): use h (hours), d (days) or w (weeks), e.g. 180d`);
  }
  if (!(unit in UNIT_MS)) throw new UsageError(`--keep: unit ${JSON.stringify(unit)} unknown: use h (hours), d (days) or w (weeks), e.g. 90d`);
  const ms = Number(m[1]) * UNIT_MS[unit as keyof typeof UNIT_MS];
  if (ms <= 0) throw new UsageError('--keep must be longer than zero');
  if (ms > MAX_KEEP_MS) throw new UsageError('--keep is longer than 100 years');
  return ms;
}

export interface PruneResult {
  /** ISO time: observations and runs older than this were candidates. */
  cutoff: string;
  observations: number;
  runs: number;
}

/**
 * Deletes old observations and unreferenced old runs (see the module comment), in one
 * transaction; `dryRun` rolls it back and reports the same counts.
 */
export async function pruneInventory(
  db: InventoryDb,
  opts: { keepMs: number; now?: string; dryRun?: boolean },
): Promise<PruneResult> {
  const nowMs = Date.parse(opts.now ?? new Date().toISOString());
  const cutoff = new Date(nowMs - opts.keepMs).toISOString();
  return inTransaction(db, opts.dryRun === true, async (trx) => {
    const obs = await trx
      .deleteFrom('observations')
      .where('observations.observed_at', '<', cutoff)
      // A newer observation of the same service exists (ties broken by id): this one is not the latest.
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('observations as newer')
            .select('newer.id')
            .whereRef('newer.service_id', '=', 'observations.service_id')
            .where((e) =>
              e.or([
                e('newer.observed_at', '>', e.ref('observations.observed_at')),
                e.and([e('newer.observed_at', '=', e.ref('observations.observed_at')), e('newer.id', '>', e.ref('observations.id'))]),
              ]),
            ),
        ),
      )
      .where((eb) =>
        eb.not(
          eb.exists(
            eb.selectFrom('scan_runs').select('scan_runs.id').whereRef('scan_runs.id', '=', 'observations.run_id').where('scan_runs.state', '=', 'running'),
          ),
        ),
      )
      .executeTakeFirst();

    const runs = await trx
      .deleteFrom('scan_runs')
      .where('scan_runs.started_at', '<', cutoff)
      .where('scan_runs.state', '!=', 'running')
      .where((eb) =>
        eb.or([eb('scan_runs.finished_at', 'is', null), eb('scan_runs.finished_at', '<', cutoff)]),
      )
      .where((eb) =>
        eb.not(
          eb.or([
            eb.exists(eb.selectFrom('observations').select('observations.id').whereRef('observations.run_id', '=', 'scan_runs.id')),
            eb.exists(eb.selectFrom('finding_events').select('finding_events.id').whereRef('finding_events.run_id', '=', 'scan_runs.id')),
            eb.exists(eb.selectFrom('service_events').select('service_events.id').whereRef('service_events.run_id', '=', 'scan_runs.id')),
            eb.exists(eb.selectFrom('findings').select('findings.id').whereRef('findings.last_run_id', '=', 'scan_runs.id')),
            eb.exists(eb.selectFrom('services').select('services.id').whereRef('services.last_run_id', '=', 'scan_runs.id')),
            eb.exists(eb.selectFrom('assets').select('assets.id').whereRef('assets.last_run_id', '=', 'scan_runs.id')),
            eb.exists(
              eb
                .selectFrom('monitor_jobs')
                .select('monitor_jobs.name')
                .where((e) => e.or([e('monitor_jobs.last_run_id', '=', e.ref('scan_runs.id')), e('monitor_jobs.running_run_id', '=', e.ref('scan_runs.id'))])),
            ),
          ]),
        ),
      )
      .executeTakeFirst();
    return { cutoff, observations: Number(obs.numDeletedRows), runs: Number(runs.numDeletedRows) };
  });
}

/** What `forget` deletes: an address or CIDR, or every asset of an organisation (assets.org, case-insensitive). */
export type ForgetTarget = { kind: 'range'; spec: string } | { kind: 'org'; name: string };

export const FORGET_TABLES = ['finding_events', 'findings', 'service_events', 'observations', 'services', 'asset_tags', 'assets'] as const;
export type ForgetCounts = Record<(typeof FORGET_TABLES)[number], number>;

export interface ForgetResult {
  counts: ForgetCounts;
  /** Up to 20 of the forgotten addresses, in deletion order, for the message. */
  sample: string[];
  /** True when the address is one the inventory forgot (or lies in the forgotten range). */
  matches: (ip: string) => boolean;
}

const FORGET_SAMPLE = 20;

/**
 * Deletes the assets TARGET selects and every row under them, children first, in one
 * transaction (`dryRun` rolls it back: the counts say what would be deleted). Throws
 * NoMatchingAssetError when TARGET selects no asset.
 */
export async function forgetAssets(db: InventoryDb, target: ForgetTarget, opts: { dryRun?: boolean } = {}): Promise<ForgetResult> {
  const range = target.kind === 'range' ? targetRange(target.spec) : null;
  let orgs: string[] = [];
  if (target.kind === 'org') {
    const name = target.name.trim();
    if (name === '') throw new UsageError('--org needs an organisation name');
    // The spellings stored for this name, so the deletes below use the org index.
    const rows = await db
      .selectFrom('assets')
      .select('org')
      .distinct()
      .where((eb) => eb(eb.fn('lower', ['org']), '=', name.toLowerCase()))
      .execute();
    orgs = rows.map((r) => r.org).filter((o): o is string => o !== null);
    if (orgs.length === 0) throw new NoMatchingAssetError(`--org ${JSON.stringify(name)}`);
  }
  const keys = new Set<string>();
  const sample: string[] = [];
  const counts = await inTransaction(db, opts.dryRun === true, async (trx) => {
    const c: ForgetCounts = { finding_events: 0, findings: 0, service_events: 0, observations: 0, services: 0, asset_tags: 0, assets: 0 };
    for (;;) {
      let q = trx.selectFrom('assets').select(['id', 'ip', 'ip_key']);
      q = range !== null ? q.where('ip_key', '>=', range.lo).where('ip_key', '<=', range.hi) : q.where('org', 'in', orgs);
      const assets = await q.orderBy('id').limit(METADATA_CHUNK).execute();
      if (assets.length === 0) break;
      const ids = assets.map((a) => Number(a.id));
      for (const a of assets) {
        if (range === null) keys.add(a.ip_key);
        if (sample.length < FORGET_SAMPLE) sample.push(a.ip);
      }
      const services = trx.selectFrom('services').select('services.id').where('services.asset_id', 'in', ids);
      const findings = trx.selectFrom('findings').select('findings.id').where('findings.service_id', 'in', services);
      const n = (r: { numDeletedRows: bigint }): number => Number(r.numDeletedRows);
      c.finding_events += n(await trx.deleteFrom('finding_events').where('finding_id', 'in', findings).executeTakeFirst());
      c.findings += n(await trx.deleteFrom('findings').where('service_id', 'in', services).executeTakeFirst());
      c.service_events += n(await trx.deleteFrom('service_events').where('service_id', 'in', services).executeTakeFirst());
      c.observations += n(await trx.deleteFrom('observations').where('service_id', 'in', services).executeTakeFirst());
      c.services += n(await trx.deleteFrom('services').where('asset_id', 'in', ids).executeTakeFirst());
      c.asset_tags += n(await trx.deleteFrom('asset_tags').where('asset_id', 'in', ids).executeTakeFirst());
      c.assets += n(await trx.deleteFrom('assets').where('id', 'in', ids).executeTakeFirst());
    }
    if (c.assets === 0) throw new NoMatchingAssetError(target.kind === 'range' ? target.spec : `--org ${JSON.stringify(target.name)}`);
    return c;
  });
  const matches = target.kind === 'range' ? addressRangeMatcher(target.spec) : (ip: string): boolean => keys.has(ipKey(ip));
  return { counts, sample, matches };
}

/** True for any spelling of an address inside `spec` (an address or a CIDR; UsageError otherwise). */
export function addressRangeMatcher(spec: string): (ip: string) => boolean {
  const { lo, hi } = targetRange(spec);
  return (ip) => {
    const k = ipKey(ip);
    return k >= lo && k <= hi;
  };
}

/**
 * The send logs that may name inventory addresses: `*.sendlog.jsonl` in `runsDir` (where
 * `medsurface scan` writes them by default) plus any other path a run recorded in its stats
 * (`--send-log FILE`). Only existing regular files, sorted.
 */
export async function sendLogFiles(db: InventoryDb, runsDir: string): Promise<string[]> {
  const files = new Set<string>();
  if (existsSync(runsDir)) {
    for (const f of readdirSync(runsDir)) if (f.endsWith('.sendlog.jsonl')) files.add(path.resolve(runsDir, f));
  }
  let after = '';
  for (;;) {
    const runs = await db.selectFrom('scan_runs').select(['id', 'stats']).where('id', '>', after).orderBy('id').limit(METADATA_CHUNK).execute();
    if (runs.length === 0) break;
    after = runs[runs.length - 1]!.id;
    for (const r of runs) {
      try {
        const p = (JSON.parse(r.stats) as { sendLog?: unknown }).sendLog;
        if (typeof p === 'string' && p !== '') files.add(path.resolve(p));
      } catch {
        // Unreadable stats name no file.
      }
    }
  }
  return [...files].filter((f) => existsSync(f) && statSync(f).isFile()).sort();
}

/** A send-log line longer than SEND_LOG_MAX_LINE_CHARS: the file is left as it was. */
export class SendLogLineError extends UsageError {
  constructor(file: string, line: number) {
    super(`${file}: line ${line} is longer than ${SEND_LOG_MAX_LINE_CHARS} characters; the file was left unchanged`);
    this.name = 'SendLogLineError';
  }
}

/**
 * Streams `file` line by line and drops the lines whose `ip` `matches`; the rest is written
 * to a temporary file beside it (mode 0600) that replaces the original when a line was dropped.
 * Lines that are not JSON are kept (they name no address field). Memory stays bounded by
 * SEND_LOG_MAX_LINE_CHARS. Run it when no scan is writing to the file.
 */
export async function rewriteSendLog(file: string, matches: (ip: string) => boolean): Promise<{ kept: number; removed: number }> {
  const tmp = `${file}.forget-${process.pid}.tmp`;
  const out = createWriteStream(tmp, { flags: 'w', mode: 0o600 });
  let kept = 0;
  let removed = 0;
  let lineNo = 0;
  const write = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  const handle = async (line: string, newline: boolean): Promise<void> => {
    lineNo++;
    let drop = false;
    try {
      const ip = (JSON.parse(line) as { ip?: unknown }).ip;
      drop = typeof ip === 'string' && matches(ip);
    } catch {
      drop = false;
    }
    if (drop) removed++;
    else {
      kept++;
      await write(newline ? `${line}\n` : line);
    }
  };
  try {
    let pending = '';
    const input = createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 });
    for await (const chunk of input as AsyncIterable<string>) {
      pending += chunk;
      let start = 0;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        if (nl - start > SEND_LOG_MAX_LINE_CHARS) {
          input.destroy();
          throw new SendLogLineError(file, lineNo + 1);
        }
        await handle(pending.slice(start, nl), true);
        start = nl + 1;
        nl = pending.indexOf('\n', start);
      }
      pending = pending.slice(start);
      if (pending.length > SEND_LOG_MAX_LINE_CHARS) {
        input.destroy();
        throw new SendLogLineError(file, lineNo + 1);
      }
    }
    if (pending !== '') await handle(pending, false);
    out.end();
    await once(out, 'finish');
    if (removed > 0) renameSync(tmp, file);
    else rmSync(tmp, { force: true });
    return { kept, removed };
  } catch (err) {
    out.destroy();
    rmSync(tmp, { force: true });
    throw err;
  }
}
