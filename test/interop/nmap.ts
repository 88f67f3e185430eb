/**
 * nmap as the reference scanner for the interop tests: `dicom-ping` (nmap scripts/dicom-ping.nse) sends
 * one A-ASSOCIATE-RQ (PS3.8 §9.3.2) with called AE "ANY-SCP" and reports
 *   - "Any AET is accepted (Insecure)" when the association was accepted,
 *   - "Called AET check enabled" when it got an A-ASSOCIATE-RJ (PS3.8 §9.3.4),
 *   - nothing for any other outcome (abort, close, not DICOM).
 * Only loopback targets are allowed: every target must be an IPv4 address, range or CIDR inside 127/8.
 */
import { execFile } from 'node:child_process';
import { findBinary, PeerError } from './peers.js';

export interface NmapDicomVerdict {
  ip: string;
  port: number;
  state: string;
  /** true: any called AE accepted; false: called AE checked; null: no dicom-ping output for this port. */
  anyAeAccepted: boolean | null;
  /** dicom-ping's output text, entities decoded ('' when the script did not run or said nothing). */
  raw: string;
}

const NMAP_TIMEOUT_MS = 180_000;
/** A /16 sweep lists every host in the XML (with -Pn every address is "up"). */
const NMAP_MAX_BYTES = 512 * 1024 * 1024;

/** nmap target syntax limited to 127/8: `127.0.0.21`, `127.0.0.21-25`, `127.0.0.0/24`, `127.0.0.21,23`. */
const LOOPBACK_TARGET = /^127(\.(\d{1,3}(-\d{1,3})?)(,\d{1,3}(-\d{1,3})?)*){3}(\/(8|9|[12]\d|3[0-2]))?$/;

/** Options that would add targets or read them from elsewhere (matched as prefixes). */
const FORBIDDEN_ARGS = ['-iL', '--iL', '-iR', '--iR', '--resume', '-6', '--script-args-file', '-sL'];

export function assertLoopbackTargets(targets: readonly string[]): void {
  if (targets.length === 0) throw new PeerError('nmap: no targets');
  for (const t of targets) {
    if (!t.startsWith('127.') || !LOOPBACK_TARGET.test(t)) throw new PeerError(`nmap: refusing non-loopback target ${JSON.stringify(t)}`);
    for (const part of t.replace(/\/.*$/, '').split('.')) {
      for (const n of part.split(/[,-]/)) if (Number(n) > 255) throw new PeerError(`nmap: bad octet in ${t}`);
    }
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML attribute value decoding (XML 1.0 §4.1 character and entity references). */
export function decodeXmlEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([A-Za-z_:][-\w:.]*)="([^"]*)"/g)) out[m[1]!] = decodeXmlEntities(m[2]!);
  return out;
}

/**
 * Parses `nmap -oX -` output: each <host> with its <address addrtype="ipv4">, each <port> with its
 * <state state=...> and, when present, <script id="dicom-ping" output="...">. Ports that nmap folded
 * into <extraports> (many closed ports) are not listed.
 */
export function parseNmapXml(xml: string): NmapDicomVerdict[] {
  const verdicts: NmapDicomVerdict[] = [];
  for (const host of xml.matchAll(/<host[\s>][\s\S]*?<\/host>/g)) {
    const h = host[0];
    let ip: string | undefined;
    for (const a of h.matchAll(/<address\s[^>]*>/g)) {
      const at = attrs(a[0]);
      if (at.addrtype === 'ipv4' || at.addrtype === 'ipv6') ip = at.addr;
    }
    if (!ip) continue;
    // <port ...>...</port> or a self-closing <port .../> (not emitted by nmap 7.93, handled anyway)
    for (const p of h.matchAll(/<port\s[^>]*?(?:\/>|>[\s\S]*?<\/port>)/g)) {
      const block = p[0];
      const open = /^<port\s[^>]*>/.exec(block)?.[0] ?? '';
      const portAttrs = attrs(open);
      const port = Number(portAttrs.portid);
      if (!Number.isInteger(port)) continue;
      const stateTag = /<state\s[^>]*>/.exec(block)?.[0];
      const state = stateTag ? (attrs(stateTag).state ?? 'unknown') : 'unknown';
      let raw = '';
      let anyAeAccepted: boolean | null = null;
      for (const s of block.matchAll(/<script\s[^>]*>/g)) {
        const sa = attrs(s[0]);
        if (sa.id !== 'dicom-ping') continue;
        raw = (sa.output ?? '').trim();
        if (raw.includes('Any AET is accepted (Insecure)')) anyAeAccepted = true;
        else if (raw.includes('Called AET check enabled')) anyAeAccepted = false;
      }
      verdicts.push({ ip, port, state, anyAeAccepted, raw });
    }
  }
  return verdicts;
}

/**
 * Runs `nmap -Pn -sT -n -T4 -p PORTS --script dicom-ping -oX - TARGETS` and returns one verdict per
 * listed (host, port), with the wall time of the nmap run.
 */
export async function nmapDicomPing(
  targets: string[],
  ports: number[],
  extraArgs: string[] = [],
): Promise<{ verdicts: NmapDicomVerdict[]; wallMs: number }> {
  assertLoopbackTargets(targets);
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new PeerError(`nmap: bad ports ${ports.join(',')}`);
  for (const a of extraArgs) {
    // A bare word would be read as one more target: options take their value as `--opt=value`.
    if (FORBIDDEN_ARGS.some((f) => a.startsWith(f)) || !a.startsWith('-')) {
      throw new PeerError(`nmap: extra argument ${JSON.stringify(a)} not allowed (targets go in \`targets\`, values as --opt=value)`);
    }
  }
  const nmap = findBinary('nmap');
  if (!nmap) throw new PeerError('nmap not found: run scripts/install-peers.sh');
  const args = ['-Pn', '-sT', '-n', '-T4', '-p', ports.join(','), '--script', 'dicom-ping', ...extraArgs, '-oX', '-', ...targets];
  const t0 = performance.now();
  const xml = await new Promise<string>((resolvePromise, reject) => {
    execFile(nmap, args, { timeout: NMAP_TIMEOUT_MS, maxBuffer: NMAP_MAX_BYTES, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new PeerError(`nmap ${args.join(' ')} failed: ${stderr.slice(0, 2000)}`, { cause: err }));
      else resolvePromise(stdout);
    });
  });
  const wallMs = Math.round(performance.now() - t0);
  if (!xml.includes('</nmaprun>')) throw new PeerError('nmap: truncated XML output');
  return { verdicts: parseNmapXml(xml), wallMs };
}
