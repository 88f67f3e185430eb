/**
 * Honeypot and decoy detection: a scan of internet-facing medical systems meets research
 * honeypots (dicompot, conpot-style emulators) and decoys, and counting them as exposed hospitals
 * would inflate every figure. Two kinds of signals, each kept as evidence:
 * - service signatures (signatures.yaml): matchers over one record, each citing the honeypot's
 *   source (dicompot's association answer without implementation class UID, ...);
 * - impossible combinations on one address, which no real installation has:
 *   `combo-modality-and-hospital-system` (an imaging modality's DICOM port beside an EHR/HIS/LIS
 *   or interface engine), `combo-many-medical-products` (four or more different medical products).
 * A host with any signal is flagged (`asset.honeypot`) and carries an `info` finding
 * `honeypot-suspected`; the inventory keeps the flag and leaves such hosts out of headline counts
 * unless asked (`--include-honeypots`).
 */
import path from 'node:path';
import { z } from 'zod';
import { evaluate } from '../checks/engine.js';
import { Matcher } from '../checks/schema.js';
import { packageRoot } from '../core/paths.js';
import { MODALITY_TYPES, type Finding, type Identification } from '../core/types.js';
import { readYamlFile } from '../core/yaml-file.js';

export class HoneypotDbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HoneypotDbError';
  }
}

const Signature = z.strictObject({
  id: z.string().regex(/^([a-z0-9]+-)*[a-z0-9]+$/),
  name: z.string().min(1),
  description: z.string().min(1),
  source: z.strictObject({ url: z.url({ protocol: /^https$/ }), section: z.string().min(1) }),
  match: Matcher,
});
export type Signature = z.infer<typeof Signature>;
const SignatureFile = z.strictObject({ version: z.literal(1), signatures: z.array(Signature) });

export const DEFAULT_SIGNATURES_FILE = path.join(packageRoot(), 'src', 'honeypot', 'signatures.yaml');

const cache = new Map<string, Signature[]>();

export function loadSignatures(file: string = DEFAULT_SIGNATURES_FILE): Signature[] {
  const hit = cache.get(file);
  if (hit) return hit;
  const raw = readYamlFile(file, 256 * 1024, (m, cause) => new HoneypotDbError(m, cause === undefined ? undefined : { cause }));
  const parsed = SignatureFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new HoneypotDbError(`${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  cache.set(file, parsed.data.signatures);
  return parsed.data.signatures;
}

/** What detection looks at for one service: its observation and identification. */
export interface HoneypotInput {
  port: number;
  protocol: string | null;
  data: Record<string, unknown>;
  identification: Identification;
}

/** Ids of the service signatures one record matches. */
export function serviceSignals(rec: HoneypotInput, signatures: Signature[] = loadSignatures()): string[] {
  const view = { protocol: rec.protocol, data: rec.data, identification: rec.identification };
  return signatures.filter((s) => evaluate(s.match, view)).map((s) => s.id);
}

const MODALITIES = new Set<string>(MODALITY_TYPES);
const HOSPITAL_SYSTEMS = new Set(['ehr', 'his', 'lis', 'interface-engine']);
const MEDICAL = new Set([...MODALITY_TYPES, 'pacs', 'viewer', 'workstation', 'dicom-router', 'lis', 'lab-analyzer', 'his', 'ehr', 'interface-engine', 'fhir-server', 'patient-monitor-gateway', 'infusion-gateway']);

/** What the combination rules need of a service. */
export type ComboInput = Pick<HoneypotInput, 'protocol' | 'identification'>;

/** Impossible combinations among the services of one host. */
export function comboSignals(services: readonly ComboInput[]): string[] {
  const out: string[] = [];
  const types = services.map((s) => s.identification.deviceType).filter((t): t is NonNullable<typeof t> => t !== undefined);
  const modalityOnDicom = services.some((s) => s.protocol === 'dicom' && s.identification.deviceType && MODALITIES.has(s.identification.deviceType));
  if (modalityOnDicom && types.some((t) => HOSPITAL_SYSTEMS.has(t))) out.push('combo-modality-and-hospital-system');
  const products = new Set(
    services.filter((s) => s.identification.product && s.identification.deviceType && MEDICAL.has(s.identification.deviceType)).map((s) => s.identification.product!.toLowerCase()),
  );
  if (products.size >= 4) out.push('combo-many-medical-products');
  return out;
}

/** Signals of one host: its services' signatures and the impossible combinations among them. */
export function hostSignals(services: readonly HoneypotInput[], signatures: Signature[] = loadSignatures()): string[] {
  const out = new Set<string>(comboSignals(services));
  for (const s of services) for (const id of serviceSignals(s, signatures)) out.add(id);
  return [...out].sort();
}

export const HONEYPOT_FINDING_ID = 'honeypot-suspected';

/** The `info` finding a flagged host carries (on its first open service). */
export function honeypotFinding(signals: readonly string[]): Finding {
  return {
    id: HONEYPOT_FINDING_ID,
    severity: 'info',
    title: 'Likely a honeypot or decoy',
    confidence: 'inferred',
    evidence: { signals: signals.join(' ') },
  };
}
