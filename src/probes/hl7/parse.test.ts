import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import {
  HL7_LIMITS,
  MLLP,
  buildPatientQuery,
  codedValue,
  decodeFrame,
  encodeFrame,
  finishFrame,
  hl7Safe,
  hl7Timestamp,
  parseMessage,
  scanFrame,
} from './parse.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const msg = (text: string) => parseMessage(Buffer.from(text, 'latin1'));

/** Throws only ProtocolError, or returns. */
function onlyProtocolErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

const QUERY = {
  sendingApplication: 'MEDSURFACE',
  sendingFacility: '',
  timestamp: '20261128120000+0000',
  controlId: 'MS0123456789ABCDEF',
  processingId: 'D' as const,
  version: '2.5',
  queryId: 'MS89ABCDEF',
  patientId: 'MS000000000000000000000000',
};

describe('MLLP framing (HL7 v2.5 Appendix C §C.4.2)', () => {
  test('encodeFrame wraps <SB> payload <EB><CR>, decodeFrame inverts it', () => {
    const f = encodeFrame('MSH|^~\\&|A\r');
    assert.deepEqual([...f.subarray(0, 1)], [MLLP.START]);
    assert.deepEqual([...f.subarray(-2)], [MLLP.END, MLLP.CR]);
    assert.equal(decodeFrame(f).toString('latin1'), 'MSH|^~\\&|A\r');
  });

  test('round trip for any payload without SB/EB (fast-check)', () => {
    const payload = fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a.filter((b) => b !== MLLP.START && b !== MLLP.END)));
    fc.assert(
      fc.property(payload, (p) => {
        const f = encodeFrame(p);
        assert.deepEqual(decodeFrame(f), p);
        const s = scanFrame(f);
        assert.equal(s.state, 'frame');
        if (s.state === 'frame') assert.equal(s.end, f.length);
      }),
      { numRuns: 300 },
    );
  });

  test('encodeFrame refuses SB or EB inside the payload and an oversized payload', () => {
    assert.throws(() => encodeFrame(Buffer.from([0x41, MLLP.END, 0x41])), ProtocolError);
    assert.throws(() => encodeFrame(Buffer.from([MLLP.START])), ProtocolError);
    assert.throws(() => encodeFrame(Buffer.alloc(HL7_LIMITS.frameBytes, 0x41)), ProtocolError);
  });

  test('a block arriving one byte at a time is incomplete until its last byte', () => {
    const f = fixture('node-hl7-server-2.5.0-ack-aa.bin');
    for (let n = 0; n < f.length; n++) assert.equal(scanFrame(f.subarray(0, n)).state, 'incomplete', `at ${n}`);
    const s = scanFrame(f);
    assert.equal(s.state, 'frame');
    if (s.state === 'frame') assert.equal(s.framing, 'mllp');
  });

  test('bytes after the block are left alone (end points past <EB><CR>)', () => {
    const f = Buffer.concat([encodeFrame('MSH|^~\\&|X\r'), Buffer.from('trailing')]);
    const s = scanFrame(f);
    assert.ok(s.state === 'frame' && f.subarray(s.end).toString() === 'trailing');
  });

  test('stray CR/LF before the start block are tolerated, a few only', () => {
    const f = encodeFrame('MSH|^~\\&|X\r');
    assert.equal(scanFrame(Buffer.concat([Buffer.from('\r\n'), f])).state, 'frame');
    assert.equal(scanFrame(Buffer.from('\r\n')).state, 'incomplete');
    assert.throws(() => scanFrame(Buffer.alloc(HL7_LIMITS.leadingWhitespace, 0x0d)), ProtocolError);
  });

  test('an end block without CR is accepted as mllp-no-cr', () => {
    const s = scanFrame(Buffer.from('\x0bMSH|^~\\&|X\x1cZ', 'latin1'));
    assert.ok(s.state === 'frame' && s.framing === 'mllp-no-cr');
    const done = finishFrame(Buffer.from('\x0bMSH|^~\\&|X\x1c', 'latin1'));
    assert.equal(done.framing, 'mllp-no-cr');
    assert.equal(done.payload.toString('latin1'), 'MSH|^~\\&|X');
  });

  test('HL7 without MLLP framing is recognised as unframed', () => {
    assert.equal(scanFrame(Buffer.from('MS')).state, 'incomplete');
    assert.equal(scanFrame(Buffer.from('MSH|^~\\&|')).state, 'unframed');
    const done = finishFrame(Buffer.from('\r\nMSH|^~\\&|A\rMSA|AA|1\r'));
    assert.equal(done.framing, 'unframed');
    assert.equal(msg(done.payload.toString('latin1')).msa?.ackCode, 'AA');
  });

  test('anything else is refused at the first byte', () => {
    assert.throws(() => scanFrame(Buffer.from([0xff, 0x00])), ProtocolError);
    assert.throws(() => scanFrame(Buffer.from('HTTP/1.1 400 Bad Request\r\n')), /not an MLLP reply/);
    assert.throws(() => scanFrame(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02])), ProtocolError);
  });

  test('truncated.bin (the first half of a real ACK): incomplete, and a truncated block once the peer stops', () => {
    const t = fixture('truncated.bin');
    assert.equal(scanFrame(t).state, 'incomplete');
    assert.throws(() => finishFrame(t), /truncated MLLP block/);
    assert.throws(() => finishFrame(Buffer.alloc(0)), ProtocolError);
  });

  test('a block growing past the cap without an end block is refused (endless frame)', () => {
    const cap = 1024;
    // The block, start block through end block, is at most `cap` bytes.
    const open = Buffer.concat([Buffer.from([MLLP.START]), Buffer.alloc(cap - 2, 0x41)]);
    assert.equal(scanFrame(open, cap).state, 'incomplete');
    assert.throws(() => scanFrame(Buffer.concat([open, Buffer.from('A')]), cap), /exceeds 1024 bytes without an end block/);
    const exact = Buffer.concat([open, Buffer.from([MLLP.END, MLLP.CR])]);
    assert.equal(scanFrame(exact, cap).state, 'frame');
    const big = Buffer.concat([open, Buffer.from('A'), Buffer.from([MLLP.END, MLLP.CR])]);
    assert.throws(() => scanFrame(big, cap), /exceeds 1024 bytes/);
    assert.throws(() => finishFrame(Buffer.concat([Buffer.from('MSH|'), Buffer.alloc(cap + 1, 0x41)]), cap), ProtocolError);
  });
});

describe('HL7 v2 message parsing (HL7 v2.5 Ch. 2 §2.15.9 MSH, §2.15.8 MSA, §2.15.5 ERR)', () => {
  test('node-hl7-server 2.5.0 ACK (captured): MSH and MSA fields', () => {
    const m = parseMessage(decodeFrame(fixture('node-hl7-server-2.5.0-ack-aa.bin')));
    assert.equal(m.delimiterText, '|^~\\&');
    assert.equal(m.msh.sendingApplication, null, 'MSH-3 is our empty MSH-5');
    assert.equal(m.msh.sendingFacility, null);
    assert.equal(m.msh.receivingApplication, 'MEDSURFACE');
    assert.equal(m.msh.messageType, 'ACK^A19^ACK_A19');
    assert.equal(m.msh.messageCode, 'ACK');
    assert.equal(m.msh.triggerEvent, 'A19');
    assert.equal(m.msh.controlId, 'ACK');
    assert.equal(m.msh.processingId, 'D');
    assert.equal(m.msh.version, '2.5');
    assert.deepEqual(m.msa, { ackCode: 'AA', ackCodeUnknown: false, controlId: 'MS0123456789ABCDEF', errorCondition: null });
    assert.deepEqual(m.segmentIds, ['MSH', 'MSA']);
    assert.deepEqual(m.errors, []);
  });

  test('node-hl7-server AE and AR replies', () => {
    assert.equal(parseMessage(decodeFrame(fixture('node-hl7-server-2.5.0-ack-ae.bin'))).msa?.ackCode, 'AE');
    assert.equal(parseMessage(decodeFrame(fixture('node-hl7-server-2.5.0-ack-ar.bin'))).msa?.ackCode, 'AR');
  });

  test('our own request parses back to what we meant to send', () => {
    const text = buildPatientQuery(QUERY);
    assert.equal(decodeFrame(fixture('request-qry-a19.bin')).toString('latin1'), text, 'fixture matches the encoder');
    const m = msg(text);
    assert.equal(m.msh.messageType, 'QRY^A19^QRY_A19');
    assert.equal(m.msh.processingId, 'D');
    assert.equal(m.msh.controlId, QUERY.controlId);
    assert.equal(m.msh.sendingApplication, 'MEDSURFACE');
    assert.equal(m.msh.receivingApplication, null, 'MSH-5 left empty on purpose');
    assert.equal(m.msh.receivingFacility, null);
    assert.deepEqual(m.segmentIds, ['MSH', 'QRD']);
  });

  test('the query is never a write-type message, and its values cannot break out of their fields', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.string({ maxLength: 64 }), fc.constantFrom<'D' | 'T'>('D', 'T'), (app, id, p) => {
        const text = buildPatientQuery({ ...QUERY, sendingApplication: app, controlId: id, patientId: id, processingId: p });
        const m = msg(text);
        assert.equal(m.msh.messageCode, 'QRY');
        assert.equal(m.msh.processingId, p);
        assert.deepEqual(m.segmentIds, ['MSH', 'QRD']);
        assert.equal(text.split('\r').length, 3);
        assert.doesNotMatch(text, /\|(ADT|ORU|ORM|OML|SIU|MDM|DFT|BAR|RDE)\^/);
      }),
      { numRuns: 300 },
    );
    assert.equal(hl7Safe('A|B^C~D\\E&F#G\rH', 20), 'ABCDEFGH');
  });

  test('hl7Timestamp is HL7 DTM in UTC', () => {
    assert.equal(hl7Timestamp(new Date(Date.UTC(2026, 10, 28, 9, 5, 7))), '20261128090507+0000');
  });

  test('Mirth Connect style ACK: MSH-3 MIRTH, timestamp control id', () => {
    const m = msg('MSH|^~\\&|MIRTH||MEDSURFACE||20261128120000||ACK^A19^ACK|20261128120000|D|2.5\rMSA|AA|MS1\r');
    assert.equal(m.msh.sendingApplication, 'MIRTH');
    assert.equal(m.msh.controlId, '20261128120000');
    assert.equal(m.msh.messageType, 'ACK^A19^ACK');
  });

  test('other delimiters are read from MSH-1 and MSH-2', () => {
    const m = msg('MSH#*@!%#APP*X#FAC#ME##2026##ACK*A19#42#T#2.3.1\rMSA#AE#MS9\rERR#QRD*1*8*204%UNKNOWN%HL70357\r');
    assert.equal(m.delimiterText, '#*@!%');
    assert.equal(m.msh.sendingApplication, 'APP');
    assert.equal(m.msh.messageType, 'ACK^A19');
    assert.equal(m.msh.version, '2.3.1');
    assert.equal(m.msa?.ackCode, 'AE');
    assert.deepEqual(m.errors, [{ code: '204', severity: null, location: 'QRD-8', applicationCode: null }]);
  });

  test('ERR in v2.5 form: ERR-2 location, ERR-3 code, ERR-4 severity, ERR-5 application code; text fields never read', () => {
    const m = msg(
      'MSH|^~\\&|LABGW|GENERAL-LAB|||2026||ACK^A19^ACK|R1|P|2.5\r' +
        'MSA|AR|MS1|Patient DOE\\S\\JANE refused\r' +
        'ERR||MSH^1^11^1^2^3|202^Unsupported processing id^HL70357|E|101^Unknown key identifier^HL70533|JANE DOE|diagnostic JANE DOE|user JANE DOE\r' +
        'PID|1||123^^^X^MR||DOE^JANE||19700101|F\r',
    );
    assert.equal(m.msa?.ackCode, 'AR');
    assert.deepEqual(m.errors, [{ code: '202', severity: 'E', location: 'MSH-11.2.3', applicationCode: '101' }]);
    assert.equal(m.pidSegments, 1);
    assert.deepEqual(m.segmentIds, ['MSH', 'MSA', 'ERR', 'PID']);
    const out = JSON.stringify(m);
    for (const leak of ['DOE', 'JANE', '19700101', '123^', 'refused', 'diagnostic']) assert.ok(!out.includes(leak), `${leak} leaked`);
  });

  test('ERR in v2.3 form (ERR-1 repetitions) and MSA-6 error condition', () => {
    const m = msg('MSH|^~\\&|X||||2026||ACK|1|P|2.3\rMSA|AE|MS1||||207^Application internal error\rERR|PID^1^3^101&Required field missing~QRD^1^8^204\r');
    assert.equal(m.msa?.errorCondition, '207');
    assert.deepEqual(m.errors, [
      { code: '101', severity: null, location: 'PID-3', applicationCode: null },
      { code: '204', severity: null, location: 'QRD-8', applicationCode: null },
    ]);
  });

  test('error codes are numeric and short: a long or textual "code" (maybe an echoed identifier) is dropped', () => {
    const m = msg('MSH|^~\\&|X||||2026||ACK|1|P|2.5.1\rMSA|AE|MS1||||CANARY7\rERR|PID^1^3^12345678|PID^1^3|20771234^x|E|MRN0042\r');
    assert.equal(m.msh.version, '2.5.1');
    assert.equal(m.msa?.errorCondition, null);
    assert.deepEqual(m.errors, [{ code: null, severity: 'E', location: 'PID-3', applicationCode: null }]);
    assert.equal(msg('MSH|^~\\&|X||||2026||ACK|1|P|JOHN\r').msh.version, null);
  });

  test('QAK-2 query response status; unknown MSA-1 codes are flagged, not kept', () => {
    const m = msg('MSH|^~\\&|ADT||||2026||ADR^A19^ADR_A19|1|P|2.5\rMSA|ZZ|MS1\rQAK|MS89|NF\rQRD|2026|R|I|MS89\r');
    assert.equal(m.queryStatus, 'NF');
    assert.equal(m.msa?.ackCode, null);
    assert.equal(m.msa?.ackCodeUnknown, true);
  });

  test('LF and CRLF segment terminators are tolerated', () => {
    const m = msg('MSH|^~\\&|A||||2026||ACK|1|P|2.4\r\nMSA|CA|MS1\nERR||MSH^1^9|200|W\n');
    assert.equal(m.msa?.ackCode, 'CA');
    assert.deepEqual(m.errors, [{ code: '200', severity: 'W', location: 'MSH-9', applicationCode: null }]);
  });

  test('identity fields are bounded printable text; codes are codes or nothing', () => {
    const m = msg(`MSH|^~\\&|${'A'.repeat(500)}|\x01\x02FAC\x7f|||2026||ACK^${'B'.repeat(50)}|${'C'.repeat(300)}|PP|2.5;DROP\rMSA|AA\r`);
    assert.equal(m.msh.sendingApplication, 'A'.repeat(HL7_LIMITS.identityChars));
    assert.equal(m.msh.sendingFacility, '??FAC?');
    assert.equal(m.msh.messageType, 'ACK');
    assert.equal(m.msh.controlId, null);
    assert.equal(m.msh.processingId, null);
    assert.equal(m.msh.version, null);
    assert.equal(codedValue('207'), '207');
    assert.equal(codedValue('20 7'), null);
    assert.equal(codedValue('X'.repeat(21)), null);
  });

  test('malformed headers are ProtocolErrors', () => {
    for (const bad of ['', 'MSA|AA|1', 'MSH', 'MSH|', 'MSHA^~\\&', 'MSH|^^~\\&|', 'MSH|abc|', 'MSH|^~\\&#$%|']) {
      assert.throws(() => msg(bad), ProtocolError, JSON.stringify(bad));
    }
    assert.doesNotThrow(() => msg('MSH|^~\\&|x|y|'));
  });

  test('arbitrary bytes never throw anything but ProtocolError (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (a) => {
        const b = Buffer.from(a);
        onlyProtocolErrors(() => scanFrame(b));
        onlyProtocolErrors(() => finishFrame(b));
        onlyProtocolErrors(() => parseMessage(b));
        onlyProtocolErrors(() => decodeFrame(b));
      }),
      { numRuns: 1000 },
    );
  });

  test('arbitrary HL7-shaped text: ProtocolError or a bounded, printable result (fast-check)', () => {
    const piece = fc.oneof(
      fc.constantFrom('|', '^', '~', '\\', '&', '\r', '\n', 'MSH', 'MSA', 'ERR', 'QAK', 'PID', 'AA', 'AR', '202', 'E', '1', ''),
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
    );
    const text = fc.array(piece, { maxLength: 80 }).map((p) => `MSH|^~\\&|${p.join('')}`);
    fc.assert(
      fc.property(text, (t) => {
        try {
          const m = msg(t);
          for (const v of [m.msh.sendingApplication, m.msh.sendingFacility, m.msh.controlId, m.msh.messageType, m.msh.version]) {
            if (v !== null) {
              assert.ok(v.length <= HL7_LIMITS.identityChars);
              assert.match(v, /^[\x20-\x7e]+$/);
            }
          }
          assert.ok(m.errors.length <= HL7_LIMITS.errors);
          assert.ok(m.segmentIds.length <= HL7_LIMITS.segmentIds);
        } catch (err) {
          assert.ok(err instanceof ProtocolError, String(err));
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('pathological messages parse in bounded time (64 KiB of segments, fields, repetitions)', () => {
    const cap = HL7_LIMITS.frameBytes - 64;
    const cases = [
      `MSH|^~\\&|A\r${'ERR|'.repeat(cap / 4)}`,
      `MSH|^~\\&|A\r${'ERR|A^1^1^1~'.repeat(cap / 11)}`,
      `MSH|^~\\&|${'^'.repeat(cap)}`,
      `MSH|^~\\&|A\r${'\r'.repeat(cap)}`,
      `MSH|^~\\&|A\r${'PID|1\r'.repeat(cap / 6)}`,
      `MSH|^~\\&|${'9'.repeat(cap)}`,
    ];
    const started = process.hrtime.bigint();
    for (const c of cases) {
      const m = msg(c.slice(0, cap));
      assert.ok(m.errors.length <= HL7_LIMITS.errors);
      assert.ok(m.segmentCount <= HL7_LIMITS.segments + 1);
    }
    assert.throws(() => parseMessage(Buffer.alloc(HL7_LIMITS.frameBytes + 1, 0x41)), ProtocolError);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 1000, `took ${ms} ms`);
  });
});
