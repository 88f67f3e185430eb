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
    const tracked = [...this.runs.keys()];
    let q = db.selectFrom('scan_runs').select(['id', 'state', 'done_targets', 'total_targets']);
    q = tracked.length > 0 ? q.where((eb) => eb.or([eb('state', '=', 'running'), eb('id', 'in', tracked)])) : q.where('state', '=', 'running');
    const rows = new Map<string, { state: string; done: number; total: number }>();
    for (const r of await q.execute()) rows.set(r.id, { state: r.state, done: Number(r.done_targets), total: Number(r.total_targets) });
    // Launched scans whose child has not recorded the run yet, or that failed before it could.
    let a = db.selectFrom('api_scans').select(['run_id', 'state', 'user_id']);
    a = tracked.length > 0 ? a.where((eb) => eb.or([eb('state', 'in', ['starting', 'running']), eb('run_id', 'in', tracked)])) : a.where('state', 'in', ['starting', 'running']);
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
      if (prev === undefined || prev.done !== now.done || prev.total !== now.total || prev.state !== now.state) {
        this.send('scan-progress', { id, state: now.state, total: now.total, done: now.done }, visible);
      }
      if (!active && (prev === undefined || prev.state === 'running' || prev.state === 'starting')) {
        if (prev !== undefined) this.send('scan-finished', { id, state: now.state }, visible);
        this.runs.delete(id);
        continue;
      }
      if (active) this.runs.set(id, { ...now, userId });
    }
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
