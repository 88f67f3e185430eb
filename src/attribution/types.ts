/**
 * Shapes of the attribution library's results, as zod 4 schemas (so that the output schema
 * and the inventory can include them) and the TypeScript types inferred from them.
 *
 * An Attribution says, for one address, where it is (`country`), which network announces it
 * (`asn`, `asOrg`) and who owns it (`org`): from the user's orgs.yaml when one of its ranges
 * covers the address (`orgSource: 'orgs'`, with the contact and CERT to notify), else the AS
 * organisation from the ASN database (`orgSource: 'asn'`).
 */
import { z } from 'zod';
import { RecordAttribution } from '../core/types.js';

/** Who to contact at an organisation (orgs.yaml `contact`); `pgpKey` is an absolute file path. */
export const OrgContact = z.object({
  name: z.string().optional(),
  email: z.string().optional(),
  phone: z.string().optional(),
  pgpKey: z.string().optional(),
});
export type OrgContact = z.infer<typeof OrgContact>;

/** The national or sector CERT that handles disclosures for an organisation. */
export const OrgCert = z.object({
  name: z.string(),
  email: z.string(),
});
export type OrgCert = z.infer<typeof OrgCert>;

export const ORG_SOURCES = ['orgs', 'asn'] as const;
export const OrgSource = z.enum(ORG_SOURCES);
export type OrgSource = z.infer<typeof OrgSource>;

export const Attribution = RecordAttribution.extend({
  orgSource: OrgSource.nullable(),
  /** The orgs.yaml range that matched (the most specific one), when `orgSource` is `orgs`. */
  orgNetwork: z.string().optional(),
  contact: OrgContact.optional(),
  cert: OrgCert.optional(),
  tags: z.array(z.string()).optional(),
});
export type Attribution = z.infer<typeof Attribution>;

/** The data an Attributor was opened with, for `medsurface` to print and store. */
export interface AttributionSource {
  kind: 'geoip' | 'asn' | 'orgs';
  file: string;
  /** Human-readable: the database layout and type, or the number of organisations. */
  description: string;
  /** When the mmdb file was built (its metadata `build_epoch`), ISO 8601. */
  builtAt?: string;
}
