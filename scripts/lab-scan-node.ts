/** Scans one lab node and prints its record: `node --import tsx scripts/lab-scan-node.ts NODE [safe|intrusive]` (debugging aid). */
import { executeScan, scanOptions } from '../src/cli/commands/scan.js';
import { startLab } from '../src/lab/index.js';

const [name, profile = 'safe'] = process.argv.slice(2);
const lab = await startLab({ block: '127.231.0.0/16', quiet: true });
try {
  const node = lab.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no lab node ${name}: ${lab.nodes.map((n) => n.name).join(', ')}`);
  const s = await executeScan(
    [node.ip],
    scanOptions({ ports: String(node.port), profile, hostDelay: 0, inventory: false, quiet: true }),
    { stdout: process.stdout, stderr: process.stderr, collect: true, writer: { count: 0, write() {}, close: async () => {} } },
  );
  console.log(JSON.stringify(s.records, null, 1));
  console.log('expected', JSON.stringify(node.expected));
} finally {
  await lab.stop();
}
