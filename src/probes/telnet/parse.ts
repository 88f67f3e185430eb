/**
 * Telnet codec for a scanner that only reads the login banner (RFC 854, RFC 855).
 *
 * The server opens with option negotiation (IAC DO / WILL ...). We refuse every option, as a
 * minimal NVT may (RFC 855: "the receiver of a request to enable an option may refuse it"):
 * DO is answered with WONT and WILL with DONT. WONT and DONT need no answer from a party whose
 * options are all disabled already (RFC 1143 §7, the Q method: acknowledging them again is what
 * causes negotiation loops). Each (verb, option) pair is answered once, and only up to a cap, so
 * a server that repeats its requests cannot keep us talking.
 *
 * `TelnetDecoder` is pure: bytes in, text bytes, commands and the replies to send out. It keeps
 * state across chunks (a command may be split between two TCP segments) and bounds everything.
 */
import { ProtocolError } from '../../core/errors.js';

export const TELNET_LIMITS = {
  /** Characters of banner text kept (login prompt text, after control characters are removed). */
  bannerChars: 512,
  /** Option requests answered per session: more are ignored (a loop or a hostile peer). */
  answers: 64,
  /** Commands recorded in `negotiation` (the server's options before its first text). */
  recordedCommands: 32,
  /** Bytes of one subnegotiation (IAC SB ... IAC SE) we skip before calling it hostile. */
  subnegotiationBytes: 256,
  /** Bytes one telnet session reads in all (text, commands, subnegotiations); the rest is never looked at. */
  sessionBytes: 16 * 1024,
} as const;

/** RFC 854 command codes. */
export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const SE = 240;

export type Verb = 'WILL' | 'WONT' | 'DO' | 'DONT';
const VERB_OF: Readonly<Record<number, Verb>> = { [WILL]: 'WILL', [WONT]: 'WONT', [DO]: 'DO', [DONT]: 'DONT' };

export interface TelnetCommand {
  verb: Verb;
  option: number;
}

export interface DecodeOutput {
  /** NVT data bytes (IAC IAC unescaped), in order. */
  text: Buffer;
  /** Option negotiation commands seen in this chunk. */
  commands: TelnetCommand[];
  /** What to send back: WONT for each new DO, DONT for each new WILL. */
  reply: Buffer;
}

type State = 'data' | 'iac' | 'verb' | 'sb' | 'sb-iac';

/** Streaming decoder (RFC 854 "The Telnet Command Structure"). One per connection. */
export class TelnetDecoder {
  private state: State = 'data';
  private verb = 0;
  private sbBytes = 0;
  private readonly answered = new Set<number>();
  private answers = 0;
  /** An option command (WILL/WONT/DO/DONT) or a subnegotiation was seen: the peer speaks telnet. */
  iacSeen = false;

  decode(chunk: Buffer): DecodeOutput {
    const text: number[] = [];
    const commands: TelnetCommand[] = [];
    const reply: number[] = [];
    for (const b of chunk) {
      switch (this.state) {
        case 'data':
          if (b === IAC) this.state = 'iac';
          else text.push(b);
          break;
        case 'iac':
          if (b === IAC) {
            text.push(IAC);
            this.state = 'data';
          } else if (b >= WILL && b <= DONT) {
            this.verb = b;
            this.state = 'verb';
            this.iacSeen = true;
          } else if (b === SB) {
            this.sbBytes = 0;
            this.iacSeen = true;
            this.state = 'sb';
          } else {
            // NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, a stray SE: no data, no answer.
            this.state = 'data';
          }
          break;
        case 'verb': {
          const verb = VERB_OF[this.verb]!;
          commands.push({ verb, option: b });
          const key = (this.verb << 8) | b;
          if ((this.verb === DO || this.verb === WILL) && !this.answered.has(key) && this.answers < TELNET_LIMITS.answers) {
            this.answered.add(key);
            this.answers++;
            reply.push(IAC, this.verb === DO ? WONT : DONT, b);
          }
          this.state = 'data';
          break;
        }
        case 'sb':
          if (++this.sbBytes > TELNET_LIMITS.subnegotiationBytes) {
            throw new ProtocolError(`telnet subnegotiation longer than ${TELNET_LIMITS.subnegotiationBytes} bytes`);
          }
          if (b === IAC) this.state = 'sb-iac';
          break;
        case 'sb-iac':
          // IAC SE ends it; IAC IAC is an escaped 255 inside it; anything else is tolerated.
          this.state = b === SE ? 'data' : 'sb';
          break;
      }
    }
    return { text: Buffer.from(text), commands, reply: Buffer.from(reply) };
  }
}

/**
 * Share of text bytes that no login banner contains: not printable ASCII and not one of the NVT
 * controls (NUL, BEL, BS, HT, LF, VT, FF, CR; RFC 854) or ESC (terminal colours). Random bytes score
 * about 0.6; a banner scores 0.
 */
export function binaryShare(text: Buffer): number {
  if (text.length === 0) return 0;
  let odd = 0;
  for (const b of text) {
    const nvt = b === 0 || (b >= 7 && b <= 13) || b === 27;
    if (!nvt && (b < 0x20 || b > 0x7e)) odd++;
  }
  return odd / text.length;
}

/** Formats the commands for the observation and fingerprints: "WILL 37 DO 24 ...", bounded. */
export function formatNegotiation(commands: readonly TelnetCommand[]): string {
  return commands
    .slice(0, TELNET_LIMITS.recordedCommands)
    .map((c) => `${c.verb} ${c.option}`)
    .join(' ');
}

/**
 * NVT text to the banner as kept: CR LF, CR NUL and bare CR become one newline (RFC 854 "The
 * NVT printer and keyboard"), tabs become spaces, every other control byte and every byte above
 * 0x7E is dropped (a login banner is ASCII; what is dropped cannot smuggle an escape sequence into
 * a terminal or a log). Runs of blank lines fold to one.
 */
export function cleanBanner(raw: Buffer | string): string {
  const s = typeof raw === 'string' ? raw : raw.toString('latin1');
  return s
    .replace(/\r\n|\r\0|\r|\n\r/g, '\n')
    .replace(/\t/g, ' ')
    .replace(/[^\n\x20-\x7e]/g, '')
    .replace(/\n{3,}/g, '\n\n');
}

/** The banner as stored: cleaned, outer blank space trimmed, at most TELNET_LIMITS.bannerChars. */
export function bannerOf(raw: Buffer | string): { banner: string; truncated: boolean } {
  const clean = cleanBanner(raw).trim();
  if (clean.length <= TELNET_LIMITS.bannerChars) return { banner: clean, truncated: false };
  return { banner: clean.slice(0, TELNET_LIMITS.bannerChars), truncated: true };
}

export type PromptKind = 'login' | 'password' | 'shell';

/**
 * What the last line of the banner asks for. A login prompt ("login:", "Username:", "User Name :"),
 * a password prompt, or a shell prompt ("# ", "$ ", "root@host:/# ", "Router>"): a shell without
 * any login means the device hands a command line to whoever connects.
 */
export function detectPrompt(banner: string): PromptKind | null {
  const lines = banner.split('\n');
  const last = (lines[lines.length - 1] ?? '').slice(-80);
  if (/(?:^|[\s\]])(?:login|user ?name|user|account)\s*:\s*$/i.test(last)) return 'login';
  if (/(?:^|\s)(?:password|passcode|passwd)\s*:\s*$/i.test(last)) return 'password';
  if (/^[\w.@:/~()[\] -]{0,64}(?:[#$>]|(?<!\d)%)\s?$/.test(last)) return 'shell';
  return null;
}

/** Builders used by the lab and the tests (a server's side of RFC 854). */
export function encodeCommands(commands: readonly TelnetCommand[]): Buffer {
  const code: Record<Verb, number> = { WILL, WONT, DO, DONT };
  return Buffer.from(commands.flatMap((c) => [IAC, code[c.verb], c.option]));
}

/** Escapes IAC in data (RFC 854: a data byte 255 is sent as IAC IAC). */
export function escapeData(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const out: number[] = [];
  for (const x of b) {
    out.push(x);
    if (x === IAC) out.push(IAC);
  }
  return Buffer.from(out);
}
