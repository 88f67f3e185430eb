import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../core/errors.js';
import {
  DO,
  DONT,
  IAC,
  SB,
  SE,
  TELNET_LIMITS,
  type TelnetCommand,
  TelnetDecoder,
  WILL,
  WONT,
  bannerOf,
  binaryShare,
  cleanBanner,
  detectPrompt,
  encodeCommands,
  escapeData,
  formatNegotiation,
} from './parse.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

/** Decodes a whole stream in chunks of the given sizes (cycled). */
function decodeAll(buf: Buffer, sizes: number[] = [buf.length || 1]) {
  const d = new TelnetDecoder();
  const text: Buffer[] = [];
  const commands: TelnetCommand[] = [];
  const reply: Buffer[] = [];
  let at = 0;
  let i = 0;
  while (at < buf.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    const out = d.decode(buf.subarray(at, at + n));
    at += n;
    text.push(out.text);
    commands.push(...out.commands);
    reply.push(out.reply);
  }
  return { decoder: d, text: Buffer.concat(text), commands, reply: Buffer.concat(reply) };
}

const VERB_ARB = fc.constantFrom<TelnetCommand['verb']>('WILL', 'WONT', 'DO', 'DONT');

describe('telnet parse: GNU inetutils telnetd 2.4 (captured)', () => {
  const buf = fixture('inetutils-telnetd.bin');

  test('options are refused (WONT for DO, DONT for WILL), each once, and the text is the login banner', () => {
    const r = decodeAll(buf);
    assert.ok(r.decoder.iacSeen);
    assert.equal(
      formatNegotiation(r.commands),
      // The three rounds before the host line, then WILL 3 and WILL 1 again just before "login:".
      'WILL 37 WILL 38 DO 24 DO 32 DO 35 DO 39 DO 36 WILL 3 DO 1 DO 34 DO 31 WILL 5 DO 33 WILL 1 DO 6 DO 0 WILL 3 WILL 1',
    );
    const { banner } = bannerOf(r.text);
    assert.match(banner, /^Linux \S+ \([^)]*\) \(pts\/\d+\)\n\n\S+ login:$/);
    assert.equal(detectPrompt(banner), 'login');
    // 18 requests seen, the repeated WILL 3 and WILL 1 after the login banner are already answered: 16 replies.
    assert.equal(r.reply.length / 3, 16);
    for (let i = 0; i < r.reply.length; i += 3) {
      assert.equal(r.reply[i], IAC);
      assert.ok(r.reply[i + 1] === WONT || r.reply[i + 1] === DONT);
    }
  });

  test('the same stream split at every byte decodes to the same text, commands and replies', () => {
    const whole = decodeAll(buf);
    for (const sizes of [[1], [2], [3, 1, 7], [5, 13]]) {
      const split = decodeAll(buf, sizes);
      assert.deepEqual(split.commands, whole.commands);
      assert.deepEqual(split.text, whole.text);
      assert.deepEqual(split.reply, whole.reply);
    }
  });
});

describe('telnet parse: RFC 854 command structure', () => {
  test('round trip: commands and escaped data come back as sent, in order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ verb: VERB_ARB, option: fc.integer({ min: 0, max: 255 }) }).map((c) => ({ kind: 'cmd' as const, c: { ...c } })),
            fc.uint8Array({ minLength: 1, maxLength: 20 }).map((d) => ({ kind: 'data' as const, d: Buffer.from(d) })),
          ),
          { maxLength: 30 },
        ),
        (parts) => {
          const wire = Buffer.concat(parts.map((p) => (p.kind === 'cmd' ? encodeCommands([p.c]) : escapeData(p.d))));
          const r = decodeAll(wire, [1, 3, 7]);
          assert.deepEqual(
            r.commands,
            parts.filter((p) => p.kind === 'cmd').map((p) => (p as { c: TelnetCommand }).c),
          );
          assert.deepEqual(r.text, Buffer.concat(parts.filter((p) => p.kind === 'data').map((p) => (p as { d: Buffer }).d)));
        },
      ),
    );
  });

  test('DO gets WONT, WILL gets DONT, WONT and DONT get nothing, each (verb, option) answered once', () => {
    const d = new TelnetDecoder();
    const out = d.decode(
      encodeCommands([
        { verb: 'DO', option: 24 },
        { verb: 'WILL', option: 1 },
        { verb: 'WONT', option: 3 },
        { verb: 'DONT', option: 5 },
        { verb: 'DO', option: 24 },
      ]),
    );
    assert.deepEqual([...out.reply], [IAC, WONT, 24, IAC, DONT, 1]);
    assert.deepEqual([...d.decode(encodeCommands([{ verb: 'DO', option: 24 }])).reply], []);
  });

  test('a server repeating new requests for ever gets at most TELNET_LIMITS.answers replies', () => {
    const d = new TelnetDecoder();
    let replies = 0;
    for (let i = 0; i < 10; i++) {
      const cmds: TelnetCommand[] = Array.from({ length: 256 }, (_, o) => ({ verb: i % 2 ? 'DO' : 'WILL', option: o }));
      replies += d.decode(encodeCommands(cmds)).reply.length / 3;
    }
    assert.equal(replies, TELNET_LIMITS.answers);
  });

  test('subnegotiations are skipped, bounded, and IAC IAC inside them does not end them', () => {
    const d = new TelnetDecoder();
    const sb = Buffer.from([IAC, SB, 24, 1, IAC, IAC, 7, IAC, SE, 0x41]);
    assert.deepEqual(d.decode(sb).text, Buffer.from('A'));
    const endless = Buffer.concat([Buffer.from([IAC, SB, 24]), Buffer.alloc(TELNET_LIMITS.subnegotiationBytes + 1, 0x61)]);
    assert.throws(() => new TelnetDecoder().decode(endless), ProtocolError);
  });

  test('other commands (NOP, GA, AYT, a stray SE) carry no data and get no answer', () => {
    const d = new TelnetDecoder();
    const out = d.decode(Buffer.from([IAC, 241, 0x41, IAC, 249, IAC, 246, IAC, SE, 0x42]));
    assert.equal(out.text.toString(), 'AB');
    assert.equal(out.reply.length, 0);
    assert.equal(d.iacSeen, false);
  });

  test('negotiation text is bounded to TELNET_LIMITS.recordedCommands commands', () => {
    const many: TelnetCommand[] = Array.from({ length: 100 }, (_, i) => ({ verb: 'DO', option: i }));
    assert.equal(formatNegotiation(many).split(' ').length, 2 * TELNET_LIMITS.recordedCommands);
  });
});

describe('telnet parse: banner and prompts', () => {
  test('control characters and escape sequences are removed, newlines normalised', () => {
    assert.equal(cleanBanner('a\r\nb\r\0c\rd\n\re\tf\x1b[31mg\x07\xff'), 'a\nb\nc\nd\ne f[31mg');
    assert.equal(cleanBanner('x\n\n\n\n\ny'), 'x\n\ny');
  });

  test('the banner is trimmed and bounded to 512 characters', () => {
    assert.deepEqual(bannerOf('\r\n\r\n  hello  \r\n'), { banner: 'hello', truncated: false });
    const long = bannerOf('A'.repeat(5000));
    assert.equal(long.banner.length, TELNET_LIMITS.bannerChars);
    assert.equal(long.truncated, true);
  });

  test('prompts seen on real devices', () => {
    const cases: [string, ReturnType<typeof detectPrompt>][] = [
      ['Debian GNU/Linux 12\nvm login:', 'login'],
      ['User Access Verification\n\nUsername:', 'login'],
      ['User Access Verification\n\nPassword:', 'password'],
      ['Password :', 'password'],
      ["BusyBox v1.22.1 (2014-09-20) built-in shell (ash)\nEnter 'help' for a list of built-in commands.\n\n#", 'shell'],
      ['root@OpenWrt:/#', 'shell'],
      ['/bin #', 'shell'],
      ['Router>', 'shell'],
      ['sh-5.1$', 'shell'],
      ['Welcome to the service', null],
      ['Loading 100%', null],
      ['Linux 6.1.0 (host) (pts/0)', null],
      ['', null],
    ];
    for (const [banner, want] of cases) assert.equal(detectPrompt(banner), want, banner);
  });

  test('binary share: zero for text, high for random bytes', () => {
    assert.equal(binaryShare(Buffer.from('login: \r\n\x1b[0m')), 0);
    assert.ok(binaryShare(Buffer.from([0x80, 0x81, 0x01, 0x02, 0x41])) > 0.5);
  });
});

describe('telnet parse: arbitrary bytes never throw anything but ProtocolError', () => {
  test('decoder, banner, prompt', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), fc.integer({ min: 1, max: 64 }), (arr, step) => {
        const b = Buffer.from(arr);
        try {
          const r = decodeAll(b, [step]);
          const { banner } = bannerOf(r.text);
          assert.ok(banner.length <= TELNET_LIMITS.bannerChars);
          assert.doesNotMatch(banner, /[^\n\x20-\x7e]/);
          detectPrompt(banner);
          assert.ok(r.reply.length / 3 <= TELNET_LIMITS.answers);
        } catch (err) {
          if (!(err instanceof ProtocolError)) assert.fail(`unexpected ${(err as Error).name}: ${(err as Error).message}`);
        }
      }),
      { numRuns: 1500 },
    );
  });

  test('prompt detection is fast on pathological lines', () => {
    const started = Date.now();
    for (const s of ['a'.repeat(100_000), ` ${'/'.repeat(100_000)}#x`, `${'a:'.repeat(50_000)}`, '#'.repeat(100_000)]) detectPrompt(bannerOf(s).banner);
    assert.ok(Date.now() - started < 500);
  });
});

describe('telnet parse: constants', () => {
  test('RFC 854 codes', () => {
    assert.deepEqual([IAC, DONT, DO, WONT, WILL, SB, SE], [255, 254, 253, 252, 251, 250, 240]);
  });
});
