/**
 * runShard on loopback (a /26 of this file's own block, a few addresses with a listener that
 * accepts and hangs up, the rest closed): a shard scans exactly its positions of the run's
 * permutation, an interrupted shard resumed from its checkpoint loses no host and rescans at
 * most the ones in flight, and a checkpoint never covers a host whose records were not written.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ServiceRecord } from '../../src/core/types.js';
import { type PreparedScan, prepareScan, scanConfigOf } from '../../src/distributed/scan-setup.js';
import { type ShardProgress, runShard } from '../../src/distributed/shard-runner.js';
import { EMPTY_SHARD_STATS, type StoredScanOptions, StoredScanOptionsSchema } from '../../src/distributed/types.js';

const RANGE = '127.216.240.0/26';
const LIVE = ['127.216.240.3', '127.216.240.10', '127.216.240.20', '127.216.240.33', '127.216.240.50', '127.216.240.61'];
const PORT = 7;
const SHARD = { index: 1, count: 3 };
const CONCURRENCY = 4;

const servers: net.Server[] = [];
let prep: PreparedScan;
let stored: StoredScanOptions;

before(async () => {
  for (const ip of LIVE) {
    const s = net.createServer((sock) => sock.destroy());
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(PORT, ip, () => resolve());
    });
    servers.push(s);
  }
  stored = StoredScanOptionsSchema.parse({
    targets: [RANGE],
    ports: [PORT],
    probes: ['dicom'],
    profile: 'safe',
    exclude: ['127.216.240.40'],
    excludeFile: [],
    scope: RANGE,
    dicomTls: false,
    seed: '424242',
    concurrency: CONCURRENCY,
    rate: 0,
    hostConcurrency: 1,
    hostDelay: 0,
    timeouts: { connectMs: 2000, readMs: 2000, sessionMs: 5000 },
    retries: 0,
  });
  prep = await prepareScan(stored);
});

after(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** The shard's addresses by position, as the permutation gives them. */
function shardAddresses(): Map<number, string> {
  const out = new Map<number, string>();
  for (const { position, target } of prep.targets.iterate({ seed: BigInt(stored.seed), shard: SHARD, exclude: prep.exclude })) out.set(position, target.ip);
  return out;
}

function covered(p: ShardProgress, position: number): boolean {
  return position < p.checkpoint.resumeFrom || p.checkpoint.done.includes(position);
}

describe('runShard', () => {
  test('an interrupted shard resumes from its checkpoint: every host once, at most the in-flight ones twice', async () => {
    const expected = shardAddresses();
    assert.ok(expected.size >= 15 && expected.size <= 25, `shard holds ${expected.size} addresses`);
    assert.ok(![...expected.values()].includes('127.216.240.40'), 'the excluded address is not in the shard');
    const scanned: string[] = [];
    const written: ServiceRecord[] = [];
    let saved: ShardProgress | null = null;
    const stop = new AbortController();
    const first = await runShard({
      targets: prep.targets,
      exclude: prep.exclude,
      seed: BigInt(stored.seed),
      shard: SHARD,
      config: scanConfigOf(prep, { signal: stop.signal, rate: null }),
      concurrency: CONCURRENCY,
      resume: null,
      stats: EMPTY_SHARD_STATS,
      write: async (recs) => {
        written.push(...recs);
      },
      saveProgress: async (p) => {
        saved = p;
      },
      checkpointEveryMs: 0,
      onRecord: (rec) => {
        scanned.push(rec.ip);
        if (scanned.length === 6) stop.abort();
      },
    });
    assert.equal(first.state, 'interrupted');
    assert.ok(saved !== null);
    const cp: ShardProgress = saved;
    assert.ok(cp.doneTargets >= 1 && cp.doneTargets < expected.size, `checkpoint after the interruption covers ${cp.doneTargets}`);
    // Everything the checkpoint covers was scanned (nothing is skipped that was not done).
    for (const [position, ip] of expected) if (covered(cp, position)) assert.ok(scanned.includes(ip), `${ip} covered but not scanned`);

    const second = await runShard({
      targets: prep.targets,
      exclude: prep.exclude,
      seed: BigInt(stored.seed),
      shard: SHARD,
      config: scanConfigOf(prep, { signal: new AbortController().signal, rate: null }),
      concurrency: CONCURRENCY,
      resume: cp.checkpoint,
      stats: cp.stats,
      write: async (recs) => {
        written.push(...recs);
      },
      saveProgress: async () => {},
      checkpointEveryMs: 0,
      onRecord: (rec) => scanned.push(rec.ip),
    });
    assert.equal(second.state, 'completed');
    assert.equal(second.progress.doneTargets, expected.size);
    assert.deepEqual(new Set(scanned), new Set(expected.values()), 'the two runs together scanned exactly the shard');
    const twice = scanned.filter((ip, i) => scanned.indexOf(ip) !== i);
    assert.ok(twice.length <= CONCURRENCY, `rescanned after resume: ${twice.join(', ')} (only hosts in flight at the stop may be)`);
    const liveInShard = LIVE.filter((ip) => [...expected.values()].includes(ip));
    assert.ok(liveInShard.length >= 2, `the shard holds answering hosts (${liveInShard.join(', ')})`);
    assert.deepEqual([...new Set(written.map((r) => r.ip))].sort(), liveInShard.sort(), 'every answering host of the shard was written');
  });

  test('a checkpoint never covers a host whose records failed to be written', async () => {
    const expected = shardAddresses();
    const saves: ShardProgress[] = [];
    let writes = 0;
    const done = runShard({
      targets: prep.targets,
      exclude: prep.exclude,
      seed: BigInt(stored.seed),
      shard: SHARD,
      config: scanConfigOf(prep, { signal: new AbortController().signal, rate: null }),
      concurrency: 1,
      resume: null,
      stats: EMPTY_SHARD_STATS,
      write: async () => {
        writes++;
        throw new Error('constraint violated (a bug, not an outage)');
      },
      saveProgress: async (p) => {
        saves.push(p);
      },
      checkpointEveryMs: 0,
    });
    await assert.rejects(done, /constraint violated/);
    assert.ok(writes >= 1);
    const live = new Set(LIVE);
    for (const p of saves) {
      for (const [position, ip] of expected) {
        assert.ok(!(live.has(ip) && covered(p, position)), `checkpoint covers ${ip}, whose record was never written`);
      }
    }
  });
});
