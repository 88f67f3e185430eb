/**
 * Captures real DICOMweb (QIDO-RS) replies of Debian's Orthanc 1.10.1 with the orthanc-dicomweb 1.7
 * plugin into src/probes/dicomweb/fixtures/, so the DICOM JSON counting is tested against bytes a
 * real server sent.
 *
 *   node --import tsx scripts/capture-dicomweb-fixtures.ts
 *
 * The peers come from test/interop/peers.ts: orthanc-open (127.0.0.21:8042, no authentication) and
 * orthanc-aecheck (127.0.0.22:8042, HTTP Basic), each holding the synthetic studies of
 * test/interop/data (fake names TEST^ALPHA, TEST^BRAVO, TEST^CHARLIE). Every request goes to those
 * two loopback addresses only; each reply is written whole (status line, headers, body) as sent,
 * over a plain socket with `Connection: close`.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Peer, startPeers, stopPeers } from '../test/interop/peers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = join(ROOT, 'src/probes/dicomweb/fixtures');
const MAX_REPLY = 1024 * 1024;
/** A fixed 2.25 UID (PS3.5 §B.2) that none of the synthetic studies has. */
const NO_SUCH_STUDY = '2.25.299792458000000000000000000000000001';

function rawGet(ip: string, port: number, path: string): Promise<Buffer> {
  if (!/^127\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`refusing non-loopback ${ip}`);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const sock = net.connect({ host: ip, port });
    sock.setTimeout(10_000, () => sock.destroy(new Error(`timeout on ${path}`)));
    sock.on('connect', () => {
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: ${ip}:${port}\r\nAccept: application/dicom+json\r\nUser-Agent: medsurface-fixture-capture\r\nConnection: close\r\n\r\n`,
      );
    });
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REPLY) sock.destroy(new Error('reply too large'));
      else chunks.push(c);
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

async function main(): Promise<void> {
  const peers: Peer[] = await startPeers(['orthanc-open', 'orthanc-aecheck']);
  try {
    const open = peers.find((p) => p.name === 'orthanc-open')!;
    const locked = peers.find((p) => p.name === 'orthanc-aecheck')!;
    const captures: Array<[string, Peer, string]> = [
      ['orthanc-qido-random-uid.http', open, `/dicom-web/studies?StudyInstanceUID=${NO_SUCH_STUDY}`],
      ['orthanc-qido-count.http', open, '/dicom-web/studies?limit=1000&includefield=none'],
      ['orthanc-unknown-root.http', open, '/dicomweb/studies'],
      ['orthanc-rest-studies.http', open, `/studies?StudyInstanceUID=${NO_SUCH_STUDY}`],
      ['orthanc-qido-unauthorized.http', locked, `/dicom-web/studies?StudyInstanceUID=${NO_SUCH_STUDY}`],
    ];
    for (const [file, peer, path] of captures) {
      const reply = await rawGet(peer.ip, peer.httpPort!, path);
      writeFileSync(join(FIXTURES, file), reply);
      console.log(`${file}: ${reply.length} bytes (${reply.toString('latin1').split('\r\n')[0]})`);
    }
  } finally {
    await stopPeers(peers);
  }
}

await main();
