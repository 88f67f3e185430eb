/**
 * Shapes of the credential data file (defaults.yaml) and of the observation the attempts leave
 * in a service record (`data.credentials`). The observation names the entry and the account
 * that was accepted and counts the attempts; it never holds a password.
 */
import { z } from 'zod';

const Id = z.string().regex(/^([a-z0-9]+-)*[a-z0-9]+$/);

export const SuccessCondition = z.strictObject({
  status: z.union([z.number().int(), z.array(z.number().int()).min(1)]),
  bodyRegex: z.string().optional(),
  locationRegex: z.string().optional(),
});
export type SuccessCondition = z.infer<typeof SuccessCondition>;

export const CredentialMethod = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('http-basic'),
    path: z.string().startsWith('/'),
    headers: z.record(z.string(), z.string()).optional(),
    success: z.union([SuccessCondition, z.array(SuccessCondition).min(1)]),
  }),
  z.strictObject({
    kind: z.literal('http-form'),
    path: z.string().startsWith('/'),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.string().includes('{user}').includes('{password}'),
    success: z.union([SuccessCondition, z.array(SuccessCondition).min(1)]),
  }),
]);
export type CredentialMethod = z.infer<typeof CredentialMethod>;

export const Account = z.strictObject({
  id: Id,
  user: z.string().max(64),
  password: z.string().max(128),
  source: z.string().min(1).optional(),
});
export type Account = z.infer<typeof Account>;

export const CredentialsFile = z.strictObject({
  version: z.literal(1),
  weak: z.array(Account),
  products: z.array(
    z.strictObject({
      id: Id,
      /** Product names as the fingerprints give them (case-insensitive). */
      products: z.array(z.string().min(1)).min(1),
      method: CredentialMethod,
      accounts: z.array(Account.required({ source: true })).min(1),
    }),
  ),
});
export type CredentialsFile = z.infer<typeof CredentialsFile>;

/** `data.credentials` of a service record. */
export const CredentialsObservation = z.object({
  /** Entry of defaults.yaml that applied (`orthanc`). */
  entry: z.string(),
  method: z.enum(['http-basic', 'http-form']),
  /** Path tried (query dropped). */
  path: z.string(),
  /** Requests with credentials this service received from us. */
  attempts: z.number().int(),
  /** The accepted account: entry id and user name, never the password. */
  accepted: z.object({ id: z.string(), user: z.string(), kind: z.enum(['default', 'weak']) }).nullable(),
  /** Why the attempts ended. */
  /** `open`: the path answered without credentials (nothing to guess; other checks report it). */
  stoppedBy: z.enum(['accepted', 'exhausted', 'budget', 'lockout', 'error', 'fragile', 'open']),
  /** What looked like a lockout (`status 429`, `Retry-After`, `body: account locked`). */
  lockoutSignal: z.string().nullable(),
  errors: z.array(z.string()),
});
export type CredentialsObservation = z.infer<typeof CredentialsObservation>;
