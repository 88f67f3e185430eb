/**
 * Loggers for the monitor's structured decisions: one JSON object per line (journald and log
 * shippers read it as is), filtered by level. The records hold job names, times, run ids and
 * rule texts only (MonitorLogEntry), so they are safe to ship anywhere.
 */
import type { LogLevel, MonitorLogEntry, MonitorLogger } from './types.js';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function jsonLinesLogger(out: { write(line: string): unknown }, minLevel: LogLevel = 'info'): MonitorLogger {
  return (entry: MonitorLogEntry) => {
    if (RANK[entry.level] >= RANK[minLevel]) out.write(`${JSON.stringify(entry)}\n`);
  };
}

/** Keeps every record (tests, and callers that want to inspect decisions). */
export function memoryLogger(): MonitorLogger & { entries: MonitorLogEntry[] } {
  const entries: MonitorLogEntry[] = [];
  const log = (entry: MonitorLogEntry): void => {
    entries.push(entry);
  };
  return Object.assign(log, { entries });
}
