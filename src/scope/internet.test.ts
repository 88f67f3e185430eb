import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError } from '../core/errors.js';
import {
  checkInternetContact,
  combineExclusions,
  describeExclusions,
  exclusionCounts,
  internetExclusion,
  parseAllowSpecial,
} from './internet.js';
import { IpSet } from './ipset.js';

describe('internet mode', () => {
  test('a contact is required, and must reach the User-Agent as written', () => {
    assert.throws(() => checkInternetContact(undefined), (e: unknown) => e instanceof UsageError && /--internet needs --contact/.test(e.message));
    assert.throws(() => checkInternetContact('   '), /--internet needs --contact/);
    assert.throws(() => checkInternetContact('research (see https://example.org)'), /without parentheses/);
    assert.throws(() => checkInternetContact('scan\u00e9@example.org'), /printable ASCII/);
    assert.throws(() => checkInternetContact(`https://example.org/${'a'.repeat(200)}`), /at most 128/);
    assert.throws(() => checkInternetContact('the research team'), /URL \(https:\/\/\.\.\.\) or an e-mail/);
    assert.equal(checkInternetContact(' https://example.org/scan-info '), 'https://example.org/scan-info');
    assert.equal(checkInternetContact('scan-team@example.org'), 'scan-team@example.org');
  });

  test('the special-purpose blocks are excluded, 127/8 among them; --allow-special lifts named ranges only', () => {
    const all = internetExclusion({ allowSpecial: [] });
    for (const ip of ['127.219.1.1', '10.1.2.3', '192.168.0.1', '::1', 'fe80::1', '2001:db8::5', '::ffff:127.219.1.1']) assert.ok(all.has(ip), ip);
    for (const ip of ['8.8.8.8', '2606:4700::1111']) assert.ok(!all.has(ip), ip);

    const lab = internetExclusion({ allowSpecial: ['127.219.0.0/16'] });
    assert.ok(!lab.has('127.219.3.4'), 'the lab block is allowed back');
    assert.ok(lab.has('127.0.0.1') && lab.has('127.218.0.1') && lab.has('10.0.0.1'), 'the rest of the special blocks stay excluded');

    assert.throws(() => parseAllowSpecial(['8.8.8.0/24']), (e: unknown) => e instanceof UsageError && /not inside a special-purpose block/.test(e.message));
    assert.throws(() => parseAllowSpecial(['127.0.0.0/7']), /not inside a special-purpose block/, 'a block reaching past 127/8');
    assert.throws(() => parseAllowSpecial(['lab.example']), /host name/);
    assert.equal(parseAllowSpecial(['127.219.0.0/16', '::1']).rangeCount, 2);
  });

  test('exclusions combine, and the report counts each address once and names the blocks', () => {
    const targets = IpSet.parse(['127.219.0.0/24', '8.8.8.0/30', '10.0.0.0/30']);
    const ex = combineExclusions(IpSet.parse(['8.8.8.3']), {
      internet: { allowSpecial: [] },
      optOut: IpSet.parse(['8.8.8.0/31', '127.219.0.0/30']),
    });
    assert.ok(ex.all.has('8.8.8.3') && ex.all.has('8.8.8.0') && ex.all.has('127.219.0.9') && ex.all.has('10.0.0.1'));
    assert.ok(!ex.all.has('8.8.8.2'));
    const c = exclusionCounts(targets, ex);
    assert.equal(c.specialPurpose, 256 + 4);
    assert.equal(c.optOut, 2, 'opted-out addresses inside special blocks count as special-purpose');
    assert.deepEqual(c.blocks, ['Private-Use 10.0.0.0/8', 'Loopback 127.0.0.0/8']);
    assert.deepEqual(describeExclusions(c, { internet: true, targets: 264 }), [
      'internet mode: excluded 260 addresses: special-purpose (Private-Use 10.0.0.0/8, Loopback 127.0.0.0/8)',
      'excluded 2 addresses: opt-out (medsurface optout list, --opt-out-file)',
    ]);

    const onlyLab = exclusionCounts(IpSet.parse(['127.219.1.0/24']), combineExclusions(IpSet.empty(), { internet: { allowSpecial: [] } }));
    assert.match(describeExclusions(onlyLab, { internet: true, targets: 256 })[0]!, /excluded 256 addresses: special-purpose \(Loopback 127\.0\.0\.0\/8\); nothing left to scan \(--allow-special/);

    const outside = combineExclusions(IpSet.empty(), {});
    assert.equal(outside.special, null);
    assert.deepEqual(describeExclusions(exclusionCounts(targets, outside), { internet: false, targets: 264 }), [], 'nothing to say outside internet mode without opt-outs');
  });

  test('IpSet.intersect', () => {
    const a = IpSet.parse(['127.0.0.0/24', '2001:db8::/120']);
    const b = IpSet.parse(['127.0.0.128/25', '127.0.1.0/24', '2001:db8::10-2001:db8::1ff']);
    assert.deepEqual(a.intersect(b).rangeTexts(), ['127.0.0.128/25', '2001:db8::10-2001:db8::ff']);
    assert.ok(a.intersect(IpSet.empty()).isEmpty);
  });
});
