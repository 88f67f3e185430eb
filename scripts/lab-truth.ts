/** Scans a fresh lab and prints every difference from its ground truth: `node --import tsx scripts/lab-truth.ts [safe|intrusive]`. */
import { executeScan, scanOptions } from '../src/cli/commands/scan.js';
import { compareWithTruth } from '../src/lab/ground-truth.js';
import { startLab } from '../src/lab/index.js';
const lab = await startLab({ block: '127.230.0.0/16', quiet: true });
const ports = [...new Set(lab.nodes.map((n) => n.port))].join(',');
const s = await executeScan([...new Set(lab.nodes.map((n) => n.ip))], scanOptions({ ports, concurrency: 32, hostDelay: 0, connectTimeout: 1000, readTimeout: 2000, sessionTimeout: 6000, retries: 0, emitClosed: true, inventory: false, quiet: true, profile: process.argv[2] ?? 'safe' }), { stdout: process.stdout, stderr: process.stderr, collect: true, writer: { count: 0, write() {}, close: async () => {} } });
const t = compareWithTruth(lab.nodes, s.records);
for (const d of t.differences) console.log(d.node.padEnd(28), d.address.padEnd(22), d.field.padEnd(16), JSON.stringify(d.expected), '→', JSON.stringify(d.got)?.slice(0, 80));
console.log(`${t.checked - t.differences.length}/${t.checked}`, 'elapsed', s.stats.elapsedMs);
await lab.stop();
