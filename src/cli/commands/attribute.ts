/**
 * `medsurface attribute`: refreshes the country, AS and organisation of every asset in the
 * inventory from mmdb files and orgs.yaml (new databases, an edited orgs.yaml), without scanning.
 */
import type { Command } from 'commander';
import { Attributor } from '../../attribution/index.js';
import { UsageError } from '../../core/errors.js';
import { openInventory } from '../../inventory/index.js';
import { compactAttribution } from './scan.js';

export interface AttributeOptions {
  db?: string;
  geoip: string[];
  asn: string[];
  orgs?: string;
}

export async function executeAttribute(o: AttributeOptions, out: NodeJS.WritableStream): Promise<{ assets: number; changed: number }> {
  if (o.geoip.length === 0 && o.asn.length === 0 && !o.orgs) throw new UsageError('give at least one of --geoip, --asn, --orgs');
  const attributor = await Attributor.open({ geoip: o.geoip, asn: o.asn, ...(o.orgs ? { orgs: o.orgs } : {}) });
  for (const w of attributor.warnings) out.write(`warning: ${w}\n`);
  const inv = await openInventory(o.db);
  try {
    const r = await inv.attributeAssets((ip) => compactAttribution(attributor.lookup(ip)));
    out.write(`attributed ${r.assets} assets (${r.changed} changed) in ${inv.location}\n`);
    return r;
  } finally {
    await inv.close();
  }
}

export function registerAttribute(program: Command): void {
  const repeat = (v: string, prev: string[]) => [...prev, v];
  program
    .command('attribute')
    .description('refresh country, AS and organisation of every asset from mmdb files and orgs.yaml (no scan)')
    .option('--db <path|url>', 'inventory: SQLite path or postgres:// URL (default $MEDSURFACE_DB or XDG data dir)')
    .option('--geoip <file>', 'country mmdb; repeatable', repeat, [])
    .option('--asn <file>', 'ASN mmdb; repeatable', repeat, [])
    .option('--orgs <file>', 'orgs.yaml (wins over the mmdb files)')
    .action(async (o: AttributeOptions) => {
      await executeAttribute(o, process.stdout);
    });
}
