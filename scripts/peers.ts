/**
 * Developer CLI for the interop peers (test/interop/peers.ts):
 *
 *   node --import tsx scripts/peers.ts start [NAME...]   start peers (all by default) and leave them running
 *   node --import tsx scripts/peers.ts status            what listens on the peer addresses
 *   node --import tsx scripts/peers.ts stop              stop them
 *
 * State (pids, work dir with logs and configs) lives in $MEDSURFACE_PEERS_DIR, default
 * $TMPDIR/medsurface-peers. The interop tests kill leftovers on the peer addresses before they start
 * their own peers, so peers started here are replaced when `npm run test:interop` runs.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killLeftovers, listenersOn, PEER_DEFS, PEER_NAMES, type Peer, peerBinariesPresent, startPeers, terminatePid } from '../test/interop/peers.js';

const STATE_DIR = process.env.MEDSURFACE_PEERS_DIR ?? join(tmpdir(), 'medsurface-peers');
const STATE_FILE = join(STATE_DIR, 'state.json');
const WORK_DIR = join(STATE_DIR, 'work');

interface State {
  startedAt: string;
  workDir: string;
  peers: Array<Omit<Peer, 'stop'>>;
}

function readState(): State | undefined {
  if (!existsSync(STATE_FILE)) return undefined;
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

function describePeer(p: Omit<Peer, 'stop'>): string {
  const http = p.httpPort ? ` http://${p.ip}:${p.httpPort}/${p.httpAuth ? ` (Basic ${p.httpAuth.user}:${p.httpAuth.password})` : ''}` : '';
  const data = p.studies !== undefined ? ` ${p.patients} patients/${p.studies} studies` : '';
  return `${p.name.padEnd(16)} ${p.kind.padEnd(9)} dicom ${p.ip}:${p.port} AE ${p.expected.calledAe ?? '-'} anyAE=${p.expected.anyAeAccepted}${data}${http}\n${''.padEnd(17)}pid ${p.pid} log ${p.logFile}`;
}

async function stop(): Promise<void> {
  const state = readState();
  if (state) await Promise.all(state.peers.map((p) => terminatePid(p.pid)));
  const killed = await killLeftovers();
  if (killed.length > 0) console.log(`killed leftovers on the peer addresses: pids ${killed.join(', ')}`);
  rmSync(STATE_FILE, { force: true });
  console.log('peers stopped');
}

async function start(names: string[]): Promise<void> {
  const { missing } = peerBinariesPresent();
  if (missing.length > 0) throw new Error(`missing: ${missing.join(', ')}; run: bash scripts/install-peers.sh`);
  const state = readState();
  if (state) await Promise.all(state.peers.map((p) => terminatePid(p.pid)));
  mkdirSync(STATE_DIR, { recursive: true });
  const peers = await startPeers(names, { workDir: WORK_DIR, persistent: true });
  const saved: State = {
    startedAt: new Date().toISOString(),
    workDir: WORK_DIR,
    peers: peers.map(({ stop: _stop, ...rest }) => rest),
  };
  writeFileSync(STATE_FILE, `${JSON.stringify(saved, null, 2)}\n`);
  for (const p of saved.peers) console.log(describePeer(p));
  console.log(`state: ${STATE_FILE}`);
}

async function status(): Promise<number> {
  const state = readState();
  const listeners = await listenersOn(PEER_DEFS.map((d) => d.ip));
  let down = 0;
  for (const d of PEER_DEFS) {
    const l = listeners.filter((x) => x.ip === d.ip);
    const up = l.some((x) => x.port === d.port);
    const saved = state?.peers.find((p) => p.name === d.name);
    if (!up && saved) down++;
    const where = l.length > 0 ? l.map((x) => `${x.port}${x.pids.length ? `(pid ${x.pids.join(',')})` : ''}`).join(' ') : '-';
    console.log(`${d.name.padEnd(16)} ${d.ip}:${d.port} ${up ? 'listening' : 'down'.padEnd(9)} ports: ${where}${saved ? `  log ${saved.logFile}` : ''}`);
  }
  if (state) console.log(`started ${state.startedAt}, work dir ${state.workDir}`);
  return down > 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      await start(rest);
      return 0;
    case 'stop':
      await stop();
      return 0;
    case 'status':
      return status();
    default:
      console.error(`usage: node --import tsx scripts/peers.ts start [${PEER_NAMES.join('|')}...] | stop | status`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
