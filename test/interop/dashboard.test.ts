/**
 * The dashboard end to end, in Debian's Chromium (/usr/bin/chromium, installed by
 * scripts/install-peers.sh) driven by playwright-core, against the real `medsurface serve` on
 * loopback: the lab on 127.218.0.0/16 scanned into a fresh SQLite inventory by the CLI (safe,
 * then intrusive), users made with `medsurface users add`, then, as each role would:
 *
 * - log in; the overview's numbers equal the CLI's inventory headline and the API's summary;
 * - search with the query language (the count equals `medsurface search`), narrow by a facet,
 *   sort by keyboard, see a bad query's error from the server;
 * - open an asset and edit its tags, owner, criticality and notes (persisted, read back by API);
 * - launch a scan of a small lab range and watch it finish over the event stream, with its
 *   services listed as they come;
 * - triage one finding and a bulk selection, then reopen one (persisted, read back by API);
 * - a viewer sees no launch, triage, edit or export control (and the API refuses a launch);
 * - an admin's emergency stop asks first (Escape cancels) and then stops;
 * - first-admin setup from the link serve prints on an empty inventory.
 *
 * Every page, light and dark, is saved under test-artifacts/dashboard/ and checked for WCAG AA
 * text contrast; no console error, uncaught exception or CSP violation may occur anywhere; no
 * page text nor API answer may contain one of the lab's fake patient identifiers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { packageRoot } from '../../src/core/paths.js';
import { type RunningLab, startLab } from '../../src/lab/index.js';
import { CHROMIUM, type ContrastFailure, contrastFailures, launchBrowser, PageWatch, shoot, watchCsp } from './dashboard-browser.js';
import { canariesIn, cli, patientCanaries, type Serving, startServe } from './dashboard-server.js';

const BLOCK = '127.218.0.0/16';
/** The range the dashboard scans live: two FTP servers of the lab (.30, .31) and two silent addresses. */
const LIVE_RANGE = '127.218.6.28/30';
const LIVE_PORTS = '21';
const USERS = {
  admin: { role: 'admin', password: 'admin-e2e-password-1' },
  analyst: { role: 'analyst', password: 'analyst-e2e-password-1' },
  viewer: { role: 'viewer', password: 'viewer-e2e-password-1' },
} as const;
type UserName = keyof typeof USERS;
type Scheme = 'light' | 'dark';

const WEB_INDEX = path.join(packageRoot(), 'dist', 'web', 'index.html');
const canaries = patientCanaries();

let work: string;
let db: string;
let env: NodeJS.ProcessEnv;
let lab: RunningLab;
let serve: Serving;
let setupServe: Serving | undefined;
let browser: Browser;
const contexts: BrowserContext[] = [];
const watches: PageWatch[] = [];
/** Page texts and HTML seen during the test, for the canary check. */
const seen: Array<{ where: string; text: string }> = [];
const contrast: Array<{ page: string; failures: ContrastFailure[] }> = [];
const shots: string[] = [];

interface Session {
  context: BrowserContext;
  page: Page;
  watch: PageWatch;
  csrf(): Promise<string>;
}

const num = (s: string): number => Number(s.replace(/[^\d]/g, ''));
/** A locator's text (playwright's textContent; null as empty). */
const textOf = async (l: Locator): Promise<string> => (await l.textContent()) ?? '';

async function record(page: Page, where: string): Promise<void> {
  seen.push({ where, text: `${await page.content()}\n${await textOf(page.locator('body'))}` });
}

async function newContext(scheme: Scheme): Promise<{ context: BrowserContext; page: Page; watch: PageWatch }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, colorScheme: scheme, reducedMotion: 'reduce' });
  contexts.push(context);
  await watchCsp(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const watch = new PageWatch(page, serve.origin);
  // Before login the dashboard asks who is logged in: 401, by design.
  watch.expect('/api/v1/auth/me', 401);
  watches.push(watch);
  return { context, page, watch };
}

async function login(user: UserName, scheme: Scheme = 'light'): Promise<Session> {
  const { context, page, watch } = await newContext(scheme);
  await page.goto(`${serve.origin}/`);
  await page.getByLabel('User name', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(USERS[user].password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  const csrf = async () => ((await (await context.request.get(`${serve.origin}/api/v1/auth/me`)).json()) as { csrfToken: string }).csrfToken;
  return { context, page, watch, csrf };
}

async function api<T>(s: Session, pathAndQuery: string): Promise<T> {
  const r = await s.context.request.get(`${serve.origin}/api/v1${pathAndQuery}`);
  assert.equal(r.status(), 200, `${pathAndQuery}: ${await r.text()}`);
  return (await r.json()) as T;
}

/** Navigates inside the dashboard (client-side, as a user clicking a link would not reload). */
async function go(page: Page, to: string): Promise<void> {
  await page.goto(`${serve.origin}${to}`);
}

async function heading(page: Page, level: number, name: string | RegExp, timeout = 20_000): Promise<void> {
  await page.getByRole('heading', { level, name, exact: typeof name === 'string' }).first().waitFor({ timeout });
}

async function statValue(page: Page, label: string): Promise<number> {
  const stat = page.locator('.stat').filter({ has: page.locator('dt', { hasText: label }) });
  return num(await textOf(stat.locator('.stat-value')));
}

async function searchTotal(query: string): Promise<number> {
  const r = await cli(['search', '--db', db, '--json', '--limit', '0', query], { env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { total: number }).total;
}

async function findingsTotal(page: Page): Promise<number> {
  const h = page.getByRole('heading', { level: 2, name: /^\d+ findings?$/ });
  await h.waitFor();
  return num(await textOf(h));
}

describe('chromium: the dashboard against medsurface serve', { timeout: 900_000 }, () => {
  before(
    async () => {
      assert.ok(existsSync(CHROMIUM), `Chromium is needed at ${CHROMIUM} (scripts/install-peers.sh installs Debian's chromium)`);
      assert.ok(existsSync(WEB_INDEX), `the dashboard must be built first (npm run build): ${WEB_INDEX} is missing`);
      work = mkdtempSync(path.join(tmpdir(), 'medsurface-dashboard-'));
      db = path.join(work, 'inventory.sqlite');
      env = { ...process.env, XDG_DATA_HOME: work, XDG_STATE_HOME: work };
      delete env.MEDSURFACE_DB;
      lab = await startLab({ block: BLOCK, quiet: true });
      const ports = [...new Set(lab.nodes.map((n) => n.port))].join(',');
      const hosts = [...new Set(lab.nodes.map((n) => n.ip))];
      for (const profile of ['safe', 'intrusive']) {
        const r = await cli(
          ['scan', ...hosts, '--ports', ports, '--profile', profile, '--db', db, '--scope', BLOCK, '--out', path.join(work, `${profile}.jsonl`)].concat(
            ['--connect-timeout', '1000', '--read-timeout', '2000', '--session-timeout', '8000', '--host-delay', '0', '--retries', '0'],
          ),
          { env },
        );
        assert.equal(r.code, 0, r.stderr);
      }
      for (const [name, u] of Object.entries(USERS)) {
        const r = await cli(['users', 'add', name, '--role', u.role, ...(u.role === 'admin' ? ['--intrusive'] : []), '--db', db], { env, input: `${u.password}\n` });
        assert.equal(r.code, 0, r.stderr);
      }
      serve = await startServe(['--db', db, '--scope', BLOCK, '--state-dir', path.join(work, 'stop')], env);
      browser = await launchBrowser();
    },
    { timeout: 400_000 },
  );

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await serve?.stop();
    await setupServe?.stop();
    await lab?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('serve hands out the built dashboard under its CSP, with nothing inline', async () => {
    const r = await fetch(`${serve.origin}/inventory?q=port:104`);
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    const html = await r.text();
    assert.equal(html, readFileSync(WEB_INDEX, 'utf8'), 'a client-side route answers index.html');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /<style|\sstyle=/, 'no inline style');
  });

  test('the page watch itself reports a CSP violation and a console error (self-check)', { timeout: 60_000 }, async () => {
    const context = await browser.newContext();
    contexts.push(context);
    await watchCsp(context);
    const page = await context.newPage();
    // Not in `watches`: these problems are made on purpose.
    const watch = new PageWatch(page, serve.origin);
    watch.expect('/api/v1/auth/me', 401);
    await page.goto(`${serve.origin}/`);
    await heading(page, 1, 'Log in to medsurface');
    await page.evaluate('document.body.setAttribute("style", "outline: 1px solid red")');
    await page.evaluate('console.error("made on purpose")');
    await page.waitForTimeout(500);
    assert.ok(watch.problems.some((p) => p.kind === 'csp' && /style-src/.test(p.text)), JSON.stringify(watch.problems));
    assert.ok(watch.problems.some((p) => p.kind === 'console' && p.text === 'made on purpose'));
    assert.ok(!watch.problems.some((p) => /auth\/me/.test(p.url)), 'the expected 401 is not reported');
  });

  let analyst: Session;

  test('log in (login page first), keyboard skip link, overview numbers equal the inventory', { timeout: 120_000 }, async () => {
    const { page: first } = await newContext('light');
    await first.goto(`${serve.origin}/`);
    await heading(first, 1, 'Log in to medsurface');
    await record(first, 'login');

    analyst = await login('analyst');
    const { page } = analyst;
    await page.locator('.chart svg').first().waitFor();
    await record(page, 'overview');

    // The CLI's headline over the same inventory (honeypots left out, as on the overview).
    const r = await cli(['inventory', 'list', '--db', db, '--limit', '1'], { env });
    assert.equal(r.code, 0, r.stderr);
    const m = /: (\d+) assets, (\d+) services, (\d+) open findings, (\d+) runs/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    const [, assets, services, open, runs] = m.map(Number);
    assert.ok(assets! > 30 && services! > 30 && open! > 30, 'the lab filled the inventory');
    assert.equal(await statValue(page, 'Exposed assets'), assets);
    assert.equal(await statValue(page, 'Exposed services'), services);
    assert.equal(await statValue(page, 'Open findings'), open);
    assert.equal(await statValue(page, 'Scan runs'), runs);

    const summary = await api<{ bySeverity: Record<string, number>; recordsReachable: number; openFindings: number }>(analyst, '/summary');
    assert.equal(summary.openFindings, open);
    assert.equal(await statValue(page, 'Records reachable without credentials'), summary.recordsReachable);
    assert.ok(summary.recordsReachable > 0, 'the intrusive scan counted records');
    // The severity chart's numbers, as text beside it, equal the API's.
    const fig = page.locator('figure', { has: page.getByRole('heading', { name: 'Open findings by severity' }) });
    for (const [sev, n] of Object.entries(summary.bySeverity)) {
      const row = fig.locator('tbody tr').filter({ has: page.getByRole('rowheader', { name: sev, exact: true }) });
      assert.equal(num(await textOf(row.locator('td'))), n, sev);
    }
    assert.equal(num(await textOf(fig.locator('tfoot td'))), open);
    // Charts are images with a text alternative; their tooltip (drawn in the SVG) passes the CSP.
    assert.match((await page.locator('.chart').first().getAttribute('aria-label')) ?? '', /^Bar chart of .+: critical \d+/);
    const chart = page.locator('.chart').first();
    const box = (await chart.boundingBox())!;
    for (let y = 10; y < box.height - 30; y += 12) await page.mouse.move(box.x + box.width / 2, box.y + y);

    // Keyboard: the first Tab reaches the skip link, which moves focus to the main content.
    await page.reload();
    await heading(page, 1, 'Overview');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to main content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate('document.activeElement.id'), 'main');
  });

  let assetIp = '';

  test('search with the language, narrow by a facet, sort by keyboard, see a bad query explained', { timeout: 120_000 }, async () => {
    const { page, watch } = analyst;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inventory' }).click();
    await heading(page, 1, 'Inventory');
    const box = page.getByLabel('Search query');
    await box.fill('devicetype:pacs');
    await box.press('Enter');
    const pacs = await searchTotal('devicetype:pacs');
    assert.ok(pacs >= 5, `${pacs} PACS services`);
    await heading(page, 2, new RegExp(`^${pacs} services?$`));
    assert.equal(await page.locator('table.data tbody tr').count(), Math.min(pacs, 50));
    await record(page, 'inventory devicetype:pacs');

    // A facet value narrows the query by its term.
    const protocol = page.locator('details.facet').filter({ has: page.locator('summary', { hasText: 'Protocol' }) });
    await protocol.getByRole('button', { name: /^Add protocol: dicom [\d,]+$/ }).click();
    await page.waitForURL(/q=devicetype%3Apacs\+protocol%3Adicom/);
    const narrowed = await searchTotal('devicetype:pacs protocol:dicom');
    assert.ok(narrowed > 0 && narrowed <= pacs);
    await heading(page, 2, new RegExp(`^${narrowed} services?$`));
    assert.equal(await box.inputValue(), 'devicetype:pacs protocol:dicom');

    // The export link streams the current query (audited by the server).
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'JSON lines' }).click()]);
    const exported = readFileSync((await download.path())!, 'utf8');
    seen.push({ where: 'export devicetype:pacs protocol:dicom', text: exported });
    const lines = exported
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; protocol?: string; tlp?: string });
    assert.match(lines[0]?.tlp ?? '', /^TLP:/, 'the export opens with its TLP label');
    const exportedServices = lines.filter((l) => l.type === 'service');
    assert.equal(exportedServices.length, narrowed, 'one JSON line per service of the query');
    for (const l of exportedServices) assert.equal(l.protocol, 'dicom');

    // Sorting from the keyboard: the Risk header is a button; the server sorts, riskiest first.
    await page.getByRole('button', { name: /^Risk/ }).focus();
    await page.keyboard.press('Enter');
    await page.locator('th[aria-sort="descending"]', { hasText: 'Risk' }).waitFor();
    await page.waitForURL(/sort=risk&order=desc/);
    await page.locator('table.data:not([aria-busy])').waitFor();
    const risks = (await page.locator('table.data tbody tr > :nth-child(7)').allInnerTexts()).map(num);
    assert.ok(risks.length > 1);
    assert.deepEqual(
      risks,
      [...risks].sort((a, b) => b - a),
      'rows sorted by risk, descending',
    );
    assert.match((await page.evaluate('document.activeElement.textContent')) as string, /^Risk/, 'focus stays on the header');
    shots.push(await shoot(page, 'inventory-keyboard-sort-light'));
    assetIp = (await textOf(page.locator('table.data tbody tr').first().getByRole('link'))).trim();

    // A bad query: the server's message is shown, not swallowed.
    watch.expect('/api/v1/services', 400);
    watch.expect('/api/v1/facets', 400);
    await box.fill('port:abc');
    await box.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.count(), 1, 'the error is shown once (the facets do not repeat it)');
    assert.match(await textOf(alert), /port/i);
    assert.match(await textOf(alert), /\(400 /);
  });

  test('an asset page: services with observations, findings with evidence and remediation, metadata saved', { timeout: 120_000 }, async () => {
    const { page } = analyst;
    await go(page, `/inventory?q=${encodeURIComponent('devicetype:pacs protocol:dicom')}&sort=risk&order=desc`);
    await page.locator('table.data tbody tr').first().getByRole('link', { name: assetIp }).click();
    await heading(page, 1, `Asset ${assetIp}`);
    const detail = await api<{ services: unknown[]; findings: Array<{ id: number }>; history: unknown[] }>(analyst, `/assets/${assetIp}`);
    await heading(page, 2, `Services (${detail.services.length})`);
    await heading(page, 2, `Findings (${detail.findings.length})`);
    assert.ok(detail.findings.length > 0, 'the riskiest PACS has findings');
    assert.equal(await page.locator('.timeline li').count(), detail.history.length);
    // Evidence, remediation and an observation open on demand.
    const firstFinding = page.locator('article.finding').first();
    await firstFinding.getByText('Description and remediation').click();
    await firstFinding.getByRole('heading', { name: 'Remediation' }).waitFor();
    await firstFinding.getByText('Evidence', { exact: true }).click();
    await firstFinding.locator('.json').waitFor();
    await page.locator('article.service').first().getByText('Observation', { exact: true }).click();
    await page.locator('article.service .json').first().waitFor();
    await record(page, `asset ${assetIp}`);

    await page.getByLabel('Tags', { exact: true }).fill('radiology, e2e-tag');
    await page.getByLabel('Owner', { exact: true }).fill('Radiology IT');
    await page.getByLabel('Criticality', { exact: true }).selectOption('high');
    await page.getByLabel('Notes', { exact: true }).fill('Checked from the dashboard test.');
    await page.getByRole('button', { name: 'Save metadata' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const after = await api<{ metadata: { tags: string[]; owner: string; criticality: string; notes: string } }>(analyst, `/assets/${assetIp}`);
    assert.deepEqual(after.metadata.tags, ['e2e-tag', 'radiology']);
    assert.equal(after.metadata.owner, 'Radiology IT');
    assert.equal(after.metadata.criticality, 'high');
    assert.equal(after.metadata.notes, 'Checked from the dashboard test.');
  });

  let liveRun = '';

  test('launch a scan of a small lab range and watch it finish live, its services listed as they come', { timeout: 300_000 }, async () => {
    const { page } = analyst;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Scans' }).click();
    await heading(page, 1, 'Scans');
    await page.getByText('Live updates: connected').waitFor();
    await page.getByLabel('Targets', { exact: true }).fill(LIVE_RANGE);
    await page.getByLabel('Ports (optional)', { exact: true }).fill(LIVE_PORTS);
    await page.getByRole('button', { name: 'Launch scan' }).click();
    const started = page.getByRole('status').filter({ hasText: /^Scan \S+ started\.$/ });
    await started.waitFor();
    liveRun = /^Scan (\S+) started\.$/.exec(await textOf(started))![1]!;
    await heading(page, 2, `Scan ${liveRun}`);
    await page.locator('[data-testid="scan-state"]', { hasText: 'completed' }).waitFor({ timeout: 240_000 });
    // The event stream reported the run. The page also fetches the watched run every 2 s, so it
    // may show the end first: the stream's events (at least the run's end) follow within a poll.
    await page.waitForFunction("/\\(\\s*[1-9][\\d,.\\s]*\\s+events\\)/.test(document.querySelector('.stream .hint')?.textContent ?? '')", undefined, {
      timeout: 15_000,
    });
    const events = num((await textOf(page.locator('.stream .hint'))).split('events')[0]!);
    assert.ok(events > 0, 'events arrived over /api/v1/events');
    const list = page.getByTestId('run-services');
    await list.getByRole('link', { name: '127.218.6.30:21' }).waitFor();
    await list.getByRole('link', { name: '127.218.6.31:21' }).waitFor();
    await page.getByText('2 services seen by this run.').waitFor();
    const d = await api<{ run: { state: string; targets: string[] }; progress: { total: number; done: number; state: string } }>(analyst, `/scans/${liveRun}`);
    assert.equal(d.run.state, 'completed');
    assert.deepEqual(d.run.targets, [LIVE_RANGE]);
    assert.ok(d.progress.total > 0 && d.progress.done === d.progress.total, JSON.stringify(d.progress));
    // The run table lists it with its final progress.
    const row = page.locator('table.data tbody tr').filter({ hasText: liveRun });
    await row.getByText('completed').waitFor();
    await row.getByText(`${d.progress.done} / ${d.progress.total} (100 %)`).waitFor();
    await record(page, 'scans');
  });

  test('cancel a running scan (a tarpit of the lab keeps it busy): recorded as interrupted', { timeout: 180_000 }, async () => {
    const { page } = analyst;
    const tarpit = lab.nodes.find((n) => n.name === 'tarpit-104');
    assert.ok(tarpit, 'the lab has a tarpit');
    await page.getByLabel('Targets', { exact: true }).fill(tarpit.ip);
    await page.getByLabel('Ports (optional)', { exact: true }).fill(String(tarpit.port));
    await page.getByRole('button', { name: 'Launch scan' }).click();
    // The previous launch's message stays until this launch is answered: wait for the new one.
    const started = page.getByRole('status').filter({ hasText: /^Scan \S+ started\.$/, ...(liveRun !== '' ? { hasNotText: liveRun } : {}) });
    await started.waitFor();
    const id = /^Scan (\S+) started\.$/.exec(await textOf(started))![1]!;
    assert.notEqual(id, liveRun);
    await heading(page, 2, `Scan ${id}`);
    await page.getByRole('button', { name: 'Cancel this scan' }).click();
    await page.getByRole('status').filter({ hasText: `Scan ${id} cancelled.` }).waitFor();
    await page.locator('[data-testid="scan-state"]', { hasText: 'interrupted' }).waitFor({ timeout: 120_000 });
    const d = await api<{ run: { state: string } }>(analyst, `/scans/${id}`);
    assert.equal(d.run.state, 'interrupted');
  });

  test('triage: one finding, a bulk selection, a reopen; each persisted', { timeout: 120_000 }, async () => {
    const { page } = analyst;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Findings' }).click();
    await heading(page, 1, 'Findings');
    const n0 = await findingsTotal(page);
    const idOf = async (i: number) => {
      const href = await page.locator('table.data tbody tr').nth(i).getByRole('link').getAttribute('href');
      return Number(/#finding-(\d+)$/.exec(href ?? '')![1]);
    };

    // The dialog traps focus and closes on Escape, giving focus back.
    const firstTriage = page.locator('table.data tbody tr').first().getByRole('button', { name: /^Triage…/ });
    await firstTriage.click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await page.evaluate('document.activeElement.closest("dialog") !== null'), true, 'focus is in the dialog');
    for (let i = 0; i < 12; i++) await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.closest("dialog") !== null'), true, 'Tab stays in the dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.match((await page.evaluate('document.activeElement.textContent')) as string, /^Triage…/);

    const one = await idOf(0);
    const oneHref = (await page.locator('table.data tbody tr').first().getByRole('link').getAttribute('href'))!;
    await firstTriage.click();
    await dialog.getByLabel('Accepted risk', { exact: true }).check();
    await dialog.getByLabel(/^Note/).fill('Isolated VLAN, accepted by the e2e test.');
    await dialog.getByRole('button', { name: 'Apply to 1 finding' }).click();
    await page.getByRole('status').filter({ hasText: '1 finding marked accepted-risk.' }).waitFor();
    await heading(page, 2, `${n0 - 1} findings`);
    const accepted = await api<{ rows: Array<{ id: number; userState: string }> }>(analyst, '/findings?state=accepted-risk&limit=1000');
    assert.ok(accepted.rows.some((f) => f.id === one && f.userState === 'accepted-risk'), 'persisted');

    const two = [await idOf(0), await idOf(1)];
    await page.getByRole('checkbox', { name: /^Select (?!all )/ }).nth(0).check();
    await page.getByRole('checkbox', { name: /^Select (?!all )/ }).nth(1).check();
    await page.getByText('2 selected').waitFor();
    await page.getByRole('button', { name: 'Triage selected…' }).click();
    await dialog.getByLabel('False positive', { exact: true }).check();
    await dialog.getByRole('button', { name: 'Apply to 2 findings' }).click();
    await page.getByRole('status').filter({ hasText: '2 findings marked false-positive.' }).waitFor();
    await heading(page, 2, `${n0 - 3} findings`);
    const fp = await api<{ rows: Array<{ id: number }> }>(analyst, '/findings?state=false-positive&limit=1000');
    assert.deepEqual(fp.rows.map((f) => f.id).sort(), [...two].sort());
    await record(page, 'findings');

    // Reopen one of them from the false-positive list.
    await page.getByLabel('State', { exact: true }).selectOption('false-positive');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await heading(page, 2, '2 findings');
    const reopened = await idOf(0);
    await page.locator('table.data tbody tr').first().getByRole('button', { name: /^Triage…/ }).click();
    await dialog.getByLabel('Reopen', { exact: true }).check();
    await dialog.getByRole('button', { name: 'Apply to 1 finding' }).click();
    await page.getByRole('status').filter({ hasText: '1 finding reopened.' }).waitFor();
    await heading(page, 2, '1 finding');
    const open = await api<{ rows: Array<{ id: number; userState: string | null }> }>(analyst, '/findings?state=open&limit=1000');
    assert.ok(open.rows.some((f) => f.id === reopened && f.userState === null), 'reopened finding is open again');

    // The asset's history shows the triage with its note; the link lands on the finding.
    await go(page, oneHref);
    await page.locator('.timeline li', { hasText: 'marked accepted-risk: “Isolated VLAN, accepted by the e2e test.”' }).waitFor();
    await page.locator(`#finding-${one}`).getByText('accepted-risk').waitFor();
  });

  test('a viewer sees no launch, triage, edit or export control; the API refuses a launch anyway', { timeout: 120_000 }, async () => {
    const viewer = await login('viewer');
    const { page } = viewer;
    await go(page, '/scans');
    await heading(page, 2, 'Recent runs');
    await page.locator('table.data tbody tr').first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Launch scan' }).count(), 0);
    assert.equal(await page.getByLabel('Targets', { exact: true }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /Stop all scans/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /^Cancel/ }).count(), 0);
    await go(page, '/findings');
    await findingsTotal(page);
    assert.equal(await page.getByRole('checkbox').count(), 0);
    assert.equal(await page.getByRole('button', { name: /Triage/ }).count(), 0);
    await go(page, `/assets/${assetIp}`);
    await heading(page, 1, `Asset ${assetIp}`);
    await page.getByText('Radiology IT').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save metadata' }).count(), 0);
    assert.equal(await page.getByLabel('Tags', { exact: true }).count(), 0);
    await go(page, '/inventory');
    await page.locator('table.data tbody tr').first().waitFor();
    assert.equal(await page.getByText('Export this query:').count(), 0);
    await record(page, 'viewer inventory');

    const refused = await viewer.context.request.post(`${serve.origin}/api/v1/scans`, {
      data: { targets: [LIVE_RANGE], profile: 'safe' },
      headers: { 'X-CSRF-Token': await viewer.csrf() },
    });
    assert.equal(refused.status(), 403);

    // The user menu logs out: the session ends, the login page says so.
    viewer.watch.expect('/api/v1/auth/me', 401);
    await page.getByRole('button', { name: /viewer \(viewer\)/ }).click();
    await page.getByRole('button', { name: 'Log out' }).click();
    await heading(page, 1, 'Log in to medsurface');
    await page.getByRole('status').filter({ hasText: 'You are logged out.' }).waitFor();
    assert.equal((await viewer.context.request.get(`${serve.origin}/api/v1/auth/me`)).status(), 401);
  });

  test('an admin stops all scans after a confirmation that Escape cancels', { timeout: 120_000 }, async () => {
    const admin = await login('admin');
    const { page } = admin;
    await go(page, '/scans');
    const stopButton = page.getByRole('button', { name: 'Stop all scans…' });
    await stopButton.click();
    const dialog = page.getByRole('dialog', { name: 'Stop every scan now?' });
    await dialog.waitFor();
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Cancel', 'the safe choice has focus');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Stop all scans…');
    await stopButton.click();
    await dialog.getByRole('button', { name: 'Yes, stop all scans' }).click();
    await page.getByRole('status').filter({ hasText: /^Emergency stop: \d+ scans? stopped\.$/ }).waitFor();
  });

  test('the theme choice is stored and survives a reload', { timeout: 60_000 }, async () => {
    const { page } = analyst;
    await go(page, '/');
    await page.getByLabel('Theme', { exact: true }).selectOption('dark');
    assert.equal(await page.evaluate('document.documentElement.dataset.theme'), 'dark');
    await page.reload();
    await heading(page, 1, 'Overview');
    assert.equal(await page.evaluate('document.documentElement.dataset.theme'), 'dark');
    assert.equal(await page.evaluate('localStorage.getItem("medsurface-theme")'), 'dark');
    await page.getByLabel('Theme', { exact: true }).selectOption('system');
    assert.equal(await page.evaluate('document.documentElement.dataset.theme ?? null'), null);
  });

  test('first-admin setup from the link serve prints on an empty inventory', { timeout: 120_000 }, async () => {
    const emptyDb = path.join(work, 'empty.sqlite');
    setupServe = await startServe(['--db', emptyDb, '--state-dir', path.join(work, 'stop-setup')], env, /\/setup#token=/);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/setup#token=[A-Za-z0-9_-]+)/.exec(setupServe.stderr())![1]!;
    for (const scheme of ['dark', 'light'] as const) {
      const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, colorScheme: scheme });
      contexts.push(context);
      await watchCsp(context);
      const page = await context.newPage();
      const watch = new PageWatch(page, setupServe.origin);
      watch.expect('/api/v1/auth/me', 401);
      watches.push(watch);
      await page.goto(link);
      await heading(page, 1, 'Create the first administrator');
      assert.ok((await page.getByLabel('Setup token', { exact: true }).inputValue()).length > 20, 'the token came from the fragment');
      assert.equal(new URL(page.url()).hash, '', 'the token left the address bar');
      await snap(page, `setup-${scheme}`);
      if (scheme === 'dark') continue;
      await page.getByLabel('User name', { exact: true }).fill('first-admin');
      await page.getByLabel('Password', { exact: true }).fill('first-admin-password-1');
      await page.getByLabel('Password again', { exact: true }).fill('first-admin-password-1');
      await page.getByRole('button', { name: 'Create administrator' }).click();
      await heading(page, 1, 'Overview');
      await page.getByRole('button', { name: /first-admin \(admin\)/ }).waitFor();
      assert.equal(await statValue(page, 'Exposed assets'), 0);
    }
  });

  /** Screenshot plus contrast check of the page as it is. */
  async function snap(page: Page, name: string): Promise<void> {
    await page.evaluate('document.fonts.ready');
    contrast.push({ page: name, failures: await contrastFailures(page) });
    shots.push(await shoot(page, name));
    await record(page, name);
  }

  test('every page, light and dark: screenshots saved, text contrast at least WCAG AA', { timeout: 240_000 }, async (t) => {
    for (const scheme of ['light', 'dark'] as const) {
      const { page } = await newContext(scheme);
      await page.goto(`${serve.origin}/`);
      await heading(page, 1, 'Log in to medsurface');
      await snap(page, `login-${scheme}`);
      await page.getByLabel('User name', { exact: true }).fill('admin');
      await page.getByLabel('Password', { exact: true }).fill(USERS.admin.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await heading(page, 1, 'Overview');
      await page.locator('.chart svg').first().waitFor();
      await page.getByRole('heading', { name: 'Riskiest assets' }).waitFor();
      await page.locator('table.data tbody tr').first().waitFor();
      await snap(page, `overview-${scheme}`);

      await go(page, `/inventory?q=${encodeURIComponent('devicetype:pacs')}`);
      await page.locator('table.data tbody tr').first().waitFor();
      await page.locator('details.facet li').first().waitFor();
      await snap(page, `inventory-${scheme}`);

      await go(page, `/assets/${assetIp}`);
      await heading(page, 2, /^Findings/);
      await page.evaluate('document.querySelector("article.finding details").open = true');
      await snap(page, `asset-${scheme}`);

      await go(page, '/findings?state=any');
      await page.locator('table.data tbody tr').first().waitFor();
      await snap(page, `findings-${scheme}`);
      await page.locator('table.data tbody tr').first().getByRole('button', { name: /^Triage…/ }).click();
      await page.getByRole('dialog').waitFor();
      await snap(page, `findings-triage-dialog-${scheme}`);
      await page.keyboard.press('Escape');

      await go(page, `/scans?scan=${encodeURIComponent(liveRun)}`);
      await page.locator('[data-testid="scan-state"]').waitFor();
      await page.getByTestId('run-services').waitFor();
      await snap(page, `scans-${scheme}`);

      await go(page, '/no-such-page');
      await heading(page, 1, 'Page not found');
      await snap(page, `not-found-${scheme}`);
    }
    const bad = contrast.filter((c) => c.failures.length > 0);
    assert.deepEqual(bad, [], 'text below WCAG AA contrast');
    assert.ok(shots.length >= 16, `${shots.length} screenshots in test-artifacts/dashboard`);
    t.diagnostic(`screenshots: ${shots.map((s) => path.basename(s)).join(', ')}`);
  });

  test('no page text and no API answer holds a patient canary of the lab', async () => {
    await Promise.all(watches.map((w) => w.settle()));
    assert.ok(canaries.length > 60, `${canaries.length} canaries`);
    const answers = watches.flatMap((w) => w.responses);
    assert.ok(answers.length > 50, `${answers.length} API answers captured`);
    assert.ok(
      answers.some((a) => a.url.includes('/api/v1/assets/') && a.body.includes('"observation"')),
      'asset pages with their observations were read',
    );
    const leaks: string[] = [];
    for (const a of answers) for (const c of canariesIn(a.body, canaries)) leaks.push(`${c} in ${a.url}`);
    for (const s of seen) for (const c of canariesIn(s.text, canaries)) leaks.push(`${c} on page ${s.where}`);
    assert.deepEqual(leaks, []);
  });

  test('no console error, uncaught exception, failed request or CSP violation on any page', () => {
    const problems = watches.flatMap((w) => w.problems);
    assert.deepEqual(problems, []);
  });
});
