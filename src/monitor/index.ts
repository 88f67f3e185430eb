/**
 * `medsurface monitor`: scheduled rescans under rules of engagement (scan windows, blackouts,
 * recorded authorisation), one run per job at a time across processes, catch-up of one missed
 * run after downtime, `--once` for timers, and the emergency stop (`medsurface stop --all`).
 * The scan engine, the inventory and the alert sinks are injected (RunJob, JobStateStore,
 * OnRunFinished).
 */
export { Monitor, RunAbortedError } from './monitor.js';
export type { MonitorOptions } from './monitor.js';
export {
  MonitorConfigError,
  MonitorConfigSchema,
  MONITOR_LIMITS,
  configProblems,
  formatIssue,
  loadMonitorConfig,
  parseMonitorConfig,
} from './config.js';
export type { ConfigIssue, ConfigProblem } from './config.js';
export { isAllowed, parseBlackout, parseRecurring, spanCovers } from './rules.js';
export { TimeSyntaxError, canonicalTimeZone, localTime, parseDuration, parseTimePoint } from './time.js';
export { LeaseLostError, MemoryJobStateStore } from './state-store.js';
export { ManualClock, systemClock } from './clock.js';
export { jsonLinesLogger, memoryLogger } from './log.js';
export {
  STOP_FILE,
  RUNS_DIR,
  StopDirError,
  clearStop,
  defaultStopDir,
  listRuns,
  readStopRequest,
  registerRun,
  requestStopAll,
  waitForRuns,
  watchStop,
} from './stop.js';
export type { RunEntry, StopRequest } from './stop.js';
export type * from './types.js';
export { BLOCK_REASONS } from './types.js';
