/**
 * `medsurface optout add|list|remove` in-process, through the commander program with a capturing
 * CommandIo, on a SQLite inventory; usage errors through main() for the exit status a user sees.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { Command } from 'commander';
import { captureOutput } from '../../core/testing.js';
import { openKyselyInventory } from '../../inventory/index.js';
import { loadOptOutSet } from '../../inventory/opt-out.js';
import { main } from '../main.js';
import { registerOptOut } from './optout.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'medsurface-optout-cli-'));
const db = path.join(tmp, 'inv.sqlite');
after(() => rmSync(tmp, { recursive: true, force: true }));

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function cli(args: string[]): Promise<{ out: string; err: string; code: number }> {
  const out = new Sink();
  const err = new Sink();
  let code = 0;
  const program = new Command().exitOverride().configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });
  registerOptOut(program, { out, err, setExitCode: (c) => (code = c) });
  await program.parseAsync(['node', 'medsurface', 'optout', ...args, '--db', db]);
  return { out: out.text, err: err.text, code };
}

test('add, list, remove', async () => {
  const empty = await cli(['list']);
  assert.match(empty.out, /opt-out list in .* is empty/);

  const added = await cli(['add', '127.219.9.9/24', '--reason', 'owner asked by e-mail', '--contact', 'noc@example.org']);
  assert.equal(added.code, 0);
  assert.match(added.out, /opt-out 127\.219\.9\.0\/24 recorded in .*every scan leaves it out; running workers within a minute/);
  await cli(['add', '2001:db8::/32']);
  const again = await cli(['add', '127.219.9.0/24', '--reason', 'second request']);
  assert.match(again.out, /already on the list \(added .* by .*\); reason and contact updated/);

  const json = JSON.parse((await cli(['list', '--json'])).out) as { cidr: string; reason: string | null; contact: string | null; addedBy: string; addedAt: string }[];
  assert.deepEqual(
    json.map((o) => [o.cidr, o.reason, o.contact]),
    [
      ['127.219.9.0/24', 'second request', 'noc@example.org'],
      ['2001:db8::/32', null, null],
    ],
  );
  assert.match(json[0]!.addedBy, /@/);
  assert.ok(!Number.isNaN(Date.parse(json[0]!.addedAt)));
  const table = await cli(['list']);
  assert.match(table.out, /127\.219\.9\.0\/24/);
  assert.match(table.out, /2 range\(s\) opted out/);

  const inv = await openKyselyInventory(db);
  try {
    assert.ok((await loadOptOutSet(inv)).has('127.219.9.77'));
  } finally {
    await inv.close();
  }

  const removed = await cli(['remove', '127.219.9.0/24']);
  assert.equal(removed.code, 0);
  assert.match(removed.out, /removed/);
  const missing = await cli(['remove', '127.219.9.0/24']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /is not on the opt-out list/);
  assert.deepEqual(
    (JSON.parse((await cli(['list', '--json'])).out) as { cidr: string }[]).map((o) => o.cidr),
    ['2001:db8::/32'],
  );
});

test('bad input is a usage error (exit 2)', async () => {
  for (const [args, message] of [
    [['optout', 'add', 'not-an-address.example', '--db', db], /host name/],
    [['optout', 'add', '127.219.0.1-127.219.0.9', '--db', db], /not one CIDR block/],
    [['optout', 'add', '127.219.0.0/24', '--reason', 'x'.repeat(1001), '--db', db], /at most 1000/],
  ] as const) {
    try {
      const r = await captureOutput(() => main(['node', 'medsurface', ...args]));
      assert.equal(r.result, 2, args.join(' '));
      assert.match(r.err, message);
    } finally {
      process.exitCode = undefined;
    }
  }
});
