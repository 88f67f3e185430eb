import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError, UsageError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import {
  type AcceptedContext,
  type AssociateAc,
  type AssociateRq,
  type Command,
  CommandField,
  type Element,
  NO_DATA_SET,
  PDU_HEADER_LENGTH,
  PduType,
  type RequestedContext,
  type UnknownItemRaw,
  abortText,
  contextResultText,
  dataSetKeywords,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRj,
  encodeAssociateRq,
  encodeCommand,
  encodeDataSet,
  encodePData,
  encodeReleaseRp,
  encodeReleaseRq,
  padAe,
  parseAbort,
  parseAssociateAc,
  parseAssociateRj,
  parseAssociateRq,
  parseCommand,
  parseDataSet,
  parsePData,
  parsePdu,
  parsePduHeader,
  rejectText,
  statusText,
} from './parse.js';
import {
  MEDSURFACE_IMPLEMENTATION_CLASS_UID,
  UID,
  implementationVersionName,
  isStorageSopClass,
  keywordOf,
  randomUid,
  sopName,
  vrOf,
} from './uids.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const body = (pdu: Buffer): Buffer => pdu.subarray(PDU_HEADER_LENGTH);

/** Runs fn and asserts that it either returns or throws a ProtocolError, nothing else. */
function onlyProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) {
      assert.fail(`expected ProtocolError, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------

/** fc.record, but with ordinary objects (fast-check builds null-prototype ones, which deepEqual tells apart). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model).map((r) => ({ ...r }) as T);
}

const AE_CHARS = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => c !== '\\');
const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
const aeArb = fc
  .string({ unit: fc.constantFrom(...AE_CHARS), minLength: 1, maxLength: 16 })
  .filter((s) => s.trim() === s && s.length > 0);
const uidArb = fc.oneof(
  fc.constantFrom(...Object.values(UID)),
  fc
    .array(fc.integer({ min: 0, max: 99999 }), { minLength: 1, maxLength: 10 })
    .map((parts) => parts.join('.'))
    .filter((s) => s.length <= 64),
);
/** Printable text that wire decoding returns unchanged: no trailing space. */
const textArb = (max: number) =>
  fc.string({ unit: fc.constantFrom(...PRINTABLE), minLength: 1, maxLength: max }).filter((s) => !s.endsWith(' '));
const bytesArb = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const unknownArb = (types: fc.Arbitrary<number>): fc.Arbitrary<UnknownItemRaw> =>
  rec({ type: types, bytes: bytesArb(LIMITS.dicomUnknownItemBytes) }).map(({ type, bytes }) => ({
    type,
    length: bytes.length,
    hex: bytes.toString('hex'),
  }));
const topLevelUnknownType = fc.integer({ min: 0, max: 255 }).filter((t) => ![0x10, 0x20, 0x21].includes(t) && !(t >= 0x50 && t <= 0x5f));
const asyncArb = fc.option(rec({ invoked: fc.integer({ min: 0, max: 0xffff }), performed: fc.integer({ min: 0, max: 0xffff }) }), {
  nil: null,
});
const rolesArb = fc.array(rec({ sopClass: uidArb, scu: fc.boolean(), scp: fc.boolean() }), { maxLength: 4 });

const associateRqArb: fc.Arbitrary<AssociateRq> = fc
  .record({
    protocolVersion: fc.integer({ min: 0, max: 0xffff }),
    calledAe: aeArb,
    callingAe: aeArb,
    applicationContext: uidArb,
    contexts: fc.array(
      rec({
        id: fc.integer({ min: 0, max: 255 }),
        abstractSyntax: uidArb,
        transferSyntaxes: fc.array(uidArb, { maxLength: 4 }),
      }),
      { maxLength: 10 },
    ),
    maxPduLength: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: null }),
    implementationClassUid: fc.option(uidArb, { nil: null }),
    implementationVersionName: fc.option(textArb(16), { nil: null }),
    asyncOps: asyncArb,
    roleSelections: rolesArb,
    userIdentity: fc.option(
      rec({
        type: fc.integer({ min: 0, max: 255 }),
        positiveResponseRequested: fc.boolean(),
        primary: bytesArb(64),
        secondary: bytesArb(64),
      }),
      { nil: null },
    ),
    top: fc.array(unknownArb(topLevelUnknownType), { maxLength: 8 }),
    sub: fc.array(unknownArb(fc.constantFrom(0x56, 0x57, 0x59, 0x5a, 0x5f)), { maxLength: 8 }),
  })
  .map(({ top, sub, ...rq }) => ({ ...rq, unknownItems: [...top, ...sub] }));

const associateAcArb: fc.Arbitrary<AssociateAc> = fc
  .record({
    protocolVersion: fc.integer({ min: 0, max: 0xffff }),
    calledAe: aeArb,
    callingAe: aeArb,
    applicationContext: fc.option(uidArb, { nil: null }),
    contexts: fc.array(
      rec({
        id: fc.integer({ min: 0, max: 255 }),
        result: fc.integer({ min: 0, max: 255 }),
        transferSyntax: fc.option(uidArb, { nil: null }),
      }),
      { maxLength: 10 },
    ),
    maxPduLength: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: null }),
    implementationClassUid: fc.option(uidArb, { nil: null }),
    implementationVersionName: fc.option(textArb(16), { nil: null }),
    asyncOps: asyncArb,
    roleSelections: rolesArb,
    userIdentityResponse: fc.option(bytesArb(64), { nil: null }),
    top: fc.array(unknownArb(topLevelUnknownType), { maxLength: 8 }),
    sub: fc.array(unknownArb(fc.constantFrom(0x56, 0x57, 0x58, 0x5a, 0x5f)), { maxLength: 8 }),
  })
  .map(({ top, sub, ...ac }) => ({ ...ac, unknownItems: [...top, ...sub] }));

const pdvArb = rec({
  contextId: fc.integer({ min: 0, max: 255 }),
  isCommand: fc.boolean(),
  isLast: fc.boolean(),
  data: bytesArb(200),
});

const commandArb: fc.Arbitrary<Command> = fc.record(
  {
    commandField: fc.integer({ min: 0, max: 0xffff }),
    affectedSopClass: uidArb,
    requestedSopClass: uidArb,
    messageId: fc.integer({ min: 0, max: 0xffff }),
    messageIdRespondedTo: fc.integer({ min: 0, max: 0xffff }),
    priority: fc.integer({ min: 0, max: 2 }),
    dataSetType: fc.integer({ min: 0, max: 0xffff }),
    status: fc.integer({ min: 0, max: 0xffff }),
    affectedSopInstance: uidArb,
    errorComment: textArb(64),
  },
  { requiredKeys: ['commandField', 'dataSetType'] },
).map((r) => ({ ...r }));

/** Every kind of valid PDU, whole (header included). */
const anyPduArb: fc.Arbitrary<Buffer> = fc.oneof(
  associateRqArb.map((rq) => encodeAssociateRq(rq)),
  associateAcArb.map((ac) => encodeAssociateAc(ac)),
  fc
    .record({ result: fc.integer({ min: 0, max: 255 }), source: fc.integer({ min: 0, max: 255 }), reason: fc.integer({ min: 0, max: 255 }) })
    .map(encodeAssociateRj),
  rec({ source: fc.integer({ min: 0, max: 255 }), reason: fc.integer({ min: 0, max: 255 }) }).map(encodeAbort),
  fc.constant(encodeReleaseRq()),
  fc.constant(encodeReleaseRp()),
  fc.array(pdvArb, { minLength: 1, maxLength: 4 }).map(encodePData),
);

/** Tags of the dictionary that the data-set round trip uses, with values valid for their VR. */
const DS_TAGS = [
  0x00080005, 0x00080018, 0x00080020, 0x00080030, 0x00080050, 0x00080052, 0x00080060, 0x00080090, 0x00081030, 0x00100010,
  0x00100020, 0x00100030, 0x00101010, 0x00101020, 0x0020000d, 0x0020000e, 0x00200011, 0x00201208, 0x00280010, 0x00280011,
  0x00081110, 0x00400100, 0x00104000,
];
function valueArb(vr: string): fc.Arbitrary<string> {
  switch (vr) {
    case 'UI':
      return uidArb;
    case 'US':
      return fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 3 }).map((a) => a.join('\\'));
    case 'SQ':
      return fc.constant('');
    default:
      return textArb(64);
  }
}
const dataSetArb = (explicit: boolean): fc.Arbitrary<Element[]> => {
  const dict = fc.constantFrom(...DS_TAGS).chain((tag) => valueArb(vrOf(tag)).map((value) => ({ tag, vr: vrOf(tag), value })));
  const extra: fc.Arbitrary<Element>[] = [
    // Private tags: implicit VR cannot know their VR, so they come back as UN with hex.
    rec({
      tag: fc.integer({ min: 0x1000, max: 0xffff }).map((e) => 0x00090000 + e),
      vr: fc.constant('UN'),
      value: bytesArb(32).map((b) => (b.length % 2 === 0 ? b : b.subarray(1)).toString('hex')),
    }),
  ];
  if (explicit) {
    extra.push(
      rec({
        tag: fc.integer({ min: 0x1000, max: 0xffff }).map((e) => 0x00110000 + e),
        vr: fc.constantFrom('UL', 'SL', 'SS'),
        value: fc.integer({ min: 0, max: 30000 }).map(String),
      }),
      rec({
        tag: fc.integer({ min: 0x1000, max: 0xffff }).map((e) => 0x00130000 + e),
        vr: fc.constantFrom('OB', 'OW'),
        value: bytesArb(32).map((b) => (b.length % 2 === 0 ? b : b.subarray(1)).toString('hex')),
      }),
      rec({
        tag: fc.integer({ min: 0x1000, max: 0xffff }).map((e) => 0x00150000 + e),
        vr: fc.constant('AT'),
        value: fc.integer({ min: 0, max: 0xffffffff }).map((t) => t.toString(16).padStart(8, '0')),
      }),
    );
  }
  return fc
    .uniqueArray(fc.oneof(dict, ...extra), { maxLength: 20, selector: (e) => e.tag })
    .map((els) => [...els].sort((a, b) => a.tag - b.tag));
};

// ---------------------------------------------------------------------------------------
// PDU header and simple PDUs
// ---------------------------------------------------------------------------------------

describe('PDU header (PS3.8 §9.3.1)', () => {
  test('reads type and big-endian length', () => {
    assert.deepEqual(parsePduHeader(Buffer.from('0400000100020000', 'hex')), { type: 4, length: 0x00010002 });
  });
  test('unknown type and short buffer throw ProtocolError', () => {
    assert.throws(() => parsePduHeader(Buffer.from('080000000004', 'hex')), ProtocolError);
    assert.throws(() => parsePduHeader(Buffer.from('000000000004', 'hex')), ProtocolError);
    assert.throws(() => parsePduHeader(Buffer.from('0100000000', 'hex')), ProtocolError);
  });
  test('parsePdu rejects a length that disagrees with the buffer', () => {
    assert.throws(() => parsePdu(Buffer.concat([encodeReleaseRq(), Buffer.from([0])])), ProtocolError);
  });
});

describe('A-ASSOCIATE-RJ', () => {
  test('byte-exact against PS3.8 §9.3.4 table 9-21', () => {
    // PDU-type 03H, reserved 00H, PDU-length 00000004H (big endian), reserved 00H,
    // Result 01H (rejected-permanent), Source 01H (DICOM UL service-user),
    // Reason/Diag. 07H (called-AE-title-not-recognized).
    const expected = Buffer.from([0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x07]);
    const rj = { result: 1, source: 1, reason: 7 };
    assert.deepEqual(encodeAssociateRj(rj), expected);
    assert.deepEqual(parseAssociateRj(body(expected)), rj);
    assert.equal(rejectText(rj), 'rejected-permanent: service-user: called-AE-title-not-recognized');
  });
  test('texts for every source of table 9-21', () => {
    assert.equal(rejectText({ result: 2, source: 3, reason: 1 }), 'rejected-transient: service-provider-presentation: temporary-congestion');
    assert.equal(rejectText({ result: 1, source: 2, reason: 2 }), 'rejected-permanent: service-provider-acse: protocol-version-not-supported');
    assert.equal(rejectText({ result: 1, source: 1, reason: 3 }), 'rejected-permanent: service-user: calling-AE-title-not-recognized');
    assert.equal(rejectText({ result: 9, source: 9, reason: 9 }), 'result-9: source-9: reason-9');
  });
  test('short body throws', () => {
    assert.throws(() => parseAssociateRj(Buffer.from([0, 1, 1])), ProtocolError);
  });
});

describe('A-ABORT, A-RELEASE', () => {
  test('abort round trip and bytes (PS3.8 §9.3.8)', () => {
    const pdu = encodeAbort({ source: 2, reason: 6 });
    assert.deepEqual(pdu, Buffer.from('07000000000400000206', 'hex'));
    assert.deepEqual(parseAbort(body(pdu)), { source: 2, reason: 6 });
    assert.deepEqual(parsePdu(pdu), { type: PduType.Abort, value: { source: 2, reason: 6 } });
    assert.equal(abortText({ source: 2, reason: 6 }), 'service-provider: invalid-PDU-parameter-value');
    assert.equal(abortText({ source: 0, reason: 0 }), 'service-user');
    assert.equal(abortText({ source: 2, reason: 2 }), 'service-provider: unexpected-PDU');
  });
  test('release RQ/RP (PS3.8 §9.3.6, §9.3.7)', () => {
    assert.deepEqual(encodeReleaseRq(), Buffer.from('05000000000400000000', 'hex'));
    assert.deepEqual(encodeReleaseRp(), Buffer.from('06000000000400000000', 'hex'));
    assert.deepEqual(parsePdu(encodeReleaseRq()), { type: PduType.ReleaseRq, value: null });
    assert.deepEqual(parsePdu(encodeReleaseRp()), { type: PduType.ReleaseRp, value: null });
  });
});

// ---------------------------------------------------------------------------------------
// A-ASSOCIATE-RQ / AC
// ---------------------------------------------------------------------------------------

const fullRq: AssociateRq = {
  protocolVersion: 1,
  calledAe: 'ANY-SCP',
  callingAe: 'MEDSURFACE',
  applicationContext: UID.ApplicationContext,
  contexts: [
    { id: 1, abstractSyntax: UID.Verification, transferSyntaxes: [UID.ImplicitVRLittleEndian] },
    { id: 3, abstractSyntax: UID.StudyRootFind, transferSyntaxes: [UID.ExplicitVRLittleEndian, UID.ImplicitVRLittleEndian] },
  ],
  maxPduLength: 16384,
  implementationClassUid: MEDSURFACE_IMPLEMENTATION_CLASS_UID,
  implementationVersionName: implementationVersionName('0.1.0'),
  asyncOps: { invoked: 1, performed: 1 },
  roleSelections: [{ sopClass: UID.StudyRootGet, scu: true, scp: false }],
  userIdentity: { type: 2, positiveResponseRequested: true, primary: Buffer.from('user'), secondary: Buffer.from('pass') },
  unknownItems: [{ type: 0x56, length: 3, hex: '010203' }],
};

describe('A-ASSOCIATE-RQ (PS3.8 §9.3.2)', () => {
  test('round trip with every sub-item', () => {
    const pdu = encodeAssociateRq(fullRq);
    assert.equal(parsePduHeader(pdu).type, PduType.AssociateRq);
    assert.equal(parsePduHeader(pdu).length, pdu.length - PDU_HEADER_LENGTH);
    assert.deepEqual(parseAssociateRq(body(pdu)), fullRq);
    const whole = parsePdu(pdu);
    assert.equal(whole.type, PduType.AssociateRq);
  });
  test('defaults: application context, max PDU 16384, our implementation class UID', () => {
    const rq = parseAssociateRq(body(encodeAssociateRq({ calledAe: 'A', callingAe: 'B', contexts: fullRq.contexts })));
    assert.equal(rq.protocolVersion, 1);
    assert.equal(rq.applicationContext, UID.ApplicationContext);
    assert.equal(rq.maxPduLength, 16384);
    assert.equal(rq.implementationClassUid, MEDSURFACE_IMPLEMENTATION_CLASS_UID);
    assert.equal(rq.implementationVersionName, null);
    assert.equal(rq.userIdentity, null);
  });
  test('fixed part layout: AE titles space padded at offsets 10 and 26 of the PDU', () => {
    const pdu = encodeAssociateRq({ calledAe: 'ANY-SCP', callingAe: 'MEDSURFACE', contexts: [] });
    assert.equal(pdu.readUInt16BE(6), 1);
    assert.equal(pdu.toString('latin1', 10, 26), 'ANY-SCP         ');
    assert.equal(pdu.toString('latin1', 26, 42), 'MEDSURFACE      ');
    assert.deepEqual(pdu.subarray(42, 74), Buffer.alloc(32));
    // Application context item right after: type 10H, reserved, length 21 (PDU UIDs are not padded).
    assert.deepEqual(pdu.subarray(74, 78), Buffer.from([0x10, 0x00, 0x00, 21]));
  });
  test('invalid AE titles are a UsageError', () => {
    assert.throws(() => encodeAssociateRq({ calledAe: '', callingAe: 'B', contexts: [] }), UsageError);
    assert.throws(() => encodeAssociateRq({ calledAe: 'A\\B', callingAe: 'B', contexts: [] }), UsageError);
    assert.throws(() => encodeAssociateRq({ calledAe: 'A', callingAe: 'X'.repeat(17), contexts: [] }), UsageError);
  });
  test('a context without abstract syntax is refused', () => {
    const pdu = encodeAssociateRq({ calledAe: 'A', callingAe: 'B', contexts: [] });
    // Add item 20H holding only the 4 fixed bytes.
    const bad = Buffer.concat([body(pdu), Buffer.from([0x20, 0, 0, 4, 1, 0, 0, 0])]);
    assert.throws(() => parseAssociateRq(bad), ProtocolError);
  });
  test('property: arbitrary A-ASSOCIATE-RQ round trips', () => {
    fc.assert(
      fc.property(associateRqArb, (rq) => {
        const pdu = encodeAssociateRq(rq);
        assert.deepEqual(parseAssociateRq(body(pdu)), rq);
        assert.deepEqual(parsePdu(pdu), { type: PduType.AssociateRq, value: rq });
      }),
      { numRuns: 200 },
    );
  });
});

const fullAc: AssociateAc = {
  protocolVersion: 1,
  calledAe: 'ANY-SCP',
  callingAe: 'MEDSURFACE',
  applicationContext: UID.ApplicationContext,
  contexts: [
    { id: 1, result: 0, transferSyntax: UID.ImplicitVRLittleEndian },
    { id: 3, result: 3, transferSyntax: null },
  ],
  maxPduLength: 0,
  implementationClassUid: '1.2.276.0.7230010.3.0.3.6.7',
  implementationVersionName: 'OFFIS_DCMTK_367',
  asyncOps: null,
  roleSelections: [{ sopClass: UID.StudyRootGet, scu: false, scp: true }],
  userIdentityResponse: Buffer.from('ok'),
  unknownItems: [{ type: 0x77, length: 2, hex: 'abcd' }],
};

describe('A-ASSOCIATE-AC (PS3.8 §9.3.3)', () => {
  test('round trip with every sub-item', () => {
    const pdu = encodeAssociateAc(fullAc);
    assert.deepEqual(parseAssociateAc(body(pdu)), fullAc);
  });
  test('property: arbitrary A-ASSOCIATE-AC round trips', () => {
    fc.assert(
      fc.property(associateAcArb, (ac) => {
        const pdu = encodeAssociateAc(ac);
        assert.deepEqual(parseAssociateAc(body(pdu)), ac);
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------

/** Builds an A-ASSOCIATE-AC body by hand: fixed part + the given items. */
function acBody(items: Buffer[], called = Buffer.from('SCP             '), calling = Buffer.from('SCU             ')): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0);
  called.copy(fixed, 4, 0, 16);
  calling.copy(fixed, 20, 0, 16);
  return Buffer.concat([fixed, ...items]);
}
function rawItem(type: number, value: Buffer, declared = value.length): Buffer {
  const h = Buffer.from([type, 0, 0, 0]);
  h.writeUInt16BE(declared, 2);
  return Buffer.concat([h, value]);
}

describe('hostile association PDUs', () => {
  test('AE titles: leading/trailing spaces stripped, control bytes, high bytes and backslash become ?', () => {
    const called = Buffer.from('  AB\x01\xffC\\D    ', 'latin1');
    const ac = parseAssociateAc(acBody([], called));
    assert.equal(ac.calledAe, 'AB??C?D');
    assert.equal(ac.callingAe, 'SCU');
    // A parsed AE title is always accepted by padAe.
    assert.equal(padAe(ac.calledAe), 'AB??C?D         ');
  });
  test('UIDs: trailing NUL/space padding stripped, clipped to 64; version names clipped to 16', () => {
    const long = '1.2.'.padEnd(80, '3');
    const ui = Buffer.concat([
      rawItem(0x52, Buffer.from(long)),
      rawItem(0x55, Buffer.from('ABCDEFGHIJKLMNOPQRSTUV')),
    ]);
    const ac = parseAssociateAc(acBody([rawItem(0x10, Buffer.from('1.2.840.10008.3.1.1.1\0')), rawItem(0x50, ui)]));
    assert.equal(ac.applicationContext, '1.2.840.10008.3.1.1.1');
    assert.equal(ac.implementationClassUid, long.slice(0, 64));
    assert.equal(ac.implementationVersionName, 'ABCDEFGHIJKLMNOP');
  });
  test('an item longer than the PDU throws', () => {
    assert.throws(() => parseAssociateAc(acBody([rawItem(0x10, Buffer.from('1.2'), 50)])), ProtocolError);
  });
  test('a sub-item longer than its item throws', () => {
    const ctx = Buffer.concat([Buffer.from([1, 0, 0, 0]), rawItem(0x40, Buffer.from('1.2.840.10008.1.2'), 40)]);
    assert.throws(() => parseAssociateAc(acBody([rawItem(0x21, ctx)])), ProtocolError);
    const ui = rawItem(0x51, Buffer.from([0, 0, 0x40, 0]), 9);
    assert.throws(() => parseAssociateAc(acBody([rawItem(0x50, ui)])), ProtocolError);
  });
  test('short fixed-size sub-items throw', () => {
    assert.throws(() => parseAssociateAc(acBody([rawItem(0x50, rawItem(0x51, Buffer.from([0, 1])))])), ProtocolError);
    assert.throws(() => parseAssociateAc(acBody([rawItem(0x50, rawItem(0x53, Buffer.from([0, 1])))])), ProtocolError);
    const role = Buffer.concat([Buffer.from([0, 30]), Buffer.from('1.2')]);
    assert.throws(() => parseAssociateAc(acBody([rawItem(0x50, rawItem(0x54, role))])), ProtocolError);
    assert.throws(() => parseAssociateAc(acBody([rawItem(0x50, rawItem(0x59, Buffer.from([0, 5, 1])))])), ProtocolError);
    assert.throws(() => parseAssociateAc(acBody([rawItem(0x21, Buffer.from([1, 0]))])), ProtocolError);
  });
  test(`more than LIMITS.dicomItems (${LIMITS.dicomItems}) items throw`, () => {
    const many = Array.from({ length: LIMITS.dicomItems + 1 }, () => rawItem(0x70, Buffer.alloc(0)));
    assert.throws(() => parseAssociateAc(acBody(many)), ProtocolError);
    const ok = Array.from({ length: LIMITS.dicomItems }, () => rawItem(0x70, Buffer.alloc(0)));
    assert.equal(parseAssociateAc(acBody(ok)).unknownItems.length, LIMITS.dicomUnknownItems);
  });
  test('unknown items are kept raw, bounded in count and bytes', () => {
    const big = Buffer.alloc(300, 0xab);
    const items = [rawItem(0x99, big), ...Array.from({ length: 30 }, (_, i) => rawItem(0x60 + (i % 10), Buffer.from([i])))];
    const ac = parseAssociateAc(acBody(items));
    assert.equal(ac.unknownItems.length, LIMITS.dicomUnknownItems);
    assert.deepEqual(ac.unknownItems[0], { type: 0x99, length: 300, hex: 'ab'.repeat(LIMITS.dicomUnknownItemBytes) });
    assert.deepEqual(ac.unknownItems[1], { type: 0x60, length: 1, hex: '00' });
  });
  test('PDV item length below 2 or past the body throws; empty P-DATA throws', () => {
    assert.throws(() => parsePData(Buffer.from('0000000101', 'hex')), ProtocolError);
    assert.throws(() => parsePData(Buffer.from('000000050103aa', 'hex')), ProtocolError);
    assert.throws(() => parsePData(Buffer.alloc(0)), ProtocolError);
    assert.throws(() => parsePData(Buffer.from('000000', 'hex')), ProtocolError);
    assert.deepEqual(parsePData(Buffer.from('000000020103', 'hex')), [{ contextId: 1, isCommand: true, isLast: true, data: Buffer.alloc(0) }]);
  });
  test('property: arbitrary bytes into every parser throw nothing but ProtocolError', () => {
    const parsers: ((b: Buffer) => unknown)[] = [
      parsePduHeader,
      parsePdu,
      parseAssociateRq,
      parseAssociateAc,
      parseAssociateRj,
      parseAbort,
      parsePData,
      parseCommand,
      (b) => dataSetKeywords(b, false),
      (b) => dataSetKeywords(b, true),
      (b) => parseDataSet(b, false),
      (b) => parseDataSet(b, true),
    ];
    fc.assert(
      fc.property(bytesArb(600), (b) => {
        for (const p of parsers) onlyProtocolError(() => p(b));
        // Behind a plausible fixed part too, so item walking gets exercised.
        onlyProtocolError(() => parseAssociateRq(Buffer.concat([Buffer.alloc(68), b])));
        onlyProtocolError(() => parseAssociateAc(Buffer.concat([Buffer.alloc(68), b])));
      }),
      { numRuns: 500 },
    );
  });
  test('property: mutated valid PDUs throw nothing but ProtocolError', () => {
    fc.assert(
      fc.property(
        anyPduArb,
        fc.array(rec({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
        (pdu, edits) => {
          const b = Buffer.from(pdu);
          for (const e of edits) b[e.at % b.length] = e.byte;
          onlyProtocolError(() => parsePdu(b));
          onlyProtocolError(() => parseAssociateRq(body(b)));
          onlyProtocolError(() => parseAssociateAc(body(b)));
          onlyProtocolError(() => parsePData(body(b)));
        },
      ),
      { numRuns: 300 },
    );
  });
  test('property: truncating any valid PDU at any point throws ProtocolError', () => {
    fc.assert(
      fc.property(anyPduArb, (pdu) => {
        for (let k = 0; k < pdu.length; k++) {
          const cut = pdu.subarray(0, k);
          assert.throws(() => parsePdu(cut), ProtocolError, `cut at ${k} of ${pdu.length}`);
          // The same prefix with its length field rewritten to match is either a valid
          // shorter PDU (a cut at an item boundary) or a ProtocolError: never anything else.
          if (k >= PDU_HEADER_LENGTH) {
            const patched = Buffer.from(cut);
            patched.writeUInt32BE(k - PDU_HEADER_LENGTH, 2);
            onlyProtocolError(() => parsePdu(patched));
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// P-DATA-TF
// ---------------------------------------------------------------------------------------

describe('P-DATA-TF (PS3.8 §9.3.5, Annex E.2)', () => {
  test('round trip, control header bits', () => {
    const pdvs = [
      { contextId: 1, isCommand: true, isLast: true, data: Buffer.from('abcd') },
      { contextId: 3, isCommand: false, isLast: false, data: Buffer.from('xy') },
    ];
    const pdu = encodePData(pdvs);
    // Header (length 18), then item length 6, context 1, control 03H, "abcd"; item length 4, context 3, control 00H, "xy".
    assert.deepEqual(pdu, Buffer.from('040000000012' + '00000006' + '0103' + '61626364' + '00000004' + '0300' + '7879', 'hex'));
    assert.deepEqual(parsePData(body(pdu)), pdvs);
    assert.equal(pdu[PDU_HEADER_LENGTH + 5], 0x03);
    assert.equal(pdu[PDU_HEADER_LENGTH + 10 + 5], 0x00);
  });
  test('property: arbitrary PDVs round trip', () => {
    fc.assert(
      fc.property(fc.array(pdvArb, { minLength: 1, maxLength: 8 }), (pdvs) => {
        assert.deepEqual(parsePData(body(encodePData(pdvs))), pdvs);
      }),
    );
  });
  test('encoder refuses no PDVs and bad context ids', () => {
    assert.throws(() => encodePData([]), UsageError);
    assert.throws(() => encodePData([{ contextId: 256, isCommand: true, isLast: true, data: Buffer.alloc(0) }]), UsageError);
  });
});

// ---------------------------------------------------------------------------------------
// Command sets
// ---------------------------------------------------------------------------------------

describe('DIMSE command sets (PS3.7 §9.3, Annex E)', () => {
  test('C-ECHO-RQ byte-exact against PS3.7 §9.3.5.1 table 9.3-12, Implicit VR LE (PS3.5 §7.1.3)', () => {
    // Each element: group (2, LE), element (2, LE), value length (4, LE), value.
    // Elements in ascending tag order; the UID "1.2.840.10008.1.1" (17 bytes) is padded with
    // one 00H to 18 (PS3.5 §9.1); group length = 26 + 10 + 10 + 10 = 56 = 38H.
    const expected = Buffer.concat([
      Buffer.from('00000000' + '04000000' + '38000000', 'hex'), // (0000,0000) UL Command Group Length = 56
      Buffer.from('00000200' + '12000000', 'hex'), // (0000,0002) UI Affected SOP Class UID, 18 bytes
      Buffer.from('1.2.840.10008.1.1\0', 'latin1'),
      Buffer.from('00000001' + '02000000' + '3000', 'hex'), // (0000,0100) US Command Field = 0030H
      Buffer.from('00001001' + '02000000' + '0100', 'hex'), // (0000,0110) US Message ID = 1
      Buffer.from('00000008' + '02000000' + '0101', 'hex'), // (0000,0800) US Command Data Set Type = 0101H
    ]);
    assert.equal(expected.length, 68);
    const cmd: Command = { commandField: CommandField.CEchoRq, affectedSopClass: UID.Verification, messageId: 1, dataSetType: NO_DATA_SET };
    assert.deepEqual(encodeCommand(cmd), expected);
    assert.deepEqual(parseCommand(expected), cmd);
  });
  test('round trips of C-FIND-RQ, C-FIND-RSP, C-STORE-RQ, C-CANCEL-RQ', () => {
    const cmds: Command[] = [
      { commandField: CommandField.CFindRq, affectedSopClass: UID.StudyRootFind, messageId: 7, priority: 0, dataSetType: 0x0000 },
      {
        commandField: CommandField.CFindRsp,
        affectedSopClass: UID.StudyRootFind,
        messageIdRespondedTo: 7,
        dataSetType: NO_DATA_SET,
        status: 0xc001,
        errorComment: 'Unable to process',
      },
      {
        commandField: CommandField.CStoreRq,
        affectedSopClass: UID.CTImageStorage,
        messageId: 2,
        priority: 2,
        dataSetType: 0,
        affectedSopInstance: '2.25.1234',
      },
      { commandField: CommandField.CCancelRq, messageIdRespondedTo: 7, dataSetType: NO_DATA_SET },
      { commandField: CommandField.CGetRq, requestedSopClass: UID.StudyRootGet, messageId: 1, dataSetType: 1 },
    ];
    for (const c of cmds) assert.deepEqual(parseCommand(encodeCommand(c)), c);
  });
  test('property: arbitrary commands round trip, group length is right', () => {
    fc.assert(
      fc.property(commandArb, (c) => {
        const b = encodeCommand(c);
        assert.equal(b.readUInt32LE(8), b.length - 12);
        assert.deepEqual(parseCommand(b), c);
      }),
    );
  });
  test('unknown elements are skipped; missing required elements and short values throw', () => {
    const echo = encodeCommand({ commandField: CommandField.CEchoRsp, messageIdRespondedTo: 1, dataSetType: NO_DATA_SET, status: 0 });
    const extra = Buffer.from('00000109' + '04000000' + 'deadbeef', 'hex'); // (0000,0901) Offending Element
    const other = Buffer.from('08000500' + '02000000' + '4142', 'hex'); // (0008,0005) outside group 0000
    assert.deepEqual(parseCommand(Buffer.concat([echo, extra, other])), parseCommand(echo));
    assert.throws(() => parseCommand(Buffer.from('00000008' + '02000000' + '0101', 'hex')), ProtocolError); // no command field
    assert.throws(() => parseCommand(Buffer.from('00000001' + '02000000' + '3000', 'hex')), ProtocolError); // no data set type
    assert.throws(() => parseCommand(Buffer.from('00000001' + '01000000' + '30', 'hex')), ProtocolError); // US of 1 byte
    assert.throws(() => parseCommand(Buffer.from('00000001' + 'ffffffff' + '3000', 'hex')), ProtocolError);
  });
  test(`more than LIMITS.dicomElements (${LIMITS.dicomElements}) elements throw`, () => {
    const filler = Buffer.from('00000109' + '00000000', 'hex');
    const head = encodeCommand({ commandField: CommandField.CEchoRsp, dataSetType: NO_DATA_SET });
    assert.throws(() => parseCommand(Buffer.concat([head, ...Array.from({ length: LIMITS.dicomElements }, () => filler)])), ProtocolError);
  });
  test('statusText', () => {
    assert.equal(statusText(0x0000), 'success');
    assert.equal(statusText(0xff00), 'pending');
    assert.match(statusText(0xff01), /^pending/);
    assert.equal(statusText(0xfe00), 'cancel');
    assert.equal(statusText(0xa700), 'refused: out-of-resources');
    assert.equal(statusText(0xa900), 'failed: identifier-does-not-match-sop-class');
    assert.equal(statusText(0xc123), 'failed: unable-to-process (0xc123)');
    assert.equal(statusText(0x0122), 'refused: sop-class-not-supported');
    assert.equal(statusText(0x1234), 'unknown (0x1234)');
  });
});

// ---------------------------------------------------------------------------------------
// Data sets
// ---------------------------------------------------------------------------------------

const identifier: Element[] = [
  { tag: 0x00080052, vr: 'CS', value: 'STUDY' },
  { tag: 0x0020000d, vr: 'UI', value: '2.25.123' },
  { tag: 0x00100010, vr: 'PN', value: 'TEST^ALPHA' },
  { tag: 0x00080020, vr: 'DA', value: '' },
  { tag: 0x00201208, vr: 'IS', value: '' },
];

describe('data sets (PS3.5 §7)', () => {
  test('implicit VR bytes: sorted, UI padded with 00H, text with a space', () => {
    const b = encodeDataSet(identifier, false);
    // First (0008,0020) DA, empty.
    assert.deepEqual(b.subarray(0, 8), Buffer.from('0800200000000000', 'hex'));
    // (0008,0052) CS "STUDY" + space.
    assert.deepEqual(b.subarray(8, 22), Buffer.concat([Buffer.from('0800520006000000', 'hex'), Buffer.from('STUDY ')]));
    assert.deepEqual(parseDataSet(b, false), [...identifier].sort((x, y) => x.tag - y.tag));
    // "2.25.123" is 8 bytes: no pad. Odd UID gets a NUL:
    const odd = encodeDataSet([{ tag: 0x0020000d, vr: 'UI', value: '2.25.1' }], false);
    assert.equal(odd.readUInt32LE(4), 6);
    const odd2 = encodeDataSet([{ tag: 0x0020000d, vr: 'UI', value: '2.25.12' }], false);
    assert.equal(odd2[odd2.length - 1], 0x00);
  });
  test('explicit VR bytes: short and long headers (PS3.5 §7.1.2)', () => {
    const b = encodeDataSet(
      [
        { tag: 0x00100010, vr: 'PN', value: 'TEST^ALPHA' },
        { tag: 0x00081110, vr: 'SQ', value: '' },
      ],
      true,
    );
    assert.deepEqual(b.subarray(0, 12), Buffer.from('0800101153510000' + '00000000', 'hex'));
    assert.deepEqual(b.subarray(12, 20), Buffer.from('10001000' + '504e' + '0a00', 'hex')); // (0010,0010) PN, 10 bytes
    assert.deepEqual(parseDataSet(b, true), [
      { tag: 0x00081110, vr: 'SQ', value: '' },
      { tag: 0x00100010, vr: 'PN', value: 'TEST^ALPHA' },
    ]);
  });
  test('property: arbitrary identifiers round trip (implicit and explicit)', () => {
    for (const explicit of [false, true]) {
      fc.assert(
        fc.property(dataSetArb(explicit), (els) => {
          assert.deepEqual(parseDataSet(encodeDataSet(els, explicit), explicit), els);
        }),
      );
    }
  });
  test('dataSetKeywords gives keywords only, never values', () => {
    for (const explicit of [false, true]) {
      const b = encodeDataSet([...identifier, { tag: 0x00091001, vr: 'UN', value: '0102' }], explicit);
      const kws = dataSetKeywords(b, explicit);
      assert.deepEqual(kws, ['StudyDate', 'QueryRetrieveLevel', '(0009,1001)', 'PatientName', 'StudyInstanceUID', 'NumberOfStudyRelatedInstances']);
      assert.ok(!JSON.stringify(kws).includes('ALPHA'));
    }
  });

  /** An undefined-length sequence holding `items` undefined-length items (PS3.5 §7.5.2). */
  function undefSeq(tag: number, explicit: boolean, items: Buffer[]): Buffer {
    const head = Buffer.alloc(explicit ? 12 : 8);
    head.writeUInt16LE(tag >>> 16, 0);
    head.writeUInt16LE(tag & 0xffff, 2);
    if (explicit) {
      head.write('SQ', 4, 'latin1');
      head.writeUInt32LE(0xffffffff, 8);
    } else head.writeUInt32LE(0xffffffff, 4);
    const parts: Buffer[] = [head];
    for (const it of items) parts.push(Buffer.from('feff00e0ffffffff', 'hex'), it, Buffer.from('feff0de000000000', 'hex'));
    parts.push(Buffer.from('feffdde000000000', 'hex'));
    return Buffer.concat(parts);
  }

  test('undefined-length sequences (nested, and defined-length items) are skipped safely', () => {
    for (const explicit of [false, true]) {
      const inner = undefSeq(0x00321064, explicit, [encodeDataSet([{ tag: 0x00080100, vr: 'SH', value: 'CODE' }], explicit)]);
      const item1 = Buffer.concat([encodeDataSet([{ tag: 0x00400001, vr: 'AE', value: 'CT1' }], explicit), inner]);
      const definedItem = (() => {
        const v = encodeDataSet([{ tag: 0x00400009, vr: 'SH', value: 'X' }], explicit);
        const h = Buffer.from('feff00e000000000', 'hex');
        h.writeUInt32LE(v.length, 4);
        return Buffer.concat([h, v]);
      })();
      const seq = undefSeq(0x00400100, explicit, [item1]);
      // Splice a defined-length item before the sequence delimiter.
      const seqWithDefined = Buffer.concat([seq.subarray(0, seq.length - 8), definedItem, seq.subarray(seq.length - 8)]);
      const ds = Buffer.concat([
        encodeDataSet([{ tag: 0x00080050, vr: 'SH', value: 'ACC' }], explicit),
        encodeDataSet([{ tag: 0x00100010, vr: 'PN', value: 'TEST^BETA' }], explicit),
        seqWithDefined,
      ]);
      assert.deepEqual(dataSetKeywords(ds, explicit), ['AccessionNumber', 'PatientName', 'ScheduledProcedureStepSequence']);
      const parsed = parseDataSet(ds, explicit);
      assert.deepEqual(parsed[2], { tag: 0x00400100, vr: 'SQ', value: '' });
    }
  });
  test('hostile data sets: unterminated sequence, too deep, too many elements, bad VR', () => {
    const unterminated = undefSeq(0x00400100, true, []).subarray(0, 12);
    assert.throws(() => dataSetKeywords(unterminated, true), ProtocolError);
    // 40 nested undefined-length sequences.
    let deep: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 40; i++) deep = undefSeq(0x00400100, false, [deep]);
    assert.throws(() => dataSetKeywords(deep, false), (e) => e instanceof ProtocolError && /nested deeper/.test(e.message));
    let ok: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 10; i++) ok = undefSeq(0x00400100, false, [ok]);
    assert.deepEqual(dataSetKeywords(ok, false), ['ScheduledProcedureStepSequence']);
    const many = Buffer.concat(Array.from({ length: LIMITS.dicomElements + 1 }, (_, i) => encodeDataSet([{ tag: 0x00090000 + i + 0x1000, vr: 'UN', value: '' }], false)));
    assert.throws(() => dataSetKeywords(many, false), (e) => e instanceof ProtocolError && e.message.includes(`more than ${LIMITS.dicomElements}`));
    assert.throws(() => dataSetKeywords(Buffer.from('1000100070e00200' + '4142', 'hex'), true), ProtocolError); // VR "p\xe0"
    assert.throws(() => dataSetKeywords(Buffer.from('feff00e000000000', 'hex'), false), ProtocolError); // item at top level
    assert.throws(() => dataSetKeywords(Buffer.from('1000100008000000' + '4142', 'hex'), false), ProtocolError); // overrun
  });
  test('encoder refuses values it cannot encode', () => {
    assert.throws(() => encodeDataSet([{ tag: 0x00280010, vr: 'US', value: '70000' }], true), UsageError);
    assert.throws(() => encodeDataSet([{ tag: 0x00081110, vr: 'SQ', value: 'x' }], true), UsageError);
    assert.throws(() => encodeDataSet([{ tag: 0x00091001, vr: 'OB', value: 'zz' }], true), UsageError);
    assert.throws(() => encodeDataSet([{ tag: 0x00091001, vr: 'QQ', value: '' }], true), UsageError);
  });
});

// ---------------------------------------------------------------------------------------
// Captured replies of a real peer (DCMTK storescp 3.6.7; see fixtures/README.md)
// ---------------------------------------------------------------------------------------

describe('fixtures captured from DCMTK storescp', () => {
  test('storescp-accept.bin: A-ASSOCIATE-AC with DCMTK identity and all four context results', () => {
    const pdu = parsePdu(fixture('storescp-accept.bin'));
    assert.equal(pdu.type, PduType.AssociateAc);
    const ac = pdu.value as AssociateAc;
    assert.equal(ac.implementationClassUid, '1.2.276.0.7230010.3.0.3.6.7');
    assert.equal(ac.implementationVersionName, 'OFFIS_DCMTK_367');
    assert.equal(ac.maxPduLength, 16384);
    assert.equal(ac.applicationContext, UID.ApplicationContext);
    assert.equal(ac.calledAe, 'STORESCP');
    assert.equal(ac.callingAe, 'MEDSURFACE');
    const ctx: AcceptedContext[] = ac.contexts;
    assert.deepEqual(
      ctx.map((c) => [c.id, contextResultText(c.result)]),
      [
        [1, 'acceptance'],
        [3, 'acceptance'],
        [5, 'abstract-syntax-not-supported'],
        [7, 'transfer-syntaxes-not-supported'],
      ],
    );
    assert.equal(ctx[0]?.transferSyntax, UID.ExplicitVRLittleEndian);
    assert.deepEqual(ac.unknownItems, []);
  });
  test('storescp-reject.bin: --refuse answers rejected-permanent, service-user, no reason', () => {
    const pdu = parsePdu(fixture('storescp-reject.bin'));
    assert.deepEqual(pdu, { type: PduType.AssociateRj, value: { result: 1, source: 1, reason: 1 } });
    assert.equal(rejectText(pdu.value as { result: number; source: number; reason: number }), 'rejected-permanent: service-user: no-reason-given');
  });
  test('truncated.bin: a prefix of the AC throws ProtocolError, whole or as a body', () => {
    const t = fixture('truncated.bin');
    assert.throws(() => parsePdu(t), ProtocolError);
    assert.throws(() => parseAssociateAc(body(t)), ProtocolError);
  });
  test('storescp-echo-rsp.bin: C-ECHO-RSP, byte-identical to our encoding of the same command', () => {
    const pdu = parsePdu(fixture('storescp-echo-rsp.bin'));
    assert.equal(pdu.type, PduType.PData);
    const pdvs = pdu.value as ReturnType<typeof parsePData>;
    assert.equal(pdvs.length, 1);
    const pdv = pdvs[0]!;
    assert.deepEqual([pdv.contextId, pdv.isCommand, pdv.isLast], [1, true, true]);
    const cmd = parseCommand(pdv.data);
    assert.deepEqual(cmd, {
      commandField: CommandField.CEchoRsp,
      affectedSopClass: UID.Verification,
      messageIdRespondedTo: 1,
      dataSetType: NO_DATA_SET,
      status: 0,
    });
    assert.equal(statusText(cmd.status!), 'success');
    assert.deepEqual(encodeCommand(cmd), pdv.data);
  });
  test('storescp-release-rp.bin: A-RELEASE-RP', () => {
    assert.deepEqual(parsePdu(fixture('storescp-release-rp.bin')), { type: PduType.ReleaseRp, value: null });
  });
});

// ---------------------------------------------------------------------------------------
// uids.ts and padAe
// ---------------------------------------------------------------------------------------

describe('uids and AE titles', () => {
  test('sopName, isStorageSopClass', () => {
    assert.equal(sopName(UID.Verification), 'verification');
    assert.equal(sopName(UID.PatientRootFind), 'patient-root-find');
    assert.equal(sopName(UID.StudyRootMove), 'study-root-move');
    assert.equal(sopName(UID.ModalityWorklistFind), 'modality-worklist-find');
    assert.equal(sopName(UID.CTImageStorage), 'ct-image-storage');
    assert.equal(sopName('1.2.3.4'), '1.2.3.4');
    assert.ok(isStorageSopClass(UID.MRImageStorage));
    assert.ok(!isStorageSopClass(UID.StudyRootFind));
  });
  test('keywordOf, vrOf', () => {
    assert.equal(keywordOf(0x00100010), 'PatientName');
    assert.equal(keywordOf(0x0020000d), 'StudyInstanceUID');
    assert.equal(keywordOf(0x00080052), 'QueryRetrieveLevel');
    assert.equal(keywordOf(0x00091001), '(0009,1001)');
    assert.equal(keywordOf(0xfffee000), '(fffe,e000)');
    assert.equal(vrOf(0x00280010), 'US');
    assert.equal(vrOf(0x00090000), 'UL');
    assert.equal(vrOf(0x00091001), 'UN');
  });
  test('randomUid, implementation UID and version name', () => {
    const a = randomUid();
    assert.match(a, /^2\.25\.(0|[1-9]\d*)$/);
    assert.ok(a.length <= 64);
    assert.ok(BigInt(a.slice(5)) < 2n ** 128n);
    assert.notEqual(a, randomUid());
    assert.match(MEDSURFACE_IMPLEMENTATION_CLASS_UID, /^2\.25\.[1-9]\d*$/);
    assert.equal(implementationVersionName('0.1.0'), 'MEDSURFACE_0.1.0');
    assert.equal(implementationVersionName('10.20.30-beta'), 'MEDSURFACE_10.20');
  });
  test('padAe', () => {
    assert.equal(padAe('ANY'), 'ANY             ');
    assert.equal(padAe('  ANY  '), 'ANY             ');
    assert.equal(padAe('ABCDEFGHIJKLMNOP'), 'ABCDEFGHIJKLMNOP');
    for (const bad of ['', '    ', 'ABCDEFGHIJKLMNOPQ', 'A\\B', 'A\nB', 'É']) assert.throws(() => padAe(bad), UsageError, bad);
  });
  test('contextResultText', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 9].map(contextResultText),
      ['acceptance', 'user-rejection', 'no-reason', 'abstract-syntax-not-supported', 'transfer-syntaxes-not-supported', 'result-9'],
    );
  });
});

// Type-level check: the requested-context shape is what encodeAssociateRq takes.
const _ctx: RequestedContext = { id: 1, abstractSyntax: UID.Verification, transferSyntaxes: [] };
void _ctx;
