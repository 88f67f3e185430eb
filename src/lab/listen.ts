/**
 * Binding and unbinding lab listeners, with errors that name the address and port: a lab
 * that cannot start must say exactly which node, address and port is in the way.
 */
import type net from 'node:net';

export class LabStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LabStartError';
  }
}

/** Refuses anything outside 127.0.0.0/8 (and ::1): the lab is loopback only. */
export function assertLoopback(ip: string): void {
  if (ip === '::1') return;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) {
    throw new LabStartError(`lab address ${ip} is not a loopback address (127.0.0.0/8): refusing to bind`);
  }
}

function explain(err: NodeJS.ErrnoException, name: string, ip: string, port: number): string {
  const where = `${ip}:${port} (lab node ${name})`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${ip} is already in use: cannot start ${where}; stop whatever listens there or choose another lab block`;
    case 'EACCES':
      return `no permission to bind ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE`;
    case 'EADDRNOTAVAIL':
      return `address ${ip} is not configured on this machine: cannot start ${where} (only Linux routes all of 127.0.0.0/8 to loopback)`;
    default:
      return `cannot listen on ${where}: ${err.message}`;
  }
}

/** Listens on ip:port; rejects with a LabStartError naming the node, the address and the port. */
export function listen(server: net.Server, name: string, ip: string, port: number, backlog = 511): Promise<void> {
  assertLoopback(ip);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      reject(new LabStartError(explain(err, name, ip, port), { cause: err }));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: ip, port, backlog, exclusive: true });
  });
}

/** Stops accepting, destroys every open connection, and resolves once the server is closed. */
export function closeServer(server: net.Server, sockets: Iterable<net.Socket>): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      for (const s of sockets) s.destroy();
      resolve();
      return;
    }
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
}
