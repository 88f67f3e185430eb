/**
 * The lab's ground truth against a scan's records: every expectation a lab node declares
 * (`expected` in layout.ts) is compared with the record for that (ip, port).
 */
import type { ServiceRecord } from '../core/types.js';
import type { LabNodeInfo } from './index.js';

export interface TruthDifference {
  node: string;
  address: string;
  field: string;
  expected: unknown;
  got: unknown;
}

function observed(rec: ServiceRecord | undefined, field: string): unknown {
  if (!rec) return field === 'status' ? 'no record' : undefined;
  // A probe-specific field is read from the identifying probe's data, then from any other probe's.
  const own = (rec.protocol ? rec.data[rec.protocol] : undefined) as Record<string, unknown> | undefined;
  const dicom = rec.data.dicom as Record<string, unknown> | undefined;
  switch (field) {
    case 'status':
      return rec.status;
    case 'vendor':
      return rec.vendor ?? rec.asset?.vendor;
    case 'deviceType':
      return rec.asset?.deviceType ?? rec.deviceType;
    case 'tls':
      return own && 'tls' in own && typeof own.tls === 'boolean' ? own.tls : rec.tls !== undefined || Boolean(dicom?.tls);
    case 'protocol':
      return rec.protocol;
    case 'product':
      return rec.product ?? rec.asset?.product;
    case 'findings':
      return rec.findings.map((f) => f.id);
    case 'honeypot':
      return rec.asset?.honeypot !== undefined;
    default: {
      if (own && field in own) return own[field];
      for (const d of Object.values(rec.data)) {
        if (d && typeof d === 'object' && field in d) return (d as Record<string, unknown>)[field];
      }
      return undefined;
    }
  }
}

export function compareWithTruth(nodes: LabNodeInfo[], records: ServiceRecord[]): { checked: number; differences: TruthDifference[] } {
  const differences: TruthDifference[] = [];
  let checked = 0;
  for (const n of nodes) {
    const rec = records.find((r) => r.ip === n.ip && r.port === n.port);
    for (const [field, expected] of Object.entries(n.expected)) {
      if (expected === undefined) continue;
      checked++;
      const got = observed(rec, field);
      const ok =
        field === 'findings'
          ? Array.isArray(expected) && (expected as string[]).every((id) => (got as string[] | undefined)?.includes(id))
          : got === expected;
      if (!ok) differences.push({ node: n.name, address: `${n.ip}:${n.port}`, field, expected, got });
    }
  }
  return { checked, differences };
}
