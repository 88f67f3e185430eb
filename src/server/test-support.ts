/**
 * Test support for the API server (not used by the product): a server over a fresh SQLite
 * inventory in a temporary directory, users of each role, and logged-in clients for `inject`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { buildServer } from './app.js';
import { createUser } from './auth/users.js';
import type { ZApp } from './context.js';
import type { ServerOptions } from './types.js';

/** Small argon2 memory for tests (the algorithm and the code path are the product's). */
export const TEST_ARGON2_KIB = 1024;
export const PASSWORD = 'correct horse battery staple';

export interface TestServer {
  app: ZApp;
  inv: KyselyInventory;
  dir: string;
  dbFile: string;
  close(): Promise<void>;
}

export async function testServer(over: Partial<ServerOptions> & { withWeb?: boolean } = {}): Promise<TestServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-api-'));
  const dbFile = path.join(dir, 'inventory.sqlite');
  const owns = over.inventory === undefined;
  const inv = over.inventory ?? (await openKyselyInventory(dbFile));
  let webDir: string | null = null;
  if (over.withWeb) {
    webDir = path.join(dir, 'web');
    mkdirSync(path.join(webDir, 'assets'), { recursive: true });
    writeFileSync(path.join(webDir, 'index.html'), '<!doctype html><title>medsurface</title><div id="root"></div><script type="module" src="/assets/app.js"></script>');
    writeFileSync(path.join(webDir, 'assets', 'app.js'), 'console.log("dashboard");');
  }
  const { withWeb: _w, ...rest } = over;
  const app = await buildServer({
    inventory: inv,
    dbLocation: dbFile,
    stateDir: path.join(dir, 'stop'),
    webDir,
    argon2MemoryKiB: TEST_ARGON2_KIB,
    ...rest,
  });
  await app.ready();
  return {
    app,
    inv,
    dir,
    dbFile: owns ? dbFile : (over.dbLocation ?? dbFile),
    async close() {
      await app.close();
      if (owns) await inv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Client {
  cookie: string;
  csrf: string;
  username: string;
}

export async function addUser(
  t: TestServer,
  username: string,
  role: 'viewer' | 'analyst' | 'admin',
  extra: { canIntrusive?: boolean; orgs?: string[] | null } = {},
): Promise<void> {
  await createUser(t.inv.db, { username, password: PASSWORD, role, canIntrusive: extra.canIntrusive ?? false, orgs: extra.orgs ?? null }, new Date(), TEST_ARGON2_KIB);
}

export function sessionCookie(res: LightMyRequestResponse): string {
  const c = res.cookies.find((x) => x.name === 'ms_session');
  if (!c) throw new Error(`no session cookie in the answer (${res.statusCode} ${res.body.slice(0, 200)})`);
  return c.value;
}

export async function login(t: TestServer, username: string, password = PASSWORD, remoteAddress = '127.0.0.1'): Promise<Client> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress });
  if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`);
  return { cookie: sessionCookie(res), csrf: (res.json() as { csrfToken: string }).csrfToken, username };
}

/** Headers of a cookie-authenticated request (with the CSRF token). */
export function as(c: Client): Record<string, string> {
  return { cookie: `ms_session=${c.cookie}`, 'x-csrf-token': c.csrf };
}

export const ORG_A = 'Alpha Hospital';
export const ORG_B = 'Beta Clinic';
/** Seeded hosts: one of each organisation, one unattributed (loopback addresses, data only). */
export const SEED = { a: '127.217.200.1', b: '127.217.200.2', none: '127.217.200.3' } as const;

/** A completed run with three hosts: ORG_A's PACS (a high finding), ORG_B's (a medium one), an unattributed web server. */
export async function seedInventory(inv: KyselyInventory): Promise<{ findingA: number; findingB: number }> {
  const at = new Date().toISOString();
  const attr = (org: string) => ({ country: 'NL', asn: 64500, asOrg: 'AS Example', org, orgSource: 'orgs' as const });
  await inv.createRun({ id: 'r-seed', profile: 'safe', targets: ['127.217.200.0/24'], options: {}, totalTargets: 256 });
  await inv.recordServices('r-seed', [
    {
      ip: SEED.a,
      port: 104,
      protocol: 'dicom',
      status: 'success',
      timestamp: at,
      product: 'Orthanc',
      vendor: 'Orthanc',
      deviceType: 'pacs',
      attribution: attr(ORG_A),
      findings: [{ id: 'dicom-any-ae', severity: 'high', title: 'Any called AE title accepted', confidence: 'confirmed' }],
      checksRun: ['dicom-any-ae'],
      data: {},
    },
    {
      ip: SEED.b,
      port: 11112,
      protocol: 'dicom',
      status: 'success',
      timestamp: at,
      product: 'DCMTK',
      vendor: 'OFFIS',
      deviceType: 'pacs',
      attribution: attr(ORG_B),
      findings: [{ id: 'dicom-no-tls', severity: 'medium', title: 'DICOM without TLS', confidence: 'confirmed' }],
      checksRun: ['dicom-no-tls'],
      data: {},
    },
    { ip: SEED.none, port: 80, protocol: 'http', status: 'success', timestamp: at, findings: [], data: {} },
  ]);
  await inv.finishRun('r-seed', 'completed', { stats: {} });
  const ids = await inv.db.selectFrom('findings').innerJoin('services', 'services.id', 'findings.service_id').select(['findings.id', 'services.ip']).execute();
  return { findingA: Number(ids.find((r) => r.ip === SEED.a)!.id), findingB: Number(ids.find((r) => r.ip === SEED.b)!.id) };
}
