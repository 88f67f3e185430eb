/**
 * diffRuns / diffSince end to end over the real store: the lab scenario of diff-fixture.ts
 * (a node fixed, a node added, a node upgraded, an interrupted run, hosts gone, a reopen and a
 * rescore) gives exactly the expected events, and PostgreSQL gives the same events as SQLite.
 * PostgreSQL must be reachable (MEDSURFACE_TEST_PG, default postgres://postgres@127.0.0.1:5432/test):
 * when it is not, the PostgreSQL test fails, it never skips.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ExposureEventSchema } from '../alerts/event-schema.js';
import type { EventKind, ExposureEvent } from '../core/events.js';
import type { ServiceRecord, Severity } from '../core/types.js';
import { openKyselyInventory } from './db.js';
import { type DiffResult, DiffError, diffRuns, diffSince, lastTwoCompletedRuns } from './diff.js';
import { buildScenario, Clock, DCMTK, HONEYPOT, MIRTH, NEWCOMER, ORTHANC, OUTSIDE } from './diff-fixture.js';
import type { KyselyInventory } from './kysely-store.js';

const ADMIN_URL = process.env.MEDSURFACE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Svc {
  ip: string;
  port: number;
  protocol: string;
  product: string | null;
  version: string | null;
  deviceType: string | null;
  tags: string[];
  country: string | null;
  org: string | null;
}

const S = {
  dcmtk: { ip: DCMTK, port: 11112, protocol: 'dicom', product: 'DCMTK', version: '3.6.7', deviceType: 'dicom-toolkit', tags: ['radiology'], country: null, org: null },
  orthancDicom: (version: string): Svc => ({ ip: ORTHANC, port: 4242, protocol: 'dicom', product: 'Orthanc', version, deviceType: 'pacs', tags: [], country: 'NL', org: 'Lab Hospital' }),
  orthancHttp: (version: string): Svc => ({ ...S.orthancDicom(version), port: 8042, protocol: 'http' }),
  mirth: { ip: MIRTH, port: 2575, protocol: 'hl7', product: 'Mirth Connect', version: null, deviceType: 'interface-engine', tags: [], country: null, org: null },
  outside: { ip: OUTSIDE, port: 2575, protocol: 'hl7', product: 'Mirth Connect', version: null, deviceType: 'interface-engine', tags: [], country: null, org: null },
  newcomer: { ip: NEWCOMER, port: 8042, protocol: 'http', product: 'Orthanc', version: '1.12.3', deviceType: 'pacs', tags: [], country: null, org: null },
  honeypot: { ip: HONEYPOT, port: 104, protocol: 'dicom', product: 'DCMTK', version: null, deviceType: 'pacs', tags: [], country: null, org: null },
} satisfies Record<string, Svc | ((v: string) => Svc)>;

const TITLE: Record<string, string> = {
  'dicom-any-ae': 'DICOM server accepts any called AE title',
  'dicom-no-tls': 'DICOM without TLS',
  'orthanc-rest-open': 'Orthanc REST API open without authentication',
  'hl7-no-tls': 'HL7 MLLP without TLS',
  'hl7-unauthenticated': 'HL7 interface answers unauthenticated queries',
};

/** Times the scenario's clock gives: records at 10:05, run ends at 11:00. */
const seenAt = (day: string) => `2026-01-0${day}T10:05:00.000Z`;
const endAt = (day: string) => `2026-01-0${day}T11:00:00.000Z`;

function svcEvent(
  kind: EventKind,
  s: Svc,
  runId: string,
  at: string,
  severity: Severity | null,
  changes: ExposureEvent['changes'] = null,
): ExposureEvent {
  const fields = changes === null ? [] : [Object.keys(changes).sort().join(',')];
  return {
    kind,
    key: [kind, s.ip, String(s.port), ...fields, runId].join('|'),
    at,
    runId,
    ip: s.ip,
    port: s.port,
    protocol: s.protocol,
    product: s.product,
    version: s.version,
    deviceType: s.deviceType,
    tags: s.tags,
    country: s.country,
    org: s.org,
    checkId: null,
    severity,
    title: null,
    changes,
  };
}

function findingEvent(
  kind: EventKind,
  s: Svc,
  checkId: string,
  severity: Severity,
  marker: { runId: string | null; at: string },
  changes: ExposureEvent['changes'] = null,
): ExposureEvent {
  return {
    ...svcEvent(kind, s, marker.runId ?? '', marker.at, severity, null),
    key: [kind, s.ip, String(s.port), checkId, severity, marker.runId ?? `at:${marker.at}`].join('|'),
    runId: marker.runId,
    checkId,
    title: TITLE[checkId]!,
    changes,
  };
}

/** Exact comparison of two event lists; on failure, the events only in one of them, one per line. */
function assertEvents(actual: ExposureEvent[], expected: ExposureEvent[], label: string): void {
  const a = actual.map((e) => JSON.stringify(e));
  const b = expected.map((e) => JSON.stringify(e));
  const onlyActual = a.filter((l) => !b.includes(l));
  const onlyExpected = b.filter((l) => !a.includes(l));
  if (onlyActual.length > 0 || onlyExpected.length > 0) {
    assert.fail(`${label}: events differ\n--- unexpected (got, not expected)\n${onlyActual.join('\n')}\n+++ missing (expected, not got)\n${onlyExpected.join('\n')}`);
  }
  assert.deepEqual(actual, expected, `${label}: same events, in the documented order`);
}

/** The expectations below describe the inventory after the whole scenario (severities are current ones). */
const EXPECTED: Record<string, ExposureEvent[]> = {
  'baseline r1': [
    svcEvent('service-new', S.dcmtk, 'r1', seenAt('1'), 'high'),
    svcEvent('service-new', S.orthancDicom('1.10.1'), 'r1', seenAt('1'), 'medium'),
    svcEvent('service-new', S.orthancHttp('1.10.1'), 'r1', seenAt('1'), 'critical'),
    svcEvent('service-new', S.mirth, 'r1', seenAt('1'), 'high'),
    svcEvent('service-new', S.outside, 'r1', seenAt('1'), null),
    findingEvent('finding-opened', S.dcmtk, 'dicom-any-ae', 'high', { runId: 'r1', at: seenAt('1') }),
    findingEvent('finding-opened', S.orthancDicom('1.10.1'), 'dicom-no-tls', 'medium', { runId: 'r1', at: seenAt('1') }),
    findingEvent('finding-opened', S.orthancHttp('1.10.1'), 'orthanc-rest-open', 'critical', { runId: 'r1', at: seenAt('1') }),
    findingEvent('finding-opened', S.mirth, 'hl7-no-tls', 'medium', { runId: 'r1', at: seenAt('1') }),
    findingEvent('finding-opened', S.mirth, 'hl7-unauthenticated', 'high', { runId: 'r1', at: seenAt('1') }),
  ],
  // A node added, a node fixed, a node upgraded (both of its services); the new honeypot is left out.
  'r1 → r2': [
    svcEvent('service-new', S.newcomer, 'r2', seenAt('2'), 'high'),
    svcEvent('service-changed', S.orthancDicom('1.12.3'), 'r2', seenAt('2'), 'medium', { version: ['1.10.1', '1.12.3'] }),
    svcEvent('service-changed', S.orthancHttp('1.12.3'), 'r2', seenAt('2'), 'critical', { version: ['1.10.1', '1.12.3'] }),
    findingEvent('finding-opened', S.newcomer, 'orthanc-rest-open', 'high', { runId: 'r2', at: seenAt('2') }),
    findingEvent('finding-resolved', S.mirth, 'hl7-unauthenticated', 'high', { runId: 'r2', at: endAt('2') }),
  ],
  // The interrupted run missed four hosts: nothing is gone, nothing resolved.
  'r2 → r3': [],
  // Through the interrupted r3 to the completed r4 over the lower half: .10 unreachable, .11:8042 closed;
  // .200 is outside r4's targets, the honeypot .20 is left out.
  'r2 → r4': [
    svcEvent('service-gone', S.dcmtk, 'r4', endAt('4'), 'high'),
    svcEvent('service-gone', S.orthancHttp('1.12.3'), 'r4', endAt('4'), 'critical'),
    findingEvent('finding-unverified', S.dcmtk, 'dicom-any-ae', 'high', { runId: 'r4', at: endAt('4') }),
  ],
  // .10 back (r4 covered it); .200 back but r4 did not cover it: not new; a reopen; a rescore.
  'r4 → r5': [
    svcEvent('service-new', S.dcmtk, 'r5', seenAt('5'), 'high'),
    findingEvent('finding-reopened', S.mirth, 'hl7-unauthenticated', 'high', { runId: 'r5', at: seenAt('5') }),
    findingEvent('finding-changed', S.newcomer, 'orthanc-rest-open', 'high', { runId: null, at: '2026-01-05T09:00:00.000Z' }, { severity: ['critical', 'high'] }),
  ],
  // Window from 2026-01-04: A = r2 (r3 was interrupted), B = r5; nothing of B is unseen before the window.
  'since 2026-01-04': [
    svcEvent('service-gone', S.orthancHttp('1.12.3'), 'r4', endAt('4'), 'critical'),
    findingEvent('finding-reopened', S.mirth, 'hl7-unauthenticated', 'high', { runId: 'r5', at: seenAt('5') }),
    findingEvent('finding-changed', S.newcomer, 'orthanc-rest-open', 'high', { runId: null, at: '2026-01-05T09:00:00.000Z' }, { severity: ['critical', 'high'] }),
  ],
};

/** Every diff the tests look at, by label. */
async function allDiffs(inv: KyselyInventory): Promise<Record<string, DiffResult>> {
  const db = inv.db;
  return {
    'baseline r1': await diffRuns(db, null, 'r1'),
    'baseline r2': await diffRuns(db, null, 'r2'),
    'r1 → r2': await diffRuns(db, 'r1', 'r2'),
    'r1 → r2 with honeypots': await diffRuns(db, 'r1', 'r2', { includeHoneypots: true }),
    'r2 → r3': await diffRuns(db, 'r2', 'r3'),
    'r2 → r4': await diffRuns(db, 'r2', 'r4'),
    'r1 → r4': await diffRuns(db, 'r1', 'r4'),
    'r4 → r5': await diffRuns(db, 'r4', 'r5'),
    'r1 → r5': await diffRuns(db, 'r1', 'r5'),
    'since 2026-01-04': await diffSince(db, '2026-01-04T00:00:00Z'),
  };
}

const results: { sqlite?: Record<string, DiffResult>; postgres?: Record<string, DiffResult> } = {};

describe('diff on SQLite', () => {
  let inv: KyselyInventory;
  let diffs: Record<string, DiffResult>;

  before(async () => {
    const clock = new Clock();
    inv = await openKyselyInventory(':memory:', { now: clock.now });
    await buildScenario(inv, clock);
    diffs = await allDiffs(inv);
    results.sqlite = diffs;
  });
  after(async () => {
    await inv.close();
  });

  for (const label of Object.keys(EXPECTED)) {
    test(`${label}: exactly the expected events`, () => {
      assertEvents(diffs[label]!.events, EXPECTED[label]!, label);
    });
  }

  test('the summary counts every kind, the left-out honeypot events and whether B completed', () => {
    const s = diffs['r1 → r2']!.summary;
    assert.deepEqual(s.counts, {
      'service-new': 1,
      'service-gone': 0,
      'service-changed': 2,
      'finding-opened': 1,
      'finding-reopened': 0,
      'finding-changed': 0,
      'finding-resolved': 1,
      'finding-unverified': 0,
    });
    assert.equal(s.total, 5);
    assert.deepEqual(s.excluded, { honeypot: 2, falsePositive: 0 });
    assert.equal(s.complete, true);
    assert.deepEqual(diffs['r1 → r2']!.from?.id, 'r1');
    assert.deepEqual(diffs['r1 → r2']!.to.id, 'r2');
    assert.equal(diffs['r2 → r4']!.summary.excluded.honeypot, 2, 'the honeypot gone and its finding unverified');
  });

  test('an interrupted run resolves nothing and makes nothing gone', async () => {
    const d = diffs['r2 → r3']!;
    assert.equal(d.summary.complete, false);
    assert.equal(d.summary.total, 0);
    assert.deepEqual(d.summary.excluded, { honeypot: 0, falsePositive: 0 });
    const resolvedInR3 = await inv.db.selectFrom('finding_events').select('id').where('run_id', '=', 'r3').where('event', '=', 'resolved').execute();
    assert.equal(resolvedInR3.length, 0, 'the store resolved nothing in r3');
  });

  test('with --include-honeypots the honeypot appears', () => {
    const extra = diffs['r1 → r2 with honeypots']!.events.filter((e) => e.ip === HONEYPOT);
    assertEvents(
      extra,
      [
        // Its finding is unverified now (r4 found the host unreachable): no open severity left.
        svcEvent('service-new', S.honeypot, 'r2', seenAt('2'), null),
        findingEvent('finding-opened', S.honeypot, 'dicom-any-ae', 'high', { runId: 'r2', at: seenAt('2') }),
      ],
      'honeypot events',
    );
    assert.equal(diffs['r1 → r2 with honeypots']!.summary.excluded.honeypot, 0);
  });

  test('keys name the exposure and the run that started its state, whatever A is', () => {
    const keys = (label: string) => diffs[label]!.events.map((e) => e.key);
    assert.ok(keys('r1 → r2').includes('service-changed|127.77.1.11|4242|version|r2'), keys('r1 → r2').join('\n'));
    assert.ok(keys('r1 → r2').includes('finding-resolved|127.77.1.12|2575|hl7-unauthenticated|high|r2'));
    assert.ok(keys('r4 → r5').includes('finding-changed|127.77.1.13|8042|orthanc-rest-open|high|at:2026-01-05T09:00:00.000Z'));
    // A longer range (r1 → r4, through the interrupted r3) keeps the keys of the changes r2 made.
    for (const k of ['service-changed|127.77.1.11|4242|version|r2', 'finding-resolved|127.77.1.12|2575|hl7-unauthenticated|high|r2', 'service-new|127.77.1.13|8042|r2']) {
      assert.ok(keys('r1 → r4').includes(k), `${k} in r1 → r4:\n${keys('r1 → r4').join('\n')}`);
    }
    // A baseline at r2 dates the services seen since r1 from r1, as the baseline at r1 did.
    assert.ok(keys('baseline r2').includes('service-new|127.77.1.10|11112|r1'));
    assert.ok(keys('baseline r2').includes('service-new|127.77.1.13|8042|r2'));
    // .10 went (r4) and came back (r5): a new state, a new key.
    assert.ok(keys('r4 → r5').includes('service-new|127.77.1.10|11112|r5'));
    assert.ok(keys('r2 → r4').includes('service-gone|127.77.1.10|11112|r4'));
    // The resolved-then-reopened finding has a key of its own for each state.
    assert.ok(keys('r1 → r5').includes('finding-reopened|127.77.1.12|2575|hl7-unauthenticated|high|r5'), keys('r1 → r5').join('\n'));
  });

  test('over several runs, the net change: r1 → r5', () => {
    const kinds = diffs['r1 → r5']!.events.map((e) => `${e.kind} ${e.ip}:${e.port}${e.checkId ? ` ${e.checkId}` : ''}`);
    assert.deepEqual(kinds, [
      'service-new 127.77.1.13:8042',
      'service-gone 127.77.1.11:8042',
      'service-changed 127.77.1.11:4242',
      'finding-opened 127.77.1.13:8042 orthanc-rest-open',
      'finding-reopened 127.77.1.12:2575 hl7-unauthenticated',
    ]);
  });

  test('every event is one the alert outbox accepts', () => {
    for (const [label, d] of Object.entries(diffs)) {
      for (const e of d.events) {
        const r = ExposureEventSchema.safeParse(e);
        assert.ok(r.success, `${label}: ${JSON.stringify(e)}: ${r.error?.message}`);
      }
    }
  });

  test('--last is the two latest completed runs', async () => {
    assert.deepEqual(await lastTwoCompletedRuns(inv.db), ['r4', 'r5']);
  });

  test('a finding marked false-positive says nothing', async () => {
    const f = await inv.db.selectFrom('findings').innerJoin('services', 'services.id', 'findings.service_id').select('findings.id').where('services.ip', '=', MIRTH).where('findings.check_id', '=', 'hl7-unauthenticated').executeTakeFirstOrThrow();
    await inv.setUserState(Number(f.id), 'false-positive');
    try {
      const d = await diffRuns(inv.db, 'r4', 'r5');
      assert.ok(!d.events.some((e) => e.checkId === 'hl7-unauthenticated'));
      assert.equal(d.summary.excluded.falsePositive, 1);
    } finally {
      await inv.setUserState(Number(f.id), null);
    }
  });

  test('bad ids and wrong order are DiffErrors that list the recent runs', async () => {
    await assert.rejects(diffRuns(inv.db, 'r1', 'r-nope'), (err: unknown) => {
      assert.ok(err instanceof DiffError);
      assert.match(err.message, /no scan run "r-nope"; recent runs \(newest first\): r5 \(completed, started 2026-01-05T10:00:00.000Z\), r4 .*r1 \(completed/);
      return true;
    });
    await assert.rejects(diffRuns(inv.db, 'zz', 'r2'), /no scan run "zz"/);
    await assert.rejects(diffRuns(inv.db, 'r3', 'r2'), /r3 .* is newer than r2 .*: give the older run first/);
    await assert.rejects(diffRuns(inv.db, 'r2', 'r2'), /give two different runs/);
    await assert.rejects(diffSince(inv.db, 'yesterday'), DiffError);
  });

  test('a window with no completed run in it has no events', async () => {
    const d = await diffSince(inv.db, '2026-02-01T00:00:00Z');
    assert.equal(d.events.length, 0);
    assert.equal(d.to.id, 'r5');
  });
});

describe('coverage of runs whose targets came from a file, or with fewer ports', () => {
  test('gone only where the run reached the host, and only on the ports it scanned', async () => {
    const clock = new Clock();
    const inv = await openKyselyInventory(':memory:', { now: clock.now });
    try {
      const rec = (ip: string, port: number, ts: string): ServiceRecord => ({
        ip,
        port,
        protocol: port === 104 ? 'dicom' : 'http',
        status: 'success',
        timestamp: ts,
        findings: [],
        checksRun: [],
        data: {},
      });
      const scan = async (id: string, day: string, targets: string[], options: Record<string, unknown>, ips: [string, number][]) => {
        clock.set(`2026-02-0${day}T10:00:00.000Z`);
        await inv.createRun({ id, profile: 'safe', targets, options, totalTargets: 0 });
        await inv.recordServices(id, ips.map(([ip, port]) => rec(ip, port, `2026-02-0${day}T10:01:00.000Z`)));
        clock.set(`2026-02-0${day}T11:00:00.000Z`);
        await inv.finishRun(id, 'completed', { stats: {} });
      };
      const all: [string, number][] = [['127.77.2.30', 104], ['127.77.2.30', 8042], ['127.77.2.31', 104]];
      await scan('f1', '1', ['127.77.2.0/24'], { ports: [104, 8042] }, all);
      await scan('f2', '2', ['@lab-hosts.txt'], {}, [['127.77.2.30', 104]]);
      await scan('f3', '3', ['127.77.2.0/24'], { ports: [104] }, [['127.77.2.30', 104]]);
      await scan('f4', '4', ['127.77.2.0/24'], { ports: [104, 8042], exclude: ['127.77.2.31'] }, [['127.77.2.30', 104]]);
      const gone = async (a: string, b: string) =>
        (await diffRuns(inv.db, a, b)).events.filter((e) => e.kind === 'service-gone').map((e) => `${e.ip}:${e.port}`);
      assert.deepEqual(await gone('f1', 'f2'), ['127.77.2.30:8042'], 'file targets: .30 answered on 104, .31 was never reached');
      assert.deepEqual(await gone('f1', 'f3'), ['127.77.2.31:104'], 'f3 scanned port 104 only');
      assert.deepEqual(await gone('f1', 'f4'), ['127.77.2.30:8042'], 'f4 excluded .31');
    } finally {
      await inv.close();
    }
  });
});

describe('diff on PostgreSQL', () => {
  const name = `medsurface_diff_${randomBytes(6).toString('hex')}`;
  let created = false;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  after(async () => {
    if (created) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  test('the same scenario gives the same diffs as on SQLite (the server must be up)', async () => {
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    created = true;
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    const clock = new Clock();
    const inv = await openKyselyInventory(url.toString(), { now: clock.now });
    try {
      assert.equal(inv.kind, 'postgres');
      await buildScenario(inv, clock);
      results.postgres = await allDiffs(inv);
    } finally {
      await inv.close();
    }
    assert.ok(results.sqlite, 'the SQLite diffs ran first');
    for (const label of Object.keys(results.sqlite)) {
      assertEvents(results.postgres[label]!.events, results.sqlite[label]!.events, `PostgreSQL vs SQLite, ${label}`);
      assert.deepEqual(results.postgres[label], results.sqlite[label], `${label}: same from/to/summary`);
    }
    for (const label of Object.keys(EXPECTED)) assertEvents(results.postgres[label]!.events, EXPECTED[label]!, `PostgreSQL ${label}`);
  });
});
