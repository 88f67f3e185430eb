/**
 * Assessment of one observed service: the declarative checks, the known vulnerabilities of its
 * product version, and its risk score. The scan engine calls it on a fresh observation and
 * `medsurface rescore` on a stored one (after a vulndb import, new checks), so both judge a
 * service by the same code (DESIGN.md: checks run offline against stored observations).
 */
import { runChecks } from '../checks/index.js';
import type { Finding, Identification, Profile, TlsInfo } from '../core/types.js';
import { serviceRisk } from '../risk/score.js';
import type { VulnDb } from '../vuln/index.js';

export interface AssessInput {
  ip: string;
  protocol: string | null;
  data: Record<string, unknown>;
  tls?: TlsInfo | undefined;
  identification: Identification;
}

export interface Assessment {
  findings: Finding[];
  checksRun: string[];
  risk: number;
}

/** The same product version is seen on thousands of hosts: one database lookup each (bounded memo). */
const vulnMemo = new WeakMap<VulnDb, Map<string, { findings: Finding[]; evaluated: string[] }>>();
function vulnLookup(db: VulnDb, q: { product: string; version: string; vendor?: string; cpe?: string }) {
  let memo = vulnMemo.get(db);
  if (!memo) vulnMemo.set(db, (memo = new Map()));
  const key = `${q.vendor ?? ''}|${q.product}|${q.version}|${q.cpe ?? ''}`;
  let hit = memo.get(key);
  if (!hit) {
    hit = { findings: db.findings(q), evaluated: db.evaluatedIds(q) };
    if (memo.size >= 4096) memo.clear();
    memo.set(key, hit);
  }
  return hit;
}

export function assessService(input: AssessInput, profile: Profile, vulnDb?: VulnDb): Assessment {
  const { identification } = input;
  const checked = runChecks({ protocol: input.protocol, data: input.data, tls: input.tls, identification }, profile);
  if (vulnDb && identification.product && identification.version) {
    const v = vulnLookup(vulnDb, {
      product: identification.product,
      version: identification.version,
      ...(identification.vendor ? { vendor: identification.vendor } : {}),
      ...(identification.cpe ? { cpe: identification.cpe } : {}),
    });
    checked.findings.push(...v.findings.map((f) => ({ ...f })));
    checked.checksRun.push(...v.evaluated);
  }
  const risk = serviceRisk({ ip: input.ip, deviceType: identification.deviceType, findings: checked.findings, data: input.data });
  return { findings: checked.findings, checksRun: checked.checksRun, risk };
}
