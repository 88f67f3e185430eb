/**
 * The coordinator's aggregate progress: shards counted by state (stalled ones apart) and the
 * plain lines written when stderr is not a terminal; nothing with --quiet.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { RunStats } from '../../src/engine/run-scan.js';
import { makeDistributedProgress, shardCounts, shardText } from '../../src/distributed/progress.js';
import { EMPTY_SHARD_STATS, type ShardRow, type ShardState } from '../../src/distributed/types.js';

const row = (shard: number, state: ShardState, heartbeatAgeMs: number | null = null): ShardRow => ({
  runId: 'r-1',
  shard,
  count: 6,
  state,
  attempts: 1,
  totalTargets: 10,
  doneTargets: state === 'done' ? 10 : 3,
  checkpoint: null,
  stats: EMPTY_SHARD_STATS,
  worker: null,
  heartbeatAgeMs,
  leaseExpired: false,
  error: null,
});

test('shards by state, stalled ones apart', () => {
  const c = shardCounts([row(0, 'done'), row(1, 'done'), row(2, 'running', 500), row(3, 'running', 90_000), row(4, 'failed'), row(5, 'pending')], 60_000);
  assert.deepEqual(c, { shards: 6, pending: 1, running: 2, done: 2, failed: 1, cancelled: 0, stalled: 1 });
  assert.equal(shardText(c), '2/6 done, 2 running, 1 failed, 1 stalled');
  assert.equal(shardText(shardCounts([row(0, 'pending')], 60_000)), '0/1 done, 0 running');
});

test('plain lines when stderr is not a terminal, the last one at the end; nothing when quiet', () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => {
    text += c.toString();
  });
  const stream = out as unknown as NodeJS.WriteStream;
  const stats = (done: number): RunStats => ({ targets: 60, hostsDone: done, probes: done, open: 2, findings: 1, startedAt: 0, elapsedMs: 1500 });
  const p = makeDistributedProgress('auto', stream);
  p.update(stats(10), shardCounts([row(0, 'running'), row(1, 'pending')], 60_000));
  p.update(stats(20), shardCounts([row(0, 'done'), row(1, 'running')], 60_000));
  p.stop();
  assert.deepEqual(text.trim().split('\n'), [
    'progress: 10/60 targets, shards 0/2 done, 1 running, 2 open, 1 findings, 1.5 s',
    'progress: 20/60 targets, shards 1/2 done, 1 running, 2 open, 1 findings, 1.5 s',
  ]);

  text = '';
  const q = makeDistributedProgress('quiet', stream);
  q.update(stats(1), shardCounts([row(0, 'running')], 60_000));
  q.stop();
  assert.equal(text, '');
});
