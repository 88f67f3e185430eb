/**
 * Password hashing with argon2id (RFC 9106), the OWASP Password Storage Cheat Sheet's first
 * choice, at its minimum parameters by default: 19 MiB, two passes, one lane. The hash is the
 * PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), so parameters can be raised later
 * and old hashes still verify.
 */
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { badRequest } from '../errors.js';

/** Shortest password accepted (NIST SP 800-63B asks at least 8; we ask more of administrators of a target list). */
export const PASSWORD_MIN_CHARS = 12;
/** Longest: the hash input is bounded (argon2 takes any length, the request body should not). */
export const PASSWORD_MAX_CHARS = 1024;
/** argon2id memory cost in KiB (OWASP minimum configuration). */
export const ARGON2_MEMORY_KIB = 19_456;
const ARGON2ID = 2 as Algorithm;

/** Throws a 400 naming the rule a new password breaks. */
export function checkNewPassword(password: string): void {
  if (password.length < PASSWORD_MIN_CHARS) throw badRequest(`password: at least ${PASSWORD_MIN_CHARS} characters`);
  if (password.length > PASSWORD_MAX_CHARS) throw badRequest(`password: at most ${PASSWORD_MAX_CHARS} characters`);
  if (password.trim() === '') throw badRequest('password: not only spaces');
}

export async function hashPassword(password: string, memoryKiB = ARGON2_MEMORY_KIB): Promise<string> {
  return hash(password, { algorithm: ARGON2ID, memoryCost: memoryKiB, timeCost: 2, parallelism: 1 });
}

/** True when `password` matches the PHC string; false for a mismatch or a malformed hash. */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  if (password.length > PASSWORD_MAX_CHARS) return false;
  try {
    return await verify(phc, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | null = null;

/**
 * Spends the time of one verification on a hash nobody's password matches, so that an unknown
 * user name answers as slowly as a wrong password (no user enumeration by timing).
 */
export async function burnVerification(password: string, memoryKiB = ARGON2_MEMORY_KIB): Promise<void> {
  dummy ??= hashPassword('medsurface-no-such-user-padding', memoryKiB);
  await verifyPassword(await dummy, password.slice(0, PASSWORD_MAX_CHARS));
}
