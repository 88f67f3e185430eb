/**
 * Tarpit: a listener whose accept queue is full and which never accepts, so that connects
 * to it time out instead of being refused.
 *
 * Why a separate process: on loopback a port nobody listens on answers a SYN with a reset
 * at once, so only a listener whose queue is full exercises a real connect timeout (Linux
 * drops the SYN when the accept queue is full, `tcp_conn_request()` in
 * net/ipv4/tcp_input.c, and the client retransmits until it gives up). Node's net.Server
 * always accepts, and has no way to stop accepting while keeping the listening socket, so
 * the listener is a tiny Python script: bind, listen(0), connect to itself until the queue
 * is full, then sleep until its stdin closes (that is, until the lab stops or dies).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's interpreter, not a pyenv shim: the script needs only the standard library. */
export const PYTHON = '/usr/bin/python3';

const SCRIPT = String.raw`
import socket, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(0)
except OSError as e:
    sys.stderr.write("bind %s:%d failed: %s\n" % (ip, port, e.strerror or e))
    sys.exit(2)
fillers = []
# listen(0): the queue holds one established connection; a few more make sure it is full
# (the extra ones stay in SYN-SENT, their SYNs dropped like everybody else's).
for _ in range(4):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect((ip, port))
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        pass
    fillers.append(c)
    time.sleep(0.02)
time.sleep(0.1)
sys.stdout.write("ready\n")
sys.stdout.flush()
try:
    sys.stdin.read()
except Exception:
    pass
`;

export interface Tarpit {
  ip: string;
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

export class TarpitError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TarpitError';
  }
}

/** Starts a tarpit on ip:port; resolves once the queue is full. */
export function startTarpit(ip: string, port: number, opts: { readyTimeoutMs?: number } = {}): Promise<Tarpit> {
  if (!existsSync(PYTHON)) {
    return Promise.reject(
      new TarpitError(`tarpit ${ip}:${port} needs ${PYTHON} (a Python 3 interpreter): install python3 or leave tarpits out of the lab`),
    );
  }
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(PYTHON, ['-I', '-S', '-c', SCRIPT, ip, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(new TarpitError(`cannot start ${PYTHON} for tarpit ${ip}:${port}`, { cause: err }));
      return;
    }
    let stderr = '';
    let stdout = '';
    let settled = false;
    let exited = child.exitCode !== null;
    const exitPromise = new Promise<void>((res) => child.once('exit', () => {
      exited = true;
      res();
    }));
    const timer = setTimeout(() => {
      fail(new TarpitError(`tarpit ${ip}:${port} did not become ready within ${opts.readyTimeoutMs ?? 5000} ms`));
    }, opts.readyTimeoutMs ?? 5000);
    const stop = async (): Promise<void> => {
      if (!exited) {
        child.stdin?.end();
        child.kill('SIGTERM');
        await exitPromise;
      }
    };
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop().then(() => reject(err));
    };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      if (stdout.length < 4096) stdout += d;
      if (!settled && stdout.includes('ready\n')) {
        settled = true;
        clearTimeout(timer);
        resolve({ ip, port, pid: child.pid, stop });
      }
    });
    child.once('error', (err) => fail(new TarpitError(`tarpit ${ip}:${port}: cannot run ${PYTHON}`, { cause: err })));
    child.once('exit', (code, signal) => {
      if (!settled) {
        const why = stderr.trim() || `exit code ${code ?? signal}`;
        fail(new TarpitError(`tarpit ${ip}:${port} failed to start: ${why}`));
      }
    });
  });
}
