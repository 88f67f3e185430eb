/**
 * The FTP probe's observation (`data.ftp`). `banner` is the greeting reply (RFC 959 §4.2) the
 * server sends to everyone before login; fingerprints match it as `ftp.banner`. Nothing from
 * after a login is kept: the intrusive anonymous check records only whether the login was
 * accepted and the reply codes, never a listing (we never send LIST, NLST, RETR or STOR).
 */
import { z } from 'zod';

export const FtpAnonymous = z.object({
  /** True: USER anonymous / PASS <contact> ended in 230 (or 202). False: refused. Null: no clear answer. */
  accepted: z.boolean().nullable(),
  userCode: z.number().int().nullable(),
  passCode: z.number().int().nullable(),
});

export const FtpObservation = z.object({
  /** Greeting reply, lines joined with "\n", codes included, printable, at most 512 characters. */
  banner: z.string(),
  /** Reply code of the greeting (220 ready, 421 not available, 120 ready later); null when it was not an FTP reply. */
  bannerCode: z.number().int().nullable(),
  /** Reply code to FEAT (211 with a list, 500/502 not implemented, 530 login first); null when not sent or not answered. */
  featCode: z.number().int().nullable(),
  /** Features listed by FEAT (RFC 2389), bounded; null when there was no 211 list. */
  features: z.array(z.string()).nullable(),
  systCode: z.number().int().nullable(),
  /** SYST reply text without its code ("UNIX Type: L8"), bounded. */
  syst: z.string().nullable(),
  /** Explicit FTPS (RFC 4217 AUTH TLS) offered; null when neither FEAT nor AUTH told. */
  authTls: z.boolean().nullable(),
  /** Where `authTls` comes from: the FEAT list, or the reply to an AUTH TLS command (234 yes, 5xx no). */
  authTlsSource: z.enum(['feat', 'auth-command']).nullable(),
  /** Intrusive profile only: the anonymous login attempt (RFC 1635). Null when not attempted. */
  anonymous: FtpAnonymous.nullable(),
  /** The server answered QUIT with 221. */
  quit: z.boolean(),
});
export type FtpObservation = z.infer<typeof FtpObservation>;
export type FtpAnonymous = z.infer<typeof FtpAnonymous>;
