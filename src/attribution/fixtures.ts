/**
 * Fixture databases for the attribution tests (test-only), written with mmdb-writer.ts into a
 * temporary folder. Record shapes copy the real ones (see mmdb.ts for the sources):
 * GeoLite2-Country (continent, country, registered_country with geoname_id, iso_code, names),
 * GeoLite2-ASN (autonomous_system_number, autonomous_system_organization), and the
 * @ip-location-db packages (country_code; the ASN keys), one IPv4 and one IPv6 file each.
 *
 * Addresses are data, never contacted: documentation blocks (RFC 5737 192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24; RFC 3849 2001:db8::/32), the lab's loopback block
 * 127.77.0.0/16, and 81.2.69.142/31, a network MaxMind's own test database describes as GB
 * (maxmind/MaxMind-DB source-data/GeoLite2-Country-Test.json), so that one lookup exercises the
 * default path for an ordinary public address. AS numbers are the documentation ones
 * (RFC 5398: 64496-64511).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type MmdbValue, mmdbType, writeMmdb } from './mmdb-writer.js';

const COUNTRY_NAMES: Record<string, { id: number; en: string; de: string }> = {
  NL: { id: 2750405, en: 'Netherlands', de: 'Niederlande' },
  BE: { id: 2802361, en: 'Belgium', de: 'Belgien' },
  DE: { id: 2921044, en: 'Germany', de: 'Deutschland' },
  SE: { id: 2661886, en: 'Sweden', de: 'Schweden' },
  GB: { id: 2635167, en: 'United Kingdom', de: 'Vereinigtes Königreich' },
  LU: { id: 2960313, en: 'Luxembourg', de: 'Luxemburg' },
};

function countryRecord(iso: string): { [key: string]: MmdbValue } {
  const c = COUNTRY_NAMES[iso]!;
  return { geoname_id: mmdbType.uint32(c.id), is_in_european_union: true, iso_code: iso, names: { de: c.de, en: c.en } };
}

/** A GeoLite2-Country record; `country: null` leaves only registered_country, as MaxMind does for some networks. */
export function geoLite2Country(country: string | null, registered: string): { [key: string]: MmdbValue } {
  const rec: { [key: string]: MmdbValue } = {
    continent: { code: 'EU', geoname_id: mmdbType.uint32(6255148), names: { de: 'Europa', en: 'Europe' } },
    registered_country: countryRecord(registered),
  };
  if (country !== null) rec.country = countryRecord(country);
  return rec;
}

export function asnRecord(asn: number, org?: string): { [key: string]: MmdbValue } {
  const rec: { [key: string]: MmdbValue } = { autonomous_system_number: mmdbType.uint32(asn) };
  if (org !== undefined) rec.autonomous_system_organization = org;
  return rec;
}

export interface FixtureFiles {
  dir: string;
  /** GeoLite2-Country-like, IPv6 tree. */
  country: string;
  /** GeoLite2-ASN-like, IPv6 tree. */
  asn: string;
  /** @ip-location-db country, `*-ipv4.mmdb` (ip_version 4) and `*-ipv6.mmdb`. */
  ildCountry4: string;
  ildCountry6: string;
  /** @ip-location-db asn, `*-ipv4.mmdb` and `*-ipv6.mmdb`. */
  ildAsn4: string;
  ildAsn6: string;
  remove(): Promise<void>;
}

/** Writes the fixture databases into a new temporary folder. */
export async function writeFixtures(): Promise<FixtureFiles> {
  const dir = await mkdtemp(path.join(tmpdir(), 'medsurface-attribution-'));
  const f = (name: string) => path.join(dir, name);
  const files: FixtureFiles = {
    dir,
    country: f('GeoLite2-Country-fixture.mmdb'),
    asn: f('GeoLite2-ASN-fixture.mmdb'),
    ildCountry4: f('geo-whois-asn-country-ipv4.mmdb'),
    ildCountry6: f('geo-whois-asn-country-ipv6.mmdb'),
    ildAsn4: f('asn-ipv4.mmdb'),
    ildAsn6: f('asn-ipv6.mmdb'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  await writeMmdb(files.country, {
    ipVersion: 6,
    databaseType: 'GeoLite2-Country',
    languages: ['de', 'en'],
    networks: [
      { network: '192.0.2.0/24', data: geoLite2Country('NL', 'NL') },
      { network: '192.0.2.128/25', data: geoLite2Country('BE', 'BE') },
      { network: '198.51.100.0/24', data: geoLite2Country(null, 'DE') },
      { network: '203.0.113.0/24', data: geoLite2Country('SE', 'SE') },
      { network: '81.2.69.142/31', data: geoLite2Country('GB', 'GB') },
      { network: '127.77.0.0/16', data: geoLite2Country('LU', 'LU') },
      { network: '2001:db8::/32', data: geoLite2Country('NL', 'NL') },
      { network: '2001:db8:be::/48', data: geoLite2Country('BE', 'BE') },
    ],
  });
  await writeMmdb(files.asn, {
    ipVersion: 6,
    databaseType: 'GeoLite2-ASN',
    networks: [
      { network: '192.0.2.0/24', data: asnRecord(64496, 'Example Health Network') },
      { network: '198.51.100.0/24', data: asnRecord(64497) },
      { network: '203.0.113.0/24', data: asnRecord(64498, 'Example Transit') },
      { network: '81.2.69.142/31', data: asnRecord(64499, 'Example Public AS') },
      { network: '2001:db8::/32', data: asnRecord(64500, 'Example IPv6 Network') },
    ],
  });
  await writeMmdb(files.ildCountry4, {
    ipVersion: 4,
    recordSize: 24,
    databaseType: 'GEO-ASN-COUNTRY ipv4',
    networks: [
      { network: '192.0.2.0/24', data: { country_code: 'FR' } },
      { network: '198.51.100.0/24', data: { country_code: 'DE' } },
    ],
  });
  await writeMmdb(files.ildCountry6, {
    ipVersion: 6,
    recordSize: 24,
    databaseType: 'GEO-ASN-COUNTRY ipv6',
    networks: [{ network: '2001:db8::/32', data: { country_code: 'FR' } }],
  });
  await writeMmdb(files.ildAsn4, {
    ipVersion: 4,
    recordSize: 24,
    databaseType: 'ASN ipv4',
    networks: [{ network: '192.0.2.0/24', data: asnRecord(64501, 'ILD Example AS') }],
  });
  await writeMmdb(files.ildAsn6, {
    ipVersion: 6,
    recordSize: 24,
    databaseType: 'ASN ipv6',
    networks: [{ network: '2001:db8::/32', data: asnRecord(64502, 'ILD Example v6 AS') }],
  });
  return files;
}
