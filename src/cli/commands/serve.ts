/**
 * `medsurface serve`: the REST API and the dashboard (src/server/, docs/api.md).
 *
 * Binds to 127.0.0.1 by default; another address without TLS is allowed but warned about (the
 * inventory is a list of exposed medical systems and how to get in). With no user yet, prints a
 * one-time setup URL; there is never a default password.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { messageOf, UsageError } from '../../core/errors.js';
import { openKyselyInventory, resolveInventoryLocation } from '../../inventory/db.js';
import { defaultStopDir } from '../../monitor/stop.js';
import { parseAddress } from '../../scope/ip.js';
import { buildServer } from '../../server/app.js';
import { userCount } from '../../server/auth/users.js';
import { DEFAULT_MAX_SCANS } from '../../server/scans.js';
import { defaultWebDir } from '../../server/static.js';
import { intOption, listOption } from '../options.js';

export const DEFAULT_PORT = 8470;

interface ServeOptions {
  db?: string;
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  contactPage?: string;
  stateDir?: string;
  webDir?: string;
  maxScans: number;
  scope?: string;
  exclude: string[];
  excludeFile: string[];
  monitorConfig?: string;
  trustProxy?: boolean;
}

/** Loopback: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const a = parseAddress(host.replace(/^\[|\]$/g, ''));
  if (a === null) return false;
  return a.family === 4 ? a.value >>> 24 === 127 : a.value === 1n;
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${messageOf(err)}`);
  }
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the REST API and the dashboard (docs/api.md)')
    .option('--db <path|url>', 'inventory: SQLite path or postgres:// URL (default $MEDSURFACE_DB or XDG data dir)')
    .option('--host <address>', 'address to listen on (loopback by default; anything else should use TLS)', '127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free port)', intOption('--port'), DEFAULT_PORT)
    .option('--tls-cert <file>', 'TLS certificate chain (PEM); with --tls-key')
    .option('--tls-key <file>', 'TLS private key (PEM); with --tls-cert')
    .option('--contact-page <file>', 'YAML describing the research scans, served at /contact (organisation, purpose, contact, sources, optOut)')
    .option('--state-dir <dir>', 'emergency-stop directory (default: the one `medsurface stop --all` uses)')
    .option('--web-dir <dir>', 'the built dashboard (default dist/web)')
    .option('--max-scans <n>', 'scans launched through the API that may run at once', intOption('--max-scans'), DEFAULT_MAX_SCANS)
    .option('--scope <file|cidrs>', 'authorised scope of every scan launched through the API')
    .option('--exclude <cidrs>', 'never scan these from the API (repeatable, comma-separated)', (v, prev: string[]) => [...prev, ...listOption(v)], [])
    .option('--exclude-file <file>', 'exclusion list file for API scans (repeatable)', (v, prev: string[]) => [...prev, v], [])
    .option('--monitor-config <file>', 'monitor.yaml, to show the jobs\' next runs')
    .option('--trust-proxy', 'behind a reverse proxy: take the client address from X-Forwarded-For')
    .action(async (o: ServeOptions) => {
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError('give both --tls-cert and --tls-key, or neither');
      if (o.port > 65535) throw new UsageError('--port must be from 1 to 65535 (0: any free port)');
      if (o.maxScans < 1) throw new UsageError('--max-scans must be at least 1');
      const https = o.tlsCert !== undefined ? { cert: readPem('--tls-cert', o.tlsCert), key: readPem('--tls-key', o.tlsKey!) } : null;
      const dbLocation = resolveInventoryLocation(o.db);
      // The column index answers totals and facets of a large SQLite inventory (search/column-index.ts); built now, in the background.
      const inv = await openKyselyInventory(dbLocation, { columnIndex: true });
      void inv.refreshColumns();
      let closing: Promise<void> | null = null;
      try {
        const setupToken = (await userCount(inv.db)) === 0 ? randomBytes(24).toString('base64url') : null;
        const app = await buildServer({
          inventory: inv,
          dbLocation,
          stateDir: o.stateDir ?? defaultStopDir(),
          webDir: o.webDir ?? defaultWebDir(),
          contactPage: o.contactPage ?? null,
          tls: https !== null,
          ...(https !== null ? { https } : {}),
          setupToken,
          maxScans: o.maxScans,
          ...(o.scope ? { scanScope: o.scope } : {}),
          scanExclude: o.exclude,
          scanExcludeFile: o.excludeFile,
          monitorConfig: o.monitorConfig ?? null,
          trustProxy: o.trustProxy === true,
          // Problems go to stderr as JSON lines; stdout stays free (no results to print here).
          logger: { level: 'warn', stream: process.stderr },
        });
        const stop = () => {
          closing ??= app.close().then(
            () => undefined,
            () => undefined,
          );
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await app.listen({ host: o.host, port: o.port });
        } catch (err) {
          await app.close().catch(() => {});
          throw new UsageError(`cannot listen on ${o.host}:${o.port}: ${messageOf(err)}`);
        }
        const scheme = https !== null ? 'https' : 'http';
        const shown = o.host.includes(':') ? `[${o.host}]` : o.host;
        const bound = app.server.address();
        const port = bound !== null && typeof bound === 'object' ? bound.port : o.port;
        const base = `${scheme}://${shown}:${port}`;
        process.stderr.write(`medsurface: serving the API and dashboard on ${base} (inventory ${inv.location})\n`);
        if (!isLoopbackHost(o.host) && https === null) {
          process.stderr.write(
            `medsurface: warning: listening on ${o.host} without TLS: passwords, session cookies and the inventory cross the network in clear. Give --tls-cert and --tls-key, or keep the default 127.0.0.1 behind a TLS reverse proxy.\n`,
          );
        }
        if (setupToken !== null) {
          process.stderr.write(
            `medsurface: no user yet. Create the first admin within this run at\n  ${base}/setup#token=${setupToken}\n(the token works once and ends with this process; or: medsurface users add NAME --role admin)\n`,
          );
        }
        await new Promise<void>((resolve) => app.server.once('close', () => resolve()));
        await closing;
      } finally {
        await inv.close();
      }
    });
}
