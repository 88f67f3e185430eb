import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../core/errors.js';
import { parsePorts } from './options.js';

test('parsePorts: lists and ranges, sorted and unique', () => {
  assert.deepEqual(parsePorts('4242,104, 11112,104'), [104, 4242, 11112]);
  assert.deepEqual(parsePorts('100-103'), [100, 101, 102, 103]);
});

test('parsePorts: bad tokens are usage errors naming the token', () => {
  for (const bad of ['0', '70000', 'abc', '10-5', '1-2-3', '']) {
    assert.throws(() => parsePorts(bad), (e: Error) => e instanceof UsageError && (bad === '' || e.message.includes(bad)));
  }
});
