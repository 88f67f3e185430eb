/**
 * The VNC probe's observation (`data.vnc`). Field names are the paths fingerprints
 * (`vnc.version`) and checks match on. Nothing here can hold a patient value: the handshake
 * carries a version, a list of security type numbers and, on refusal, a bounded reason string.
 */
import { z } from 'zod';

export const VncObservation = z.object({
  /** The server's ProtocolVersion as sent, 11 printable characters ("RFB 003.008"). */
  version: z.string(),
  protocolMajor: z.number().int(),
  protocolMinor: z.number().int(),
  /** The version we answered with (RFC 6143 §7.1.1), null when we never answered. */
  negotiated: z.enum(['3.3', '3.7', '3.8']).nullable(),
  /** Security types the server offered (3.7/3.8) or chose (3.3), in its order. */
  securityTypes: z.array(z.number().int().min(0).max(255)),
  securityTypeNames: z.array(z.string()),
  /** Security type None (1) offered: anyone who connects gets the desktop. */
  noneOffered: z.boolean(),
  /** Security type VNC Authentication (2) offered: a password of at most 8 characters, DES challenge. */
  vncAuthOffered: z.boolean(),
  /** True when types came and None is not among them; null when no type list came. */
  authRequired: z.boolean().nullable(),
  /** The server refused the connection (zero types, or type 0 in 3.3) with this reason, bounded. */
  failureReason: z.string().nullable(),
  /** How far the handshake went before we closed. */
  outcome: z.enum(['security-types', 'refused', 'version-only']),
});
export type VncObservation = z.infer<typeof VncObservation>;
