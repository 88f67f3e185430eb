/**
 * The VNC probe: the RFB handshake up to the security types, never further (RFC 6143 §7.1.1,
 * §7.1.2). We read the server's ProtocolVersion, answer with the highest version both sides
 * speak (the spec requires the client to answer before the server lists its security types),
 * read the security types, and close. We never choose a security type, so no authentication is
 * ever attempted, not even None.
 *
 * Never throws for network reasons; a partial observation (the version without the type list)
 * is kept.
 */
import type { BoundedSocket } from '../../core/bounded-socket.js';
import { ProtocolError, messageOf, statusOf } from '../../core/errors.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import type { Status } from '../../core/status.js';
import {
  type SecurityStep,
  VNC_LIMITS,
  chooseVersion,
  encodeClientVersion,
  parseSecurityType33,
  parseSecurityTypes,
  parseServerVersion,
  securityTypeName,
} from './parse.js';
import { VncObservation } from './schema.js';

/** Reads until `parse` has what it needs; `parse` bounds every length before asking for more. */
async function readStep(sock: BoundedSocket, parse: (b: Buffer) => SecurityStep): Promise<Exclude<SecurityStep, { kind: 'need' }>> {
  let buf: Buffer = Buffer.alloc(0);
  for (let round = 0; round < 4; round++) {
    const step = parse(buf);
    if (step.kind !== 'need') return step;
    buf = Buffer.concat([buf, await sock.read(step.bytes - buf.length)]);
  }
  // Each step asks for strictly more bytes, and there are at most three steps (count, length, text).
  throw new ProtocolError('RFB security handshake did not settle');
}

export async function runVnc(ctx: ProbeContext): Promise<ProbeResult<VncObservation>> {
  let sock: BoundedSocket;
  try {
    sock = await ctx.connect({ maxBytes: VNC_LIMITS.sessionBytes });
  } catch (err) {
    return { status: statusOf(err), error: messageOf(err) };
  }
  let obs: VncObservation | null = null;
  const done = (status: Status, error?: string): ProbeResult<VncObservation> => ({
    status,
    ...(obs ? { result: obs } : {}),
    ...(error ? { error } : {}),
  });
  try {
    const server = parseServerVersion(await sock.read(VNC_LIMITS.versionBytes));
    obs = {
      version: server.text,
      protocolMajor: server.major,
      protocolMinor: server.minor,
      negotiated: null,
      securityTypes: [],
      securityTypeNames: [],
      noneOffered: false,
      vncAuthOffered: false,
      authRequired: null,
      failureReason: null,
      outcome: 'version-only',
    };
    const version = chooseVersion(server);
    sock.write(encodeClientVersion(version), `RFB ProtocolVersion ${version}`);
    obs.negotiated = version;
    const step = await readStep(sock, version === '3.3' ? parseSecurityType33 : parseSecurityTypes);
    if (step.kind === 'failure') {
      obs.failureReason = step.reason;
      obs.outcome = 'refused';
      return done('success');
    }
    obs.securityTypes = step.types;
    obs.securityTypeNames = step.types.map(securityTypeName);
    obs.noneOffered = step.types.includes(1);
    obs.vncAuthOffered = step.types.includes(2);
    obs.authRequired = !obs.noneOffered;
    obs.outcome = 'security-types';
    return done('success');
  } catch (err) {
    const status = statusOf(err);
    // A peer that sent an RFB version and then hung up is still a VNC server (a connection limit, a
    // blacklist): keep what it said. Timeouts and caps keep their own status.
    if (obs && status === 'connection-closed') return done('success', `closed after the version exchange: ${messageOf(err)}`);
    return done(status === 'unknown-error' ? 'protocol-error' : status, messageOf(err));
  } finally {
    sock.destroy();
  }
}

export const vncProbe: Probe<VncObservation> = {
  id: 'vnc',
  title: 'VNC / RFB handshake (version and security types, no authentication)',
  defaultPorts: [5900, 5901, 5902, 5903, 5904, 5905, 5906, 5907, 5908, 5909, 5910],
  safety: {
    protocolVersion: 'safe',
    securityTypes: 'safe',
  },
  resultSchema: VncObservation,
  run: runVnc,
};
