/**
 * `medsurface demo` (`npm run demo`): starts the lab, scans it with the real scan path into a
 * demo inventory of its own (never the user's), prints the results, the inventory summary,
 * and how the verdicts compare with the lab's ground truth.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { defaultInventoryPath, openInventory } from '../../inventory/index.js';
import { tableWriter } from '../../output/writer.js';
import { executeScan, scanOptions } from './scan.js';
import { labTable } from './lab.js';

export function demoDbPath(): string {
  return path.join(path.dirname(defaultInventoryPath()), 'demo.sqlite');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start the lab, scan it, and print the inventory (uses its own demo database)')
    .option('--db <path>', 'demo database (default: demo.sqlite beside the default inventory; recreated each time)')
    .option('--profile <name>', 'safe or intrusive', 'safe')
    .action(async (o: { db?: string; profile: string }) => {
      const { startLab } = await import('../../lab/index.js');
      const { compareWithTruth } = await import('../../lab/ground-truth.js');
      const db = o.db ?? demoDbPath();
      if (!db.startsWith('postgres')) for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
      const err = process.stderr;
      err.write(pc.bold('medsurface demo: starting the lab on loopback...\n'));
      const lab = await startLab({ quiet: true });
      try {
        process.stdout.write(`${labTable(lab.nodes)}\n`);
        const targets = [...new Set(lab.nodes.map((n) => n.ip))];
        const ports = [...new Set(lab.nodes.map((n) => n.port))].sort((a, b) => a - b);
        err.write(pc.bold(`scanning ${targets.length} lab hosts on ports ${ports.join(',')} (profile ${o.profile})...\n`));
        const summary = await executeScan(
          targets,
          scanOptions({
            ports: ports.join(','),
            profile: o.profile,
            concurrency: 64,
            hostDelay: 5,
            connectTimeout: 1500,
            readTimeout: 2000,
            sessionTimeout: 6000,
            retries: 0,
            scope: lab.block,
            emitClosed: true,
            db,
            quiet: true,
          }),
          { stdout: process.stdout, stderr: process.stderr, collect: true, writer: { count: 0, write() {}, close: async () => {} } },
        );
        const table = tableWriter(process.stdout);
        for (const r of summary.records) if (r.status !== 'connection-refused') table.write(r);
        await table.close();

        // Ground truth: the lab knows what each node is.
        const truth = compareWithTruth(lab.nodes, summary.records);
        for (const d of truth.differences) {
          process.stdout.write(pc.red(`  differs on ${d.node} ${d.address}: ${d.field} expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.got)}\n`));
        }
        const inv = await openInventory(db);
        try {
          const s = await inv.summary();
          process.stdout.write(
            `\nLab ground truth: ${truth.checked - truth.differences.length}/${truth.checked} expectations met\n` +
              `Inventory (${inv.location}): ${s.assets} assets, ${s.services} services, ${s.openFindings} open findings ` +
              `(${Object.entries(s.bySeverity).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})` +
              `${s.honeypots > 0 && !s.honeypotsIncluded ? `; ${s.honeypots} likely honeypot/decoy host(s) left out of these counts` : ''}\n` +
              `Assets by device type: ${Object.entries(s.byDeviceType).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}\n` +
              `Run ${summary.runId} ${summary.state} in ${(summary.stats.elapsedMs / 1000).toFixed(1)} s; device-safety log: ${summary.sendLog}\n` +
              `Look closer: medsurface inventory list --db ${db}\n`,
          );
        } finally {
          await inv.close();
        }
      } finally {
        await lab.stop();
      }
    });
}
