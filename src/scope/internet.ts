/**
 * Internet mode (`medsurface scan --internet`) and the run's exclusions as one set.
 *
 * Scanning addresses one does not own is measurement research, and it carries duties the
 * published internet-wide scanning guidelines (ZMap's "Scanning Best Practices", Durumeric et
 * al., USENIX Security 2013, §5) name: leave out what is not globally reachable (the IANA
 * special-purpose blocks, src/scope/discovery/special-purpose.ts), honour the requests of
 * owners who opt out (src/inventory/opt-out.ts), and say who is scanning: every probe's HTTP
 * User-Agent carries a contact, so `--contact` is required here.
 *
 * `--allow-special CIDR` lifts the special-purpose exclusion for named ranges inside those
 * blocks, and nothing else: it is how tests scan a lab on loopback in internet mode.
 */
import { UsageError } from '../core/errors.js';
import { SPECIAL_PURPOSE_V4, SPECIAL_PURPOSE_V6, specialPurposeSet } from './discovery/special-purpose.js';
import { IpSet } from './ipset.js';

/** Longest contact text: the User-Agent keeps 128 characters of it (core/http-client.ts cleanContact). */
export const MAX_CONTACT_CHARS = 128;
/** Special-purpose blocks named in an exclusion report before "and N more". */
const LISTED_BLOCKS = 4;

/** What a run stores about internet mode (scan.ts StoredScanOptions.internet). */
export interface InternetMode {
  /** `--allow-special` ranges (inside special-purpose blocks) that are scanned all the same. */
  allowSpecial: string[];
}

/**
 * The contact internet mode requires, checked so that it reaches the User-Agent unchanged:
 * printable ASCII without parentheses or backslashes (it sits in a User-Agent comment, RFC
 * 9110 §10.1.5), at most MAX_CONTACT_CHARS, and holding a URL or an e-mail address.
 */
export function checkInternetContact(contact: string | undefined): string {
  const c = (contact ?? '').trim();
  if (c === '') {
    throw new UsageError(
      '--internet needs --contact URL|E-MAIL: every probe carries it in its HTTP User-Agent, so the owners of the addresses scanned can reach you (e.g. --contact https://example.org/scan-info)',
    );
  }
  if (/[^\x20-\x7e]|[()\\]/.test(c)) throw new UsageError('--contact must be printable ASCII without parentheses or backslashes (it goes into the User-Agent as written)');
  if (c.length > MAX_CONTACT_CHARS) throw new UsageError(`--contact is ${c.length} characters; at most ${MAX_CONTACT_CHARS} fit the User-Agent`);
  if (!/https?:\/\/[^\s/]+|[^\s@]+@[^\s@]+\.[A-Za-z]{2,}/.test(c)) {
    throw new UsageError('--contact must hold a URL (https://...) or an e-mail address where the owners of the addresses scanned can reach you');
  }
  return c;
}

/**
 * Parses `--allow-special` values. Each must lie inside the special-purpose blocks: the flag
 * lifts that exclusion for a test lab, it never widens a scan in any other way.
 */
export function parseAllowSpecial(values: readonly string[]): IpSet {
  const set = IpSet.parse([...values], '--allow-special');
  if (!specialPurposeSet().containsAll(set)) {
    const outside = set.subtract(specialPurposeSet()).rangeTexts(3).join(', ');
    throw new UsageError(
      `--allow-special ${outside} is not inside a special-purpose block: the flag only lifts internet mode's exclusion of special-purpose ranges (for test labs on loopback or private addresses)`,
    );
  }
  return set;
}

/** The special-purpose blocks minus the `--allow-special` ranges: what internet mode never scans. */
export function internetExclusion(mode: InternetMode): IpSet {
  const allow = mode.allowSpecial.length > 0 ? parseAllowSpecial(mode.allowSpecial) : IpSet.empty();
  return specialPurposeSet().subtract(allow);
}

/** A run's exclusions: each part kept apart for the report, and all of them as one set for the engine. */
export interface RunExclusions {
  /** Everything never scanned (the iterator skips it, the scope guard refuses it). */
  all: IpSet;
  /** The user's exclusion list (`--exclude`, `--exclude-file`). */
  exclude: IpSet;
  /** Internet mode's special-purpose exclusion; null outside internet mode. */
  special: IpSet | null;
  /** Opt-outs: the inventory's list and the opt-out files. */
  optOut: IpSet;
}

export function combineExclusions(exclude: IpSet, opts: { internet?: InternetMode | undefined; optOut?: IpSet | undefined } = {}): RunExclusions {
  const special = opts.internet ? internetExclusion(opts.internet) : null;
  const optOut = opts.optOut ?? IpSet.empty();
  let all = exclude;
  if (special) all = all.union(special);
  if (!optOut.isEmpty) all = all.union(optOut);
  return { all, exclude, special, optOut };
}

/** How many target addresses each exclusion took out (an address counts once, under the first that names it). */
export interface ExclusionCounts {
  specialPurpose: number;
  optOut: number;
  /** The special-purpose blocks that held targets, as "Loopback 127.0.0.0/8". */
  blocks: string[];
}

export function exclusionCounts(targets: IpSet, ex: RunExclusions): ExclusionCounts {
  const special = ex.special ? targets.intersect(ex.special) : IpSet.empty();
  const rest = special.isEmpty ? targets : targets.subtract(special);
  const optOut = ex.optOut.isEmpty ? IpSet.empty() : rest.intersect(ex.optOut);
  const blocks: string[] = [];
  if (!special.isEmpty) {
    for (const b of [...SPECIAL_PURPOSE_V4, ...SPECIAL_PURPOSE_V6]) {
      if (!special.intersect(IpSet.parse([b.cidr])).isEmpty) blocks.push(`${b.name.replace(/"/g, '')} ${b.cidr}`);
    }
  }
  return { specialPurpose: Number(special.size), optOut: Number(optOut.size), blocks };
}

/** The lines a scan prints before its first packet: what internet mode and the opt-outs left out, and why. */
export function describeExclusions(c: ExclusionCounts, opts: { internet: boolean; targets: number }): string[] {
  const lines: string[] = [];
  if (opts.internet) {
    const named = c.blocks.slice(0, LISTED_BLOCKS).join(', ') + (c.blocks.length > LISTED_BLOCKS ? ` and ${c.blocks.length - LISTED_BLOCKS} more` : '');
    let line = `internet mode: excluded ${c.specialPurpose} addresses: special-purpose${named ? ` (${named})` : ''}`;
    if (c.specialPurpose > 0 && c.specialPurpose >= opts.targets) {
      line += '; nothing left to scan (--allow-special CIDR lifts the exclusion for a test lab)';
    }
    lines.push(line);
  }
  if (c.optOut > 0) lines.push(`excluded ${c.optOut} addresses: opt-out (medsurface optout list, --opt-out-file)`);
  return lines;
}
