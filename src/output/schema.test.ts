import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { executeScan, scanOptions } from '../cli/commands/scan.js';
import type { ServiceRecord } from '../core/types.js';
import { type RunningLab, startLab } from '../lab/index.js';
import { outputJsonSchema } from './schema.js';

const committed = JSON.parse(readFileSync(new URL('../../schema/service-record.schema.json', import.meta.url), 'utf8'));

test('the committed JSON Schema is the one generated from the zod schema (run `npm run schema`)', () => {
  assert.deepEqual(committed, JSON.parse(JSON.stringify(outputJsonSchema())));
});

let lab: RunningLab;
let records: ServiceRecord[] = [];
before(async () => {
  lab = await startLab({ block: '127.209.0.0/16', quiet: true, only: ['pacs-open', 'pacs-orthanc-like', 'pacs-tls', 'hostile-garbage', 'us-modality'] });
  const s = await executeScan(
    [...new Set(lab.nodes.map((n) => n.ip))],
    scanOptions({
      ports: '104,2762,4242,11112',
      concurrency: 8,
      hostDelay: 0,
      connectTimeout: 800,
      readTimeout: 800,
      sessionTimeout: 2500,
      retries: 0,
      emitClosed: true,
      inventory: false,
      quiet: true,
    }),
    { stdout: process.stdout, stderr: process.stderr, collect: true, writer: { count: 0, write() {}, close: async () => {} } },
  );
  records = s.records;
});
after(() => lab?.stop());

test('real scan output (open, closed, TLS, hostile) validates against the JSON Schema', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(committed);
  assert.ok(records.length >= 10, `records: ${records.length}`);
  const statuses = new Set(records.map((r) => r.status));
  for (const s of ['success', 'connection-refused', 'protocol-error']) assert.ok(statuses.has(s as never), `a ${s} record`);
  assert.ok(records.some((r) => r.tls?.certificate), 'a TLS record');
  for (const r of records) {
    const line = JSON.parse(JSON.stringify(r));
    assert.ok(validate(line), `${r.ip}:${r.port} ${JSON.stringify(validate.errors)}`);
  }
});
