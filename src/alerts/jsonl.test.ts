/** The jsonl sink: each delivered event is one line that parses back to the event. */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { AlertOutbox, parseSinksConfig } from './index.js';
import { fakeClock, loopbackOnly, sampleEvent, tempDir } from './test-support.js';

test('jsonl: appended lines parse back to the events, in queue order, across flushes', async (t) => {
  const tmp = await tempDir();
  t.after(() => tmp.cleanup());
  const sinks = parseSinksConfig([{ name: 'file', type: 'jsonl', path: './events.jsonl' }], { baseDir: tmp.dir });
  assert.equal(sinks[0]!.type === 'jsonl' && sinks[0]!.path, path.join(tmp.dir, 'events.jsonl'), 'relative to baseDir');
  const box = await AlertOutbox.open(path.join(tmp.dir, 'spool'), sinks, { guard: loopbackOnly, now: fakeClock().now, onWarning: () => {} });
  const a = sampleEvent();
  const b = sampleEvent({
    kind: 'service-changed',
    key: 'service:127.77.0.10:104:changed:1.12.4',
    checkId: null,
    title: null,
    changes: { version: ['1.12.3', '1.12.4'] },
    tags: [],
    product: 'Orthanc "quoted"\nname',
  });
  const c = sampleEvent({ kind: 'finding-resolved', key: 'finding:127.77.0.10:104:dicom-any-ae:resolved', ip: '::1' });
  await box.enqueue([a, b]);
  assert.equal((await box.flush()).delivered, 2);
  await box.enqueue([c, a]);
  assert.equal((await box.flush()).delivered, 1);
  await box.close();

  const file = path.join(tmp.dir, 'events.jsonl');
  const text = await readFile(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  const lines = text.split('\n').slice(0, -1);
  assert.equal(lines.length, 3, 'one line per event, the repeated key not written again');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l) as unknown),
    [a, b, c],
  );
  assert.equal((await stat(file)).mode & 0o777, 0o600, 'created 0600');
});

test('jsonl: a file that cannot be written keeps the event pending', async (t) => {
  const tmp = await tempDir();
  t.after(() => tmp.cleanup());
  const sinks = parseSinksConfig([{ name: 'file', type: 'jsonl', path: path.join(tmp.dir, 'missing-folder', 'events.jsonl') }]);
  const box = await AlertOutbox.open(path.join(tmp.dir, 'spool'), sinks, { guard: loopbackOnly, now: fakeClock().now, onWarning: () => {} });
  await box.enqueue([sampleEvent()]);
  assert.deepEqual(await box.flush(), { delivered: 0, failed: 1, pending: 1, dead: 0, movedToDead: 0 });
  const [item] = await box.list();
  assert.match(item!.lastError!, /cannot append to .*events\.jsonl: .*ENOENT/);
  await box.close();
});
