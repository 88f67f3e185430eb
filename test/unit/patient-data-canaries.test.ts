/**
 * Patient data is never kept (DESIGN.md). The lab seeds distinct fake patient values into every
 * channel a device leaks through: C-FIND identifiers (names, ids, Study Instance UIDs), DICOMweb
 * JSON, FHIR bundles, HL7 ACK/ERR echoes, HTML titles, bodies and redirect queries, and certificate
 * subjects and subject alternative names (web-cert-canary, CERT_LAB_CANARIES). The real CLI
 * scans the whole lab in both profiles; then stdout, stderr, the JSONL file, the send log and the
 * SQLite database with its WAL are searched for every canary: raw, hex, base64 and UTF-16.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../../src/core/paths.js';
import { type RunningLab, startLab } from '../../src/lab/index.js';
import { labPatientCanaries } from '../../src/lab/canaries.js';

const BLOCK = '127.212.0.0/16';
const CLI = path.join(packageRoot(), 'bin/medsurface.js');
let lab: RunningLab;
let work: string;

const canaries = (): string[] => labPatientCanaries(['standard']);

function encodings(v: string): Record<string, Buffer> {
  const raw = Buffer.from(v, 'utf8');
  return {
    raw,
    hex: Buffer.from(raw.toString('hex')),
    HEX: Buffer.from(raw.toString('hex').toUpperCase()),
    base64: Buffer.from(raw.toString('base64').replace(/=+$/, '')),
    utf16: Buffer.from(v, 'utf16le'),
  };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function scan(profile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const ports = [...new Set(lab.nodes.map((n) => n.port))].join(',');
  const hosts = [...new Set(lab.nodes.map((n) => n.ip))];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        CLI,
        'scan',
        ...hosts,
        '--ports',
        ports,
        '--profile',
        profile,
        '--db',
        path.join(work, 'inventory.sqlite'),
        '--out',
        path.join(work, `${profile}.jsonl`),
        '--scope',
        BLOCK,
        '--connect-timeout',
        '1000',
        '--read-timeout',
        '2000',
        '--session-timeout',
        '8000',
        '--host-delay',
        '0',
        '--retries',
        '0',
      ],
      { env: { ...process.env, XDG_DATA_HOME: work }, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('patient-data canaries never leave the wire', () => {
  const captured: Record<string, Buffer> = {};
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'medsurface-canary-'));
    lab = await startLab({ block: BLOCK, quiet: true });
    for (const profile of ['safe', 'intrusive']) {
      const r = await scan(profile);
      assert.equal(r.code, 0, r.stderr);
      captured[`${profile} stdout`] = Buffer.from(r.stdout);
      captured[`${profile} stderr`] = Buffer.from(r.stderr);
    }
  });
  after(async () => {
    await lab?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the scans really touched every leaking channel', () => {
    const intrusive = readFileSync(path.join(work, 'intrusive.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { protocol: string | null; data: Record<string, unknown> });
    const protocols = new Set(intrusive.map((r) => r.protocol));
    for (const p of ['dicom', 'hl7', 'http', 'fhir', 'dicomweb']) assert.ok(protocols.has(p), `a ${p} service was scanned`);
    const counted = intrusive.some((r) => ((r.data.dicom as { find?: { matches?: number } } | undefined)?.find?.matches ?? 0) > 0);
    assert.ok(counted, 'an intrusive C-FIND counted records (so identifiers did cross the wire)');
    // The certificate canary was handshaken: its subject reached the scanner and was redacted,
    // while the SAN host name (server data) was kept.
    const certNode = lab.nodes.find((n) => n.name === 'web-cert-canary')!;
    const certRec = intrusive.find((r) => (r as { ip?: string }).ip === certNode.ip && (r as { port?: number }).port === certNode.port) as
      | { tls?: { certificate?: { subject: string; subjectAltNames: string[] } } }
      | undefined;
    assert.match(certRec?.tls?.certificate?.subject ?? '', /^CN=\[redacted 15 chars\], O=\[redacted \d+ chars\], OU=\[redacted \d+ chars\], emailAddress=\[redacted \d+ chars\]$/);
    assert.deepEqual(certRec?.tls?.certificate?.subjectAltNames, ['DNS:cert-canary.lab.medsurface.test']);
  });

  test('no canary in stdout, stderr, JSONL, send logs, or the database and its WAL, in any encoding', () => {
    const places: Record<string, Buffer> = { ...captured };
    for (const f of filesUnder(work)) places[path.relative(work, f)] = readFileSync(f);
    assert.ok(Object.keys(places).some((k) => k.endsWith('.sendlog.jsonl')), 'a send log was written');
    assert.ok(Object.keys(places).some((k) => k.endsWith('inventory.sqlite')), 'the database was written');
    if (existsSync(path.join(work, 'inventory.sqlite-wal'))) assert.ok(places['inventory.sqlite-wal']);
    const values = canaries();
    assert.ok(values.length > 60, `${values.length} canaries`);
    const leaks: string[] = [];
    for (const v of values) {
      for (const [enc, needle] of Object.entries(encodings(v))) {
        for (const [where, bytes] of Object.entries(places)) if (bytes.includes(needle)) leaks.push(`${v} (${enc}) in ${where}`);
      }
    }
    assert.deepEqual(leaks, []);
  });
});
