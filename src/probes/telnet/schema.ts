/**
 * The telnet probe's observation (`data.telnet`). `banner` is what a person sees before logging
 * in (a greeting, a host line, the login prompt): printable ASCII, bounded, never anything typed
 * after a login, because we never log in. Fingerprints match `telnet.banner` and
 * `telnet.negotiation`.
 */
import { z } from 'zod';

export const TelnetObservation = z.object({
  /** Pre-login text: control characters removed, newlines normalised, at most 512 characters. */
  banner: z.string(),
  /** True when the server sent more text than the cap (an endless banner). */
  bannerTruncated: z.boolean(),
  /** The option commands the server sent before its first text ("WILL 37 DO 24 ..."), bounded; null if none. */
  negotiation: z.string().nullable(),
  /** The server used telnet commands (IAC) at all. */
  iacSeen: z.boolean(),
  /** Option requests we refused (RFC 855: WONT for DO, DONT for WILL). */
  refusedOptions: z.number().int(),
  /** The last banner line asks for a user name. */
  loginPrompt: z.boolean(),
  /** The last banner line asks for a password. */
  passwordPrompt: z.boolean(),
  /** The last banner line is a command prompt: a shell with no login at all. */
  shellPrompt: z.boolean(),
  /** Why reading stopped. */
  end: z.enum(['prompt', 'idle', 'closed', 'banner-cap', 'byte-cap', 'silent']),
  bytesRead: z.number().int(),
});
export type TelnetObservation = z.infer<typeof TelnetObservation>;
