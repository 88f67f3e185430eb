import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import {
  VNC_LIMITS,
  chooseVersion,
  encodeClientVersion,
  encodeFailure,
  encodeSecurityType33,
  encodeSecurityTypes,
  encodeServerVersion,
  parseSecurityType33,
  parseSecurityTypes,
  parseServerVersion,
  reasonText,
  securityTypeName,
} from './parse.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

function onlyProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) assert.fail(`expected ProtocolError, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

describe('vnc parse: captured replies of real servers', () => {
  for (const [file, types] of [
    ['x11vnc-nopw-rfb38.bin', [1]],
    ['x11vnc-pw-rfb38.bin', [2]],
    ['tigervnc-none-rfb38.bin', [1]],
    ['tigervnc-vncauth-rfb38.bin', [2]],
  ] as const) {
    test(`${file}: RFB 003.008, security types ${types.join(',')}`, () => {
      const buf = fixture(file);
      const v = parseServerVersion(buf.subarray(0, 12));
      assert.deepEqual(v, { text: 'RFB 003.008', major: 3, minor: 8 });
      assert.equal(chooseVersion(v), '3.8');
      assert.deepEqual(parseSecurityTypes(buf.subarray(12)), { kind: 'types', types: [...types] });
    });
  }

  test('x11vnc-pw answering a 3.3 client: the server picks VNC Authentication (U32 2) and sends its challenge', () => {
    const buf = fixture('x11vnc-pw-rfb33.bin');
    assert.equal(parseServerVersion(buf.subarray(0, 12)).text, 'RFB 003.008');
    // 4 bytes of type, then the 16-byte DES challenge (RFC 6143 §7.2.2), which we never answer.
    assert.equal(buf.length, 12 + 4 + 16);
    assert.deepEqual(parseSecurityType33(buf.subarray(12)), { kind: 'types', types: [2] });
  });

  test('a truncated type list asks for exactly the missing bytes', () => {
    const buf = fixture('x11vnc-nopw-rfb38.bin').subarray(12);
    assert.deepEqual(parseSecurityTypes(buf.subarray(0, 1)), { kind: 'need', bytes: 2 });
    assert.deepEqual(parseSecurityTypes(Buffer.alloc(0)), { kind: 'need', bytes: 1 });
  });
});

describe('vnc parse: version negotiation (RFC 6143 §7.1.1)', () => {
  test('the client answers with the highest published version not above the server', () => {
    const cases: [string, string][] = [
      ['RFB 003.003', '3.3'],
      ['RFB 003.005', '3.3'],
      ['RFB 003.006', '3.3'],
      ['RFB 003.007', '3.7'],
      ['RFB 003.008', '3.8'],
      ['RFB 003.889', '3.8'],
      ['RFB 004.001', '3.8'],
      ['RFB 005.000', '3.8'],
      ['RFB 000.000', '3.3'],
    ];
    for (const [text, want] of cases) assert.equal(chooseVersion(parseServerVersion(encodeServerVersion(text))), want, text);
  });

  test('client version messages are exactly 12 bytes', () => {
    assert.equal(encodeClientVersion('3.8').toString('latin1'), 'RFB 003.008\n');
    assert.equal(encodeClientVersion('3.7').toString('latin1'), 'RFB 003.007\n');
    assert.equal(encodeClientVersion('3.3').toString('latin1'), 'RFB 003.003\n');
  });

  test('not RFB: refused with a ProtocolError that prints only printable characters', () => {
    assert.throws(() => parseServerVersion(Buffer.from('SSH-2.0-Open')), ProtocolError);
    assert.throws(() => parseServerVersion(Buffer.from('RFB 003.008')), ProtocolError);
    assert.throws(() => parseServerVersion(Buffer.from('RFB 03.0008\n')), ProtocolError);
    try {
      parseServerVersion(Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0, 1, 2, 3, 4, 5, 6, 0xff]));
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ProtocolError);
      assert.doesNotMatch(err.message, /[\x00-\x1f\x7f-\xff]/);
    }
  });

  test('round trip: any version text we can encode parses back to itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), (major, minor) => {
        const text = `RFB ${String(major).padStart(3, '0')}.${String(minor).padStart(3, '0')}`;
        assert.deepEqual(parseServerVersion(encodeServerVersion(text)), { text, major, minor });
      }),
    );
  });
});

describe('vnc parse: security handshake (RFC 6143 §7.1.2)', () => {
  test('round trip of type lists (3.7/3.8)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 255 }), (types) => {
        assert.deepEqual(parseSecurityTypes(encodeSecurityTypes(types)), { kind: 'types', types });
      }),
    );
  });

  test('round trip of a refusal with its reason, both versions', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcXYZ 019.:-'.split('')), maxLength: 200 }), fc.constantFrom('3.3', '3.8') as fc.Arbitrary<'3.3' | '3.8'>, (reason, v) => {
        const buf = encodeFailure(reason, v);
        const step = v === '3.3' ? parseSecurityType33(buf) : parseSecurityTypes(buf);
        assert.deepEqual(step, { kind: 'failure', reason: reason.trim() });
      }),
    );
  });

  test('"Too many security failures" (3.3, as nmap-service-probes shows it) is a refusal, not a crash', () => {
    const buf = encodeFailure('Too many security failures', '3.3');
    assert.deepEqual(parseSecurityType33(buf), { kind: 'failure', reason: 'Too many security failures' });
    assert.deepEqual(parseSecurityType33(encodeSecurityType33(1)), { kind: 'types', types: [1] });
  });

  test('a reason length over the cap is refused before anything is read (4 GiB claims allocate nothing)', () => {
    const huge = Buffer.from([0, 0xff, 0xff, 0xff, 0xff]);
    assert.throws(() => parseSecurityTypes(huge), /exceeds the cap/);
    const justOver = Buffer.alloc(5);
    justOver.writeUInt32BE(VNC_LIMITS.reasonBytes + 1, 1);
    assert.throws(() => parseSecurityTypes(justOver), ProtocolError);
    const atCap = Buffer.alloc(5 + VNC_LIMITS.reasonBytes, 0x41);
    atCap[0] = 0;
    atCap.writeUInt32BE(VNC_LIMITS.reasonBytes, 1);
    const step = parseSecurityTypes(atCap);
    assert.equal(step.kind, 'failure');
    assert.equal(step.kind === 'failure' && step.reason.length, VNC_LIMITS.reasonChars);
  });

  test('3.3 security types above 255 are refused', () => {
    assert.throws(() => parseSecurityType33(Buffer.from([0, 0, 1, 0])), ProtocolError);
  });

  test('failure reasons keep printable characters only', () => {
    assert.equal(reasonText(Buffer.from('bad\x1b[31m\r\nred\x00')), 'bad?[31m red?');
  });

  test('security type names: registry names, vendor ranges, unknowns', () => {
    assert.equal(securityTypeName(1), 'none');
    assert.equal(securityTypeName(2), 'vnc-auth');
    assert.equal(securityTypeName(16), 'tight');
    assert.equal(securityTypeName(19), 'vencrypt');
    assert.equal(securityTypeName(30), 'apple-30');
    assert.equal(securityTypeName(13), 'realvnc-13');
    assert.equal(securityTypeName(130), 'realvnc-130');
    assert.equal(securityTypeName(77), 'type-77');
  });
});

describe('vnc parse: arbitrary bytes never throw anything but ProtocolError', () => {
  test('parseServerVersion, parseSecurityTypes, parseSecurityType33', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (arr) => {
        const b = Buffer.from(arr);
        onlyProtocolError(() => parseServerVersion(b));
        onlyProtocolError(() => parseServerVersion(b.subarray(0, 12)));
        onlyProtocolError(() => parseSecurityTypes(b));
        onlyProtocolError(() => parseSecurityType33(b));
        onlyProtocolError(() => reasonText(b));
      }),
      { numRuns: 2000 },
    );
  });

  test('a "need" answer always asks for more than it was given', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (arr) => {
        const b = Buffer.from(arr);
        for (const parse of [parseSecurityTypes, parseSecurityType33]) {
          try {
            const step = parse(b);
            if (step.kind === 'need') assert.ok(step.bytes > b.length && step.bytes <= 5 + VNC_LIMITS.reasonBytes);
          } catch (err) {
            assert.ok(err instanceof ProtocolError);
          }
        }
      }),
    );
  });
});
