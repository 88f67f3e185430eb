/**
 * Counts the interop tests per peer in node:test spec-reporter output (the log `.ci/run` tees from
 * `npm run test:interop`) and fails when any peer ran no passing test, or anything failed, was
 * cancelled, skipped or left as todo (no skipping: a missing peer must fail, not hide).
 *
 *   node --import tsx scripts/count-interop.ts LOGFILE
 *
 * A test belongs to a peer when its own name or the name of one of its suites starts with
 * "<peer name>:" (PEER_NAMES in test/interop/peers.ts), e.g. describe('orthanc: identity') >
 * test('orthanc-open: identified'). It also belongs to a family: the word before ':' in its outermost
 * suite's name ("orthanc", "dcmtk", "nmap"; the harness self-test is "harness"), reported for
 * information. The harness self-test counts for no peer.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PEER_NAMES } from '../test/interop/peers.js';
import { REMOTE_PEER_NAMES } from '../test/interop/remote-peers.js';

/**
 * Every real third-party peer the interop suite runs, and that CI requires at least one passing
 * test against: the DICOM peers of peers.ts, then the peers of the other protocol families.
 */
export const INTEROP_PEERS: readonly string[] = [...PEER_NAMES, 'node-hl7-server', ...REMOTE_PEER_NAMES, 'chromium'];

export interface PeerCount {
  passed: number;
  failed: number;
  skipped: number;
  todo: number;
}

export interface InteropCount {
  /** Per peer name, plus 'harness' and 'other' (tests named after no peer). */
  perPeer: Record<string, PeerCount>;
  /** Per family: the prefix before ':' of the outermost name ('(unnamed)' without one). */
  perFamily: Record<string, PeerCount>;
  /** node:test's own summary lines ("ℹ pass 12"); undefined when the log has none. */
  summary: Record<string, number> | undefined;
  problems: string[];
}

const MARKER = /^( *)(▶|✔|✖|﹣) (.*)$/;
const DIRECTIVE = / # (SKIP|TODO)\b.*$/;
const DURATION = / \(\d+(?:\.\d+)?ms\)$/;
const ANSI = /\x1b\[[0-9;]*m/g;

function emptyCount(): PeerCount {
  return { passed: 0, failed: 0, skipped: 0, todo: 0 };
}

export function countInterop(log: string, peers: readonly string[] = INTEROP_PEERS): InteropCount {
  const groups = [...peers].sort((a, b) => b.length - a.length);
  const perPeer: Record<string, PeerCount> = {};
  const perFamily: Record<string, PeerCount> = {};
  const familyOf = (chain: string[]): PeerCount => {
    const f = /^([\w.-]+):/.exec(chain[0] ?? '')?.[1] ?? '(unnamed)';
    perFamily[f] ??= emptyCount();
    return perFamily[f];
  };
  for (const p of [...peers, 'harness', 'other']) perPeer[p] = emptyCount();
  const owner = (chain: string[]): string => {
    for (const name of chain) {
      for (const g of groups) if (name.startsWith(`${g}:`)) return g;
      if (name.startsWith('harness:')) return 'harness';
    }
    return 'other';
  };

  /** Open suites (and tests with subtests), outermost first. */
  const stack: Array<{ name: string; failedInside: boolean }> = [];
  const markFailed = (depth: number) => {
    for (const s of stack.slice(0, depth)) s.failedInside = true;
  };
  let summary: Record<string, number> | undefined;
  for (const rawLine of log.replace(ANSI, '').split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    const sm = /^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) (\d+(?:\.\d+)?)$/.exec(line);
    if (sm) {
      summary ??= {};
      summary[sm[1]!] = Number(sm[2]);
      continue;
    }
    // node:test repeats the failures after its summary: counted already.
    if (line.startsWith('✖ failing tests:')) break;
    const m = MARKER.exec(line);
    if (!m) continue;
    const indent = m[1]!.length;
    if (indent % 2 !== 0) continue;
    const depth = indent / 2;
    const marker = m[2]!;
    const directive = DIRECTIVE.exec(m[3]!)?.[1];
    const name = m[3]!.replace(DIRECTIVE, '').replace(DURATION, '');
    if (depth > stack.length) continue; // deeper than any open suite: error text, not a test line
    if (marker === '▶') {
      stack.length = depth;
      stack.push({ name, failedInside: false });
      continue;
    }
    const chain = [...stack.slice(0, depth).map((s) => s.name), name];
    const counts = [perPeer[owner(chain)]!, familyOf(chain)];
    const bump = (k: keyof PeerCount) => {
      for (const c of counts) c[k]++;
    };
    const open = stack[depth];
    if (open && open.name === name) {
      // The end line of a suite (or of a test with subtests): its tests were counted one by one. A
      // suite that fails with no failing test inside failed in a hook: count that once.
      stack.length = depth;
      if (marker === '✖' && !open.failedInside) {
        bump('failed');
        markFailed(depth);
      }
      continue;
    }
    stack.length = depth;
    if (marker === '﹣' || directive === 'SKIP') bump('skipped');
    else if (directive === 'TODO') bump('todo');
    else if (marker === '✔') bump('passed');
    else {
      bump('failed');
      markFailed(depth);
    }
  }

  const problems: string[] = [];
  if (!summary) problems.push('no node:test summary in the log (did the run start?)');
  else {
    for (const k of ['fail', 'cancelled', 'skipped', 'todo'] as const) {
      if ((summary[k] ?? 0) > 0) problems.push(`node:test reports ${k} ${summary[k]}`);
    }
    if ((summary.pass ?? 0) === 0) problems.push('node:test reports no passing test');
  }
  for (const p of peers) {
    const c = perPeer[p]!;
    if (c.passed === 0) problems.push(`peer ${p}: no passing interop test`);
    if (c.failed > 0) problems.push(`peer ${p}: ${c.failed} failed`);
    if (c.skipped + c.todo > 0) problems.push(`peer ${p}: ${c.skipped} skipped, ${c.todo} todo`);
  }
  for (const g of ['harness', 'other']) {
    const c = perPeer[g]!;
    if (c.failed > 0) problems.push(`${g}: ${c.failed} failed`);
  }
  return { perPeer, perFamily, summary, problems };
}

export function formatCount(c: InteropCount): string {
  const row = ([name, n]: [string, PeerCount]) =>
    `  ${name.padEnd(18)} ${String(n.passed).padStart(4)} passed ${String(n.failed).padStart(4)} failed ${String(n.skipped + n.todo).padStart(4)} skipped/todo`;
  const rows = [...Object.entries(c.perPeer).map(row), 'interop tests per family (outermost describe):', ...Object.entries(c.perFamily).map(row)];
  const s = c.summary;
  const total = s ? `node:test: tests ${s.tests ?? '?'}, pass ${s.pass ?? '?'}, fail ${s.fail ?? '?'}, cancelled ${s.cancelled ?? '?'}, skipped ${s.skipped ?? '?'}, todo ${s.todo ?? '?'}` : 'node:test: no summary';
  return ['interop tests per peer:', ...rows, total, ...(c.problems.length ? ['PROBLEMS:', ...c.problems.map((p) => `  - ${p}`)] : ['OK'])].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx scripts/count-interop.ts LOGFILE');
    process.exit(2);
  }
  const result = countInterop(readFileSync(file, 'utf8'));
  console.log(formatCount(result));
  process.exitCode = result.problems.length > 0 ? 1 : 0;
}
