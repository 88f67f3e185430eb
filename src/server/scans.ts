/**
 * Scans launched through the API. Each runs `medsurface scan` in a child process (never in the
 * request, never in the server's event loop), with `--run-id` so the API knows the run's id
 * before the child records it, MEDSURFACE_DB the server's inventory (in the environment, not in
 * argv), the server's `--scope` and exclusions, and MEDSURFACE_STOP_DIR the server's stop
 * directory (so `stop --all` reaches it).
 *
 * Targets pass the CLI's own parsing and scope check before the launch (a 400 naming what is
 * wrong, rather than a failed run); the child checks them again, and its scope guard checks
 * every connection. Cancel sends SIGINT: the scan aborts and records the run as interrupted
 * (resumable). A child that does not end within CANCEL_GRACE_MS is killed, and the server then
 * records the run as interrupted itself.
 *
 * The table api_scans says who launched what, and which server instance runs it; a cancel that
 * reaches another instance sets cancel_requested, which the owning instance polls.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { UsageError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { Profile } from '../core/types.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { newRunId } from '../inventory/kysely-store.js';
import type { InventoryDatabase } from '../inventory/tables.js';
import { parsePorts } from '../cli/options.js';
import { assertInScope, IpSet, loadIpSetSpecs, TargetSet } from '../scope/index.js';
import { ApiError, badRequest, conflict } from './errors.js';
import type { Principal } from './types.js';

type Db = Kysely<InventoryDatabase>;

/** Targets one API scan may list. */
export const MAX_TARGET_ENTRIES = 64;
export const DEFAULT_MAX_SCANS = 2;
export const DEFAULT_MAX_SCAN_TARGETS = 2 ** 24;
/** How long a cancelled child may take to record its run before it is killed. */
export const CANCEL_GRACE_MS = 15_000;
/** Bytes of a child's stderr kept (its end: the error that stopped it). */
const STDERR_KEEP = 4096;

export interface LauncherOptions {
  inv: KyselyInventory;
  dbLocation: string;
  command: string[];
  stateDir: string;
  maxScans: number;
  maxTargets: number;
  scope?: string;
  exclude: string[];
  excludeFile: string[];
  extraArgs: string[];
  now: () => Date;
  onError: (err: unknown) => void;
}

interface Running {
  child: ChildProcess;
  cancelled: boolean;
  stderr: string;
  exited: Promise<void>;
  killTimer: NodeJS.Timeout | null;
}

export interface LaunchRequest {
  targets: string[];
  profile: Profile;
  ports?: string;
}

/** The default command: this package's CLI under the running Node. */
export function defaultScanCommand(): string[] {
  return [process.execPath, path.join(packageRoot(), 'bin', 'medsurface.js')];
}

export class ScanLauncher {
  /** Identifies this server process in api_scans. */
  readonly instance = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly running = new Map<string, Running>();
  private scopeSet: IpSet | null | undefined;
  private closing = false;

  constructor(private readonly o: LauncherOptions) {}

  private get db(): Db {
    return this.o.inv.db;
  }

  get active(): number {
    return this.running.size;
  }

  /** The server's authorised scope, loaded once (null: none). */
  private async scope(): Promise<IpSet | null> {
    if (this.scopeSet === undefined) this.scopeSet = this.o.scope ? await loadIpSetSpecs([this.o.scope], []) : null;
    return this.scopeSet;
  }

  /** Parses and checks targets and ports as the CLI would, before anything starts. */
  async check(req: LaunchRequest): Promise<void> {
    for (const t of req.targets) {
      if (/[\s,]/.test(t) || t.startsWith('@') || t === '-') {
        throw badRequest(`targets: ${JSON.stringify(t.slice(0, 80))}: one address, CIDR or range per entry (no lists, files or stdin)`);
      }
    }
    let set: IpSet;
    try {
      set = IpSet.parse(req.targets, 'targets');
    } catch (err) {
      if (err instanceof UsageError) throw badRequest(err.message);
      throw err;
    }
    if (set.isEmpty) throw badRequest('targets: no address');
    if (set.size > BigInt(this.o.maxTargets)) throw badRequest(`targets: ${set.size} addresses, more than this server allows for one scan (${this.o.maxTargets})`);
    const scope = await this.scope();
    if (scope) {
      try {
        assertInScope(TargetSet.fromIpSet(set), scope);
      } catch (err) {
        if (err instanceof UsageError) throw badRequest(`targets: ${err.message}`);
        throw err;
      }
    }
    if (req.ports !== undefined) {
      try {
        parsePorts(req.ports);
      } catch (err) {
        if (err instanceof UsageError) throw badRequest(err.message.replace(/^--ports/, 'ports'));
        throw err;
      }
    }
  }

  /** Starts a scan; resolves with its run id once the child process is spawned. */
  async launch(p: Principal, req: LaunchRequest): Promise<string> {
    if (this.closing) throw new ApiError(503, 'shutting-down', 'the server is shutting down');
    if (req.profile === 'intrusive' && !p.canIntrusive) {
      throw new ApiError(403, 'intrusive-not-allowed', 'launching an intrusive scan needs the intrusive permission (ask an admin)');
    }
    await this.check(req);
    if (this.running.size >= this.o.maxScans) {
      throw conflict(`${this.running.size} scans launched here are running, the most this server runs at once: wait or cancel one`, 'too-many-scans');
    }
    const runId = newRunId();
    const now = this.o.now().toISOString();
    await this.db
      .insertInto('api_scans')
      .values({
        run_id: runId,
        user_id: p.userId,
        username: p.username,
        profile: req.profile,
        targets: JSON.stringify(req.targets),
        ports: req.ports ?? null,
        state: 'starting',
        instance: this.instance,
        pid: null,
        cancel_requested: 0,
        created_at: now,
        finished_at: null,
        exit_code: null,
        error: null,
      })
      .execute();
    const args = [
      ...this.o.command.slice(1),
      'scan',
      ...req.targets,
      '--run-id',
      runId,
      '--profile',
      req.profile,
      '--json',
      '--quiet',
      ...(req.ports !== undefined ? ['--ports', req.ports] : []),
      ...(this.o.scope ? ['--scope', this.o.scope] : []),
      ...this.o.exclude.flatMap((e) => ['--exclude', e]),
      ...this.o.excludeFile.flatMap((f) => ['--exclude-file', f]),
      ...this.o.extraArgs,
    ];
    const child = spawn(this.o.command[0]!, args, {
      // Results go to the inventory; stdout (the JSON lines) is not needed.
      stdio: ['ignore', 'ignore', 'pipe'],
      // The inventory through the environment, not argv: a PostgreSQL URL may hold a password,
      // and a process's arguments are readable by every user of the host.
      env: { ...process.env, MEDSURFACE_DB: this.o.dbLocation, MEDSURFACE_STOP_DIR: this.o.stateDir },
    });
    let resolveExit!: () => void;
    const entry: Running = { child, cancelled: false, stderr: '', exited: new Promise((r) => (resolveExit = r)), killTimer: null };
    this.running.set(runId, entry);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      entry.stderr = (entry.stderr + chunk).slice(-STDERR_KEEP);
    });
    let ended = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return;
      ended = true;
      this.finished(runId, entry, code, signal)
        .catch((err) => this.o.onError(err))
        .finally(() => {
          if (entry.killTimer) clearTimeout(entry.killTimer);
          this.running.delete(runId);
          resolveExit();
        });
    };
    child.on('error', (err) => {
      entry.stderr = `${entry.stderr}\ncannot start the scan: ${err.message}`.slice(-STDERR_KEEP);
      // A process that never started emits no 'close' of its own.
      if (child.pid === undefined) onEnd(null, null);
    });
    child.on('close', onEnd);
    await this.db.updateTable('api_scans').set({ state: 'running', pid: child.pid ?? null }).where('run_id', '=', runId).where('state', '=', 'starting').execute();
    return runId;
  }

  private async finished(runId: string, entry: Running, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const inv = this.o.inv;
    let run = await inv.getRun(runId);
    if (run !== null && run.state === 'running') {
      // The child died without recording the end (killed): the run is interrupted, resumable.
      await inv.finishRun(runId, entry.cancelled || signal !== null ? 'interrupted' : 'failed', { stats: run.stats });
      run = await inv.getRun(runId);
    }
    const state = run?.state ?? (entry.cancelled ? 'interrupted' : 'failed');
    const error = state === 'completed' || (state === 'interrupted' && entry.cancelled) ? null : cleanStderr(entry.stderr) || `the scan process ended with ${signal ?? `code ${code}`}`;
    await this.db
      .updateTable('api_scans')
      .set({ state, finished_at: this.o.now().toISOString(), exit_code: code, error })
      .where('run_id', '=', runId)
      .execute();
  }

  /** Asks a scan to stop (SIGINT). Returns false when this server does not run it. */
  cancelLocal(runId: string): boolean {
    const r = this.running.get(runId);
    if (r === undefined) return false;
    if (!r.cancelled) {
      r.cancelled = true;
      r.child.kill('SIGINT');
      r.killTimer = setTimeout(() => r.child.kill('SIGKILL'), CANCEL_GRACE_MS);
      r.killTimer.unref();
    }
    return true;
  }

  /** Cancel from the API: here when this instance runs it, else through the table. */
  async cancel(runId: string): Promise<'cancelling' | 'finished' | 'unknown'> {
    const row = await this.db.selectFrom('api_scans').selectAll().where('run_id', '=', runId).executeTakeFirst();
    if (row === undefined) return 'unknown';
    if (row.state !== 'starting' && row.state !== 'running') return 'finished';
    // The scan recorded its end (its process may not have exited yet, so api_scans still says
    // running): nothing is left to cancel.
    const run = await this.db.selectFrom('scan_runs').select('state').where('id', '=', runId).executeTakeFirst();
    if (run !== undefined && run.state !== 'running') return 'finished';
    await this.db.updateTable('api_scans').set({ cancel_requested: 1 }).where('run_id', '=', runId).execute();
    this.cancelLocal(runId);
    return 'cancelling';
  }

  /** Picks up cancels other instances wrote for our scans (called by the event poller). */
  async pollCancels(): Promise<void> {
    if (this.running.size === 0) return;
    const rows = await this.db
      .selectFrom('api_scans')
      .select('run_id')
      .where('instance', '=', this.instance)
      .where('cancel_requested', '=', 1)
      .where('state', 'in', ['starting', 'running'])
      .execute();
    for (const r of rows) this.cancelLocal(r.run_id);
  }

  /** Interrupts every scan this server runs and waits for them to end (server shutdown). */
  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.running.entries()];
    for (const [id] of all) this.cancelLocal(id);
    await Promise.all(all.map(([, r]) => r.exited));
  }
}

/** The child's last error lines, without terminal control sequences. */
function cleanStderr(text: string): string {
  return text
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')
    .trim()
    .split('\n')
    .slice(-5)
    .join('\n')
    .slice(-1000);
}
