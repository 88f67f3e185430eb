/**
 * The Attributor: country, ASN and owning organisation of an address, from the mmdb files
 * given with `--geoip` and `--asn` and the user's `--orgs` file (DESIGN.md: "attribution to
 * organisations"). Open once per run, then `lookup` each address: pure computation over data in
 * memory, no I/O and no network.
 *
 * Precedence (docs/attribution.md):
 * 1. An orgs.yaml block containing the address (the most specific one) gives `org` with
 *    `orgSource: 'orgs'`, its contact, CERT and tags, and its `country` when set, which
 *    overrides the mmdb country.
 * 2. Otherwise `org` is the AS organisation from the ASN database (`orgSource: 'asn'`).
 * `country` comes from the GeoIP files (first file with a record wins), then from the ASN files;
 * `asn`/`asOrg` from the ASN files, then from the GeoIP files (GeoIP2 Enterprise carries both).
 *
 * Loopback, private, link-local, documentation and other special-purpose addresses are not
 * looked up in the mmdb files (no public database describes them): their mmdb fields are null,
 * and only orgs.yaml can attribute them. The medsurface lab lives on 127.77.0.0/16, and an
 * orgs.yaml entry for it works. `lookupReserved: true` lifts this, for a site-built database of
 * internal ranges.
 */
import type { ParsedIp } from './address.js';
import { isSpecialRange, parseIp } from './address.js';
import { AttributionError } from './errors.js';
import { MMDB_LIMITS, MmdbDatabase, type MmdbFields, describeLayout } from './mmdb.js';
import { OrgTable } from './orgs.js';
import type { Attribution, AttributionSource } from './types.js';

export interface AttributorOptions {
  /** Country database(s): GeoIP2/GeoLite2 Country or City, or @ip-location-db country mmdb files. */
  geoip?: string | readonly string[] | undefined;
  /** ASN database(s): GeoLite2-ASN or @ip-location-db asn mmdb files. */
  asn?: string | readonly string[] | undefined;
  /** The user's organisations file (orgs.yaml). */
  orgs?: string | undefined;
  /** Size cap per mmdb file, bytes (default MMDB_LIMITS.fileBytes). */
  maxMmdbBytes?: number | undefined;
  /** Look special-purpose addresses up in the mmdb files too (default false, see the header). */
  lookupReserved?: boolean | undefined;
}

function list(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  return typeof v === 'string' ? [v] : [...v];
}

/** First country over the records, in order. */
function firstCountry(records: ReadonlyArray<MmdbFields | null>): string | null {
  for (const r of records) if (r?.country) return r.country;
  return null;
}

export class Attributor {
  private readonly options: AttributorOptions;
  private readonly geoip: readonly MmdbDatabase[];
  private readonly asnDbs: readonly MmdbDatabase[];
  private readonly orgs: OrgTable | null;
  /** What this Attributor was opened with (files, layouts, build dates, organisation count). */
  readonly sources: readonly AttributionSource[];

  private constructor(options: AttributorOptions, geoip: MmdbDatabase[], asn: MmdbDatabase[], orgs: OrgTable | null) {
    this.options = options;
    this.geoip = geoip;
    this.asnDbs = asn;
    this.orgs = orgs;
    const mmdbSource = (kind: 'geoip' | 'asn', d: MmdbDatabase): AttributionSource => ({
      kind,
      file: d.info.file,
      description: `${describeLayout(d.info.layout)}; database_type ${JSON.stringify(d.info.databaseType)}; IPv${d.info.ipVersion}`,
      builtAt: d.info.buildEpoch.toISOString(),
    });
    this.sources = [
      ...geoip.map((d) => mmdbSource('geoip', d)),
      ...asn.map((d) => mmdbSource('asn', d)),
      ...(orgs === null
        ? []
        : [{ kind: 'orgs' as const, file: orgs.file, description: `${orgs.organisations.length} organisations` }]),
    ];
  }

  /**
   * Opens every file given and checks it (AttributionError with the file named when one is
   * missing, too large, corrupt, or of the wrong kind). With no file at all, every lookup
   * returns nulls.
   */
  static async open(options: AttributorOptions = {}): Promise<Attributor> {
    const maxBytes = options.maxMmdbBytes ?? MMDB_LIMITS.fileBytes;
    const geoip = await Promise.all(list(options.geoip).map((f) => MmdbDatabase.open(f, 'geoip', maxBytes)));
    const asn = await Promise.all(list(options.asn).map((f) => MmdbDatabase.open(f, 'asn', maxBytes)));
    const orgs = options.orgs === undefined ? null : OrgTable.load(options.orgs);
    return new Attributor(options, geoip, asn, orgs);
  }

  /** Opens the same files again, e.g. after the databases were updated; this one stays usable. */
  reload(): Promise<Attributor> {
    return Attributor.open(this.options);
  }

  /** Non-fatal notes about the data (an orgs.yaml block listed by two organisations). */
  get warnings(): readonly string[] {
    return this.orgs?.warnings ?? [];
  }

  /** Attribution of one address (IPv4 or IPv6 text). Throws AttributionError when it is not one. */
  lookup(ip: string): Attribution {
    const addr = parseIp(ip);
    if (addr === null) throw new AttributionError(`not an IP address: ${JSON.stringify(ip.length > 80 ? `${ip.slice(0, 80)}...` : ip)}`);
    return this.lookupParsed(addr);
  }

  private lookupParsed(addr: ParsedIp): Attribution {
    const useMmdb = this.options.lookupReserved === true || !isSpecialRange(addr.range);
    const geo = useMmdb ? this.geoip.map((d) => d.lookup(addr)) : [];
    const asn = useMmdb ? this.asnDbs.map((d) => d.lookup(addr)) : [];
    /* The AS organisation is taken from the record that gave the AS number, never mixed. */
    const asRecord = [...asn, ...geo].find((r) => r !== null && r.asn !== null);
    const out: Attribution = {
      country: firstCountry(geo) ?? firstCountry(asn),
      asn: asRecord?.asn ?? null,
      asOrg: asRecord?.asOrg ?? null,
      org: null,
      orgSource: null,
    };
    const match = this.orgs?.lookup(addr) ?? null;
    if (match !== null) {
      const { org, network } = match;
      out.org = org.name;
      out.orgSource = 'orgs';
      out.orgNetwork = network;
      if (org.country !== undefined) out.country = org.country;
      if (org.contact !== undefined) out.contact = { ...org.contact };
      if (org.cert !== undefined) out.cert = { ...org.cert };
      if (org.tags !== undefined) out.tags = [...org.tags];
    } else if (out.asOrg !== null) {
      out.org = out.asOrg;
      out.orgSource = 'asn';
    }
    return out;
  }
}
