/**
 * One function scans one (host, port) with a set of probes; `scanHost` runs the ports of one
 * host with per-host pacing and fuses the host's identity. The CLI and (later) the
 * distributed workers share these two functions (STYLE.md §7).
 */
import { BoundedSocket, type ScopeGuard, type SendLog, openGuardedSocket } from '../core/bounded-socket.js';
import { ScanError, ScopeError, messageOf, statusOf } from '../core/errors.js';
import type { HostState, Probe, ProbeContext, ProbeResult } from '../core/probe.js';
import { isOpen, type Status } from '../core/status.js';
import { type AssetIdentity, type HostTarget, type RecordAttribution, type Identification, type Profile, type ServiceRecord, isFragileDevice } from '../core/types.js';
import { fieldsOf, fuseAsset, identify } from '../fingerprints/index.js';
import { IDENTIFICATION_CHAIN, PROBES } from '../probes/index.js';
import type { VulnDb } from '../vuln/index.js';
import { CREDENTIAL_DEFAULTS, entryFor, loadCredentials, tryCredentials } from '../credentials/attempt.js';
import { HONEYPOT_FINDING_ID, honeypotFinding, hostSignals } from '../honeypot/detect.js';
import { assetRisk, serviceRisk } from '../risk/score.js';
import { assessService } from './assess.js';
import { type RateLimiter, sleep } from './rate-limiter.js';

export interface ScanConfig {
  probes: readonly Probe[];
  ports: readonly number[];
  profile: Profile;
  timeouts: { connectMs: number; readMs: number; sessionMs: number };
  /** Retries of connect timeouts (a refused port is an answer and is not retried). */
  retries: number;
  guard: ScopeGuard;
  rate: RateLimiter | null;
  /** Parallel services per host (default 1: medical devices are fragile). */
  hostConcurrency: number;
  /** Pause between two connection starts to the same host, ms. */
  hostDelayMs: number;
  /** Speak DICOM over TLS on every port (2762 always is). */
  dicomTls: boolean;
  probeOptions: Record<string, unknown>;
  /** Known vulnerabilities by product and version (findings with confidence `version`). */
  vulnDb?: VulnDb;
  /** Imported L4 discovery (ZMap -> ZGrab2): a host's ports are these instead of `ports`. */
  portsFor?: (ip: string) => readonly number[];
  /** Country/AS/organisation of an address (src/attribution/), added to every open record. */
  attribute?: (ip: string) => RecordAttribution;
  /** Default-credential attempts (intrusive profile only; src/credentials/). */
  credentials?: { enabled: boolean; budget: number; delayMs: number; weak: boolean; file?: string };
  sendLog?: SendLog;
  signal: AbortSignal;
}

interface HostRuntime extends HostState {
  lastConnectAt: number;
  connects: number;
}

export function newHostState(credentialBudget: number = CREDENTIAL_DEFAULTS.budget): HostRuntime {
  return { fragile: false, guessBudget: 12, credentialBudget, lastConnectAt: 0, connects: 0 };
}

function contextFor(target: HostTarget, port: number, probe: Probe, cfg: ScanConfig, host: HostRuntime): ProbeContext {
  const tls = probe.id === 'dicom' ? cfg.dicomTls || (probe.tlsPorts ?? []).includes(port) : (probe.tlsPorts ?? []).includes(port);
  /** Every connection of a probe, whichever factory opens it: host pacing, the rate limit, the send log, connect-timeout retries. */
  const paced = async <T>(ip: string, toPort: number, what: string, open: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      if (cfg.signal.aborted) throw new ScanError('unknown-error', 'scan interrupted');
      const since = Date.now() - host.lastConnectAt;
      if (host.connects > 0 && since < cfg.hostDelayMs) await sleep(cfg.hostDelayMs - since, cfg.signal);
      if (cfg.rate) await cfg.rate.take(cfg.signal);
      host.lastConnectAt = Date.now();
      host.connects++;
      cfg.sendLog?.({ ip, port: toPort, what });
      try {
        return await open();
      } catch (err) {
        if (statusOf(err) === 'connection-timeout' && attempt < cfg.retries) continue;
        throw err;
      }
    }
  };
  const bounded = (ip: string, toPort: number, o?: { tls?: boolean; maxBytes?: number }) =>
    paced(ip, toPort, o?.tls ? 'TCP connect + TLS ClientHello' : 'TCP connect', () =>
      BoundedSocket.open({
        ip,
        port: toPort,
        guard: cfg.guard,
        connectTimeoutMs: cfg.timeouts.connectMs,
        readTimeoutMs: cfg.timeouts.readMs,
        sessionTimeoutMs: cfg.timeouts.sessionMs,
        tls: o?.tls ?? false,
        ...(o?.maxBytes ? { maxBytes: o.maxBytes } : {}),
        signal: cfg.signal,
        ...(cfg.sendLog ? { sendLog: cfg.sendLog } : {}),
      }),
    );
  return {
    ip: target.ip,
    port,
    ...(target.hostname ? { hostname: target.hostname } : {}),
    profile: cfg.profile,
    tls,
    host,
    signal: cfg.signal,
    options: cfg.probeOptions,
    timeouts: cfg.timeouts,
    connect: (o) => bounded(target.ip, port, o),
    connectTo: (ip, toPort, o) => bounded(ip, toPort, o),
    openRaw: (o) => {
      const ip = o?.ip ?? target.ip;
      const toPort = o?.port ?? port;
      const useTls = o?.tls !== undefined && o.tls !== false;
      return paced(ip, toPort, o?.what ?? (useTls ? 'TCP connect + TLS ClientHello' : 'TCP connect'), () =>
        openGuardedSocket({
          ip,
          port: toPort,
          guard: cfg.guard,
          connectTimeoutMs: cfg.timeouts.connectMs,
          sessionTimeoutMs: cfg.timeouts.sessionMs,
          ...(o?.tls !== undefined ? { tls: o.tls } : {}),
          ...(o?.maxBytes ? { maxBytes: o.maxBytes } : {}),
          signal: cfg.signal,
        }),
      );
    },
  };
}

/** Runs a probe and converts anything it throws (it should not) into a status. */
async function runProbe(probe: Probe, ctx: ProbeContext): Promise<ProbeResult<unknown>> {
  try {
    return await probe.run(ctx);
  } catch (err) {
    if (err instanceof ScopeError) throw err;
    return { status: statusOf(err), error: `${probe.id} probe failed: ${messageOf(err)}` };
  }
}

/**
 * A DICOM node that offers Query/Retrieve and accepts storage is an archive, whatever toolkit it
 * is built on (dcm4che and DCMTK both ship archives and plain tools): say `pacs` when the
 * fingerprint could only name the toolkit. The evidence is the node's own association answer.
 */
function withRole(id: Identification, data: Record<string, unknown>): Identification {
  if (id.deviceType && id.deviceType !== 'dicom-toolkit') return id;
  const s = (data.dicom as { services?: { studyRootFind?: boolean; patientRootFind?: boolean; storage?: string[] } | null } | undefined)
    ?.services;
  if (s && (s.studyRootFind || s.patientRootFind) && (s.storage?.length ?? 0) > 0) {
    return { ...id, deviceType: 'pacs', rules: [...id.rules, 'role:qr-archive'] };
  }
  return id;
}

export interface ServiceOutcome {
  record: ServiceRecord;
  identification: Identification;
  fields: Record<string, string>;
}

/**
 * The probes to try on one port (DESIGN.md "Probe selection"): those that claim it; on a port
 * no selected probe claims, the short identification chain, one attempt each.
 */
export function probesForPort(port: number, selected: readonly Probe[]): Probe[] {
  const claiming = selected.filter((p) => p.defaultPorts.includes(port) && !p.layer);
  if (claiming.length > 0) return claiming;
  return IDENTIFICATION_CHAIN.map((id) => selected.find((p) => p.id === id) ?? null).filter((p): p is Probe => p !== null);
}

/** Scans one (host, port). */
export async function scanService(target: HostTarget, port: number, cfg: ScanConfig, host: HostRuntime): Promise<ServiceOutcome> {
  const timestamp = new Date().toISOString();
  const selected = cfg.probes.length ? cfg.probes : PROBES;
  let order = probesForPort(port, selected);
  // Only HTTP-layer probes selected (`--probes fhir`): they run on their own ports, without the http probe.
  const layeredOnly = order.length === 0;
  if (layeredOnly) order = selected.filter((p) => p.layer === 'http' && p.defaultPorts.includes(port));
  let chosen: { probe: Probe; res: ProbeResult<unknown> } | null = null;
  let first: { probe: Probe; res: ProbeResult<unknown> } | null = null;
  for (const probe of order) {
    const res = await runProbe(probe, contextFor(target, port, probe, cfg, host));
    first ??= { probe, res };
    if (res.status === 'success') {
      chosen = { probe, res };
      break;
    }
    // Closed or filtered: no other protocol will do better. Interrupted: stop.
    if (!isOpen(res.status) || cfg.signal.aborted) break;
  }
  // Application protocols over HTTP: each one that claims the port runs, over the scheme http found.
  const layered: { probe: Probe; res: ProbeResult<unknown> }[] = [];
  if (chosen?.probe.id === 'http') {
    const overTls = chosen.res.tls !== undefined;
    for (const probe of selected.filter((p) => p.layer === 'http' && p.defaultPorts.includes(port))) {
      if (cfg.signal.aborted) break;
      const ctx = { ...contextFor(target, port, probe, cfg, host), tls: overTls };
      layered.push({ probe, res: await runProbe(probe, ctx) });
    }
  }
  const pick = chosen ?? first;
  const status: Status = pick?.res.status ?? 'unknown-error';
  const data: Record<string, unknown> = {};
  // A closed port has nothing to say: its empty observation is left out.
  if (pick?.res.result !== undefined && isOpen(status)) data[pick.probe.id] = pick.res.result;
  // Layered observations are kept when the protocol answered, or answered with an application error
  // (a DICOMweb root behind a server-wide login); only a success names the protocol.
  for (const l of layered) {
    if ((l.res.status === 'success' || l.res.status === 'application-error') && l.res.result !== undefined) data[l.probe.id] = l.res.result;
  }
  // The most specific protocol names the service: DICOMweb or FHIR over a plain web server.
  const named = layered.find((l) => l.res.status === 'success');
  if (named && chosen) chosen = { probe: named.probe, res: chosen.res };
  // A closed port has no fields to fingerprint.
  const fields = isOpen(status) ? fieldsOf({ protocol: chosen ? chosen.probe.id : null, data }) : {};
  const identification: Identification = isOpen(status) ? withRole(identify(fields), data) : { rules: [] };
  // Intrusive, opt-out: the identified product's default accounts over its web side.
  const web = data.http as { scheme?: string } | undefined;
  if (web && cfg.profile === 'intrusive' && cfg.credentials?.enabled && !cfg.signal.aborted) {
    const db = loadCredentials(cfg.credentials.file);
    const entry = entryFor(identification.product, db);
    const httpProbe = selected.find((p) => p.id === 'http') ?? chosen?.probe;
    if (entry && httpProbe) {
      const ctx = { ...contextFor(target, port, httpProbe, cfg, host), tls: web.scheme === 'https' };
      data.credentials = await tryCredentials(ctx, entry, db, host, { delayMs: cfg.credentials.delayMs, weak: cfg.credentials.weak });
    }
  }
  const checked = isOpen(status)
    ? assessService({ ip: target.ip, protocol: chosen ? chosen.probe.id : null, data, tls: pick?.res.tls, identification }, cfg.profile, cfg.vulnDb)
    : null;
  // Field order follows DESIGN.md's contract, so a line reads naturally.
  const record: ServiceRecord = {
    ip: target.ip,
    port,
    ...(target.hostname ? { hostname: target.hostname } : {}),
    protocol: chosen ? chosen.probe.id : null,
    status,
    timestamp,
    ...(identification.product ? { product: identification.product } : {}),
    ...(identification.vendor ? { vendor: identification.vendor } : {}),
    ...(identification.version ? { version: identification.version } : {}),
    ...(identification.cpe ? { cpe: identification.cpe } : {}),
    ...(identification.deviceType ? { deviceType: identification.deviceType } : {}),
    ...(pick?.res.tls ? { tls: pick.res.tls } : {}),
    findings: checked?.findings ?? [],
    ...(checked ? { risk: checked.risk, checksRun: checked.checksRun } : {}),
    ...(pick?.res.error ? { error: pick.res.error } : {}),
    data,
  };
  // Device safety: once a host is known to be an imaging modality, later probes touch it lightly.
  if (isFragileDevice(identification.deviceType)) {
    host.fragile = true;
    host.deviceType = identification.deviceType;
  }
  return { record, identification, fields };
}

/** Puts `asset` (and the attribution) after the service's own identity, where DESIGN.md lists it. */
function withAsset(rec: ServiceRecord, asset: ServiceRecord['asset'], attribution?: RecordAttribution): ServiceRecord {
  const { tls, findings, risk, checksRun, error, data, ...head } = rec;
  return {
    ...head,
    ...(asset ? { asset } : {}),
    ...(attribution ? { attribution } : {}),
    ...(tls ? { tls } : {}),
    findings,
    ...(risk !== undefined ? { risk } : {}),
    ...(checksRun ? { checksRun } : {}),
    ...(error ? { error } : {}),
    data,
  };
}

/** Scans all ports of one host, `hostConcurrency` at a time, and fuses the host's identity into each open record. */
export async function scanHost(target: HostTarget, cfg: ScanConfig): Promise<ServiceRecord[]> {
  const host = newHostState(cfg.credentials?.budget);
  const outcomes: ServiceOutcome[] = [];
  const ports = [...(cfg.portsFor?.(target.ip) ?? cfg.ports)];
  let next = 0;
  const worker = async () => {
    while (next < ports.length && !cfg.signal.aborted) {
      const port = ports[next++]!;
      outcomes.push(await scanService(target, port, cfg, host));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cfg.hostConcurrency, ports.length)) }, worker));
  const open = outcomes.filter((o) => isOpen(o.record.status)).sort((a, b) => a.record.port - b.record.port);
  if (open.length > 0) {
    const asset: AssetIdentity = fuseAsset(
      open.map((o) => ({ protocol: o.record.protocol, port: o.record.port, identification: o.identification, fields: o.fields })),
    );
    // Honeypots and decoys: flagged with their signals, an info finding on the first open service.
    const signals = hostSignals(open.map((o) => ({ port: o.record.port, protocol: o.record.protocol, data: o.record.data, identification: o.identification })));
    for (const o of open) o.record.checksRun?.push(HONEYPOT_FINDING_ID);
    if (signals.length > 0) {
      asset.honeypot = { signals };
      open[0]!.record.findings.push(honeypotFinding(signals));
    }
    // Risk with the host's device type where the service alone did not say (an Orthanc DICOM port is a PACS's).
    for (const o of open) {
      if (o.record.risk === undefined) continue;
      o.record.risk = serviceRisk({ ip: target.ip, deviceType: o.identification.deviceType ?? asset.deviceType, findings: o.record.findings, data: o.record.data });
    }
    asset.risk = assetRisk(open.map((o) => o.record.risk ?? 0));
    const known = asset.vendor || asset.product || asset.deviceType || asset.evidence.length > 0 || asset.honeypot || asset.risk > 0;
    const attribution = cfg.attribute?.(target.ip);
    if (known || attribution) for (const o of open) o.record = withAsset(o.record, known ? asset : undefined, attribution);
  }
  return outcomes.map((o) => o.record).sort((a, b) => a.port - b.port);
}
