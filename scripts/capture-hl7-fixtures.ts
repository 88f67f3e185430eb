/**
 * Captures real HL7 v2 / MLLP replies from node-hl7-server 2.5.0 (npm, with node-hl7-client
 * 2.3.1) into src/probes/hl7/fixtures/, so the parser is tested against bytes a real peer sent.
 *
 *   node --import tsx scripts/capture-hl7-fixtures.ts
 *
 * The peer runs in this process on 127.0.0.31:2575 only (test/interop/hl7-peer.ts: its own
 * bindAddress option is ignored by the library, so a bind guard pins the listener to that
 * address). The request is the probe's own QRY^A19 (parse.ts buildPatientQuery) with fixed ids,
 * so the captures are reproducible apart from the timestamp node-hl7-server puts in MSH-7.
 *
 * Files written:
 *   request-qry-a19.bin               our request (our encoder, not a capture)
 *   node-hl7-server-2.5.0-ack-aa.bin  the reply when the handler answers AA
 *   node-hl7-server-2.5.0-ack-ae.bin  ... AE
 *   node-hl7-server-2.5.0-ack-ar.bin  ... AR
 *   truncated.bin                     the first half of node-hl7-server-2.5.0-ack-aa.bin
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { HL7_LIMITS, buildPatientQuery, encodeFrame, scanFrame } from '../src/probes/hl7/parse.js';
import { type AckCode, startNodeHl7Server } from '../test/interop/hl7-peer.js';
import { REPO_ROOT } from '../test/interop/peers.js';

const FIXTURES = join(REPO_ROOT, 'src/probes/hl7/fixtures');
const IP = '127.0.0.31';
const PORT = 2575;

export const FIXTURE_REQUEST = buildPatientQuery({
  sendingApplication: 'MEDSURFACE',
  sendingFacility: '',
  timestamp: '20261128120000+0000',
  controlId: 'MS0123456789ABCDEF',
  processingId: 'D',
  version: '2.5',
  queryId: 'MS89ABCDEF',
  patientId: 'MS000000000000000000000000',
});

function exchange(request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: IP, port: PORT });
    const chunks: Buffer[] = [];
    let len = 0;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no complete reply within 5 s'));
    }, 5000);
    s.on('connect', () => s.write(request));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      len += d.length;
      if (len > HL7_LIMITS.frameBytes) {
        s.destroy();
        reject(new Error('reply too large'));
        return;
      }
      const buf = Buffer.concat(chunks);
      const f = scanFrame(buf);
      if (f.state === 'frame') {
        clearTimeout(timer);
        s.destroy();
        resolve(buf.subarray(0, f.end));
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function main(): Promise<void> {
  const request = encodeFrame(FIXTURE_REQUEST);
  writeFileSync(join(FIXTURES, 'request-qry-a19.bin'), request);
  for (const ack of ['AA', 'AE', 'AR'] as AckCode[]) {
    const peer = await startNodeHl7Server({ name: `capture_${ack}`, ip: IP, port: PORT, ack });
    try {
      const reply = await exchange(request);
      writeFileSync(join(FIXTURES, `node-hl7-server-2.5.0-ack-${ack.toLowerCase()}.bin`), reply);
      process.stdout.write(`${ack}: ${JSON.stringify(reply.toString('latin1'))}\n`);
      if (ack === 'AA') writeFileSync(join(FIXTURES, 'truncated.bin'), reply.subarray(0, Math.floor(reply.length / 2)));
    } finally {
      await peer.close();
    }
  }
}

await main();
