/**
 * The Markdown report: the same sections and figures as the HTML one, with tables where the
 * HTML draws charts, for tickets, wikis and e-mail. The TLP marking is in the front matter
 * (file metadata), on the first line of the text and at the end.
 *
 * Every inventory string is cleaned and Markdown-escaped (text.ts `md`), so a crafted banner
 * can neither break a table nor inject a link, an image or raw HTML.
 */
import { EVENT_KINDS } from '../core/events.js';
import { PROFILES, SEVERITIES } from '../core/types.js';
import { CVE_GROUP_REMEDIATION, isCveId, NEVER_SENT, PROFILE_TEXT } from './methodology.js';
import { clean, day, int, md, mdCell, pct, when } from './text.js';
import { tlpMarking } from './tlp.js';
import type { AssetDetail, Bucket, FindingDetail, ReportData, ServiceDetail } from './types.js';
import {
  attributionText,
  COUNTING_RULES,
  evidenceValue,
  findingState,
  firstFindings,
  honeypotText,
  identity,
  narrative,
  otherEvidence,
  SOURCE_TEXT,
  scopeText,
  shortState,
  TREND_LABELS,
  tlsText,
  trendText,
} from './wording.js';

type Cell = string | number;

function table(head: string[], rows: Cell[][], numeric: number[] = []): string[] {
  const align = head.map((_, i) => (numeric.includes(i) ? '---:' : '---'));
  const line = (cells: Cell[]) => `| ${cells.map((c) => (typeof c === 'number' ? int(c) : c)).join(' | ')} |`;
  if (rows.length === 0) return [line(head), `| ${align.join(' | ')} |`, line(head.map((_, i) => (i === 0 ? 'none' : '')))];
  return [line(head), `| ${align.join(' | ')} |`, ...rows.map(line)];
}

function bucketTable(label: string, rows: Bucket[], total: number): string[] {
  return table([label, 'systems', 'share'], rows.map((r) => [mdCell(r.key), r.count, pct(r.count, total)]), [1, 2]);
}

function frontMatter(data: ReportData): string[] {
  const tlp = tlpMarking(data.meta.tlp);
  // JSON strings are valid YAML double-quoted scalars.
  return [
    '---',
    `title: ${JSON.stringify(clean(data.meta.title, 200))}`,
    `tlp: ${JSON.stringify(tlp.label)}`,
    `generated: ${JSON.stringify(data.meta.generatedAt)}`,
    `generator: ${JSON.stringify(`medsurface ${data.meta.toolVersion}`)}`,
    '---',
    '',
  ];
}

function header(data: ReportData): string[] {
  const tlp = tlpMarking(data.meta.tlp);
  return [
    `**${tlp.label}**: ${md(tlp.meaning, 300)}`,
    '',
    `# ${md(data.meta.title, 200)}`,
    '',
    ...table(
      ['', ''],
      [
        ['Generated', md(`${when(data.meta.generatedAt)} by medsurface ${data.meta.toolVersion} (check database ${data.meta.checksDbVersion})`, 200)],
        ['Scope', md(scopeText(data), 400)],
        ['Honeypots', md(honeypotText(data), 300)],
        ['Inventory', `${data.meta.inventoryKind === 'postgres' ? 'PostgreSQL' : 'SQLite'}, ${int(data.methodology.runs.length + data.methodology.runsOmitted)} scan run(s) observed the systems in scope`],
      ],
    ),
    '',
  ];
}

function summary(data: ReportData): string[] {
  const s = data.summary;
  const out = [
    '## 1. Executive summary',
    '',
    ...table(
      ['measure', 'value'],
      [
        ['exposed systems', s.assets],
        ['exposed services', s.services],
        [`records reachable without credentials (${int(s.servicesWithRecords)} service(s))`, s.recordsReachable],
        ['critical findings open', s.bySeverity.critical],
        ['high findings open', s.bySeverity.high],
        ['open findings in all', s.openFindings],
      ],
      [1],
    ),
    '',
  ];
  for (const p of narrative(data)) out.push(md(p, 600), '');
  out.push('### Trend since the previous report', '');
  if (data.trend === null) out.push(md(data.trendNote ?? '', 300), '');
  else {
    const t = data.trend;
    out.push(md(trendText(data), 400), '', ...table(['change', 'count'], EVENT_KINDS.map((k) => [TREND_LABELS[k], t.counts[k]]), [1]), '');
  }
  out.push('### Riskiest systems', '');
  out.push(
    ...table(
      ['address', 'system', 'device type', 'country', 'organisation', 'risk', 'open findings', 'highest'],
      data.topAssets.map((a) => [
        mdCell(a.ip),
        mdCell(identity(a.vendor, a.product)),
        mdCell(a.deviceType ?? 'unknown'),
        mdCell(a.country),
        mdCell(a.org),
        a.risk,
        a.openFindings,
        a.maxSeverity ?? 'none',
      ]),
      [5, 6],
    ),
    '',
  );
  return out;
}

function charts(data: ReportData): string[] {
  return [
    '## 2. Charts',
    '',
    'The HTML and PDF reports draw these as charts. The distributions by device type, country and product are tabulated in section 3.',
    '',
    '### Open findings by severity',
    '',
    ...table(['severity', 'open findings'], [...SEVERITIES].reverse().map((s) => [s, data.summary.bySeverity[s]]), [1]),
    '',
    '### Remediation over time (findings at the end of each run)',
    '',
    ...table(
      ['run', 'finished', 'open', 'resolved', 'unverified'],
      data.remediation.map((p) => [mdCell(p.runId), day(p.finishedAt), p.open, p.resolved, p.unverified]),
      [2, 3, 4],
    ),
    '',
  ];
}

function statistics(data: ReportData): string[] {
  const st = data.stats;
  const s = data.summary;
  return [
    '## 3. Statistics',
    '',
    `Figures as the published exposure studies give them, over the ${int(s.assets)} exposed system(s) and ${int(s.services)} service(s) in scope.`,
    '',
    ...table(
      ['measure', 'count', 'of', 'share'],
      [
        ['services using TLS', st.tls.withTls, st.tls.services, pct(st.tls.withTls, st.tls.services)],
        ['DICOM services accepting any called AE title (dicom-any-ae)', st.dicomAnyAe.anyAe, st.dicomAnyAe.dicomServices, pct(st.dicomAnyAe.anyAe, st.dicomAnyAe.dicomServices)],
        ['services answering a credential-less record count', st.records.services, s.services, pct(st.records.services, s.services)],
        ['records reachable without credentials', st.records.total, '', ''],
      ],
      [1, 2, 3],
    ),
    '',
    '### Exposed systems by country',
    '',
    ...bucketTable('country', st.byCountry, s.assets),
    '',
    '### Exposed systems by device type',
    '',
    ...bucketTable('device type', st.byDeviceType, s.assets),
    '',
    '### Exposed systems by product',
    '',
    ...bucketTable('product', st.byProduct, s.assets),
    '',
    '### Services by protocol and TLS',
    '',
    ...table(
      ['protocol', 'services', 'with TLS', 'TLS share'],
      st.tls.byProtocol.map((r) => [mdCell(r.protocol), r.services, r.withTls, pct(r.withTls, r.services)]),
      [1, 2, 3],
    ),
    '',
    '### Records reachable without credentials, by source',
    '',
    ...table(['source', 'services', 'records'], st.records.bySource.map((r) => [SOURCE_TEXT[r.source], r.services, r.records]), [1, 2]),
    '',
    'Counts only: the intrusive profile\'s count queries report how many records an unauthenticated caller could list; no record was read and no patient value was kept. Per service the largest of its counts is summed.',
    '',
  ];
}

function evidenceTable(f: FindingDetail): string[] {
  if (f.evidence.length === 0) return [];
  return [...table(['evidence', 'value'], f.evidence.map((e) => [mdCell(e.key), mdCell(e.value)])), ''];
}

function serviceFindings(s: ServiceDetail, first: ReturnType<typeof firstFindings>): string[] {
  if (s.findings.length === 0) return [];
  const out = [`#### Findings on port ${s.port} (${md(s.protocol ?? 'unidentified')})`, ''];
  for (const f of s.findings.filter((x) => !isCveId(x.checkId))) {
    out.push(`**[${f.severity}] ${md(f.checkId)}: ${md(f.title)}** (${md(findingState(f))}; finding id ${f.id})`, '');
    out.push(...evidenceTable(f));
    const ref = first.get(f.checkId);
    out.push(
      ref === undefined || ref.id === f.id
        ? `Remediation: ${md(f.remediation, 4000)}`
        : `Remediation: as for ${md(f.checkId)} on ${md(ref.ip)} (finding id ${ref.id}) above.`,
      '',
    );
  }
  const cves = s.findings.filter((x) => isCveId(x.checkId));
  if (cves.length > 0) {
    out.push(`${cves.length} known vulnerabilit${cves.length === 1 ? 'y' : 'ies'} of ${md(identity(s.vendor, s.product))} ${md(s.version)} (matched by version):`, '');
    out.push(
      ...table(
        ['CVE', 'severity', 'CVSS', 'KEV', 'title', 'state', 'evidence', 'finding id'],
        cves.map((f) => [
          mdCell(f.checkId),
          f.severity,
          mdCell(evidenceValue(f, 'cvss')),
          evidenceValue(f, 'kev') === 'true' ? 'yes' : 'no',
          mdCell(f.title),
          mdCell(shortState(f)),
          mdCell(otherEvidence(f), 300),
          f.id,
        ]),
      ),
      '',
      `Remediation: ${md(CVE_GROUP_REMEDIATION, 1000)}`,
      '',
    );
  }
  return out;
}

function asset(a: AssetDetail, first: ReturnType<typeof firstFindings>): string[] {
  const host = a.hostname ? ` (${md(a.hostname)})` : '';
  const facts: [string, string][] = [
    ['Device type', mdCell(a.deviceType ?? 'unknown')],
    ['Risk', `${a.risk} / 100${a.maxSeverity ? `, highest open finding ${a.maxSeverity}` : ''}`],
    ['Attribution', mdCell(attributionText(a))],
  ];
  if (a.owner || a.criticality) facts.push(['Owner', `${mdCell(a.owner)}${a.criticality ? ` (criticality ${md(a.criticality)})` : ''}`]);
  if (a.tags.length > 0) facts.push(['Tags', a.tags.map((t) => md(t, 60)).join(', ')]);
  facts.push(['Seen', `${when(a.firstSeen)} to ${when(a.lastSeen)}`]);
  if (a.honeypot) facts.push(['Honeypot', 'judged a honeypot or decoy (included on request)']);
  const out = [`### ${md(a.ip)}${host}: ${md(identity(a.vendor, a.product))}`, '', ...table(['', ''], facts), ''];
  out.push(
    ...table(
      ['port', 'protocol', 'product', 'version', 'device type', 'TLS', 'risk', 'records', 'status'],
      a.serviceDetails.map((s) => [
        s.port,
        mdCell(s.protocol),
        mdCell(identity(s.vendor, s.product)),
        mdCell(s.version),
        mdCell(s.deviceType),
        mdCell(tlsText(s.tls)),
        s.risk,
        s.records,
        mdCell(s.status),
      ]),
      [0, 6, 7],
    ),
    '',
  );
  for (const s of a.serviceDetails) out.push(...serviceFindings(s, first));
  return out;
}

function assets(data: ReportData): string[] {
  const out = ['## 4. Systems in detail', ''];
  if (data.assets.length === 0) out.push('No system in scope.', '');
  const first = firstFindings(data);
  for (const a of data.assets) out.push(...asset(a, first));
  if (data.assetsOmitted > 0) {
    out.push(
      `${int(data.assetsOmitted)} further system(s) in scope are not detailed here (the riskiest are shown first; narrow the report with --query or --org, or raise --max-assets).`,
      '',
    );
  }
  return out;
}

function methodology(data: ReportData): string[] {
  const m = data.methodology;
  const out = [
    '## 5. Methodology and scope',
    '',
    '### Scope',
    '',
    md(scopeText(data), 400),
    '',
    md(honeypotText(data), 300),
    '',
    '### How the figures are counted',
    '',
    ...COUNTING_RULES.map((r) => `- ${md(r, 400)}`),
    '',
    '### Profiles',
    '',
    `Runs covered used the profile(s): **${m.profiles.map((p) => md(p)).join(', ') || 'none'}**.`,
    '',
    ...PROFILES.map((p) => `- **${p}**: ${md(PROFILE_TEXT[p], 400)}`),
    '',
    `Never sent, in any profile: ${md(NEVER_SENT, 300)}`,
    '',
    '### What each probe sends',
    '',
    ...table(
      ['probe', 'default ports', 'actions (profile)'],
      m.probes.map((p) => [
        `**${md(p.id)}**: ${md(p.title)}`,
        p.defaultPorts.join(', '),
        p.actions.map((a) => `\\[${a.profile}\\] ${md(a.description, 300)}`).join('; '),
      ]),
    ),
    '',
    '### Scan runs covered',
    '',
  ];
  if (m.runs.length === 0) out.push('No scan run observed the systems in scope.', '');
  else {
    out.push(
      ...table(
        ['run', 'started', 'finished', 'state', 'profile', 'targets'],
        m.runs.map((r) => [
          mdCell(r.id),
          when(r.startedAt),
          when(r.finishedAt) || '-',
          mdCell(r.state),
          mdCell(r.profile),
          `${r.targets.map((t) => md(t, 80)).join(', ')}${r.targetsOmitted > 0 ? ` and ${r.targetsOmitted} more` : ''} (${int(r.totalTargets)} addresses)`,
        ]),
      ),
      '',
    );
    if (m.runsOmitted > 0) out.push(`${int(m.runsOmitted)} earlier run(s) are not listed.`, '');
  }
  return out;
}

function appendix(data: ReportData): string[] {
  const cves = data.checks.filter((c) => c.kind === 'cve');
  const out = [
    '## Appendix: checks',
    '',
    `Every check of the check database ${md(data.meta.checksDbVersion)}, and the other finding ids present in scope. "Open" counts the open, untriaged findings in scope.`,
    '',
    ...table(
      ['id', 'severity', 'title', 'description', 'open'],
      data.checks.filter((c) => c.kind !== 'cve').map((c) => [mdCell(c.id), c.severity, mdCell(c.title), md(c.description, 4000), c.open]),
      [4],
    ),
    '',
  ];
  if (cves.length > 0) {
    out.push(
      '### Known vulnerabilities found (matched by product version)',
      '',
      ...table(['id', 'severity', 'title', 'open'], cves.map((c) => [mdCell(c.id), c.severity, mdCell(c.title), c.open]), [3]),
      '',
    );
  }
  return out;
}

/** The report as one Markdown document. */
export function renderMarkdown(data: ReportData): string {
  const tlp = tlpMarking(data.meta.tlp);
  const lines = [
    ...frontMatter(data),
    ...header(data),
    ...summary(data),
    ...charts(data),
    ...statistics(data),
    ...assets(data),
    ...methodology(data),
    ...appendix(data),
    `**${tlp.label}**: ${md(tlp.meaning, 300)}`,
    '',
    `medsurface ${data.meta.toolVersion}, ${when(data.meta.generatedAt)}. This report holds no patient data: only identities, findings, evidence facts and counts.`,
    '',
  ];
  return lines.join('\n');
}
