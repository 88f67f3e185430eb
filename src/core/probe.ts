/**
 * The shape every probe folder exports (STYLE.md §2). A probe speaks just enough protocol
 * to observe, returns a typed observation, and never throws for network reasons.
 */
import type { z } from 'zod';
import type { BoundedSocket } from './bounded-socket.js';
import type { Status } from './status.js';
import type { Profile, ProbeId, TlsInfo, DeviceType } from './types.js';

/** Per-host state shared by the probes of one host during one run (device safety). */
export interface HostState {
  /** Set once a host is identified as fragile (an imaging modality, a bedside device). */
  fragile: boolean;
  deviceType?: DeviceType;
  /** Remaining guessing attempts (AE titles, credentials) for this host in this run. */
  guessBudget: number;
}

export interface ProbeContext {
  ip: string;
  port: number;
  hostname?: string;
  profile: Profile;
  /** Opens a bounded socket to this (ip, port), through the scope guard; TLS when asked. */
  connect(options?: { tls?: boolean; maxBytes?: number }): Promise<BoundedSocket>;
  /** Whether this port should be spoken to over TLS (DICOM 2762, `--dicom-tls`, ...). */
  tls: boolean;
  host: HostState;
  signal: AbortSignal;
  /** Probe-specific options from the CLI (`--calling-ae`, ...), keyed by probe id. */
  options: Record<string, unknown>;
  /** Timeouts in force (ms), for probes that wait for optional replies (A-RELEASE-RP). */
  timeouts: { connectMs: number; readMs: number; sessionMs: number };
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
  /** Ports on which this probe is spoken over TLS by default (DICOM 2762). */
  tlsPorts?: readonly number[];
  run(ctx: ProbeContext): Promise<ProbeResult<R>>;
}
