import { z } from 'zod';

/**
 * Scan status words, as zgrab2 uses them (zmap/zgrab2 `status.go`). They are part of the
 * public output contract (DESIGN.md): never rename one.
 */
export const STATUSES = [
  'success',
  'connection-refused',
  'connection-timeout',
  'io-timeout',
  'connection-closed',
  'protocol-error',
  'tls-error',
  'application-error',
  'unknown-error',
] as const;

export const Status = z.enum(STATUSES);
export type Status = z.infer<typeof Status>;

/** Statuses that mean "something accepted a TCP connection on this port". */
export function isOpen(status: Status): boolean {
  return status !== 'connection-refused' && status !== 'connection-timeout';
}
