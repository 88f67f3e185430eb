/**
 * Exposure events: what changed in the inventory between two runs, as `medsurface diff`
 * computes it and as the monitor hands it to the alert sinks (src/alerts/). One shape for
 * both, so a diff printed by the CLI and an alert delivered by a webhook say the same thing.
 *
 * Events carry what an operator needs to act (address, port, product, finding id and
 * severity, device type, tags) and never an observed patient value: evidence is not part of
 * an event (the inventory holds it, reduced by the probes).
 */
import type { Severity } from './types.js';

export const EVENT_KINDS = [
  /** A service answered that the previous run did not see (or that was gone). */
  'service-new',
  /** A service seen before did not answer in a complete run that covered it. */
  'service-gone',
  /** Product, vendor, version, device type, protocol or TLS changed. */
  'service-changed',
  'finding-opened',
  'finding-reopened',
  /** Severity or title of an open finding changed (a re-scored CVE, an escalated check). */
  'finding-changed',
  'finding-resolved',
  /** A host that had services answered nothing: its findings are unverified. */
  'finding-unverified',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface ExposureEvent {
  kind: EventKind;
  /** Stable de-duplication key: the same exposure in the same state gives the same key. */
  key: string;
  /** ISO-8601 UTC time the change was observed. */
  at: string;
  runId: string | null;
  ip: string;
  port: number | null;
  protocol: string | null;
  product: string | null;
  version: string | null;
  deviceType: string | null;
  /** User tags of the asset. */
  tags: string[];
  /** Attribution of the asset, when known. */
  country: string | null;
  org: string | null;
  /** Finding events only. */
  checkId: string | null;
  /** Finding events: the finding's severity; service events: the highest open severity, or null. */
  severity: Severity | null;
  title: string | null;
  /** service-changed / finding-changed: field → [old, new] (identity fields only, never evidence). */
  changes: Record<string, [string | null, string | null]> | null;
}
