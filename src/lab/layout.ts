/**
 * The default lab layout, as data: which simulated node listens where, what it is, and what
 * a correct scan must conclude about it (`expected`, the lab's ground truth).
 *
 * On Linux every address of 127.0.0.0/8 is routed to the loopback interface, so each node
 * gets its own address inside the lab block (127.77.0.0/16 by default) and can use its
 * product's standard port. The lab never binds 127.0.0.1 on Linux: the machine's own
 * services (databases, brokers) listen there. On other platforms only 127.0.0.1 is
 * configured by default, so every node falls back to 127.0.0.1 with a distinct port.
 */
import { SERVICE_NODES } from './nodes/index.js';
import { readFileSync } from 'node:fs';
import { UID } from '../probes/dicom/uids.js';
import { UsageError } from '../core/errors.js';

export type LabNodeKind = 'dicom' | 'dicom-tls' | 'hostile' | 'tarpit' | 'service';

/** A non-DICOM lab service (HL7, HTTP, FHIR, VNC, ...): started by its own factory, see src/lab/nodes/. */
export type LabServiceFactory = (ip: string, port: number) => Promise<{ stop(): Promise<void> }>;

export const HOSTILE_MODES = [
  'garbage',
  'oversized',
  'slow-drip',
  'split',
  'reset',
  'silent',
  'http-on-dicom-port',
] as const;
export type HostileMode = (typeof HOSTILE_MODES)[number];

/** Which synthetic record store a DICOM node serves C-FIND from (records.ts). */
export type RecordSet = 'none' | 'standard' | 'large';

/** How a node decides about the calling AE title (DICOM-NOTES.md: servers differ). */
export type CallingAePolicy = 'reject' | 'abort-at-command' | 'abort-at-find';

/** Node-level DICOM behaviour; dicom-scp.ts turns it into a running SCP. */
export interface LabDicomSpec {
  aeTitle: string;
  /** Accepted called AE titles, or any. */
  calledAes: readonly string[] | 'any';
  /** Accepted calling AE titles, or any. */
  callingAes?: readonly string[] | 'any';
  callingAePolicy?: CallingAePolicy;
  abstractSyntaxes: readonly string[];
  implementationClassUid: string | null;
  implementationVersionName?: string;
  maxPduLength: number;
  announcedMaxPduLength?: number;
  records: RecordSet;
}

/** What a correct scan of this node concludes (field names follow the output record). */
export interface LabExpectation {
  /** `data.dicom.anyAeAccepted`. */
  anyAeAccepted?: boolean | null;
  /** `data.dicom.acceptedCalledAe` after the safe profile's default titles. */
  acceptedCalledAe?: string | null;
  callingAeChecked?: boolean | null;
  deviceType?: string;
  vendor?: string;
  /** Status word of the service record. */
  status?: string;
  tls?: boolean;
  /** Finding ids a scan is expected to raise on this service (subset). */
  findings?: readonly string[];
  [key: string]: unknown;
}

export interface LabNodeSpec {
  name: string;
  /** Offset of the node's address inside the lab block: [third octet, fourth octet] for a /16. */
  hostOffset: readonly [number, number];
  port: number;
  kind: LabNodeKind;
  role: string;
  description: string;
  expected: LabExpectation;
  dicom?: LabDicomSpec;
  hostile?: HostileMode;
  /** `service` nodes: the factory that starts the listener. */
  service?: LabServiceFactory;
  /** `service` nodes: whether the service speaks TLS (shown in the node list). */
  serviceTls?: boolean;
  /** TLS material under src/lab/certs for `dicom-tls` nodes. */
  tls?: { cert: 'pacs-tls' | 'pacs-weak-tls'; weak: boolean };
}

/** A node placed on a concrete address and port. */
export interface PlacedNode extends LabNodeSpec {
  ip: string;
}

export const DEFAULT_LAB_BLOCK = '127.77.0.0/16';
export const DEFAULT_BENCH_BLOCK = '127.65.0.0/16';
/** First port of the non-Linux fallback (127.0.0.1, one distinct port per node, in layout order). */
export const FALLBACK_BASE_PORT = 41000;

/**
 * dcm4che 5 (dcm4chee-arc-light): implementation class UID and version name as sent by
 * dcm4che-5.31.0 (`org.dcm4che3.data.Implementation`: class UID 1.2.40.0.13.1.3, version
 * "dcm4che-" + the library version).
 */
const DCM4CHE = { uid: '1.2.40.0.13.1.3', version: 'dcm4che-5.31.0' } as const;
/** DCMTK 3.6.7 (dcmtk `dcmdata/include/dcmtk/dcmdata/dcuid.h`: OFFIS_IMPLEMENTATION_CLASS_UID, OFFIS_DTK_IMPLEMENTATION_VERSION_NAME). */
const DCMTK = { uid: '1.2.276.0.7230010.3.0.3.6.7', version: 'OFFIS_DCMTK_367' } as const;
/**
 * A GE LOGIQ ultrasound scanner: implementation class UID 1.2.840.113619.6.323 and version name
 * LOGIQE10_1 as a real LOGIQ sent them (dcm4che/dcm4che issue #957, quoted by the fingerprint
 * rules ge-root-uid and ge-logiq-version-name).
 */
const GE_US = { uid: '1.2.840.113619.6.323', version: 'LOGIQE10_1' } as const;

/** What a PACS offers: verification, Q/R FIND, and storage of the common image classes (a real archive accepts C-STORE). */
const STANDARD_SCP_SYNTAXES = [
  UID.Verification,
  UID.PatientRootFind,
  UID.StudyRootFind,
  UID.CTImageStorage,
  UID.MRImageStorage,
  UID.CRImageStorage,
  UID.SecondaryCaptureImageStorage,
] as const;

/** The default lab, in a fixed order (the order also fixes the non-Linux fallback ports). */
export const DEFAULT_LAYOUT: readonly LabNodeSpec[] = [
  {
    name: 'pacs-open',
    hostOffset: [1, 10],
    port: 104,
    kind: 'dicom',
    role: 'pacs',
    description: 'permissive PACS (dcm4che): any called/calling AE, C-ECHO and C-FIND answer anyone',
    expected: {
      anyAeAccepted: true,
      callingAeChecked: false,
      deviceType: 'pacs',
      vendor: 'dcm4che',
      status: 'success',
      findings: ['dicom-any-ae', 'dicom-no-tls'],
    },
    dicom: {
      aeTitle: 'DCM4CHEE',
      calledAes: 'any',
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: DCM4CHE.uid,
      implementationVersionName: DCM4CHE.version,
      maxPduLength: 16384,
      records: 'standard',
    },
  },
  {
    name: 'pacs-open-4242',
    hostOffset: [1, 10],
    port: 4242,
    kind: 'dicom',
    role: 'pacs',
    description: 'the same permissive PACS on its second port (4242)',
    expected: {
      anyAeAccepted: true,
      callingAeChecked: false,
      deviceType: 'pacs',
      vendor: 'dcm4che',
      status: 'success',
      findings: ['dicom-any-ae', 'dicom-no-tls'],
    },
    dicom: {
      aeTitle: 'DCM4CHEE',
      calledAes: 'any',
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: DCM4CHE.uid,
      implementationVersionName: DCM4CHE.version,
      maxPduLength: 16384,
      records: 'standard',
    },
  },
  {
    name: 'pacs-ae-check',
    hostOffset: [1, 11],
    port: 11112,
    kind: 'dicom',
    role: 'pacs',
    description: 'DCMTK Q/R archive that checks the called AE title (only ARCHIVE): rejects others with 1/1/7',
    expected: {
      anyAeAccepted: false,
      acceptedCalledAe: null,
      // Every title the safe profile tries is rejected: no A-ASSOCIATE-AC, so no vendor to name.
      status: 'success',
    },
    dicom: {
      aeTitle: 'ARCHIVE',
      calledAes: ['ARCHIVE'],
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: DCMTK.uid,
      implementationVersionName: DCMTK.version,
      maxPduLength: 16384,
      records: 'standard',
    },
  },
  {
    name: 'pacs-orthanc-like',
    hostOffset: [1, 13],
    port: 4242,
    kind: 'dicom',
    role: 'pacs',
    description:
      'Orthanc-like PACS (Debian Orthanc announces DCMTK): called AE must be ORTHANC; unknown calling AEs may echo, a C-FIND is answered with A-ABORT',
    expected: {
      anyAeAccepted: false,
      acceptedCalledAe: 'ORTHANC',
      callingAeChecked: true,
      vendor: 'OFFIS',
      status: 'success',
    },
    dicom: {
      aeTitle: 'ORTHANC',
      calledAes: ['ORTHANC'],
      callingAes: ['MODALITY1'],
      callingAePolicy: 'abort-at-find',
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: DCMTK.uid,
      implementationVersionName: DCMTK.version,
      maxPduLength: 16384,
      records: 'standard',
    },
  },
  {
    name: 'pacs-calling-check',
    hostOffset: [1, 14],
    port: 104,
    kind: 'dicom',
    role: 'pacs',
    description: 'PACS that accepts any called AE but rejects unknown calling AE titles (A-ASSOCIATE-RJ 1/1/3)',
    expected: {
      // The random called AE is refused (for the calling AE's sake): no proof that any AE is accepted.
      anyAeAccepted: false,
      callingAeChecked: true,
      // No A-ASSOCIATE-AC ever reaches the safe profile here, so no vendor can be named.
      status: 'success',
    },
    dicom: {
      aeTitle: 'PACS',
      calledAes: 'any',
      callingAes: ['MODALITY1', 'VIEWER1'],
      callingAePolicy: 'reject',
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: DCM4CHE.uid,
      implementationVersionName: DCM4CHE.version,
      maxPduLength: 16384,
      records: 'standard',
    },
  },
  {
    name: 'pacs-large',
    hostOffset: [1, 16],
    port: 104,
    kind: 'dicom',
    role: 'pacs',
    description: 'permissive archive with more studies than the scanner counts (exercises the C-FIND cap and C-CANCEL)',
    expected: {
      anyAeAccepted: true,
      deviceType: 'pacs',
      vendor: 'dcm4che',
      status: 'success',
      findings: ['dicom-any-ae', 'dicom-no-tls'],
    },
    dicom: {
      aeTitle: 'ARCHIVE-L',
      calledAes: 'any',
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: DCM4CHE.uid,
      implementationVersionName: DCM4CHE.version,
      maxPduLength: 16384,
      records: 'large',
    },
  },
  {
    name: 'pacs-tls',
    hostOffset: [1, 12],
    port: 2762,
    kind: 'dicom-tls',
    role: 'pacs',
    description: 'PACS speaking DICOM over TLS (PS3.15 Annex B.1) with a self-signed RSA 2048 certificate',
    expected: { anyAeAccepted: true, tls: true, vendor: 'dcm4che', status: 'success', findings: ['tls-self-signed'] },
    tls: { cert: 'pacs-tls', weak: false },
    dicom: {
      aeTitle: 'DCM4CHEE',
      calledAes: 'any',
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: DCM4CHE.uid,
      implementationVersionName: DCM4CHE.version,
      maxPduLength: 16384,
      records: 'standard',
    },
  },
  {
    name: 'pacs-weak-tls',
    hostOffset: [1, 15],
    port: 2762,
    kind: 'dicom-tls',
    role: 'pacs',
    description: 'PACS over TLS with an expired, self-signed RSA 1024 / SHA-1 certificate; accepts TLS 1.0',
    expected: {
      anyAeAccepted: true,
      tls: true,
      vendor: 'OFFIS',
      status: 'success',
      findings: ['tls-expired-cert', 'tls-legacy-version', 'tls-self-signed', 'tls-sha1-signature', 'tls-weak-key'],
    },
    tls: { cert: 'pacs-weak-tls', weak: true },
    dicom: {
      aeTitle: 'STORESCP',
      calledAes: 'any',
      abstractSyntaxes: [UID.Verification],
      implementationClassUid: DCMTK.uid,
      implementationVersionName: DCMTK.version,
      maxPduLength: 16384,
      records: 'none',
    },
  },
  {
    name: 'us-modality',
    hostOffset: [2, 20],
    port: 104,
    kind: 'dicom',
    role: 'modality',
    description: 'ultrasound scanner (GE LOGIQ): answers C-ECHO to any AE, no query service',
    expected: { anyAeAccepted: true, deviceType: 'ultrasound', vendor: 'GE HealthCare', status: 'success' },
    dicom: {
      aeTitle: 'US01',
      calledAes: 'any',
      abstractSyntaxes: [UID.Verification, UID.StorageCommitmentPushModel],
      implementationClassUid: GE_US.uid,
      implementationVersionName: GE_US.version,
      maxPduLength: 65536,
      records: 'none',
    },
  },
  {
    name: 'us-modality-qr',
    hostOffset: [2, 20],
    port: 11112,
    kind: 'dicom',
    role: 'modality',
    description: 'the same scanner\'s local query service: once the host is known as a modality, the scan sends no C-FIND here',
    expected: { anyAeAccepted: true, deviceType: 'ultrasound', find: null, status: 'success' },
    dicom: {
      aeTitle: 'US01',
      calledAes: 'any',
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: GE_US.uid,
      implementationVersionName: GE_US.version,
      maxPduLength: 65536,
      records: 'standard',
    },
  },
  {
    name: 'decoy-dicompot',
    hostOffset: [9, 20],
    port: 11112,
    kind: 'dicom',
    role: 'honeypot',
    description: 'a DICOM decoy answering like dicompot: any AE, an A-ASSOCIATE-AC without implementation class UID, 4 MiB max PDU',
    expected: { anyAeAccepted: true, status: 'success', honeypot: true },
    dicom: {
      aeTitle: 'radiant',
      calledAes: 'any',
      abstractSyntaxes: STANDARD_SCP_SYNTAXES,
      implementationClassUid: null,
      maxPduLength: 65536,
      announcedMaxPduLength: 4194304,
      records: 'none',
    },
  },
  {
    name: 'decoy-combo-us',
    hostOffset: [9, 21],
    port: 104,
    kind: 'dicom',
    role: 'honeypot',
    description: 'an ultrasound scanner\'s DICOM port on the same address as an EHR login page (decoy-combo-web)',
    expected: { anyAeAccepted: true, status: 'success', honeypot: true },
    dicom: {
      aeTitle: 'US02',
      calledAes: 'any',
      abstractSyntaxes: [UID.Verification, UID.StorageCommitmentPushModel],
      implementationClassUid: GE_US.uid,
      implementationVersionName: GE_US.version,
      maxPduLength: 65536,
      records: 'none',
    },
  },
  hostile('hostile-garbage', 1, 'garbage', 'sends random bytes as soon as the connection opens', 'protocol-error'),
  hostile(
    'hostile-oversized',
    2,
    'oversized',
    'answers the A-ASSOCIATE-RQ with a PDU header declaring 0xFFFFFFFF bytes, then drips bytes forever',
    'protocol-error',
  ),
  hostile(
    'hostile-slow-drip',
    3,
    'slow-drip',
    'a valid A-ASSOCIATE-AC, one byte every 500 ms (never completes within a sane read timeout)',
    'io-timeout',
  ),
  hostile(
    'hostile-split',
    4,
    'split',
    'a valid, permissive SCP whose every PDU is written 3 bytes at a time with small delays',
    'success',
  ),
  hostile('hostile-reset', 5, 'reset', 'resets (RST) every connection at once', 'connection-closed'),
  hostile('hostile-silent', 6, 'silent', 'accepts the connection and never answers', 'io-timeout'),
  hostile(
    'hostile-http',
    7,
    'http-on-dicom-port',
    'an HTTP server on the DICOM port: answers HTTP/1.1 400 to the A-ASSOCIATE-RQ',
    'protocol-error',
  ),
  {
    name: 'tarpit-104',
    hostOffset: [9, 50],
    port: 104,
    kind: 'tarpit',
    role: 'tarpit',
    description: 'listener with a full accept queue that never accepts: connects time out',
    expected: { status: 'connection-timeout' },
  },
  {
    name: 'tarpit-11112',
    hostOffset: [9, 51],
    port: 11112,
    kind: 'tarpit',
    role: 'tarpit',
    description: 'a second tarpit, on the DCMTK port',
    expected: { status: 'connection-timeout' },
  },
  // HL7, web, FHIR, DICOMweb and remote-access nodes: one file per protocol family in src/lab/nodes/.
  ...SERVICE_NODES,
];

function hostile(name: string, host: number, mode: HostileMode, description: string, status: string): LabNodeSpec {
  return {
    name,
    hostOffset: [9, host],
    port: 104,
    kind: 'hostile',
    role: 'hostile',
    description,
    expected: mode === 'split' ? { status, anyAeAccepted: true } : { status },
    hostile: mode,
  };
}

export interface Ipv4Block {
  base: number;
  prefix: number;
  size: number;
  text: string;
}

/** Parses an IPv4 CIDR block and requires it to sit inside 127.0.0.0/8 (the lab is loopback only). */
export function parseLoopbackBlock(text: string): Ipv4Block {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (!m) throw new UsageError(`lab block must be an IPv4 CIDR such as 127.77.0.0/16, got "${text}"`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix < 8 || prefix > 30) {
    throw new UsageError(`lab block "${text}" is not a valid IPv4 CIDR with a prefix between /8 and /30`);
  }
  const addr = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const size = 2 ** (32 - prefix);
  const base = addr - (addr % size);
  if (base >>> 24 !== 127) throw new UsageError(`lab block "${text}" is outside 127.0.0.0/8: the lab binds loopback addresses only`);
  return { base, prefix, size, text: `${formatV4(base)}/${prefix}` };
}

export function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Added to a privileged port (below 1024) when this process may not bind one: 104 becomes 10104. */
export const UNPRIVILEGED_PORT_OFFSET = 10000;

/**
 * Whether this process may bind `port` on Linux: root, CAP_NET_BIND_SERVICE in the effective
 * set (capabilities(7), bit 10), or a port at or above net.ipv4.ip_unprivileged_port_start.
 * Other platforms: assumed yes (the fallback ports are above 1024 anyway).
 */
export function canBindPort(port: number, platform: NodeJS.Platform = process.platform): boolean {
  if (port >= 1024 || platform !== 'linux') return true;
  if (process.getuid?.() === 0) return true;
  try {
    const status = readFileSync('/proc/self/status', 'latin1');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (m && (BigInt(`0x${m[1]}`) & (1n << 10n)) !== 0n) return true;
  } catch {
    /* no /proc: fall through */
  }
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'latin1').trim());
    if (Number.isInteger(start) && port >= start) return true;
  } catch {
    /* unknown: assume the classic limit */
  }
  return false;
}

/** The port to use for `port`: itself when it can be bound, else port + UNPRIVILEGED_PORT_OFFSET. */
export function usablePort(port: number, canBind: (p: number) => boolean = canBindPort): number {
  return canBind(port) ? port : port + UNPRIVILEGED_PORT_OFFSET;
}

/** True where every 127.x address reaches the loopback interface without configuration. */
export function hasLoopbackBlock(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux';
}

/**
 * Places the layout's nodes on addresses and ports. Linux: `block` base + hostOffset, the
 * node's standard port. Elsewhere: 127.0.0.1 and FALLBACK_BASE_PORT + the node's index in
 * the full layout (stable whatever subset is started).
 */
export function placeLayout(opts: {
  platform?: NodeJS.Platform;
  block?: string;
  layout?: readonly LabNodeSpec[];
  /** Whether a port may be bound (default canBindPort): ports that cannot are moved up by UNPRIVILEGED_PORT_OFFSET. */
  canBind?: (port: number) => boolean;
}): { block: string; nodes: PlacedNode[] } {
  const layout = opts.layout ?? DEFAULT_LAYOUT;
  if (!hasLoopbackBlock(opts.platform)) {
    return {
      block: '127.0.0.1/32',
      nodes: layout.map((n, i) => ({ ...n, ip: '127.0.0.1', port: FALLBACK_BASE_PORT + i })),
    };
  }
  const block = parseLoopbackBlock(opts.block ?? DEFAULT_LAB_BLOCK);
  const nodes = layout.map((n) => {
    const offset = n.hostOffset[0] * 256 + n.hostOffset[1];
    if (offset <= 0 || offset >= block.size - 1) {
      throw new UsageError(`lab block ${block.text} is too small for node ${n.name} (offset ${n.hostOffset.join('.')}): use a /20 or larger`);
    }
    const ip = formatV4(block.base + offset);
    if (ip === '127.0.0.1') throw new UsageError(`lab block ${block.text} would place ${n.name} on 127.0.0.1, where the machine's own services listen`);
    return { ...n, ip, port: usablePort(n.port, opts.canBind) };
  });
  return { block: block.text, nodes };
}

/**
 * Addresses for the bench lab: `count` hosts of `block` in order, skipping the host parts
 * .0 and .255 (scanners and people often treat them as network and broadcast addresses).
 * Non-Linux: 127.0.0.1 and `count` consecutive ports from `port` upwards.
 */
export function placeBench(opts: {
  count: number;
  block?: string;
  port?: number;
  platform?: NodeJS.Platform;
  canBind?: (port: number) => boolean;
}): { block: string; endpoints: { ip: string; port: number }[] } {
  const port = usablePort(opts.port ?? 104, opts.canBind);
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new UsageError(`bench count must be a positive integer, got ${opts.count}`);
  if (!hasLoopbackBlock(opts.platform)) {
    const first = (opts.port ?? 104) < 1024 ? 20000 : port;
    if (first + opts.count > 65535) throw new UsageError(`not enough ports above ${first} for ${opts.count} bench endpoints`);
    return {
      block: '127.0.0.1/32',
      endpoints: Array.from({ length: opts.count }, (_, i) => ({ ip: '127.0.0.1', port: first + i })),
    };
  }
  const block = parseLoopbackBlock(opts.block ?? DEFAULT_BENCH_BLOCK);
  const endpoints: { ip: string; port: number }[] = [];
  for (let off = 1; off < block.size - 1 && endpoints.length < opts.count; off++) {
    const v = block.base + off;
    const last = v & 255;
    if (last === 0 || last === 255) continue;
    const ip = formatV4(v);
    if (ip === '127.0.0.1') continue;
    endpoints.push({ ip, port });
  }
  if (endpoints.length < opts.count) {
    throw new UsageError(`bench block ${block.text} holds only ${endpoints.length} usable addresses, ${opts.count} asked`);
  }
  return { block: block.text, endpoints };
}
