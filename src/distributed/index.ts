/**
 * distributed/: the same engine as queue workers (DESIGN.md): a coordinator that shards a run
 * by permutation position and enqueues the shards in BullMQ on Redis, workers that scan them
 * with the engine's scanHost into the PostgreSQL inventory, with shard state, leases and
 * checkpoints in PostgreSQL (dist_shards), a global rate limit and per-network politeness in
 * Redis. docs/distributed.md describes the architecture and the failure handling.
 */
export { type CoordinatorOptions, type CoordinatorResult, defaultShardCount, MAX_SHARDS, runCoordinator } from './coordinator.js';
export { DEFAULT_NET_PREFIXES, type NetPrefixes, networkOf } from './net-lock.js';
export { DEFAULT_PREFIX, parseQueueUrl } from './redis.js';
export { ensureShardTable, listShards, SHARD_TABLE, shardDb } from './shard-store.js';
export { DistributedError, type ShardRow, type StoredScanOptions, StoredScanOptionsSchema } from './types.js';
export { DEFAULT_LOCK_MS, type RunningWorker, startWorker, type WorkerOptions, type WorkerStats } from './worker.js';
