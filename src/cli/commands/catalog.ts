/**
 * The data medsurface judges with: `checks list|show`, `fingerprints stats|import`, and
 * `vulndb import|stats|lookup` (the offline vulnerability database).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { loadChecks } from '../../checks/index.js';
import { UsageError } from '../../core/errors.js';
import { clearFingerprintDbCache, defaultUserFingerprintDir, importRecogFile, loadFingerprintDb } from '../../fingerprints/index.js';
import { defaultInventoryPath } from '../../inventory/index.js';
import { makeTable } from '../../output/writer.js';
import { VulnDb, importVulnFile } from '../../vuln/index.js';

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};

/** Imported vulnerability data lives beside the default inventory (`<data dir>/vulndb/`). */
export function vulnDataDir(): string {
  return path.dirname(defaultInventoryPath());
}

export function registerCatalog(program: Command): void {
  const checks = program.command('checks').description('the checks that turn observations into findings');
  checks
    .command('list')
    .description('every check: id, severity, profile, title')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) => {
      const defs = loadChecks();
      if (o.json) return out(JSON.stringify(defs.map((d) => ({ id: d.id, severity: d.info.severity, profile: d.profile, protocol: d.protocol, title: d.info.name })), null, 2));
      const t = makeTable(['id', 'severity', 'profile', 'protocol', 'title']);
      for (const d of defs) t.push([d.id, d.info.severity, d.profile, d.protocol, d.info.name]);
      out(t.toString());
      out(`${defs.length} checks; CVE findings come from the vulnerability database (medsurface vulndb stats).`);
    });
  checks
    .command('show')
    .description('one check: description, remediation, references, what it matches')
    .argument('<id>')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) => {
      const d = loadChecks().find((c) => c.id === id);
      if (!d) throw new UsageError(`no check "${id}" (medsurface checks list)`);
      if (o.json) return out(JSON.stringify(d, null, 2));
      out(`${d.id} [${d.info.severity}, profile ${d.profile}, protocol ${d.protocol}]\n${d.info.name}\n`);
      out(`${d.info.description.trim()}\n\nRemediation:\n${d.info.remediation.trim()}\n\nReferences:\n${d.info.references.map((r) => `  ${r}`).join('\n')}`);
    });

  const fp = program.command('fingerprints').description('the fingerprint database');
  fp.command('stats')
    .description('rules by field and by source kind; products and device types covered; user packs')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) => {
      const db = loadFingerprintDb();
      const byField: Record<string, number> = {};
      const bySource: Record<string, number> = { fixture: 0, document: 0, import: 0 };
      const products = new Set<string>();
      const vendors = new Set<string>();
      const deviceTypes = new Set<string>();
      let examples = 0;
      let hints = 0;
      for (const r of db.rules) {
        byField[r.field] = (byField[r.field] ?? 0) + 1;
        if (r.hint) hints++;
        for (const e of r.examples) {
          examples++;
          const kind = 'fixture' in e.source ? 'fixture' : 'import' in e.source ? 'import' : 'document';
          bySource[kind] = (bySource[kind] ?? 0) + 1;
        }
        if (r.outputs.product) products.add(r.outputs.product);
        if (r.outputs.vendor) vendors.add(r.outputs.vendor);
        if (r.outputs.deviceType) deviceTypes.add(r.outputs.deviceType);
      }
      const packs = db.packs.map((dir) => ({ dir, rules: db.rules.filter((r) => r.pack === dir).length }));
      const stats = {
        version: db.version,
        rules: db.rules.length,
        hintRules: hints,
        examples,
        examplesBySource: bySource,
        rulesByField: byField,
        products: [...products].sort(),
        vendors: vendors.size,
        deviceTypes: [...deviceTypes].sort(),
        userPacks: packs,
      };
      if (o.json) return out(JSON.stringify(stats, null, 2));
      out(
        `fingerprint db ${stats.version}: ${stats.rules} rules (${hints} device-type hints), ${examples} examples (${bySource.fixture} from fixtures captured from real peers, ${bySource.document} from public documents, ${bySource.import} from imported packs)`,
      );
      const t = makeTable(['field', 'rules']);
      for (const [f, n] of Object.entries(byField).sort()) t.push([f, String(n)]);
      out(t.toString());
      out(`${products.size} products, ${vendors.size} vendors, ${deviceTypes.size} device types: ${stats.deviceTypes.join(', ')}`);
      out(`products: ${stats.products.join(', ')}`);
      out(packs.length ? `user packs: ${packs.map((p) => `${p.dir} (${p.rules} rules)`).join(', ')}` : 'user packs: none');
    });
  fp.command('import')
    .description('import a Rapid7 Recog fingerprint file (XML) as a user pack; every fingerprint is self-tested against its own examples')
    .argument('<file>', 'Recog XML file (e.g. xml/http_servers.xml of rapid7/recog)')
    .option('--out <dir>', 'user fingerprint folder to write the pack to (default: $XDG_CONFIG_HOME/medsurface/fingerprints)')
    .option('--json', 'JSON output')
    .action((file: string, o: { out?: string; json?: boolean }) => {
      const outDir = o.out ?? defaultUserFingerprintDir();
      const s = importRecogFile(file, { outDir });
      clearFingerprintDbCache();
      if (o.json) return out(JSON.stringify(s, null, 2));
      if (!s.field) {
        out(`${file}: Recog field "${s.matches}" has no observation field in medsurface; ${s.fingerprints} fingerprints skipped, nothing written.`);
        process.exitCode = 1;
        return;
      }
      out(`${file} (Recog ${s.matches} -> ${s.field}): ${s.imported} of ${s.fingerprints} fingerprints imported, ${s.rejected.length} rejected${s.droppedExamples ? `, ${s.droppedExamples} examples could not be tested and were dropped` : ''}`);
      if (s.rejected.length) {
        out('rejected:');
        for (const r of s.rejected) out(`  #${r.fingerprint} ${r.description.slice(0, 60)}: ${r.reason}`);
      }
      const unmapped = Object.entries(s.unmappedParams).sort((a, b) => b[1] - a[1]);
      if (unmapped.length) out(`params with no medsurface output (kept out of the identification): ${unmapped.map(([k, n]) => `${k} (${n})`).join(', ')}`);
      out(s.outFile ? `written: ${s.outFile}${o.out ? ' (load it with MEDSURFACE_FINGERPRINTS_DIR unless it is the default folder)' : ''}` : 'nothing written (no fingerprint passed its self-test)');
      if (!s.outFile) process.exitCode = 1;
    });

  const vdb = program.command('vulndb').description('the offline vulnerability database (curated set + NVD, KEV and CSAF imports)');
  vdb
    .command('import')
    .description('import NVD CVE JSON 2.0 feeds (.json, .json.gz), the CISA KEV catalogue, or CSAF 2.0 advisories')
    .argument('<files...>')
    .option('--data-dir <dir>', 'where imported data is kept (default: the inventory data directory)')
    .action(async (files: string[], o: { dataDir?: string }) => {
      const dir = o.dataDir ?? vulnDataDir();
      for (const f of files) {
        const s = await importVulnFile(f, dir);
        out(`${f}: ${s.kind}, ${s.records} records stored, ${s.rejected} rejected${s.unindexed ? `, ${s.unindexed} not analysed by NVD yet (not indexed)` : ''}`);
        for (const e of s.errors) out(`  ${e}`);
      }
      out('Re-evaluate stored services without rescanning: the next scan applies the new data.');
    });
  vdb
    .command('stats')
    .description('what the database holds')
    .option('--data-dir <dir>')
    .action((o: { dataDir?: string }) => {
      const s = new VulnDb({ dataDir: o.dataDir ?? vulnDataDir() }).stats();
      out(`curated CVEs ${s.curated}, CSAF advisories ${s.csaf}, KEV entries ${s.kev}, imported NVD vendors ${s.importedVendors}`);
    });
  vdb
    .command('lookup')
    .description('known CVEs of a product version, as a scan would report them')
    .argument('<product>', 'product name as fingerprints name it (Orthanc, DCMTK, Mirth Connect, ...)')
    .argument('<version>', 'version string (3.6.7, 1.10.1+dfsg-2+deb12u1, ...)')
    .option('--vendor <name>')
    .option('--data-dir <dir>')
    .option('--json', 'JSON output')
    .action((product: string, version: string, opts: { vendor?: string; dataDir?: string; json?: boolean }) => {
      const o = { ...opts, product, version };
      const db = new VulnDb({ dataDir: o.dataDir ?? vulnDataDir() });
      const hits = db.findVulnerabilities({ product: o.product, version: o.version, ...(o.vendor ? { vendor: o.vendor } : {}) });
      if (o.json) return out(JSON.stringify(hits, null, 2));
      if (hits.length === 0) return out(`no known CVE for ${o.product} ${o.version} in the database`);
      const t = makeTable(['cve', 'severity', 'cvss', 'kev', 'title']);
      for (const h of hits) t.push([h.id, h.severity, h.cvss ? `${h.cvss.score} (v${h.cvss.version})` : '-', h.kev ? 'yes' : '', h.title.slice(0, 70)]);
      out(t.toString());
      if (hits[0]?.backportNote) out(hits[0].backportNote);
      out('Matched by version string only (confidence "version"): distributions may have backported fixes.');
    });
}
