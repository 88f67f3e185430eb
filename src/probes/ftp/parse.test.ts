import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import {
  FTP_LIMITS,
  type FtpReply,
  encodeCommand,
  encodeReply,
  featuresOfferTls,
  parseFeatures,
  parseReply,
  replyMessage,
  replyText,
} from './parse.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

/** All complete replies in a captured server stream. */
function replies(buf: Buffer): FtpReply[] {
  const out: FtpReply[] = [];
  let rest = buf;
  for (;;) {
    const r = parseReply(rest);
    if (!r) break;
    out.push(r);
    rest = rest.subarray(r.bytes);
  }
  assert.equal(rest.length, 0, 'the capture ends on a reply boundary');
  return out;
}

describe('ftp parse: vsftpd 3.0.3 sessions (captured)', () => {
  test('vsftpd-anon: greeting, FEAT without AUTH TLS, SYST before login, anonymous accepted, QUIT', () => {
    const r = replies(fixture('vsftpd-anon-session.bin'));
    assert.deepEqual(
      r.map((x) => x.code),
      [220, 211, 530, 331, 230, 221],
    );
    assert.equal(replyText(r[0]!), '220 (vsFTPd 3.0.3)');
    const features = parseFeatures(r[1]!);
    assert.deepEqual(features, ['EPRT', 'EPSV', 'MDTM', 'PASV', 'REST STREAM', 'SIZE', 'TVFS']);
    assert.equal(featuresOfferTls(features), false);
    assert.equal(replyMessage(r[2]!, FTP_LIMITS.systChars), 'Please login with USER and PASS.');
  });

  test('vsftpd-closed: FEAT lists AUTH TLS (RFC 4217), anonymous refused with 530', () => {
    const r = replies(fixture('vsftpd-closed-session.bin'));
    assert.deepEqual(
      r.map((x) => x.code),
      [220, 211, 530, 331, 530, 221],
    );
    const features = parseFeatures(r[1]!);
    assert.ok(features.includes('AUTH TLS'));
    assert.ok(features.includes('PBSZ') && features.includes('PROT'));
    assert.equal(featuresOfferTls(features), true);
  });

  test('every prefix of a capture is "need more" or a reply, never an error', () => {
    for (const f of ['vsftpd-anon-session.bin', 'vsftpd-closed-session.bin']) {
      const buf = fixture(f);
      for (let i = 0; i <= buf.length; i++) {
        const r = parseReply(buf.subarray(0, i));
        if (r) assert.ok(r.bytes <= i);
      }
    }
  });
});

describe('ftp parse: RFC 959 §4.2 replies', () => {
  const line = fc.string({ unit: fc.constantFrom(...'abc XYZ0129.-()[]:'.split('')), maxLength: 40 });

  test('round trip of single and multi-line replies', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.array(line, { minLength: 1, maxLength: 20 }), (code, lines) => {
        // Inner lines must not look like the closing line: RFC 959 lets them be anything else.
        const safe = lines.map((l, i) => (i > 0 && i < lines.length - 1 ? ` ${l}` : l));
        const wire = encodeReply(code, safe);
        const r = parseReply(wire);
        assert.ok(r);
        assert.equal(r.code, code);
        assert.equal(r.bytes, wire.length);
        assert.equal(r.lines.length, safe.length);
      }),
    );
  });

  test('inner lines that begin with other codes do not end a multi-line reply (RFC 959 §4.2 example)', () => {
    const wire = Buffer.from('123-First line\r\nSecond line\r\n  234 A line beginning with numbers\r\n123 The last line\r\n');
    const r = parseReply(wire);
    assert.ok(r);
    assert.equal(r.lines.length, 4);
    assert.equal(r.bytes, wire.length);
  });

  test('bare LF line ends are accepted; the bare code ends a multi-line reply', () => {
    assert.deepEqual(parseReply(Buffer.from('220 ok\n'))?.lines, ['220 ok']);
    assert.equal(parseReply(Buffer.from('211-Features:\r\n UTF8\r\n211\r\n'))?.lines.length, 3);
  });

  test('incomplete replies ask for more', () => {
    assert.equal(parseReply(Buffer.from('220 (vsFTPd')), null);
    assert.equal(parseReply(Buffer.from('211-Features:\r\n UTF8\r\n')), null);
  });

  test('not FTP, overlong lines and endless multi-line replies are refused', () => {
    assert.throws(() => parseReply(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')), ProtocolError);
    assert.throws(() => parseReply(Buffer.from('999 no\r\n')), ProtocolError);
    assert.throws(() => parseReply(Buffer.alloc(FTP_LIMITS.lineBytes + 10, 0x41)), /longer than/);
    const endless = Buffer.from(`220-start\r\n${'220-more\r\n'.repeat(FTP_LIMITS.replyLines + 5)}`);
    assert.throws(() => parseReply(endless), /longer than 64 lines/);
  });

  test('kept text is printable and bounded', () => {
    const r = parseReply(Buffer.from(`220 ${'\x1b[31m'.repeat(3)}hi\x07 ${'x'.repeat(900)}\r\n`));
    assert.ok(r);
    const t = replyText(r);
    assert.ok(t.length <= FTP_LIMITS.bannerChars);
    assert.doesNotMatch(t, /[^\n\x20-\x7e]/);
    assert.equal(replyMessage(parseReply(Buffer.from('215 UNIX Type: L8\r\n'))!, 128), 'UNIX Type: L8');
  });
});

describe('ftp parse: FEAT (RFC 2389) and AUTH TLS (RFC 4217)', () => {
  test('features of a Microsoft IIS style list', () => {
    const r = parseReply(encodeReply(211, ['Extended features supported:', ' LANG EN*', ' UTF8', ' AUTH TLS;TLS-C;SSL;TLS-P;', ' PBSZ', ' PROT C;P;', ' CCC', 'END']));
    assert.ok(r);
    const f = parseFeatures(r);
    assert.deepEqual(f, ['LANG EN*', 'UTF8', 'AUTH TLS;TLS-C;SSL;TLS-P;', 'PBSZ', 'PROT C;P;', 'CCC']);
    assert.equal(featuresOfferTls(f), true);
  });

  test('AUTH with other mechanisms only is not TLS; no list is not TLS', () => {
    assert.equal(featuresOfferTls(['AUTH GSSAPI']), false);
    assert.equal(featuresOfferTls(['AUTH SSL']), true);
    assert.equal(featuresOfferTls(['AUTH TLS-C']), true);
    assert.equal(featuresOfferTls(['MDTM', 'SIZE']), false);
    assert.deepEqual(parseFeatures({ code: 500, lines: ['500 no'], bytes: 8 }), []);
  });

  test('the feature list is bounded', () => {
    const lines = ['Features:', ...Array.from({ length: 62 }, (_, i) => ` F${i}${'x'.repeat(200)}`), 'End'];
    const r = parseReply(encodeReply(211, lines));
    assert.ok(r);
    const f = parseFeatures(r);
    assert.ok(f.length <= FTP_LIMITS.features);
    assert.ok(f.every((x) => x.length <= FTP_LIMITS.featureChars));
  });
});

describe('ftp parse: commands', () => {
  test('commands are one CRLF-terminated line; arguments with line breaks are refused', () => {
    assert.equal(encodeCommand('FEAT').toString(), 'FEAT\r\n');
    assert.equal(encodeCommand('USER', 'anonymous').toString(), 'USER anonymous\r\n');
    assert.throws(() => encodeCommand('PASS', 'a\r\nDELE x'), ProtocolError);
    assert.throws(() => encodeCommand('list'), ProtocolError);
  });
});

describe('ftp parse: arbitrary bytes never throw anything but ProtocolError', () => {
  test('parseReply and the text helpers', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
          fc.array(fc.constantFrom('220-', '220 ', '211-', ' x', '\r\n', '\n', 'abc', '230 ', '2'), { maxLength: 300 }).map((a) => Buffer.from(a.join(''))),
        ),
        (b) => {
          try {
            const r = parseReply(b);
            if (r) {
              assert.ok(r.bytes <= b.length && r.lines.length <= FTP_LIMITS.replyLines);
              replyText(r);
              replyMessage(r, 100);
              featuresOfferTls(parseFeatures(r));
            }
          } catch (err) {
            if (!(err instanceof ProtocolError)) assert.fail(`unexpected ${(err as Error).name}: ${(err as Error).message}`);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
