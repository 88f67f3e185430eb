/**
 * Which events a sink receives: its `filter` (docs/alerts.md "Filters"). Every condition that is
 * set must hold (AND); inside a list, any entry matches (OR). Pure, so the rules are unit-tested.
 */
import type { ExposureEvent } from '../core/events.js';
import { severityRank } from '../core/types.js';
import type { SinkFilter } from './config.js';

/** Says whether an event belongs to a honeypot or decoy host. Events carry no such flag yet: the caller supplies it. */
export type HoneypotPredicate = (event: ExposureEvent) => boolean;

export function eventMatches(filter: SinkFilter, event: ExposureEvent, isHoneypot?: HoneypotPredicate): boolean {
  if (filter.minSeverity !== undefined) {
    // An event without a severity (a new service with no open finding) is below every minimum.
    if (event.severity === null || severityRank(event.severity) < severityRank(filter.minSeverity)) return false;
  }
  if (filter.kinds !== undefined && !filter.kinds.includes(event.kind)) return false;
  if (filter.deviceTypes !== undefined && (event.deviceType === null || !(filter.deviceTypes as readonly string[]).includes(event.deviceType))) {
    return false;
  }
  if (filter.tags !== undefined && !filter.tags.some((t) => event.tags.includes(t))) return false;
  if (!filter.includeHoneypots && isHoneypot !== undefined && isHoneypot(event)) return false;
  return true;
}
