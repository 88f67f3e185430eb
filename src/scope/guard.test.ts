import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BoundedSocket } from '../core/bounded-socket.js';
import { ScopeError, UsageError } from '../core/errors.js';
import { IpSet, TargetSet, assertInScope, loadIpSetSpecs, makeScopeGuard } from './index.js';

function refuses(guard: (ip: string) => void, ip: string, re: RegExp): void {
  assert.throws(
    () => guard(ip),
    (e: unknown) => e instanceof ScopeError && re.test(e.message),
    `${ip} should be refused with ${re}`,
  );
}

describe('makeScopeGuard', () => {
  test('without scope or exclusions every address passes', () => {
    const guard = makeScopeGuard({});
    guard('127.0.0.1');
    guard('::1');
    refuses(guard, 'localhost', /not an IP address/);
    refuses(guard, '', /not an IP address/);
  });

  test('refuses addresses outside the scope and inside the exclusion list', () => {
    const guard = makeScopeGuard({
      scope: IpSet.parse(['127.77.0.0/16', '2001:db8::/48']),
      exclude: IpSet.parse(['127.77.9.0/24', '2001:db8:0:1::/64']),
    });
    guard('127.77.0.1');
    guard('127.77.255.255');
    guard('2001:db8::5');
    refuses(guard, '127.78.0.1', /refused 127\.78\.0\.1: outside the authorised scope/);
    refuses(guard, '127.0.0.1', /outside the authorised scope/);
    refuses(guard, '127.77.9.200', /refused 127\.77\.9\.200: in the exclusion list/);
    refuses(guard, '2001:db8:0:1::9', /in the exclusion list/);
    refuses(guard, '2001:db9::1', /outside the authorised scope/);
    refuses(guard, 'fe80::1%lo', /not an IP address/);
  });

  test('judges IPv4-mapped IPv6 addresses as the IPv4 host they name', () => {
    const guard = makeScopeGuard({ scope: IpSet.parse(['127.77.0.0/16']), exclude: IpSet.parse(['127.77.9.9']) });
    guard('::ffff:127.77.0.1');
    guard('::ffff:7f4d:1'); /* the same address in hex */
    refuses(guard, '::ffff:127.78.0.1', /outside the authorised scope/);
    refuses(guard, '::ffff:127.77.9.9', /in the exclusion list/);
    /* An exclusion written as a wide IPv6 block still covers the mapped spelling. */
    refuses(makeScopeGuard({ exclude: IpSet.parse(['::/0']) }), '::ffff:127.0.0.1', /in the exclusion list/);
  });

  test('is fast: a million checks against ten thousand ranges take well under a few seconds', () => {
    const ranges: string[] = [];
    for (let i = 0; i < 10000; i++) ranges.push(`127.${(i >> 8) & 255}.${i & 255}.0/28`);
    const guard = makeScopeGuard({ exclude: IpSet.parse(ranges) });
    const started = Date.now();
    let refused = 0;
    for (let i = 0; i < 1_000_000; i++) {
      try {
        guard(`127.${(i >> 16) & 63}.${(i >> 8) & 255}.${i & 255}`);
      } catch {
        refused++;
      }
    }
    const ms = Date.now() - started;
    assert.ok(refused > 0, 'some addresses were excluded');
    assert.ok(ms < 10000, `took ${ms} ms`);
  });

  test('bounded-socket calls it before connecting: an excluded address never sees a SYN', async () => {
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const open = (guard: (ip: string) => void) =>
      BoundedSocket.open({ ip: '127.0.0.1', port, guard, connectTimeoutMs: 1000, readTimeoutMs: 1000, sessionTimeoutMs: 2000 });
    try {
      await assert.rejects(open(makeScopeGuard({ exclude: IpSet.parse(['127.0.0.1']) })), ScopeError);
      await assert.rejects(open(makeScopeGuard({ scope: IpSet.parse(['127.77.0.0/16']) })), ScopeError);
      const allowed = await open(makeScopeGuard({ scope: IpSet.parse(['127.0.0.0/8']) }));
      allowed.destroy();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(accepted, 1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('assertInScope', () => {
  test('passes when every merged target range lies inside the scope', async () => {
    const targets = await TargetSet.fromSpecs(['127.77.0.0/17', '127.77.128.0-127.77.255.255', '2001:db8::1']);
    assertInScope(targets, IpSet.parse(['127.77.0.0/16', '2001:db8::/32']));
    /* A /8 target is checked as a range, not address by address. */
    assertInScope(await TargetSet.fromSpecs(['127.0.0.0/8']), IpSet.parse(['127.0.0.0/9', '127.128.0.0/9']));
  });

  test('refuses with up to five offending ranges and a count of the rest', async () => {
    const targets = await TargetSet.fromSpecs([
      '127.1.0.0/24',
      '127.2.0.1',
      '127.3.0.0-127.3.0.9',
      '127.4.0.0/16',
      '127.5.0.1',
      '127.6.0.1',
      '127.7.0.1',
      '127.77.0.1',
    ]);
    assert.throws(
      () => assertInScope(targets, IpSet.parse(['127.77.0.0/16'])),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, 'UsageError');
        assert.match(
          e.message,
          /^65806 target address\(es\) are outside the authorised scope \(--scope\): 127\.1\.0\.0\/24, 127\.2\.0\.1, 127\.3\.0\.0-127\.3\.0\.9, 127\.4\.0\.0\/16, 127\.5\.0\.1 and 2 more range\(s\); nothing was scanned$/,
        );
        return true;
      },
    );
  });

  test('a target partly outside the scope names only the part outside', async () => {
    const targets = await TargetSet.fromSpecs(['127.77.0.0/23']);
    assert.throws(
      () => assertInScope(targets, IpSet.parse(['127.77.0.0/24', '127.77.1.128/25'])),
      (e: unknown) => e instanceof UsageError && /^128 target .*: 127\.77\.1\.0\/25;/.test(e.message),
    );
  });
});

describe('loadIpSetSpecs', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medsurface-scope-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('joins values and files; a value naming an existing file is read as one', async () => {
    const scopeFile = path.join(dir, 'scope.txt');
    await fs.writeFile(scopeFile, '# authorised by the hospital CISO\n127.77.0.0/16\n\n2001:db8::/48, 127.0.0.1 # lab\n');
    const excludeFile = path.join(dir, 'exclude.txt');
    await fs.writeFile(excludeFile, '127.77.9.0/24\n');
    const set = await loadIpSetSpecs(['127.9.0.1,127.9.0.2', scopeFile, `@${excludeFile}`], [excludeFile]);
    assert.deepEqual(set.rangeTexts(), ['127.0.0.1', '127.9.0.1-127.9.0.2', '127.77.0.0/16', '2001:db8::/48']);
  });

  test('errors name the flag, the file and the line', async () => {
    const bad = path.join(dir, 'bad.txt');
    await fs.writeFile(bad, '127.0.0.1\n\n127.0.0.0/99\n');
    await assert.rejects(
      loadIpSetSpecs([], [bad], undefined, '--exclude-file'),
      (e: unknown) => e instanceof UsageError && /^--exclude-file: .*bad\.txt:3: bad entry "127\.0\.0\.0\/99": bad CIDR prefix/.test(e.message),
    );
    await fs.writeFile(bad, 'pacs.hospital.test\n');
    await assert.rejects(
      loadIpSetSpecs([bad], [], undefined, '--scope'),
      (e: unknown) => e instanceof UsageError && /^--scope: .*bad\.txt:1: "pacs\.hospital\.test" is a host name/.test(e.message),
    );
    /* Not an address and not a file: the parse error is reported, naming the token. */
    await assert.rejects(
      loadIpSetSpecs([path.join(dir, 'nope.txt')], [], undefined, '--scope'),
      (e: unknown) => e instanceof UsageError && /^--scope: bad entry "[^"]*nope\.txt": .*\(and no file of that name exists\)$/.test(e.message),
    );
    await assert.rejects(
      loadIpSetSpecs(['127.0.0.1,127.0.0.256'], [], undefined, '--exclude'),
      (e: unknown) => e instanceof UsageError && /^--exclude: bad entry "127\.0\.0\.256"/.test(e.message),
    );
    await assert.rejects(
      loadIpSetSpecs([], [path.join(dir, 'missing.txt')]),
      (e: unknown) => e instanceof UsageError && /cannot read list .*missing\.txt.*ENOENT/.test(e.message),
    );
  });

  test('uses an injected reader', async () => {
    const readFile = async (p: string) => {
      if (p === 'scope.lst') return '127.77.0.0/16\n';
      throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
    };
    assert.deepEqual((await loadIpSetSpecs(['scope.lst'], [], readFile)).rangeTexts(), ['127.77.0.0/16']);
    assert.equal((await loadIpSetSpecs([], [])).size, 0n);
    await assert.rejects(
      loadIpSetSpecs(['other.lst'], [], readFile, '--scope'),
      (e: unknown) => e instanceof UsageError && /^--scope: "other\.lst" is a host name.*\(and no file of that name exists\)$/.test(e.message),
    );
  });
});
