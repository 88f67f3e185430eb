/**
 * Server-Sent Events (GET /api/v1/events): live scan progress and service changes, for every
 * connected dashboard. One poller per server reads the inventory about once a second (runs in
 * progress and the service_events written since the last read) and fans what changed out to
 * the clients, each filtered by what its user may see. Polling the database, rather than
 * listening to this process's own scans, shows scans from the CLI, the monitor, distributed
 * workers and other `serve` instances alike.
 *
 * Bounded: at most `maxClients` streams; a client that does not read (more than
 * MAX_BUFFERED_BYTES waiting) is dropped; at most SERVICE_EVENTS_PER_TICK events per poll.
 * A comment line every heartbeat keeps proxies from closing an idle stream. Server close ends
 * every stream (preClose hook in app.ts), so shutdown never waits on a dashboard.
 */
import type { ServerResponse } from 'node:http';
import type { Kysely } from 'kysely';
import type { InventoryDatabase } from '../inventory/tables.js';
import type { ScanLauncher } from './scans.js';
import { orgVisible } from './scope.js';
import type { Principal } from './types.js';

type Db = Kysely<InventoryDatabase>;

const MAX_BUFFERED_BYTES = 1 << 20;
/**
 * A run that started and ended between two polls is never seen running: each poll also reads
 * the runs that finished since the previous one, looking this far back for clock skew and a
 * slow poll. Each run is reported finished once (the last REPORTED_MAX ids are remembered).
 */
const FINISH_LOOKBACK_MS = 5000;
const REPORTED_MAX = 1000;
const SERVICE_EVENTS_PER_TICK = 500;

interface Client {
  res: ServerResponse;
  principal: Principal;
}

interface RunState {
  state: string;
  done: number;
  total: number;
  userId: number | null;
}

export interface HubOptions {
  db: Db;
  launcher: ScanLauncher;
  pollMs: number;
  heartbeatMs: number;
  maxClients: number;
  onError: (err: unknown) => void;
}

export class EventHub {
  private readonly clients = new Set<Client>();
  private readonly runs = new Map<string, RunState>();
  private lastServiceEvent: number | null = null;
  /** When the previous poll of the runs started (ms); null before the first, and while nobody listens. */
  private lastRunsPoll: number | null = null;
  /** Runs already reported finished, oldest first. */
  private readonly reported = new Set<string>();
  private pollTimer: NodeJS.Timeout | null = null;
  private beatTimer: NodeJS.Timeout | null = null;
  private polling = false;
  private closed = false;

  constructor(private readonly o: HubOptions) {}

  get size(): number {
    return this.clients.size;
  }

  get full(): boolean {
    return this.clients.size >= this.o.maxClients;
  }

  /** Starts the poller (also used for cancels written by other instances). */
  start(): void {
    if (this.pollTimer !== null || this.closed) return;
    this.pollTimer = setInterval(() => void this.tick(), this.o.pollMs);
    this.pollTimer.unref();
    this.beatTimer = setInterval(() => this.broadcastRaw(': ping\n\n'), this.o.heartbeatMs);
    this.beatTimer.unref();
  }

  /** Takes over a response as an event stream. */
  add(res: ServerResponse, principal: Principal): void {
    const client: Client = { res, principal };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    res.write('retry: 5000\n: connected\n\n');
  }

  /** Ends every stream and stops polling. */
  close(): void {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.beatTimer) clearInterval(this.beatTimer);
    this.pollTimer = null;
    this.beatTimer = null;
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private write(c: Client, text: string): void {
    if (c.res.writableEnded || c.res.destroyed) {
      this.clients.delete(c);
      return;
    }
    if (c.res.writableLength > MAX_BUFFERED_BYTES) {
      this.clients.delete(c);
      c.res.destroy();
      return;
    }
    c.res.write(text);
  }

  private broadcastRaw(text: string): void {
    for (const c of [...this.clients]) this.write(c, text);
  }

  private send(event: string, data: unknown, visible: (p: Principal) => boolean): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of [...this.clients]) if (visible(c.principal)) this.write(c, text);
  }

  /** One poll: pending cancels, run progress, new service events. Never overlaps itself. */
  async tick(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      await this.o.launcher.pollCancels();
      if (this.clients.size === 0) {
        // Nobody listens: forget the position, so the next client starts from "now".
        this.lastServiceEvent = null;
        this.lastRunsPoll = null;
        this.runs.clear();
        return;
      }
      await this.pollRuns();
      await this.pollServiceEvents();
    } catch (err) {
      this.o.onError(err);
    } finally {
      this.polling = false;
    }
  }

  private async pollRuns(): Promise<void> {
    const { db } = this.o;
    const startedAt = Date.now();
    const since = this.lastRunsPoll === null ? null : new Date(this.lastRunsPoll - FINISH_LOOKBACK_MS).toISOString();
    const tracked = [...this.runs.keys()];
    const rows = new Map<string, { state: string; done: number; total: number }>();
    const runs = await db
      .selectFrom('scan_runs')
      .select(['id', 'state', 'done_targets', 'total_targets'])
      .where((eb) =>
        eb.or([
          eb('state', '=', 'running'),
          ...(tracked.length > 0 ? [eb('id', 'in', tracked)] : []),
          ...(since !== null ? [eb('finished_at', '>=', since)] : []),
        ]),
      )
      .execute();
    for (const r of runs) rows.set(r.id, { state: r.state, done: Number(r.done_targets), total: Number(r.total_targets) });
    // Launched scans whose child has not recorded the run yet, or that failed before it could.
    const a = db
      .selectFrom('api_scans')
      .select(['run_id', 'state', 'user_id'])
      .where((eb) =>
        eb.or([
          eb('state', 'in', ['starting', 'running']),
          ...(tracked.length > 0 ? [eb('run_id', 'in', tracked)] : []),
          ...(since !== null ? [eb('finished_at', '>=', since)] : []),
        ]),
      );
    const owners = new Map<string, number | null>();
    for (const r of await a.execute()) {
      owners.set(r.run_id, r.user_id === null ? null : Number(r.user_id));
      if (!rows.has(r.run_id)) rows.set(r.run_id, { state: r.state === 'running' ? 'starting' : r.state, done: 0, total: 0 });
    }
    for (const [id, now] of rows) {
      const prev = this.runs.get(id);
      const userId = owners.get(id) ?? prev?.userId ?? null;
      const visible = (p: Principal) => p.orgs === null || (userId !== null && userId === p.userId);
      const active = now.state === 'running' || now.state === 'starting';
      // Seen again through the look-back window: already reported.
      if (!active && prev === undefined && this.reported.has(id)) continue;
      if (prev === undefined || prev.done !== now.done || prev.total !== now.total || prev.state !== now.state) {
        this.send('scan-progress', { id, state: now.state, total: now.total, done: now.done }, visible);
      }
      if (!active) {
        // Tracked while it ran, or started and ended between two polls (it finished since the last).
        if (prev !== undefined || since !== null) this.send('scan-finished', { id, state: now.state }, visible);
        this.remember(id);
        this.runs.delete(id);
        continue;
      }
      this.runs.set(id, { ...now, userId });
    }
    this.lastRunsPoll = startedAt;
  }

  private remember(id: string): void {
    this.reported.delete(id);
    this.reported.add(id);
    if (this.reported.size > REPORTED_MAX) this.reported.delete(this.reported.values().next().value as string);
  }

  private async pollServiceEvents(): Promise<void> {
    const { db } = this.o;
    if (this.lastServiceEvent === null) {
      const r = await db.selectFrom('service_events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
      this.lastServiceEvent = r?.id === null || r?.id === undefined ? 0 : Number(r.id);
      return;
    }
    const rows = await db
      .selectFrom('service_events')
      .innerJoin('services', 'services.id', 'service_events.service_id')
      .innerJoin('assets', 'assets.id', 'services.asset_id')
      .select([
        'service_events.id',
        'service_events.at',
        'service_events.run_id',
        'service_events.field',
        'service_events.old_value',
        'service_events.new_value',
        'services.ip',
        'services.port',
        'assets.org',
      ])
      .where('service_events.id', '>', this.lastServiceEvent)
      .orderBy('service_events.id')
      .limit(SERVICE_EVENTS_PER_TICK)
      .execute();
    for (const r of rows) {
      this.lastServiceEvent = Math.max(this.lastServiceEvent, Number(r.id));
      this.send(
        'service-event',
        { ip: r.ip, port: Number(r.port), field: r.field, oldValue: r.old_value, newValue: r.new_value, at: r.at, runId: r.run_id },
        (p) => orgVisible(p, r.org),
      );
    }
  }
}
