/**
 * Tables of the REST API server (`medsurface serve`, src/server/): who may log in, their
 * sessions, their API tokens, the audit log, and the scans the API launched.
 *
 * Secrets are never stored: passwords as argon2id hashes (PHC strings), session ids and API
 * tokens as SHA-256 hex digests of the random value the client holds, so a copy of the database
 * opens no session. Sessions live in the database (not in the server's memory) so that several
 * `serve` instances on one inventory share them.
 *
 * - users: role admin|analyst|viewer, can_intrusive (may launch intrusive scans), orgs (JSON
 *   array of attribution organisations the user is limited to; null = all), lockout counters.
 * - sessions: one per login; csrf_token is the per-session token of the double-submit header.
 * - api_tokens: `mst_...` tokens for scripts.
 * - audit_log: logins, scans, finding state changes, exports, user and token changes. No
 *   foreign key to users: the log outlives the accounts it names.
 * - api_scans: the scans launched through the API (the run itself is in scan_runs once the
 *   child process created it), with who launched it and where it runs.
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectKind } from './0001-initial.js';

export function server(kind: DialectKind): Migration {
  const idType = kind === 'postgres' ? ('serial' as const) : ('integer' as const);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('users')
        .addColumn('id', idType, (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('can_intrusive', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('orgs', 'text')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('locked_until', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('last_login_at', 'text')
        .execute();

      await db.schema
        .createTable('sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();
      await db.schema.createIndex('sessions_expires_idx').on('sessions').column('expires_at').execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn('id', idType, (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema.createIndex('api_tokens_user_idx').on('api_tokens').column('user_id').execute();

      await db.schema
        .createTable('audit_log')
        .addColumn('id', idType, (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('user_id', 'integer')
        .addColumn('username', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text')
        .addColumn('ok', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('ip', 'text')
        .addColumn('detail', 'text')
        .execute();
      await db.schema.createIndex('audit_log_at_idx').on('audit_log').columns(['at', 'id']).execute();
      await db.schema.createIndex('audit_log_action_idx').on('audit_log').columns(['action', 'id']).execute();

      await db.schema
        .createTable('api_scans')
        .addColumn('run_id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'integer')
        .addColumn('username', 'text')
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('targets', 'text', (c) => c.notNull())
        .addColumn('ports', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('instance', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer')
        .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('api_scans_state_idx').on('api_scans').columns(['state', 'instance']).execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const t of ['api_scans', 'audit_log', 'api_tokens', 'sessions', 'users']) await db.schema.dropTable(t).ifExists().execute();
    },
  };
}
