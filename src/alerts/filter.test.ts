/** Sink filters: each condition alone, combined (AND), lists (any-of), and the honeypot predicate. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExposureEvent } from '../core/events.js';
import { SinkFilterSchema } from './config.js';
import { eventMatches } from './filter.js';
import { sampleEvent } from './test-support.js';

const f = (raw: unknown) => SinkFilterSchema.parse(raw);

test('filter: an empty filter passes everything', () => {
  assert.ok(eventMatches(f({}), sampleEvent()));
  assert.ok(eventMatches(f({}), sampleEvent({ severity: null, deviceType: null, tags: [] })));
});

test('filter: minSeverity is inclusive; an event without severity is below every minimum', () => {
  const high = f({ minSeverity: 'high' });
  assert.ok(eventMatches(high, sampleEvent({ severity: 'critical' })));
  assert.ok(eventMatches(high, sampleEvent({ severity: 'high' })));
  assert.ok(!eventMatches(high, sampleEvent({ severity: 'medium' })));
  assert.ok(!eventMatches(high, sampleEvent({ severity: null })));
  assert.ok(eventMatches(f({ minSeverity: 'info' }), sampleEvent({ severity: 'info' })));
  assert.ok(!eventMatches(f({ minSeverity: 'info' }), sampleEvent({ severity: null })));
});

test('filter: deviceTypes, tags (any-of) and kinds', () => {
  const dt = f({ deviceTypes: ['mri', 'ct', 'pacs'] });
  assert.ok(eventMatches(dt, sampleEvent({ deviceType: 'ct' })));
  assert.ok(!eventMatches(dt, sampleEvent({ deviceType: 'lis' })));
  assert.ok(!eventMatches(dt, sampleEvent({ deviceType: null })));

  const tags = f({ tags: ['radiology', 'icu'] });
  assert.ok(eventMatches(tags, sampleEvent({ tags: ['icu'] })));
  assert.ok(eventMatches(tags, sampleEvent({ tags: ['lab', 'radiology'] })));
  assert.ok(!eventMatches(tags, sampleEvent({ tags: ['lab'] })));
  assert.ok(!eventMatches(tags, sampleEvent({ tags: [] })));

  const kinds = f({ kinds: ['finding-opened', 'finding-reopened'] });
  assert.ok(eventMatches(kinds, sampleEvent({ kind: 'finding-reopened' })));
  assert.ok(!eventMatches(kinds, sampleEvent({ kind: 'finding-resolved' })));
  assert.ok(!eventMatches(kinds, sampleEvent({ kind: 'service-new' })));
});

test('filter: all conditions must hold', () => {
  const all = f({ minSeverity: 'high', deviceTypes: ['pacs'], tags: ['radiology'], kinds: ['finding-opened'] });
  assert.ok(eventMatches(all, sampleEvent()));
  assert.ok(!eventMatches(all, sampleEvent({ severity: 'low' })));
  assert.ok(!eventMatches(all, sampleEvent({ deviceType: 'mri' })));
  assert.ok(!eventMatches(all, sampleEvent({ tags: ['cardiology'] })));
  assert.ok(!eventMatches(all, sampleEvent({ kind: 'finding-changed' })));
});

test('filter: honeypots are skipped unless includeHoneypots; without a predicate the rule does not apply', () => {
  const isHoneypot = (e: ExposureEvent) => e.ip === '127.77.9.9';
  const trap = sampleEvent({ ip: '127.77.9.9' });
  assert.ok(!eventMatches(f({}), trap, isHoneypot), 'default: skipped');
  assert.ok(eventMatches(f({}), sampleEvent(), isHoneypot), 'other hosts pass');
  assert.ok(eventMatches(f({ includeHoneypots: true }), trap, isHoneypot));
  assert.ok(eventMatches(f({}), trap), 'no predicate: nothing is known to be a honeypot');
});
