/**
 * The ZMap -> ZGrab2 pattern end to end: `scan --from-list` probes exactly the listed endpoints,
 * not every port of every host (`--from-nmap` with a real nmap: test/interop/discovery-nmap.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type RunningLab, startLab } from '../../lab/index.js';
import { executeScan, scanOptions } from './scan.js';

const BLOCK = '127.215.0.0/16';
let lab: RunningLab;
const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-disc-'));
before(async () => {
  lab = await startLab({ block: BLOCK, quiet: true });
});
after(async () => {
  await lab?.stop();
});
const io = () => ({ stdout: process.stdout, stderr: { write: () => true } as unknown as NodeJS.WriteStream, collect: true, writer: { count: 0, write() {}, close: async () => {} } });

test('--from-list scans only the listed endpoints', async () => {
  const orthanc = lab.nodes.find((n) => n.name === 'web-orthanc')!;
  const pacs = lab.nodes.find((n) => n.name === 'pacs-open')!;
  const list = path.join(dir, 'open.txt');
  writeFileSync(list, `# found open by an L4 sweep\n${orthanc.ip}:${orthanc.port}\n${pacs.ip}:${pacs.port}\n`);
  const s = await executeScan([], scanOptions({ fromList: list, hostDelay: 0, quiet: true, inventory: false, emitClosed: true, scope: BLOCK }), io());
  assert.equal(s.state, 'completed');
  assert.deepEqual(
    s.records.map((r) => `${r.ip}:${r.port}`).sort(),
    [`${orthanc.ip}:${orthanc.port}`, `${pacs.ip}:${pacs.port}`].sort(),
    'no other port was probed, even with --emit-closed',
  );
  assert.equal(s.records.find((r) => r.port === orthanc.port)?.product, 'Orthanc');
  await assert.rejects(executeScan(['127.215.1.1'], scanOptions({ fromList: list, quiet: true, inventory: false }), io()), /give no others/);
  await assert.rejects(executeScan([], scanOptions({ fromList: list, fromNmap: list, quiet: true, inventory: false }), io()), /give one of/);
});
