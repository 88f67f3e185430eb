/**
 * The FHIR probe's observation (the value of `data.fhir` in the output). Field names are the
 * paths fingerprints (`fhir.softwareName`, `fhir.software`) and checks (`fhir.access`) match on.
 *
 * What a FHIR server tells about itself (its CapabilityStatement, FHIR R4 §3.1.0.1.7 `capabilities`
 * interaction, and its SMART configuration) is kept in bounded form. What it tells about
 * patients never is: a search is reduced to its HTTP status, the Bundle type and `total`, and the
 * number of entries the server returned anyway (counted while skipped, never decoded).
 */
import { z } from 'zod';

/** FHIR releases by their version string (FHIR R4 `FHIRVersion` value set). */
export const FhirRelease = z.enum(['DSTU2', 'STU3', 'R4', 'R4B', 'R5', 'R6', 'unknown']);
export type FhirRelease = z.infer<typeof FhirRelease>;

export const OauthUris = z.object({
  authorize: z.string().nullable(),
  token: z.string().nullable(),
  register: z.string().nullable(),
  manage: z.string().nullable(),
  introspect: z.string().nullable(),
  revoke: z.string().nullable(),
});
export type OauthUris = z.infer<typeof OauthUris>;

/** CapabilityStatement.rest.security (R4 §6.1.7), reduced. */
export const FhirSecurity = z.object({
  /** A `security` element is present at all. */
  declared: z.boolean(),
  cors: z.boolean().nullable(),
  /** rest.security.service codings (`SMART-on-FHIR`, `OAuth`, `Basic`, `Certificates`, ...). */
  services: z.array(z.string()),
  /** SMART-on-FHIR service coding or the SMART oauth-uris extension. */
  smart: z.boolean(),
  /** OAuth service coding or OAuth endpoints declared. */
  oauth: z.boolean(),
  /** The `http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris` extension's endpoints. */
  oauthUris: OauthUris.nullable(),
});
export type FhirSecurity = z.infer<typeof FhirSecurity>;

/** `GET [base]/.well-known/smart-configuration` (SMART App Launch 2.0 §2.1), reduced. */
export const SmartConfiguration = z.object({
  status: z.number().int().nullable(),
  /** A JSON object with at least one SMART endpoint came back. */
  present: z.boolean(),
  authorizationEndpoint: z.string().nullable(),
  tokenEndpoint: z.string().nullable(),
  capabilities: z.array(z.string()),
});
export type SmartConfiguration = z.infer<typeof SmartConfiguration>;

/**
 * One search. `random-id`: `Patient?_id=<random uuid>`, which no record can match (safe);
 * `count`: `Patient?_summary=count` (intrusive), the Bundle carries only `total` (R4 §3.1.1.5.8).
 */
export const FhirSearch = z.object({
  kind: z.enum(['random-id', 'count']),
  resource: z.string(),
  /** HTTP status, null when no answer came. */
  status: z.number().int().nullable(),
  /**
   * `open`: an unknown caller got a searchset Bundle; `protected`: 401/403; `unsupported`: the
   * server refused the search itself (400/404/405/501 with an OperationOutcome or similar);
   * `error`: no usable answer.
   */
  outcome: z.enum(['open', 'protected', 'unsupported', 'error']),
  /** Bundle.type (`searchset`), or the resourceType when the reply is not a Bundle (`OperationOutcome`). */
  bundleType: z.string().nullable(),
  resourceType: z.string().nullable(),
  /** Bundle.total: the number of matches the server reports. */
  total: z.number().int().nullable(),
  /** Entries the server returned anyway: counted while skipped, never decoded or kept. */
  entries: z.number().int(),
  /** The body was cut at the byte cap (the count may be low). */
  truncated: z.boolean(),
  /** The authentication challenge of a 401 (`Bearer`, `Basic`), scheme only. */
  authScheme: z.string().nullable(),
  error: z.string().nullable(),
});
export type FhirSearch = z.infer<typeof FhirSearch>;

export const FhirObservation = z.object({
  /** The base path whose `metadata` answered (`/fhir`, `/baseR4`), null when none did. */
  base: z.string().nullable(),
  /** Bases asked, in order (our own strings). */
  basesTried: z.array(z.string()),
  /** HTTP status of the metadata request that answered (or of the first one). */
  metadataStatus: z.number().int().nullable(),
  /** `CapabilityStatement` (STU3 and later) or `Conformance` (DSTU2). */
  resourceType: z.enum(['CapabilityStatement', 'Conformance']).nullable(),
  fhirVersion: z.string().nullable(),
  fhirRelease: FhirRelease.nullable(),
  /** CapabilityStatement.software.name, bounded: what fingerprints match on. */
  softwareName: z.string().nullable(),
  softwareVersion: z.string().nullable(),
  /** `name/version` (or the name alone), the product token form fingerprints extract versions from. */
  software: z.string().nullable(),
  /** CapabilityStatement.implementation.description, bounded to 128 characters. */
  implementationDescription: z.string().nullable(),
  publisher: z.string().nullable(),
  /** CapabilityStatement.kind (`instance`, `capability`, `requirements`). */
  kind: z.string().nullable(),
  formats: z.array(z.string()),
  /** rest.resource.type names (names only), sorted, bounded. */
  resourceTypes: z.array(z.string()),
  /** How many resource entries the statement declares (also beyond the bounded list). */
  resourceTypeCount: z.number().int(),
  /** Whether Patient declares the search-type interaction (null: Patient not declared or statement cut). */
  patientSearch: z.boolean().nullable(),
  security: FhirSecurity.nullable(),
  smartConfiguration: SmartConfiguration.nullable(),
  /** The SMART-on-FHIR service or configuration is declared (CapabilityStatement or .well-known). */
  smart: z.boolean(),
  /** Safe: the random-id search. Intrusive: the count. */
  search: FhirSearch.nullable(),
  /** Summary: `open` when an unknown caller can search, `protected` when refused, `unknown` otherwise. */
  access: z.enum(['open', 'protected', 'unknown']),
  /** Intrusive only: Bundle.total of `Patient?_summary=count`. */
  patientCount: z.number().int().nullable(),
  /** The metadata body was cut at the byte cap: lists may be incomplete. */
  truncated: z.boolean(),
  /** HTTP Server header of the metadata reply, bounded. */
  server: z.string().nullable(),
  tls: z.boolean(),
});
export type FhirObservation = z.infer<typeof FhirObservation>;
