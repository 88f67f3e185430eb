/**
 * The telnet probe: connect, refuse every option the server asks for (RFC 854/855: WONT for
 * DO, DONT for WILL), read the pre-login text until a prompt shows, the text stops, or a cap is
 * reached, then close. We never type anything: no user name, no password, not even a newline.
 *
 * It is also the "banner read" of the identification chain (DESIGN.md "Probe selection"): on a
 * port no probe claims it waits only briefly for a first byte, and it reports `success` only for
 * a peer that speaks telnet (option commands) or shows a prompt. Other text is kept, with a
 * `protocol-error` status, so the chain goes on to the next probe.
 */
import type { BoundedSocket } from '../../core/bounded-socket.js';
import { messageOf, statusOf } from '../../core/errors.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import type { Status } from '../../core/status.js';
import { TELNET_LIMITS, type TelnetCommand, TelnetDecoder, bannerOf, binaryShare, detectPrompt, formatNegotiation } from './parse.js';
import { TelnetObservation } from './schema.js';

export const TELNET_PORTS = [23, 2323] as const;
/** On a port telnet does not claim, wait at most this long for a first byte (a banner comes at once or not at all). */
const UNCLAIMED_FIRST_BYTE_MS = 2000;
/** After something came, the text is complete when the server is quiet this long. */
const IDLE_MS = 1500;
/** Raw text bytes buffered to build the banner (control bytes are dropped, so allow some slack). */
const RAW_TEXT_BYTES = TELNET_LIMITS.bannerChars * 4;
/** Above this share of non-text bytes the peer sent binary data, not a banner. */
const BINARY_SHARE = 0.3;

export async function runTelnet(ctx: ProbeContext): Promise<ProbeResult<TelnetObservation>> {
  let sock: BoundedSocket;
  try {
    // The socket's own cap is the core default: a first TCP read can be 64 KiB, and a chunk over the
    // cap would be dropped whole. We stop reading at TELNET_LIMITS.sessionBytes ourselves.
    sock = await ctx.connect();
  } catch (err) {
    return { status: statusOf(err), error: messageOf(err) };
  }
  const claimed = (TELNET_PORTS as readonly number[]).includes(ctx.port);
  const firstWait = claimed ? ctx.timeouts.readMs : Math.min(ctx.timeouts.readMs, UNCLAIMED_FIRST_BYTE_MS);
  const idle = Math.min(ctx.timeouts.readMs, IDLE_MS);
  // Our own bound on the whole read, below the session deadline (which destroys the socket).
  const deadline = Date.now() + Math.max(1, Math.min(ctx.timeouts.sessionMs - 100, firstWait + 4 * ctx.timeouts.readMs));
  const decoder = new TelnetDecoder();
  const before: TelnetCommand[] = [];
  const textChunks: Buffer[] = [];
  let textBytes = 0;
  let sawText = false;
  let bytesRead = 0;
  let refused = 0;
  let end: TelnetObservation['end'] = 'silent';
  let failure: { status: Status; error: string } | null = null;
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        end = bytesRead > 0 ? 'idle' : 'silent';
        break;
      }
      let chunk: Buffer;
      try {
        chunk = await sock.readSome(1024, Math.min(bytesRead > 0 ? idle : firstWait, left));
      } catch (err) {
        const s = statusOf(err);
        if (s === 'io-timeout') end = bytesRead > 0 ? 'idle' : 'silent';
        else if (s === 'connection-closed') end = 'closed';
        else if (s === 'protocol-error') end = 'byte-cap';
        else failure = { status: s, error: messageOf(err) };
        break;
      }
      const room = TELNET_LIMITS.sessionBytes - bytesRead;
      if (chunk.length > room) chunk = chunk.subarray(0, room);
      bytesRead += chunk.length;
      const out = decoder.decode(chunk);
      if (!sawText) for (const c of out.commands) if (before.length < TELNET_LIMITS.recordedCommands) before.push(c);
      if (out.reply.length > 0) {
        refused += out.reply.length / 3;
        try {
          sock.write(out.reply, `telnet: refuse ${out.reply.length / 3} option(s) (WONT/DONT)`);
        } catch {
          // The peer is gone; what it said is still ours to keep.
        }
      }
      if (out.text.length > 0 && textBytes < RAW_TEXT_BYTES) {
        const part = out.text.subarray(0, RAW_TEXT_BYTES - textBytes);
        textChunks.push(part);
        textBytes += part.length;
        if (/[^\s\0]/.test(part.toString('latin1'))) sawText = true;
      }
      const { banner, truncated } = bannerOf(Buffer.concat(textChunks));
      if (truncated || textBytes >= RAW_TEXT_BYTES) {
        end = 'banner-cap';
        break;
      }
      if (detectPrompt(banner)) {
        end = 'prompt';
        break;
      }
      if (bytesRead >= TELNET_LIMITS.sessionBytes) {
        end = 'byte-cap';
        break;
      }
    }
  } catch (err) {
    // The decoder refuses a hostile subnegotiation: keep what came before it.
    failure = { status: statusOf(err) === 'unknown-error' ? 'protocol-error' : statusOf(err), error: messageOf(err) };
  } finally {
    sock.destroy();
  }

  const rawText = Buffer.concat(textChunks);
  const { banner, truncated } = bannerOf(rawText);
  const prompt = detectPrompt(banner);
  const obs: TelnetObservation = {
    banner,
    bannerTruncated: truncated || end === 'banner-cap',
    negotiation: before.length > 0 ? formatNegotiation(before) : null,
    iacSeen: decoder.iacSeen,
    refusedOptions: refused,
    loginPrompt: prompt === 'login',
    passwordPrompt: prompt === 'password',
    shellPrompt: prompt === 'shell',
    end,
    bytesRead,
  };
  const result = (status: Status, error?: string): ProbeResult<TelnetObservation> => ({ status, result: obs, ...(error ? { error } : {}) });
  if (failure) return result(failure.status, failure.error);
  if (bytesRead === 0) return result(end === 'closed' ? 'connection-closed' : 'io-timeout', 'no banner');
  if (binaryShare(rawText) > BINARY_SHARE) return result('protocol-error', 'binary data, not a telnet banner');
  if (decoder.iacSeen || prompt !== null || (claimed && banner.length > 0)) return result('success');
  return result('protocol-error', 'no telnet option negotiation and no prompt');
}

export const telnetProbe: Probe<TelnetObservation> = {
  id: 'telnet',
  title: 'Telnet banner (options refused, login prompt detected, no login)',
  defaultPorts: TELNET_PORTS,
  safety: {
    refuseOptions: 'safe',
    readBanner: 'safe',
  },
  resultSchema: TelnetObservation,
  run: runTelnet,
};
