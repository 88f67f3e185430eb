/**
 * `medsurface optout add CIDR [--reason TEXT] [--contact TEXT] | list [--json] | remove CIDR`:
 * the inventory's opt-out list (src/inventory/opt-out.ts). Every scan leaves these ranges out;
 * running distributed workers reload the list at least once a minute, so an opt-out recorded
 * during a run stops traffic to the range within a minute. Commands write through a CommandIo
 * so tests run them in-process (optout.test.ts).
 */
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { addOptOut, listOptOuts, removeOptOut } from '../../inventory/opt-out.js';
import { openKyselyInventory } from '../../inventory/index.js';
import { makeTable } from '../../output/writer.js';
import type { CommandIo } from './inventory.js';

const processIo: CommandIo = {
  out: process.stdout,
  err: process.stderr,
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** Who records an opt-out: the local user at this machine. */
function operator(): string {
  let user = 'unknown';
  try {
    user = userInfo().username || user;
  } catch {
    /* no passwd entry (containers): keep "unknown" */
  }
  return `${user}@${hostname()}`;
}

interface DbOpts {
  db?: string;
}

export function registerOptOut(program: Command, io: CommandIo = processIo): void {
  const out = (s: string): void => {
    io.out.write(s.endsWith('\n') ? s : `${s}\n`);
  };
  const cmd = program
    .command('optout')
    .description('the opt-out list: ranges whose owners asked not to be scanned (every scan and every worker honours it)')
    .addHelpText(
      'after',
      `
Every scan leaves these ranges out before its first packet; distributed workers reload the list
at every shard start and at least once a minute, so an opt-out added during a run stops traffic
to the range within a minute. A scan also takes --opt-out-file FILE (one address or CIDR a line).

Examples:
  medsurface optout add 192.0.2.0/24 --reason "asked by e-mail, ticket 4711" --contact noc@example.org
  medsurface optout list --json
  medsurface optout remove 192.0.2.0/24`,
    );

  cmd
    .command('add')
    .description('record a range whose owner asked not to be scanned')
    .argument('<cidr>', 'an address or a CIDR block (IPv4 or IPv6)')
    .option('--reason <text>', 'why (the request, a ticket number)')
    .option('--contact <text>', 'who asked (e-mail address, name)')
    .option('--db <path|url>', 'inventory: SQLite path or postgres:// URL (default $MEDSURFACE_DB or XDG data dir)')
    .action(async (cidr: string, o: DbOpts & { reason?: string; contact?: string }) => {
      const inv = await openKyselyInventory(o.db);
      try {
        const r = await addOptOut(inv, {
          cidr,
          addedBy: operator(),
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
          ...(o.contact !== undefined ? { contact: o.contact } : {}),
        });
        out(
          r.created
            ? `opt-out ${r.optOut.cidr} recorded in ${inv.location}: every scan leaves it out; running workers within a minute`
            : `opt-out ${r.optOut.cidr} was already on the list (added ${r.optOut.addedAt} by ${r.optOut.addedBy})${o.reason !== undefined || o.contact !== undefined ? '; reason and contact updated' : ''}`,
        );
      } finally {
        await inv.close();
      }
    });

  cmd
    .command('list')
    .description('show the opt-out list')
    .option('--json', 'JSON array')
    .option('--db <path|url>', 'inventory: SQLite path or postgres:// URL')
    .action(async (o: DbOpts & { json?: boolean }) => {
      const inv = await openKyselyInventory(o.db);
      try {
        const rows = await listOptOuts(inv);
        if (o.json) return out(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return out(`The opt-out list in ${inv.location} is empty.`);
        const t = makeTable(['range', 'reason', 'contact', 'added', 'by'], io.out);
        for (const r of rows) t.push([r.cidr, r.reason ?? '-', r.contact ?? '-', r.addedAt, r.addedBy]);
        out(t.toString());
        out(`${rows.length} range(s) opted out; inventory ${inv.location}`);
      } finally {
        await inv.close();
      }
    });

  cmd
    .command('remove')
    .description('take a range off the opt-out list (as it was added)')
    .argument('<cidr>', 'the address or CIDR block')
    .option('--db <path|url>', 'inventory: SQLite path or postgres:// URL')
    .action(async (cidr: string, o: DbOpts) => {
      const inv = await openKyselyInventory(o.db);
      try {
        if (await removeOptOut(inv, cidr)) {
          out(`opt-out ${cidr.trim()} removed from ${inv.location}`);
        } else {
          io.err.write(`medsurface: ${cidr.trim()} is not on the opt-out list in ${inv.location} (medsurface optout list shows it)\n`);
          io.setExitCode(1);
        }
      } finally {
        await inv.close();
      }
    });
}
