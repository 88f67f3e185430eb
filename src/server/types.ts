/**
 * Shapes shared by the API server's modules: roles, the authenticated principal a request
 * carries, and the per-route access declaration every route must make (app.ts refuses to
 * register a route without one, so a new endpoint cannot be public by accident).
 */
import type { KyselyInventory } from '../inventory/kysely-store.js';

export const ROLES = ['viewer', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who may call a route: nobody logged in, any user, or at least this role. */
export type Access = 'public' | 'user' | 'analyst' | 'admin';

/** The user behind a request, as the guard resolved it from a session cookie or a bearer token. */
export interface Principal {
  userId: number;
  username: string;
  role: Role;
  canIntrusive: boolean;
  /** Attribution organisations the user is limited to; null = every organisation. */
  orgs: string[] | null;
  /** How the request authenticated (CSRF applies to cookies only). */
  via: 'session' | 'token';
  /** Session id hash (via session) or token id (via token). */
  credentialId: string;
  /** The session's CSRF token (null with a bearer token). */
  csrfToken: string | null;
}

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** Whether `p` may call a route declared with `access`. */
export function allowed(p: Principal | null, access: Access): boolean {
  if (access === 'public') return true;
  if (p === null) return false;
  if (access === 'user') return true;
  return roleRank(p.role) >= roleRank(access);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (required on every route, see app.ts). */
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** What buildServer needs; everything but the inventory has a default. */
export interface ServerOptions {
  inventory: KyselyInventory;
  /** The inventory's location as given (a PostgreSQL URL with its password), for launched scans' `--db`. */
  dbLocation: string;
  /** Emergency-stop directory (src/monitor/stop.ts); default defaultStopDir(). */
  stateDir?: string;
  /** Served as the dashboard; null: none (a page says how to build it). Default: <package>/dist/web when it exists. */
  webDir?: string | null;
  /** `--contact-page` YAML file (contact.ts); null: /contact answers 404. */
  contactPage?: string | null;
  /** The server speaks TLS: cookies get Secure, responses HSTS. */
  tls?: boolean;
  /** Certificate and key (PEM) when the server itself terminates TLS (implies `tls`). */
  https?: { cert: Buffer; key: Buffer };
  /** One-time setup token (printed by `serve` when no user exists); null: setup disabled. */
  setupToken?: string | null;
  /** Command that runs the CLI for launched scans; default [node, <package>/bin/medsurface.js]. */
  scanCommand?: string[];
  /** API scans running at once (default 2). */
  maxScans?: number;
  /** `--scope`, `--exclude`, `--exclude-file` given to every launched scan. */
  scanScope?: string;
  scanExclude?: string[];
  scanExcludeFile?: string[];
  /** Largest target set one API scan may name (default 2^24 addresses, a /8). */
  maxScanTargets?: number;
  /** Extra arguments given to every launched scan (tests: short timeouts). */
  scanExtraArgs?: string[];
  /** `--monitor-config` file, for the jobs' next runs. */
  monitorConfig?: string | null;
  /** Server-Sent Events: poll interval (default 1000 ms), heartbeat (15 s), clients (50). */
  ssePollMs?: number;
  sseHeartbeatMs?: number;
  sseMaxClients?: number;
  /** Login attempts per address and minute before 429 (default 10). */
  loginRateMax?: number;
  /** Session lifetime and idle timeout (default 12 h and 2 h). */
  sessionTtlMs?: number;
  sessionIdleMs?: number;
  /** Clock (tests move it to expire sessions and locks). */
  now?: () => Date;
  /** Fastify's logger (default off; serve turns it on at 'warn'). */
  logger?: boolean | { level: string; stream?: NodeJS.WritableStream };
  /** Trust X-Forwarded-For (behind a reverse proxy). Default false. */
  trustProxy?: boolean;
  /** argon2id memory cost in KiB (default 19456, OWASP's minimum; tests may lower it). */
  argon2MemoryKiB?: number;
}
