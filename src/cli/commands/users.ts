/**
 * `medsurface users`: the API's accounts from the command line (the server need not run).
 *
 *   medsurface users add NAME --role admin|analyst|viewer [--intrusive] [--org ORG ...]
 *   medsurface users list | disable NAME | enable NAME | reset-password NAME | remove NAME
 *
 * A password is never an argument (it would sit in the shell history and the process list):
 * it is read from stdin when stdin is not a terminal (its first line), else prompted for twice
 * without echo.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { openKyselyInventory } from '../../inventory/db.js';
import type { KyselyInventory } from '../../inventory/kysely-store.js';
import { writeAudit } from '../../server/audit.js';
import { deleteUserSessions } from '../../server/auth/sessions.js';
import { createUser, deleteUser, findUserByName, listUsers, updateUser, type UserView } from '../../server/auth/users.js';
import { ApiError } from '../../server/errors.js';

/** Bytes of stdin read for a password. */
const MAX_PASSWORD_INPUT = 4096;

async function readPipedPassword(stdin: NodeJS.ReadStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > MAX_PASSWORD_INPUT) throw new UsageError(`password input longer than ${MAX_PASSWORD_INPUT} bytes`);
  }
  return (text.split(/\r?\n/)[0] ?? '');
}

/** Reads one line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let buf = '';
      const onData = (s: string) => {
        for (const ch of s) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(buf);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            reject(new UsageError('cancelled'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
          else if (buf.length < MAX_PASSWORD_INPUT) buf += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

async function readNewPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readPipedPassword(process.stdin);
  const a = await promptHidden('New password: ');
  const b = await promptHidden('Again: ');
  if (a !== b) throw new UsageError('the two passwords differ');
  return a;
}

/** API errors (bad name, short password, last admin) as the CLI's usage errors. */
async function cli<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw new UsageError(err.message);
    throw err;
  }
}

async function withInventory<T>(db: string | undefined, fn: (inv: KyselyInventory) => Promise<T>): Promise<T> {
  const inv = await openKyselyInventory(db);
  try {
    return await cli(() => fn(inv));
  } finally {
    await inv.close();
  }
}

const actor = () => ({ userId: null, username: `cli:${(() => {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
})()}` });

function line(u: UserView): string {
  const flags = [u.canIntrusive ? 'intrusive' : null, u.disabled ? 'DISABLED' : null].filter(Boolean).join(',');
  return `${u.username.padEnd(24)} ${u.role.padEnd(8)} ${(flags || '-').padEnd(18)} ${u.orgs === null ? '(all organisations)' : u.orgs.join('; ')}`;
}

async function userByName(inv: KyselyInventory, name: string) {
  const u = await findUserByName(inv.db, name);
  if (u === undefined) throw new UsageError(`no user named ${name.trim().toLowerCase()}`);
  return u;
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('API and dashboard accounts (medsurface serve)');
  const dbOpt = ['--db <path|url>', 'inventory: SQLite path or postgres:// URL (default $MEDSURFACE_DB or XDG data dir)'] as const;

  users
    .command('add')
    .description('create a user (password from stdin, or prompted for)')
    .argument('<name>', 'user name (lower case letters, digits, . _ - @)')
    .requiredOption('--role <role>', 'admin, analyst or viewer')
    .option('--intrusive', 'may launch intrusive scans')
    .option('--org <org>', 'limit to this attribution organisation (repeatable; default: all)', (v, prev: string[]) => [...prev, v], [])
    .option(...dbOpt)
    .action(async (name: string, o: { role: string; intrusive?: boolean; org: string[]; db?: string }) => {
      const password = await readNewPassword();
      await withInventory(o.db, async (inv) => {
        const u = await createUser(inv.db, { username: name, password, role: o.role, canIntrusive: o.intrusive === true, orgs: o.org.length > 0 ? o.org : null }, new Date());
        await writeAudit(inv.db, { action: 'user-create', actor: actor(), target: u.username, detail: { role: u.role, canIntrusive: u.canIntrusive, orgs: u.orgs } }, new Date());
        process.stderr.write(`medsurface: user ${u.username} (${u.role}) created\n`);
      });
    });

  users
    .command('list')
    .description('list the users')
    .option('--json', 'JSON lines')
    .option(...dbOpt)
    .action(async (o: { json?: boolean; db?: string }) => {
      await withInventory(o.db, async (inv) => {
        for (const u of await listUsers(inv.db)) process.stdout.write(`${o.json ? JSON.stringify(u) : line(u)}\n`);
      });
    });

  for (const [cmd, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    users
      .command(cmd)
      .description(disabled ? 'lock a user out (ends the sessions; tokens stop working)' : 'let a disabled user log in again')
      .argument('<name>')
      .option(...dbOpt)
      .action(async (name: string, o: { db?: string }) => {
        await withInventory(o.db, async (inv) => {
          const cur = await userByName(inv, name);
          const { user } = await updateUser(inv.db, Number(cur.id), { disabled }, new Date());
          if (disabled) await deleteUserSessions(inv.db, user.id);
          await writeAudit(inv.db, { action: 'user-update', actor: actor(), target: user.username, detail: { disabled } }, new Date());
          process.stderr.write(`medsurface: user ${user.username} ${disabled ? 'disabled' : 'enabled'}\n`);
        });
      });
  }

  users
    .command('reset-password')
    .description('set a new password (from stdin, or prompted for); ends the user\'s sessions and lifts a lock')
    .argument('<name>')
    .option(...dbOpt)
    .action(async (name: string, o: { db?: string }) => {
      const password = await readNewPassword();
      await withInventory(o.db, async (inv) => {
        const cur = await userByName(inv, name);
        const { user } = await updateUser(inv.db, Number(cur.id), { password }, new Date());
        await deleteUserSessions(inv.db, user.id);
        await writeAudit(inv.db, { action: 'user-update', actor: actor(), target: user.username, detail: { password: 'changed' } }, new Date());
        process.stderr.write(`medsurface: password of ${user.username} changed\n`);
      });
    });

  users
    .command('remove')
    .description('delete a user with its sessions and tokens')
    .argument('<name>')
    .option(...dbOpt)
    .action(async (name: string, o: { db?: string }) => {
      await withInventory(o.db, async (inv) => {
        const cur = await userByName(inv, name);
        const u = await deleteUser(inv.db, Number(cur.id));
        await writeAudit(inv.db, { action: 'user-delete', actor: actor(), target: u.username }, new Date());
        process.stderr.write(`medsurface: user ${u.username} removed\n`);
      });
    });
}
