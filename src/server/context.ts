/**
 * What every route module receives: the inventory, the resolved options, the clock, the scan
 * launcher and the event hub. Route modules are functions `(app, ctx) => void`.
 */
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerBase } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import type { InventoryDatabase } from '../inventory/tables.js';
import type { EventHub } from './sse.js';
import type { ScanLauncher } from './scans.js';

export type ZApp = FastifyInstance<RawServerBase, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export interface ResolvedOptions {
  stateDir: string;
  webDir: string | null;
  tls: boolean;
  sessionTtlMs: number;
  sessionIdleMs: number;
  loginRateMax: number;
  argon2MemoryKiB: number | undefined;
  monitorConfig: string | null;
}

export interface ServerContext {
  inv: KyselyInventory;
  db: Kysely<InventoryDatabase>;
  opts: ResolvedOptions;
  now: () => Date;
  launcher: ScanLauncher;
  hub: EventHub;
  /** Consumed by the first successful setup; null when setup is off. */
  setup: { token: string | null };
}
