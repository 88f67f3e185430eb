/**
 * The FTP probe: the greeting, then FEAT (RFC 2389) and SYST (RFC 959 §4.1.3), which read
 * nothing and change nothing, then QUIT. Explicit FTPS support (RFC 4217 AUTH TLS) comes from the
 * FEAT list; only when FEAT does not tell do we send AUTH TLS itself, and after a 234 we close
 * without a TLS handshake. In the `intrusive` profile only, and within the host's guessing
 * budget, we try the anonymous login of RFC 1635 (USER anonymous, PASS <contact>), record whether
 * it was accepted, and QUIT: never LIST, NLST, RETR, STOR or any other command after it.
 *
 * Never throws for network reasons; what the server said before a failure is kept.
 */
import type { BoundedSocket } from '../../core/bounded-socket.js';
import { ProtocolError, messageOf, scanError, statusOf } from '../../core/errors.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import type { Status } from '../../core/status.js';
import {
  FTP_LIMITS,
  type FtpReply,
  encodeCommand,
  featuresOfferTls,
  parseFeatures,
  parseReply,
  printable,
  replyMessage,
  replyText,
} from './parse.js';
import { type FtpAnonymous, FtpObservation } from './schema.js';

/** The anonymous password (RFC 1635 asks for an e-mail address): ours, never a user's. */
export const DEFAULT_FTP_CONTACT = 'medsurface@example.invalid';
/** Extra wait for the reply to PASS: servers delay a failed login on purpose. */
const FAILED_LOGIN_DELAY_MS = 4000;
/** QUIT is a courtesy: wait this long at most for its 221. */
const QUIT_WAIT_MS = 1000;

export interface FtpOptions {
  /** The contact sent as the anonymous password (`--contact`): printable, no spaces, at most 64 characters. */
  contact?: string;
}

/** The contact address to send: the configured one when it is a sane single token, else ours. */
export function contactOf(options: Record<string, unknown>): string {
  const own = (options.ftp as FtpOptions | undefined)?.contact;
  const global = options.contact;
  for (const c of [own, global]) {
    if (typeof c === 'string' && /^[\x21-\x7e]{1,64}$/.test(c)) return c;
  }
  return DEFAULT_FTP_CONTACT;
}

/**
 * Reads whole replies from the control connection. Bytes are buffered until a line end arrives
 * (only then is anything parsed), and a line is refused as soon as it passes the line cap, so a
 * server that drips bytes or never ends a line costs bounded memory and time.
 */
export class ReplyReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private sinceLf = 0;

  constructor(private readonly sock: BoundedSocket) {}

  async next(timeoutMs: number): Promise<FtpReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.size > 0) {
        const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
        this.chunks = [buf];
        const r = parseReply(buf);
        if (r) {
          const rest = buf.subarray(r.bytes);
          this.chunks = rest.length > 0 ? [rest] : [];
          this.size = rest.length;
          return r;
        }
      }
      let gotLf = false;
      while (!gotLf) {
        const left = deadline - Date.now();
        if (left <= 0) throw scanError('io-timeout', `no complete FTP reply within ${timeoutMs} ms`);
        const chunk = await this.sock.readSome(4096, left);
        this.chunks.push(chunk);
        this.size += chunk.length;
        const lf = chunk.lastIndexOf(0x0a);
        if (lf === -1) this.sinceLf += chunk.length;
        else {
          gotLf = true;
          this.sinceLf = chunk.length - lf - 1;
        }
        if (this.sinceLf > FTP_LIMITS.lineBytes + 1) throw new ProtocolError(`FTP reply line longer than ${FTP_LIMITS.lineBytes} bytes`);
      }
    }
  }

  /** The first buffered line, printable and bounded: what a non-FTP peer said. */
  firstLine(): string {
    const buf = Buffer.concat(this.chunks, this.size);
    const lf = buf.indexOf(0x0a);
    return printable(buf.toString('latin1', 0, lf === -1 ? Math.min(buf.length, FTP_LIMITS.bannerChars) : lf), FTP_LIMITS.bannerChars);
  }
}

interface Session {
  sock: BoundedSocket;
  reader: ReplyReader;
  greeting: FtpReply;
}

/** Connects and reads the greeting; a 120 ("ready in nnn minutes") is followed by the real one. */
async function open(ctx: ProbeContext): Promise<Session> {
  const sock = await ctx.connect({ maxBytes: FTP_LIMITS.sessionBytes });
  const reader = new ReplyReader(sock);
  try {
    let greeting = await reader.next(ctx.timeouts.readMs);
    if (greeting.code === 120) greeting = await reader.next(ctx.timeouts.readMs);
    return { sock, reader, greeting };
  } catch (err) {
    sock.destroy();
    throw Object.assign(err as Error, { firstLine: reader.firstLine() });
  }
}

async function command(s: Session, ctx: ProbeContext, verb: string, arg?: string, logArg?: string, waitMs = ctx.timeouts.readMs): Promise<FtpReply> {
  s.sock.write(encodeCommand(verb, arg), logArg === undefined ? (arg === undefined ? verb : `${verb} ${arg}`) : `${verb} ${logArg}`);
  return s.reader.next(waitMs);
}

async function quit(s: Session): Promise<boolean> {
  try {
    s.sock.write(encodeCommand('QUIT'), 'QUIT');
    return (await s.reader.next(QUIT_WAIT_MS)).code === 221;
  } catch {
    return false;
  } finally {
    s.sock.destroy();
  }
}

/** RFC 1635 anonymous login; records codes only. */
async function anonymousLogin(s: Session, ctx: ProbeContext, out: FtpAnonymous): Promise<void> {
  const user = await command(s, ctx, 'USER', 'anonymous');
  out.userCode = user.code;
  if (user.code === 230) {
    out.accepted = true;
    return;
  }
  if (user.code !== 331) {
    out.accepted = user.code >= 500 ? false : null;
    return;
  }
  const contact = contactOf(ctx.options);
  // A refused login is answered late on purpose (PAM's fail delay plus vsftpd's delay_failed_login: about 3 s).
  const pass = await command(s, ctx, 'PASS', contact, '<contact>', ctx.timeouts.readMs + FAILED_LOGIN_DELAY_MS);
  out.passCode = pass.code;
  // 230 logged in, 202 "superfluous"; 332 wants an account: not in without more, so not accepted.
  out.accepted = pass.code === 230 || pass.code === 202 ? true : pass.code >= 300 ? false : null;
}

export async function runFtp(ctx: ProbeContext): Promise<ProbeResult<FtpObservation>> {
  let s: Session;
  try {
    s = await open(ctx);
  } catch (err) {
    const status = statusOf(err);
    const firstLine = (err as { firstLine?: string }).firstLine ?? '';
    if (firstLine === '') return { status, error: messageOf(err) };
    // Something answered, but not with an FTP reply: keep its first line.
    const obs = emptyObservation(firstLine, null);
    return { status: status === 'unknown-error' ? 'protocol-error' : status, result: obs, error: messageOf(err) };
  }
  const obs = emptyObservation(replyText(s.greeting), s.greeting.code);
  const done = (status: Status, error?: string): ProbeResult<FtpObservation> => ({ status, result: obs, ...(error ? { error } : {}) });
  // 421 (not available), 5xx (vsftpd's "500 OOPS"): an FTP server that will not talk now.
  if (s.greeting.code !== 220) {
    obs.quit = await quit(s);
    return done('success');
  }
  let authAccepted = false;
  try {
    const feat = await command(s, ctx, 'FEAT');
    obs.featCode = feat.code;
    if (feat.code === 211) {
      obs.features = parseFeatures(feat);
      obs.authTls = featuresOfferTls(obs.features);
      obs.authTlsSource = 'feat';
    }
    const syst = await command(s, ctx, 'SYST');
    obs.systCode = syst.code;
    obs.syst = replyMessage(syst, FTP_LIMITS.systChars);
    if (obs.authTls === null) {
      // FEAT said nothing (not implemented, or only after login): ask directly (RFC 4217 §4).
      const auth = await command(s, ctx, 'AUTH', 'TLS');
      if (auth.code === 234) {
        obs.authTls = true;
        authAccepted = true;
      } else if (auth.code >= 500) obs.authTls = false;
      if (obs.authTls !== null) obs.authTlsSource = 'auth-command';
    }
  } catch (err) {
    s.sock.destroy();
    return done('success', `after the greeting: ${messageOf(err)}`);
  }

  const tryAnonymous = ctx.profile === 'intrusive' && !ctx.host.fragile && ctx.host.guessBudget > 0;
  if (tryAnonymous) {
    ctx.host.guessBudget -= 1;
    const anon: FtpAnonymous = { accepted: null, userCode: null, passCode: null };
    obs.anonymous = anon;
    try {
      // After a 234 the server waits for a TLS handshake on this connection: use a fresh one.
      if (authAccepted) {
        s.sock.destroy();
        s = await open(ctx);
        authAccepted = false;
      }
      await anonymousLogin(s, ctx, anon);
    } catch (err) {
      s.sock.destroy();
      return done('success', `anonymous login: ${messageOf(err)}`);
    }
  }
  if (authAccepted) s.sock.destroy();
  else obs.quit = await quit(s);
  return done('success');
}

function emptyObservation(banner: string, code: number | null): FtpObservation {
  return {
    banner,
    bannerCode: code,
    featCode: null,
    features: null,
    systCode: null,
    syst: null,
    authTls: null,
    authTlsSource: null,
    anonymous: null,
    quit: false,
  };
}

export const ftpProbe: Probe<FtpObservation> = {
  id: 'ftp',
  title: 'FTP greeting, FEAT, SYST, AUTH TLS support; anonymous login in the intrusive profile',
  defaultPorts: [21],
  safety: {
    greeting: 'safe',
    feat: 'safe',
    syst: 'safe',
    authTlsQuery: 'safe',
    anonymousLogin: 'intrusive',
  },
  resultSchema: FtpObservation,
  run: runFtp,
};
