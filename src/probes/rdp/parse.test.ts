import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import {
  type Negotiation,
  PROTOCOL,
  RDP_LIMITS,
  encodeConnectionConfirm,
  encodeConnectionRequest,
  failureName,
  parseConnectionConfirm,
  parseConnectionRequest,
  protocolName,
  responseFlagNames,
  signatureOf,
  tpktLength,
} from './parse.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
/** The first TPKT of a capture (xrdp may send a second one, an MCS Disconnect Provider Ultimatum, after a failure). */
const firstTpkt = (b: Buffer): Buffer => b.subarray(0, tpktLength(b));

describe('rdp parse: xrdp 0.9.21 (captured)', () => {
  const cases: [string, Negotiation, string][] = [
    ['xrdp-tls-req0b.bin', { kind: 'response', flags: 0x01, selectedProtocol: PROTOCOL.SSL }, 'neg-rsp flags=0x01 selected=ssl'],
    ['xrdp-tls-req00.bin', { kind: 'failure', failureCode: 1 }, 'neg-failure code=1'],
    ['xrdp-tls-req01.bin', { kind: 'response', flags: 0x01, selectedProtocol: PROTOCOL.SSL }, 'neg-rsp flags=0x01 selected=ssl'],
    ['xrdp-rdp-req0b.bin', { kind: 'response', flags: 0x01, selectedProtocol: PROTOCOL.RDP }, 'neg-rsp flags=0x01 selected=rdp'],
    ['xrdp-rdp-req00.bin', { kind: 'response', flags: 0x01, selectedProtocol: PROTOCOL.RDP }, 'neg-rsp flags=0x01 selected=rdp'],
    ['xrdp-negotiate-req0b.bin', { kind: 'response', flags: 0x01, selectedProtocol: PROTOCOL.SSL }, 'neg-rsp flags=0x01 selected=ssl'],
    ['xrdp-negotiate-req00.bin', { kind: 'response', flags: 0x01, selectedProtocol: PROTOCOL.RDP }, 'neg-rsp flags=0x01 selected=rdp'],
  ];
  for (const [file, negotiation, signature] of cases) {
    test(`${file}: ${signature}`, () => {
      const cc = parseConnectionConfirm(firstTpkt(fixture(file)));
      assert.deepEqual(cc, { tpdu: 'cc', negotiation });
      assert.equal(signatureOf(cc), signature);
    });
  }

  test('after SSL_REQUIRED_BY_SERVER xrdp sends an X.224 Data TPDU (MCS Disconnect Provider Ultimatum): ignored', () => {
    const b = fixture('xrdp-tls-req00.bin');
    assert.equal(b.length, 19 + 9);
    const second = b.subarray(19);
    assert.equal(tpktLength(second), 9);
    assert.equal(second[5], 0xf0);
  });
});

describe('rdp parse: MS-RDPBCGR §2.2.1.1 / §2.2.1.2', () => {
  test('our Connection Request is the 19-byte TPKT MS-RDPBCGR §4.1.1 shows, with our protocols', () => {
    const cr = encodeConnectionRequest(PROTOCOL.SSL | PROTOCOL.HYBRID | PROTOCOL.HYBRID_EX);
    assert.equal(cr.toString('hex'), '030000130ee00000000000010008000b000000');
    assert.equal(cr.length, 19);
    assert.deepEqual(parseConnectionRequest(cr), { requestedProtocols: 0x0b });
  });

  test('round trip: requests and confirms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (p) => {
        assert.deepEqual(parseConnectionRequest(encodeConnectionRequest(p)), { requestedProtocols: p });
      }),
    );
    const negs = fc.oneof(
      fc.record({ kind: fc.constant('response' as const), flags: fc.integer({ min: 0, max: 255 }), selectedProtocol: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ kind: fc.constant('failure' as const), failureCode: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.constant({ kind: 'none' as const }),
    );
    fc.assert(
      fc.property(negs, (n) => {
        assert.deepEqual(parseConnectionConfirm(encodeConnectionConfirm(n)), { tpdu: 'cc', negotiation: { ...n } });
      }),
    );
  });

  test('a Connection Confirm without negotiation data is a pre-negotiation server (Windows XP style, nmap-service-probes)', () => {
    // "\x03\0\0\x0b\x06\xd0\0\0\x124\0": Microsoft Terminal Services, Windows XP.
    const cc = parseConnectionConfirm(Buffer.from('0300000b06d00000123400', 'hex'));
    assert.deepEqual(cc, { tpdu: 'cc', negotiation: { kind: 'none' } });
    assert.equal(signatureOf(cc), 'no-neg');
  });

  test('Windows with NLA: flags 0x1f, CredSSP selected (the bytes nmap-service-probes matches)', () => {
    const cc = parseConnectionConfirm(Buffer.from('030000130ed00000123400021f080002000000', 'hex'));
    assert.deepEqual(cc.negotiation, { kind: 'response', flags: 0x1f, selectedProtocol: PROTOCOL.HYBRID });
    assert.equal(signatureOf(cc), 'neg-rsp flags=0x1f selected=hybrid');
    assert.deepEqual(responseFlagNames(0x1f), ['extended-client-data', 'dynvc-gfx', 'reserved', 'restricted-admin', 'redirected-authentication']);
  });

  test('disconnect and error TPDUs are reported, not parsed as a confirm', () => {
    assert.equal(parseConnectionConfirm(Buffer.from('0300000b06800000000000', 'hex')).tpdu, 'dr');
    assert.equal(signatureOf({ tpdu: 'er', negotiation: { kind: 'none' } }), 'x224-er');
  });

  test('hostile lengths: not TPKT, too short, over the cap, LI larger than the packet', () => {
    assert.throws(() => tpktLength(Buffer.from('HTTP')), ProtocolError);
    assert.throws(() => tpktLength(Buffer.from([3, 0, 0, 4])), ProtocolError);
    assert.throws(() => tpktLength(Buffer.from([3, 0, 0xff, 0xff])), /exceeds the cap/);
    assert.ok(RDP_LIMITS.tpktBytes < 0xffff);
    assert.throws(() => parseConnectionConfirm(Buffer.from('0300000bfed00000123400', 'hex')), ProtocolError);
    assert.throws(() => parseConnectionConfirm(Buffer.from('030000130ed00000123400020009000200000000', 'hex')), ProtocolError);
  });

  test('names', () => {
    assert.equal(protocolName(PROTOCOL.HYBRID_EX), 'hybrid-ex');
    assert.equal(protocolName(0x40), 'unknown-0x40');
    assert.equal(failureName(5), 'hybrid-required-by-server');
    assert.equal(failureName(99), 'unknown-99');
  });
});

describe('rdp parse: arbitrary bytes never throw anything but ProtocolError', () => {
  test('tpktLength, parseConnectionConfirm, parseConnectionRequest', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
          fc.uint8Array({ minLength: 3, maxLength: 40 }).map((a) => Buffer.concat([Buffer.from([3, 0, 0, a.length + 4]), Buffer.from(a)])),
        ),
        (b) => {
          for (const fn of [tpktLength, parseConnectionConfirm, parseConnectionRequest]) {
            try {
              fn(b);
            } catch (err) {
              if (!(err instanceof ProtocolError)) assert.fail(`unexpected ${(err as Error).name}: ${(err as Error).message}`);
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
