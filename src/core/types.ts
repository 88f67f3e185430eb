/**
 * Shared shapes, defined once as zod 4 schemas: the TypeScript types, the JSON Schema of the
 * output (scripts/gen-schema.ts), and later the API validation all come from here.
 * Probe-specific observation schemas sit beside each probe (src/probes/<id>/schema.ts);
 * src/output/schema.ts composes them into the full output record.
 */
import { z } from 'zod';
import { Status } from './status.js';

export { Status };

export const PROBE_IDS = ['dicom', 'hl7', 'fhir', 'dicomweb', 'http', 'vnc', 'telnet', 'ftp', 'rdp'] as const;
export const ProbeId = z.enum(PROBE_IDS);
export type ProbeId = z.infer<typeof ProbeId>;

export const PROFILES = ['safe', 'intrusive'] as const;
export const Profile = z.enum(PROFILES);
export type Profile = z.infer<typeof Profile>;

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** How a finding was established: `confirmed` by a response, `version` by a version string only. */
export const Confidence = z.enum(['confirmed', 'version', 'inferred']);
export type Confidence = z.infer<typeof Confidence>;

/**
 * The device-type taxonomy. Imaging modalities by kind where the evidence says which
 * (`modality` when it only says "an imaging modality"); the rest by role.
 */
export const MODALITY_TYPES = [
  'modality',
  'mri',
  'ct',
  'x-ray',
  'ultrasound',
  'mammography',
  'nuclear-medicine',
] as const;

export const DEVICE_TYPES = [
  ...MODALITY_TYPES,
  'pacs',
  'workstation',
  'viewer',
  'dicom-toolkit',
  'dicom-router',
  'lis',
  'lab-analyzer',
  'his',
  'ehr',
  'interface-engine',
  'fhir-server',
  'patient-monitor-gateway',
  'infusion-gateway',
  'web-server',
  'remote-access',
  'unknown-medical',
  'unknown',
] as const;
export const DeviceType = z.enum(DEVICE_TYPES);
export type DeviceType = z.infer<typeof DeviceType>;

/** Imaging modalities and bedside devices: fragile, touched lightly (DESIGN.md "Device safety"). */
export function isFragileDevice(t: DeviceType | undefined): boolean {
  return t !== undefined && ((MODALITY_TYPES as readonly string[]).includes(t) || t === 'patient-monitor-gateway' || t === 'infusion-gateway');
}

/** Finding ids: lowercase kebab-case, prefixed by protocol, or a CVE id. */
export const FindingId = z.string().regex(/^([a-z0-9]+-)*[a-z0-9]+$|^CVE-\d{4}-\d{4,}$/);

export const Finding = z.object({
  id: FindingId,
  severity: Severity,
  title: z.string(),
  confidence: Confidence,
  /** Short facts that support the finding: field names and non-identifying values only. */
  evidence: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});
export type Finding = z.infer<typeof Finding>;

export const TlsCertificate = z.object({
  subject: z.string(),
  issuer: z.string(),
  subjectAltNames: z.array(z.string()),
  validFrom: z.string(),
  validTo: z.string(),
  selfSigned: z.boolean(),
  keyType: z.string().nullable(),
  keyBits: z.number().int().nullable(),
  signatureAlgorithm: z.string().nullable(),
  sha256: z.string(),
});
export type TlsCertificate = z.infer<typeof TlsCertificate>;

export const TlsInfo = z.object({
  version: z.string().nullable(),
  cipher: z.string().nullable(),
  alpn: z.string().nullable(),
  certificate: TlsCertificate.nullable(),
});
export type TlsInfo = z.infer<typeof TlsInfo>;

/** What a fingerprint rule concludes about one service. */
export const Identification = z.object({
  vendor: z.string().optional(),
  product: z.string().optional(),
  version: z.string().optional(),
  cpe: z.string().optional(),
  deviceType: DeviceType.optional(),
  /** Ids of the fingerprint rules that matched, for the evidence trail. */
  rules: z.array(z.string()).default([]),
});
export type Identification = z.infer<typeof Identification>;

/** The identity fused from all services of one host. */
export const AssetIdentity = z.object({
  vendor: z.string().optional(),
  product: z.string().optional(),
  deviceType: DeviceType.optional(),
  evidence: z.array(z.string()),
  /** Highest service risk of the host plus breadth (src/risk/score.ts), 0-100. */
  risk: z.number().int().min(0).max(100).optional(),
  /** Likely a honeypot or decoy (src/honeypot/): the signals that say so. Left out of headline counts. */
  honeypot: z.object({ signals: z.array(z.string()) }).optional(),
});
export type AssetIdentity = z.infer<typeof AssetIdentity>;

/**
 * Who an address belongs to (src/attribution/: mmdb files and the user's orgs.yaml), as a record
 * and the inventory carry it. The attribution module's own result extends this with contacts.
 */
export const RecordAttribution = z.object({
  /** ISO 3166-1 alpha-2 code, upper case. */
  country: z.string().length(2).nullable(),
  asn: z.number().int().nonnegative().nullable(),
  asOrg: z.string().nullable(),
  org: z.string().nullable(),
  orgSource: z.enum(['orgs', 'asn']).nullable(),
});
export type RecordAttribution = z.infer<typeof RecordAttribution>;

/**
 * One output line: one service (ip, port). Field names are the public contract of
 * DESIGN.md ("The contracts other parts rely on"); `data` is keyed by probe id and
 * its values are validated by the per-probe schemas in src/output/schema.ts.
 */
export const ServiceRecord = z.object({
  ip: z.string(),
  port: z.number().int().min(1).max(65535),
  hostname: z.string().optional(),
  protocol: ProbeId.nullable(),
  status: Status,
  timestamp: z.string(),
  product: z.string().optional(),
  vendor: z.string().optional(),
  version: z.string().optional(),
  cpe: z.string().optional(),
  deviceType: DeviceType.optional(),
  asset: AssetIdentity.optional(),
  /** Country, AS and organisation of the address, when the scan was given --geoip/--asn/--orgs. */
  attribution: RecordAttribution.optional(),
  tls: TlsInfo.optional(),
  findings: z.array(Finding),
  /** Risk score of the service, 0-100 (src/risk/score.ts, docs/risk.md). */
  risk: z.number().int().min(0).max(100).optional(),
  /** Check ids that were evaluated on this service (resolution needs to know what ran). */
  checksRun: z.array(z.string()).optional(),
  error: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});
export type ServiceRecord = z.infer<typeof ServiceRecord>;

/** A host to scan: an address, and the name it came from when the target was a name. */
export interface HostTarget {
  ip: string;
  hostname?: string;
}

export const RUN_STATES = ['running', 'completed', 'interrupted', 'failed'] as const;
export const RunState = z.enum(RUN_STATES);
export type RunState = z.infer<typeof RunState>;
