/**
 * Process side of the dashboard's end-to-end test (dashboard.test.ts): the real CLI run as child
 * processes (scan, users add, search, inventory, serve), a free loopback port, and the lab's
 * patient canaries (as test/unit/patient-data-canaries.test.ts collects them).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { packageRoot } from '../../src/core/paths.js';
import { labPatientCanaries } from '../../src/lab/canaries.js';

export const CLI = path.join(packageRoot(), 'bin/medsurface.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end (asynchronously: a lab in this process must keep answering). */
export function cli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`medsurface ${args[0]} did not end within ${opts.timeoutMs ?? 240_000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A TCP port nobody listens on at 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface Serving {
  origin: string;
  proc: ChildProcess;
  /** Everything serve wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * `medsurface serve` on 127.0.0.1 and a free port; resolves once /api/v1/health answers (and,
 * with `waitFor`, once stderr matches it: the setup link is printed after the listen).
 */
export async function startServe(args: string[], env: NodeJS.ProcessEnv, waitFor?: RegExp): Promise<Serving> {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', String(port), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const origin = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      proc.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`medsurface serve exited (${proc.exitCode}): ${err}`);
    try {
      const r = await fetch(`${origin}/api/v1/health`, { signal: AbortSignal.timeout(2000) });
      if (r.ok && (waitFor === undefined || waitFor.test(err))) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`medsurface serve did not answer within 60 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { origin, proc, stderr: () => err, stop };
}

/** The fake patient values the lab seeds into every channel (names, ids, study UIDs, HTML, certificates). */
export function patientCanaries(): string[] {
  return labPatientCanaries(['standard']);
}

/** The canaries found in `text` (as written, and with DICOM's `^` separators shown as spaces). */
export function canariesIn(text: string, canaries: readonly string[]): string[] {
  return canaries.filter((c) => text.includes(c) || (c.includes('^') && text.includes(c.replace(/\^/g, ' '))));
}
