/**
 * `medsurface rescore`: re-judges every service of the inventory from its latest stored
 * observation, without a packet sent: the checks and the vulnerability database as they are now
 * (after `medsurface vulndb import`, a new check, a corrected rule), the risk score and the
 * honeypot verdict. The same assessService the scan uses, on the observation's own profile (an
 * intrusive check needs intrusive data). Nothing is resolved here: only a scan that ran a check
 * again can say a weakness is gone (DESIGN.md); findings that no longer fire are counted.
 */
import type { Identification } from '../core/types.js';
import { type ComboInput, comboSignals, honeypotFinding, serviceSignals } from '../honeypot/detect.js';
import type { Inventory, RescoreSummary, RescoredService, StoredObservation } from '../inventory/store.js';
import { assetRisk } from '../risk/score.js';
import type { VulnDb } from '../vuln/index.js';
import { assessService } from './assess.js';

const PAGE = 500;

function identificationOf(o: StoredObservation): Identification {
  const id: Identification = { rules: [] };
  const i = o.identity;
  if (i.product) id.product = i.product;
  if (i.vendor) id.vendor = i.vendor;
  if (i.version) id.version = i.version;
  if (i.cpe) id.cpe = i.cpe;
  if (i.deviceType) id.deviceType = i.deviceType as NonNullable<Identification['deviceType']>;
  return id;
}

interface AssetAcc {
  risks: number[];
  signals: Set<string>;
  combos: ComboInput[];
  /** First (lowest port) service of the asset: carries the honeypot finding. */
  first: { serviceId: number; port: number } | null;
}

export async function rescoreInventory(inv: Inventory, vulnDb: VulnDb, onProgress?: (done: number) => void): Promise<RescoreSummary> {
  const summary: RescoreSummary = { services: 0, opened: 0, reopened: 0, changed: 0, noLongerFiring: 0 };
  const assets = new Map<number, AssetAcc>();
  const rescored = new Map<number, RescoredService>();
  let after = 0;
  for (;;) {
    const page = await inv.latestObservations(after, PAGE);
    if (page.length === 0) break;
    after = page[page.length - 1]!.serviceId;
    for (const o of page) {
      const identification = identificationOf(o);
      const a = assessService(
        { ip: o.ip, protocol: o.protocol, data: o.data, tls: (o.tls ?? undefined) as never, identification },
        o.profile,
        vulnDb,
      );
      rescored.set(o.serviceId, { serviceId: o.serviceId, findings: a.findings, risk: a.risk });
      let acc = assets.get(o.assetId);
      if (!acc) assets.set(o.assetId, (acc = { risks: [], signals: new Set(), combos: [], first: null }));
      acc.risks.push(a.risk);
      for (const s of serviceSignals({ port: o.port, protocol: o.protocol, data: o.data, identification })) acc.signals.add(s);
      acc.combos.push({ protocol: o.protocol, identification });
      if (!acc.first || o.port < acc.first.port) acc.first = { serviceId: o.serviceId, port: o.port };
      summary.services++;
    }
    onProgress?.(summary.services);
  }
  const assetUpdates: { assetId: number; risk: number; honeypotSignals: string[] }[] = [];
  for (const [assetId, acc] of assets) {
    for (const c of comboSignals(acc.combos)) acc.signals.add(c);
    const signals = [...acc.signals].sort();
    if (signals.length > 0 && acc.first) rescored.get(acc.first.serviceId)?.findings.push(honeypotFinding(signals));
    assetUpdates.push({ assetId, risk: assetRisk(acc.risks), honeypotSignals: signals });
  }
  const all = [...rescored.values()];
  for (let i = 0; i < all.length; i += PAGE) {
    const r = await inv.applyRescore(all.slice(i, i + PAGE), []);
    summary.opened += r.opened;
    summary.reopened += r.reopened;
    summary.changed += r.changed;
    summary.noLongerFiring += r.noLongerFiring;
  }
  for (let i = 0; i < assetUpdates.length; i += PAGE) await inv.applyRescore([], assetUpdates.slice(i, i + PAGE));
  return summary;
}
