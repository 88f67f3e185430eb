import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type RunningLab, startLab } from '../../lab/index.js';
import { requestStopAll } from '../../monitor/index.js';
import { openMonitor } from './monitor.js';
import { executeScan, scanOptions } from './scan.js';

const BLOCK = '127.213.0.0/16';
let lab: RunningLab;
const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-monitor-'));

before(async () => {
  lab = await startLab({ block: BLOCK, quiet: true });
});
after(async () => {
  await lab?.stop();
});

const quiet = { write: () => true } as unknown as NodeJS.WritableStream;

test('monitor --once: the due job runs once, its diff reaches the JSONL sink, a second --once runs nothing', async () => {
  const node = lab.nodes.find((n) => n.name === 'web-orthanc')!;
  const events = path.join(dir, 'events.jsonl');
  const cfg = path.join(dir, 'monitor.yaml');
  writeFileSync(
    cfg,
    [
      'timezone: UTC',
      'jobs:',
      '  - name: lab-web',
      `    targets: [${node.ip}]`,
      `    ports: [${node.port}]`,
      '    profile: safe',
      '    schedule: "0 3 * * *"',
      '    authorisation: { approvedBy: "Test Lead", reference: "TEST-1", until: "2099-12-31" }',
      '    alerts: [file]',
      'sinks:',
      '  - name: file',
      '    type: jsonl',
      `    path: ${events}`,
      '',
    ].join('\n'),
  );
  const db = path.join(dir, 'inv.db');
  const stopDir = path.join(dir, 'stop');
  for (let i = 0; i < 2; i++) {
    const s = await openMonitor({ config: cfg, once: true, db, stopDir }, quiet);
    try {
      await s.monitor.runOnce();
      await s.outbox?.flush();
    } finally {
      await s.close();
    }
  }
  const lines = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; ip: string; checkId: string | null });
  assert.ok(lines.some((e) => e.kind === 'service-new' && e.ip === node.ip), JSON.stringify(lines));
  assert.ok(lines.some((e) => e.kind === 'finding-opened' && e.checkId === 'orthanc-rest-open'));
  const keys = lines.map((e) => JSON.stringify(e));
  assert.equal(new Set(keys).size, keys.length, 'no alert delivered twice');
  const { openKyselyInventory } = await import('../../inventory/index.js');
  const inv = await openKyselyInventory(db);
  const runs = await inv.listRuns();
  const job = await inv.db.selectFrom('monitor_jobs').selectAll().executeTakeFirstOrThrow();
  await inv.close();
  assert.equal(runs.length, 1, 'the restarted monitor did not run the job again');
  assert.equal(job.last_run_id, runs[0]!.id);
  assert.equal(job.lock_owner, null);
});

test('stop --all ends a running scan from outside, recorded as interrupted', async () => {
  const tarpit = lab.nodes.find((n) => n.name.includes('tarpit'));
  assert.ok(tarpit, 'the lab has a tarpit node');
  const stopDir = path.join(dir, 'stop2');
  const started = Date.now();
  const scan = executeScan(
    [tarpit.ip],
    scanOptions({ ports: String(tarpit.port), connectTimeout: 60_000, readTimeout: 60_000, sessionTimeout: 120_000, quiet: true, db: path.join(dir, 'inv2.db'), scope: BLOCK }),
    { stdout: process.stdout, stderr: quiet as NodeJS.WriteStream, writer: { count: 0, write() {}, close: async () => {} }, stopDir },
  );
  await new Promise((r) => setTimeout(r, 1500));
  const { runs } = requestStopAll(stopDir);
  assert.equal(runs.length, 1, 'the running scan was registered');
  const s = await scan;
  assert.equal(s.state, 'interrupted');
  assert.ok(Date.now() - started < 20_000, 'ended promptly');
});
