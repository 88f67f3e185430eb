/**
 * The shape every probe folder exports (STYLE.md §2). A probe speaks just enough protocol
 * to observe, returns a typed observation, and never throws for network reasons.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { z } from 'zod';
import type { BoundedSocket } from './bounded-socket.js';
import type { Status } from './status.js';
import type { Profile, ProbeId, TlsInfo, DeviceType } from './types.js';

/** Per-host state shared by the probes of one host during one run (device safety). */
export interface HostState {
  /** Set once a host is identified as fragile (an imaging modality, a bedside device). */
  fragile: boolean;
  deviceType?: DeviceType;
  /** Remaining guessing attempts (AE titles, FTP anonymous) for this host in this run. */
  guessBudget: number;
  /** Remaining default-credential attempts for this host in this run (`--credential-budget`). */
  credentialBudget: number;
}

export interface ProbeContext {
  ip: string;
  port: number;
  hostname?: string;
  profile: Profile;
  /** Opens a bounded socket to this (ip, port), through the scope guard; TLS when asked. */
  connect(options?: { tls?: boolean; maxBytes?: number }): Promise<BoundedSocket>;
  /**
   * Opens a raw guarded socket (core/bounded-socket openGuardedSocket: scope guard, connect
   * timeout, session deadline, byte cap) for a protocol library that reads the socket itself
   * (undici, in core/http-client). To this (ip, port) unless `ip`/`port` say otherwise (an HTTP
   * redirect to an address): the scope guard checks whichever address is connected. The socket
   * is returned paused; destroy it when done. Optional only so that hand-built test contexts
   * need not provide it; the engine always does.
   */
  openRaw?(options?: RawSocketOptions): Promise<net.Socket | tls.TLSSocket>;
  /** Like connect(), to another address of the scan (an HTTP redirect to an IP): scope-guarded and paced the same way. */
  connectTo?(ip: string, port: number, options?: { tls?: boolean; maxBytes?: number }): Promise<BoundedSocket>;
  /** Whether this port should be spoken to over TLS (DICOM 2762, `--dicom-tls`, ...). */
  tls: boolean;
  host: HostState;
  signal: AbortSignal;
  /** Probe-specific options from the CLI (`--calling-ae`, ...), keyed by probe id. */
  options: Record<string, unknown>;
  /** Timeouts in force (ms), for probes that wait for optional replies (A-RELEASE-RP). */
  timeouts: { connectMs: number; readMs: number; sessionMs: number };
}

/** What ProbeContext.openRaw connects to and how. */
export interface RawSocketOptions {
  /** Default: the context's ip (an IP literal: names are never resolved at connect time). */
  ip?: string;
  /** Default: the context's port. */
  port?: number;
  /** TLS, with extra options (ALPN, SNI servername) when an object. */
  tls?: boolean | tls.ConnectionOptions;
  /** Byte cap of this connection (default LIMITS.sessionBytes). */
  maxBytes?: number;
  /** Line for the send log (default "TCP connect" / "TCP connect + TLS ClientHello"). */
  what?: string;
}

export interface ProbeResult<R> {
  status: Status;
  result?: R;
  error?: string;
  tls?: TlsInfo;
}

export interface Probe<R = unknown> {
  id: ProbeId;
  title: string;
  defaultPorts: readonly number[];
  /** Which profile each action needs, like an NSE `categories` line. */
  safety: Readonly<Record<string, Profile>>;
  resultSchema: z.ZodType<R>;
  /**
   * `http`: an application protocol carried over HTTP (FHIR, DICOMweb). It runs on a port only
   * after the http probe found an HTTP server there, over the same scheme, and all such probes
   * run (one port can serve a web UI, FHIR and DICOMweb at once).
   */
  layer?: 'http';
  /** Ports on which this probe is spoken over TLS by default (DICOM 2762). */
  tlsPorts?: readonly number[];
  run(ctx: ProbeContext): Promise<ProbeResult<R>>;
}
