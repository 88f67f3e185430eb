/**
 * The fingerprint database's self-test, mirroring rapid7/recog
 * spec/lib/fingerprint_self_test_spec.rb: every example matches its rule and extracts exactly
 * the values it lists; no earlier rule of the same file matches it first; the capture groups
 * are all named by params; every name comes from identifiers/*.txt; every example has a
 * source, and a fixture source exists and holds the example value.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEVICE_TYPES } from '../core/types.js';
import { applyRule, captureGroupCount, identify, knownField, loadFingerprintDb } from './engine.js';
import { defaultDbDir, defaultIdentifiersDir, packageRoot } from './package-root.js';
import { DbFile, DbIndex } from './schema.js';

// The built-in db alone: a user pack on the developer's machine must not change what is tested.
const db = loadFingerprintDb(defaultDbDir());

function identifiers(name: string): Set<string> {
  const text = readFileSync(path.join(defaultIdentifiersDir(), name), 'utf8');
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#')),
  );
}

describe('fingerprint db files', () => {
  const dir = defaultDbDir();
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'index.yaml');

  test('the db carries one version for the whole db (index.yaml)', () => {
    const index = DbIndex.parse(parseYaml(readFileSync(path.join(dir, 'index.yaml'), 'utf8')));
    assert.equal(db.version, index.version);
    assert.match(db.version, /^\d{4}\.\d{2}\.\d{2}/);
  });

  test('every file validates against the schema, and the schema has a JSON Schema form', () => {
    assert.ok(files.length >= 2);
    const json = z.toJSONSchema(DbFile, { io: 'input' });
    assert.equal(json.type, 'object');
    assert.ok(json.required?.includes('matches'));
    for (const f of files) {
      const r = DbFile.safeParse(parseYaml(readFileSync(path.join(dir, f), 'utf8')));
      assert.ok(r.success, `${f}: ${r.success ? '' : z.prettifyError(r.error)}`);
    }
  });

  test('every file matches a field that fieldsOf() can produce', () => {
    for (const rule of db.rules) assert.ok(knownField(rule.field), `${rule.id}: field ${rule.field} is not in FIELD_PATHS or DERIVED_FIELDS`);
  });

  test('rule ids are unique', () => {
    const ids = db.rules.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('fingerprint rules', () => {
  const vendors = identifiers('vendors.txt');
  const products = identifiers('products.txt');
  const deviceTypes = identifiers('device-types.txt');

  test('identifiers/device-types.txt is a subset of the DeviceType enum', () => {
    for (const t of deviceTypes) assert.ok((DEVICE_TYPES as readonly string[]).includes(t), t);
  });

  for (const rule of db.rules) {
    describe(`${rule.file} ${rule.id}`, () => {
      test('pattern is anchored and every capture group is named by a param', () => {
        assert.ok(rule.pattern.startsWith('^') && rule.pattern.endsWith('$'));
        const groups = captureGroupCount(rule.regex);
        assert.equal(groups, rule.params.filter((p) => p.pos > 0).length, 'capture groups vs params with pos > 0');
      });

      test('output names come from identifiers/*.txt', () => {
        const names = [rule.outputs, ...rule.examples.map((e) => e.expect)];
        for (const o of names) {
          if (o.vendor) assert.ok(vendors.has(o.vendor), `vendor "${o.vendor}" not in identifiers/vendors.txt`);
          if (o.product) assert.ok(products.has(o.product), `product "${o.product}" not in identifiers/products.txt`);
          if (o.deviceType) assert.ok(deviceTypes.has(o.deviceType), `deviceType "${o.deviceType}" not in identifiers`);
        }
      });

      rule.examples.forEach((ex, i) => {
        test(`example ${i + 1} (${ex.value}) matches and extracts exactly what it lists`, () => {
          const got = applyRule(rule, ex.value);
          assert.ok(got, `pattern ${rule.pattern} does not match ${ex.value}`);
          assert.deepEqual(got, ex.expect);
        });

        test(`example ${i + 1} is not matched first by an earlier rule of ${rule.file}`, () => {
          for (const earlier of db.rules) {
            if (earlier === rule) break;
            if (earlier.file !== rule.file) continue;
            assert.equal(applyRule(earlier, ex.value), null, `${earlier.id} matches this regex first`);
          }
          const id = identify({ [rule.field]: ex.value }, db);
          assert.deepEqual(id.rules, [rule.id]);
        });

        test(`example ${i + 1} names its source`, () => {
          const src = ex.source as { fixture?: string; url?: string; section?: string };
          // Imported sources belong to user packs; a built-in example names a fixture or a document.
          assert.ok(src.fixture || (src.url && src.section), 'an example needs a fixture or a url and a section');
          if (src.fixture) {
            const file = path.join(packageRoot(), src.fixture);
            assert.ok(existsSync(file), `fixture ${src.fixture} does not exist`);
            const bytes = readFileSync(file);
            assert.ok(bytes.includes(Buffer.from(ex.value, 'latin1')), `fixture ${src.fixture} does not contain ${ex.value}`);
          }
        });
      });
    });
  }
});

describe('identify() on hostile input', () => {
  const fields = [...new Set(db.rules.map((r) => r.field))];

  test('never throws and ignores what matches nothing', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        fc.oneof(fc.string({ maxLength: 2000 }), fc.string({ unit: 'binary', maxLength: 2000 }), fc.stringMatching(/^[0-9.]{0,300}$/)),
        (field, value) => {
          const id = identify({ [field]: value }, db);
          assert.ok(Array.isArray(id.rules));
          if (id.rules.length === 0) assert.deepEqual(Object.keys(id), ['rules']);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('runs in bounded time on huge and pathological values (input truncated to LIMITS.bannerBytes)', () => {
    const huge = [
      '1.'.repeat(5_000_000),
      `1.2.276.0.7230010.3.0.${'9'.repeat(1_000_000)}`,
      `${'1.2.826.0.1.3680043.2.1143.107.104.103.115.3.0.20'}${'.1'.repeat(500_000)}x`,
      `OFFIS_DCMTK_${'3'.repeat(2_000_000)}`,
      `dcm4che-5.31.0-${'a'.repeat(1_000_000)}`,
      '\u{1F600}'.repeat(1_000_000),
    ];
    const started = process.hrtime.bigint();
    for (const v of huge) for (const f of fields) identify({ [f]: v }, db);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  test('a value past the banner cap does not match (the cap applies before the regex)', () => {
    const id = identify({ 'dicom.implementationClassUid': `${' '.repeat(2000)}1.2.40.0.13.1.3` }, db);
    assert.deepEqual(id.rules, []);
  });
});
