/**
 * TLP markings: the five TLP 2.0 labels, what `--tlp` accepts, and the errors it gives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../core/errors.js';
import { DEFAULT_TLP, parseTlp, TLP_LEVELS, tlpMarking } from './tlp.js';

test('labels are TLP 2.0 spellings, default amber', () => {
  assert.deepEqual(
    TLP_LEVELS.map((l) => tlpMarking(l).label),
    ['TLP:CLEAR', 'TLP:GREEN', 'TLP:AMBER', 'TLP:AMBER+STRICT', 'TLP:RED'],
  );
  assert.equal(DEFAULT_TLP, 'amber');
  assert.match(tlpMarking('amber').description, /need-to-know basis within their organization and its clients/);
  assert.match(tlpMarking('amber+strict').description, /within their organization\.$/);
  assert.match(tlpMarking('red').description, /individual recipients only/);
});

test('--tlp takes level names and labels in any case', () => {
  assert.equal(parseTlp('amber'), 'amber');
  assert.equal(parseTlp('AMBER+STRICT'), 'amber+strict');
  assert.equal(parseTlp('TLP:Red'), 'red');
  assert.equal(parseTlp(' clear '), 'clear');
});

test('a wrong --tlp is a UsageError that lists the levels; TLP 1.0 WHITE points to CLEAR', () => {
  assert.throws(
    () => parseTlp('orange'),
    (e: unknown) => e instanceof UsageError && e.message === '--tlp must be one of clear, green, amber, amber+strict, red (FIRST TLP 2.0), not "orange"',
  );
  assert.throws(() => parseTlp('white'), (e: unknown) => e instanceof UsageError && /TLP 2\.0 calls it clear/.test(e.message));
  assert.throws(() => parseTlp('amber\u001b[31m'), (e: unknown) => e instanceof UsageError && e.message.includes('\\u001b'));
});
