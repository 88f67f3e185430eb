/** `medsurface lab`: the simulated hospital network on loopback, until Ctrl-C. */
import type { Command } from 'commander';
import { makeTable } from '../../output/writer.js';
import type { LabNodeInfo } from '../../lab/index.js';
import { intOption } from '../options.js';

export function labTable(nodes: LabNodeInfo[]): string {
  const t = makeTable(['node', 'address', 'port', 'kind', 'description']);
  for (const n of nodes) t.push([n.name, n.ip, String(n.port), n.kind, n.description]);
  return t.toString();
}

export function registerLab(program: Command): void {
  program
    .command('lab')
    .description('start the simulated hospital network on loopback (127.77.0.0/16) until interrupted')
    .option('--block <cidr>', 'loopback block for the lab nodes (default 127.77.0.0/16; 127.65.0.0/16 with --bench)')
    .option('--bench <count>', 'instead: N identical live DICOM endpoints on port 104, one per address (benchmarks)', intOption('--bench'))
    .option('--only <names>', 'start only these nodes (comma-separated)')
    .option('--json', 'print the node list as JSON')
    .action(async (o: { block?: string; only?: string; json?: boolean; bench?: number }) => {
      // Loaded on demand: only `lab` and `demo` need the simulator.
      const { startBenchLab, startLab } = await import('../../lab/index.js');
      const lab = o.bench
        ? await startBenchLab({ count: o.bench, ...(o.block ? { block: o.block } : {}) })
        : await startLab({ ...(o.block ? { block: o.block } : {}), ...(o.only ? { only: o.only.split(',') } : {}), quiet: true });
      if (o.json) process.stdout.write(`${JSON.stringify(lab.nodes)}\n`);
      else {
        process.stdout.write(`${labTable(lab.nodes)}\n`);
        const ports = [...new Set(lab.nodes.map((n) => n.port))].sort((a, b) => a - b).join(',');
        process.stdout.write(`lab running on ${lab.block}. Try:\n  medsurface scan ${lab.block} --ports ${ports}\nCtrl-C stops it.\n`);
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.stderr.write('stopping the lab...\n');
      await lab.stop();
    });
}
