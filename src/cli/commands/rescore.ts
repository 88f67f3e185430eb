/**
 * `medsurface rescore`: re-evaluates the whole inventory offline (checks, vulnerability database,
 * risk, honeypot verdicts) from the stored observations, after `medsurface vulndb import` or an
 * upgrade of the check definitions. Sends nothing on the network.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { rescoreInventory } from '../../engine/rescore.js';
import { defaultInventoryPath, openInventory } from '../../inventory/index.js';
import { VulnDb } from '../../vuln/index.js';

export interface RescoreOptions {
  db?: string;
  vulnData?: string;
  json?: boolean;
}

export async function executeRescore(o: RescoreOptions, out: NodeJS.WritableStream): Promise<void> {
  const inv = await openInventory(o.db);
  try {
    const dataDir = o.vulnData ?? (inv.kind === 'sqlite' && inv.location !== ':memory:' ? path.dirname(inv.location) : path.dirname(defaultInventoryPath()));
    const s = await rescoreInventory(inv, new VulnDb({ dataDir }));
    if (o.json) {
      out.write(`${JSON.stringify({ inventory: inv.location, ...s })}\n`);
      return;
    }
    out.write(
      [
        `rescored ${s.services} services in ${inv.location}`,
        `  new findings      ${s.opened}`,
        `  reopened          ${s.reopened}`,
        `  severity changed  ${s.changed}`,
        `  no longer firing  ${s.noLongerFiring}${s.noLongerFiring > 0 ? ' (still open: a scan that runs the check again resolves them)' : ''}`,
        '',
      ].join('\n'),
    );
  } finally {
    await inv.close();
  }
}

export function registerRescore(program: Command): void {
  program
    .command('rescore')
    .description('re-evaluate every stored service (checks, CVEs, risk, honeypots) without scanning, e.g. after `vulndb import`')
    .option('--db <path|url>', 'inventory: SQLite path or postgres:// URL (default $MEDSURFACE_DB or XDG data dir)')
    .option('--vuln-data <dir>', 'folder of imported vulnerability data (default beside the inventory)')
    .option('--json', 'one JSON summary line')
    .action(async (o: RescoreOptions) => {
      await executeRescore(o, process.stdout);
    });
}
