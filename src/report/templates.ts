/**
 * The HTML report's templates (Eta, auto-escaping on) and its style sheet. Kept in code rather
 * than as .eta files so they ship with the compiled package. Every `<%= %>` is escaped; the
 * only raw insertions (`<%~ %>`) are the constant style sheet and the charts' SVG, which
 * charts.ts checks. Logic stays in html.ts: the templates loop and print.
 */

export const REPORT_CSS = `
:root { --ink: #111827; --muted: #4b5563; --rule: #d1d5db; --band: #f3f4f6; --accent: #1f4e79; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink); font-size: 10.5pt; line-height: 1.4; }
main, .report-header, .tlp-footer { max-width: 1000px; margin: 0 auto; padding: 0 16px; }
h1 { font-size: 20pt; margin: 12px 0 4px; color: var(--accent); }
h2 { font-size: 15pt; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--accent); color: var(--accent); }
h3 { font-size: 12pt; margin: 18px 0 6px; }
h4 { font-size: 10.5pt; margin: 12px 0 4px; }
p { margin: 6px 0; }
.muted { color: var(--muted); }
.tlp { display: inline-block; background: #000; font-weight: bold; font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; padding: 3px 10px; letter-spacing: 0.5px; }
.tlp-banner { display: flex; align-items: center; gap: 12px; background: #000; color: #fff; padding: 6px 16px; margin: 0; }
.tlp-banner .tlp { padding: 2px 0; }
.tlp-banner .tlp-meaning { font-size: 9pt; color: #e5e7eb; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 10px 0; font-size: 9.5pt; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.figures { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; margin: 12px 0; }
.figure { border: 1px solid var(--rule); border-left: 5px solid var(--accent); padding: 8px 10px; break-inside: avoid; }
.figure .value { font-size: 18pt; font-weight: bold; }
.figure .label { color: var(--muted); font-size: 9pt; }
.figure.sev-critical { border-left-color: #7f1d1d; }
.figure.sev-high { border-left-color: #dc2626; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 9.5pt; }
th, td { border: 1px solid var(--rule); padding: 3px 6px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: var(--band); }
td.num, th.num { text-align: right; white-space: nowrap; }
.nowrap { white-space: nowrap; overflow-wrap: normal; }
table.fixed { table-layout: fixed; }
table.checks, table.probes, table.cves-found { font-size: 8.5pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.sev { display: inline-block; min-width: 62px; text-align: center; color: #fff; font-size: 8.5pt; font-weight: bold; padding: 1px 6px; border-radius: 3px; }
.sev-critical .sev, .sev.sev-critical { background: #7f1d1d; }
.sev-high .sev, .sev.sev-high { background: #dc2626; }
.sev-medium .sev, .sev.sev-medium { background: #b45309; }
.sev-low .sev, .sev.sev-low { background: #2563eb; }
.sev-info .sev, .sev.sev-info { background: #6b7280; }
.sev.sev-none { background: #9ca3af; }
figure.chart { margin: 10px 0 18px; break-inside: avoid; }
figure.chart figcaption { font-weight: bold; margin-bottom: 4px; }
figure.chart svg { max-width: 100%; height: auto; }
.empty { color: var(--muted); font-style: italic; }
article.asset { border-top: 1px solid var(--rule); padding-top: 6px; margin-top: 14px; }
article.asset h3 { margin-top: 6px; }
.finding { border: 1px solid var(--rule); border-left: 5px solid #6b7280; margin: 6px 0; padding: 6px 8px; break-inside: avoid; }
.finding.sev-critical { border-left-color: #7f1d1d; }
.finding.sev-high { border-left-color: #dc2626; }
.finding.sev-medium { border-left-color: #b45309; }
.finding.sev-low { border-left-color: #2563eb; }
.finding.state-resolved, .finding.state-unverified, .finding.triaged { opacity: 0.8; border-left-style: dashed; }
.finding .head { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.finding .check { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 9pt; }
.finding .state { color: var(--muted); font-size: 9pt; }
.finding table { margin: 4px 0; }
.finding .remediation, .cves .remediation { margin: 4px 0 0; }
.cves { border: 1px solid var(--rule); border-left: 5px solid #dc2626; margin: 6px 0; padding: 6px 8px; }
.cve-table, table.evidence { font-size: 8.5pt; }
.cve-table td, .cve-table th, table.evidence td, table.evidence th { padding: 1px 4px; }
.cve-table .sev { min-width: 0; }
.small { font-size: 8pt; }
table.services th, table.runs td:nth-child(4) { white-space: nowrap; }
table.evidence td:first-child { width: 42%; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 9pt; overflow-wrap: anywhere; }
ul.compact { margin: 4px 0; padding-left: 18px; }
.tlp-footer { margin-top: 30px; }
@media print {
  body { font-size: 9.5pt; }
  main, .report-header, .tlp-footer { max-width: none; padding: 0; }
  #charts, #assets, #methodology, #appendix { break-before: page; }
  h2, h3, h4 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
`;

const HEAD = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer">
<meta name="tlp" content="<%= it.tlp.label %>">
<meta name="generator" content="medsurface <%= it.meta.toolVersion %>">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><%= it.tlp.label %> | <%= it.meta.title %></title>
<style><%~ it.css %></style>
</head>
<body>
`;

const BANNER = `<div class="tlp-banner" data-tlp="<%= it.tlp.label %>"><span class="tlp" style="color: <%= it.tlp.colour %>"><%= it.tlp.label %></span><span class="tlp-meaning"><%= it.tlp.meaning %></span></div>
`;

const HEADER = `<header id="report-header" class="report-header" data-section="header">
<%~ include('@banner', it) %>
<h1><%= it.meta.title %></h1>
<dl class="meta">
<dt>Generated</dt><dd><%= it.f.when(it.meta.generatedAt) %> by medsurface <%= it.meta.toolVersion %> (check database <%= it.meta.checksDbVersion %>)</dd>
<dt>Scope</dt><dd><%= it.scopeText %></dd>
<dt>Honeypots</dt><dd><%= it.honeypotText %></dd>
<dt>Inventory</dt><dd><%= it.meta.inventoryKind === 'postgres' ? 'PostgreSQL' : 'SQLite' %>, <%= it.f.int(it.methodology.runs.length + it.methodology.runsOmitted) %> scan run(s) observed the systems in scope</dd>
</dl>
</header>
<main>
`;

const SUMMARY = `<section id="summary" data-section="summary">
<h2>1. Executive summary</h2>
<div class="figures">
<div class="figure" data-figure="assets"><div class="value"><%= it.f.int(it.summary.assets) %></div><div class="label">exposed systems</div></div>
<div class="figure" data-figure="services"><div class="value"><%= it.f.int(it.summary.services) %></div><div class="label">exposed services</div></div>
<div class="figure" data-figure="records"><div class="value"><%= it.f.int(it.summary.recordsReachable) %></div><div class="label">records reachable without credentials (<%= it.f.int(it.summary.servicesWithRecords) %> service(s))</div></div>
<div class="figure sev-critical" data-figure="critical"><div class="value"><%= it.f.int(it.summary.bySeverity.critical) %></div><div class="label">critical findings open</div></div>
<div class="figure sev-high" data-figure="high"><div class="value"><%= it.f.int(it.summary.bySeverity.high) %></div><div class="label">high findings open</div></div>
<div class="figure" data-figure="open-findings"><div class="value"><%= it.f.int(it.summary.openFindings) %></div><div class="label">open findings in all</div></div>
</div>
<% it.narrative.forEach(function (p) { %><p><%= p %></p>
<% }) %>
<h3>Trend since the previous report</h3>
<% if (it.trend) { %>
<p><%= it.trendText %></p>
<table class="trend"><thead><tr><th>change</th><th class="num">count</th></tr></thead><tbody>
<% it.trendRows.forEach(function (r) { %><tr data-kind="<%= r.kind %>"><td><%= r.label %></td><td class="num"><%= it.f.int(r.count) %></td></tr>
<% }) %></tbody></table>
<% } else { %><p class="empty"><%= it.trendNote %></p>
<% } %>
<h3>Riskiest systems</h3>
<% if (it.topAssets.length === 0) { %><p class="empty">No system in scope.</p><% } else { %>
<table class="top-assets"><thead><tr><th>address</th><th>system</th><th>device type</th><th class="nowrap">country</th><th>organisation</th><th class="num">risk</th><th class="num">open findings</th><th>highest</th></tr></thead><tbody>
<% it.topAssets.forEach(function (a) { %><tr><td class="mono nowrap"><a href="#<%= it.f.anchor(a.ip) %>"><%= a.ip %></a></td><td><%= it.f.identity(a.vendor, a.product) %></td><td><%= a.deviceType || 'unknown' %></td><td><%= a.country || '' %></td><td><%= it.f.clean(a.org) %></td><td class="num"><%= a.risk %></td><td class="num"><%= a.openFindings %></td><td><span class="sev sev-<%= a.maxSeverity || 'none' %>"><%= a.maxSeverity || 'none' %></span></td></tr>
<% }) %></tbody></table>
<% } %>
</section>
`;

const CHARTS = `<section id="charts" data-section="charts">
<h2>2. Charts</h2>
<% it.charts.forEach(function (c) { %><figure class="chart" id="<%= c.id %>"><figcaption><%= c.title %></figcaption>
<% if (c.svg) { %><%~ c.svg %><% } else { %><p class="empty">Nothing to show.</p><% } %>
</figure>
<% }) %>
</section>
`;

const BUCKET_TABLE = `<table class="buckets" data-table="<%= it.id %>"><thead><tr><th><%= it.label %></th><th class="num">systems</th><th class="num">share</th></tr></thead><tbody>
<% it.rows.forEach(function (r) { %><tr><td><%= it.f.clean(r.key) %></td><td class="num"><%= it.f.int(r.count) %></td><td class="num"><%= it.f.pct(r.count, it.total) %></td></tr>
<% }) %><% if (it.rows.length === 0) { %><tr><td colspan="3" class="empty">none</td></tr><% } %></tbody></table>
`;

const STATISTICS = `<section id="statistics" data-section="statistics">
<h2>3. Statistics</h2>
<p>Figures as the published exposure studies give them, over the <%= it.f.int(it.summary.assets) %> exposed system(s) and <%= it.f.int(it.summary.services) %> service(s) in scope.</p>
<table class="headline-stats"><thead><tr><th>measure</th><th class="num">count</th><th class="num">of</th><th class="num">share</th></tr></thead><tbody>
<tr data-stat="tls"><td>services using TLS</td><td class="num"><%= it.f.int(it.stats.tls.withTls) %></td><td class="num"><%= it.f.int(it.stats.tls.services) %></td><td class="num"><%= it.f.pct(it.stats.tls.withTls, it.stats.tls.services) %></td></tr>
<tr data-stat="dicom-any-ae"><td>DICOM services accepting any called AE title (dicom-any-ae)</td><td class="num"><%= it.f.int(it.stats.dicomAnyAe.anyAe) %></td><td class="num"><%= it.f.int(it.stats.dicomAnyAe.dicomServices) %></td><td class="num"><%= it.f.pct(it.stats.dicomAnyAe.anyAe, it.stats.dicomAnyAe.dicomServices) %></td></tr>
<tr data-stat="records-services"><td>services answering a credential-less record count</td><td class="num"><%= it.f.int(it.stats.records.services) %></td><td class="num"><%= it.f.int(it.summary.services) %></td><td class="num"><%= it.f.pct(it.stats.records.services, it.summary.services) %></td></tr>
<tr data-stat="records"><td>records reachable without credentials</td><td class="num"><%= it.f.int(it.stats.records.total) %></td><td class="num"></td><td class="num"></td></tr>
</tbody></table>
<h3>Exposed systems by country</h3>
<%~ include('@buckets', { id: 'country', label: 'country', rows: it.stats.byCountry, total: it.summary.assets, f: it.f }) %>
<h3>Exposed systems by device type</h3>
<%~ include('@buckets', { id: 'device-type', label: 'device type', rows: it.stats.byDeviceType, total: it.summary.assets, f: it.f }) %>
<h3>Exposed systems by product</h3>
<%~ include('@buckets', { id: 'product', label: 'product', rows: it.stats.byProduct, total: it.summary.assets, f: it.f }) %>
<h3>Services by protocol and TLS</h3>
<table class="tls" data-table="tls"><thead><tr><th>protocol</th><th class="num">services</th><th class="num">with TLS</th><th class="num">TLS share</th></tr></thead><tbody>
<% it.stats.tls.byProtocol.forEach(function (r) { %><tr><td><%= r.protocol %></td><td class="num"><%= it.f.int(r.services) %></td><td class="num"><%= it.f.int(r.withTls) %></td><td class="num"><%= it.f.pct(r.withTls, r.services) %></td></tr>
<% }) %></tbody></table>
<h3>Records reachable without credentials, by source</h3>
<table class="records" data-table="records"><thead><tr><th>source</th><th class="num">services</th><th class="num">records</th></tr></thead><tbody>
<% it.stats.records.bySource.forEach(function (r) { %><tr><td><%= it.sourceText[r.source] %></td><td class="num"><%= it.f.int(r.services) %></td><td class="num"><%= it.f.int(r.records) %></td></tr>
<% }) %></tbody></table>
<p class="muted">Counts only: the intrusive profile's count queries report how many records an unauthenticated caller could list; no record was read and no patient value was kept. Per service the largest of its counts is summed.</p>
</section>
`;

const FINDING = `<div class="finding sev-<%= it.x.severity %> state-<%= it.x.state %><%= it.x.userState ? ' triaged' : '' %>" id="finding-<%= it.x.id %>" data-check="<%= it.x.checkId %>">
<div class="head"><span class="sev"><%= it.x.severity %></span><span class="check"><%= it.x.checkId %></span><strong><%= it.f.clean(it.x.title) %></strong><span class="state"><%= it.f.findingState(it.x) %></span></div>
<% if (it.x.evidence.length > 0) { %><table class="evidence"><thead><tr><th>evidence</th><th>value</th></tr></thead><tbody>
<% it.x.evidence.forEach(function (e) { %><tr><td class="mono"><%= e.key %></td><td class="mono"><%= e.value %></td></tr>
<% }) %></tbody></table><% } %>
<% var first = it.f.firstOf(it.x); if (first === null) { %><p class="remediation"><strong>Remediation:</strong> <%= it.x.remediation %></p>
<% } else { %><p class="remediation"><strong>Remediation:</strong> as for <a href="#finding-<%= first.id %>"><%= first.checkId %> on <%= first.ip %></a> above.</p>
<% } %></div>
`;

const ASSETS = `<section id="assets" data-section="assets">
<h2>4. Systems in detail</h2>
<% if (it.assets.length === 0) { %><p class="empty">No system in scope.</p><% } %>
<% it.assets.forEach(function (a) { %><article class="asset" id="<%= it.f.anchor(a.ip) %>" data-ip="<%= a.ip %>">
<h3><span class="mono"><%= a.ip %></span><% if (a.hostname) { %> (<%= it.f.clean(a.hostname) %>)<% } %>: <%= it.f.identity(a.vendor, a.product) %></h3>
<dl class="meta">
<dt>Device type</dt><dd><%= a.deviceType || 'unknown' %></dd>
<dt>Risk</dt><dd><%= a.risk %> / 100<% if (a.maxSeverity) { %>, highest open finding <span class="sev sev-<%= a.maxSeverity %>"><%= a.maxSeverity %></span><% } %></dd>
<dt>Attribution</dt><dd><%= it.f.attribution(a) %></dd>
<% if (a.owner || a.criticality) { %><dt>Owner</dt><dd><%= it.f.clean(a.owner) || '-' %><% if (a.criticality) { %> (criticality <%= it.f.clean(a.criticality) %>)<% } %></dd><% } %>
<% if (a.tags.length > 0) { %><dt>Tags</dt><dd><%= a.tags.map(function (t) { return it.f.clean(t, 60); }).join(', ') %></dd><% } %>
<dt>Seen</dt><dd><%= it.f.when(a.firstSeen) %> to <%= it.f.when(a.lastSeen) %></dd>
<% if (a.honeypot) { %><dt>Honeypot</dt><dd>judged a honeypot or decoy (included on request)</dd><% } %>
</dl>
<table class="services"><thead><tr><th class="num">port</th><th>protocol</th><th>product</th><th>version</th><th>device type</th><th>TLS</th><th class="num">risk</th><th class="num">records</th><th>status</th></tr></thead><tbody>
<% a.serviceDetails.forEach(function (s) { %><tr><td class="num"><%= s.port %></td><td><%= s.protocol || '-' %></td><td><%= it.f.identity(s.vendor, s.product) %></td><td><%= it.f.clean(s.version) || '-' %></td><td><%= s.deviceType || '-' %></td><td><%= it.f.tls(s.tls) %></td><td class="num"><%= s.risk %></td><td class="num"><%= it.f.int(s.records) %></td><td><%= s.status %></td></tr>
<% }) %></tbody></table>
<% a.serviceDetails.forEach(function (s) { if (s.findings.length === 0) return; var checks = s.findings.filter(function (x) { return !it.f.isCve(x.checkId); }); var cves = s.findings.filter(function (x) { return it.f.isCve(x.checkId); }); %><h4>Findings on port <%= s.port %> (<%= s.protocol || 'unidentified' %>)</h4>
<% checks.forEach(function (x) { %><%~ include('@finding', { x: x, f: it.f }) %><% }) %>
<% if (cves.length > 0) { %><div class="cves"><p><strong><%= cves.length %> known vulnerabilit<%= cves.length === 1 ? 'y' : 'ies' %></strong> of <%= it.f.identity(s.vendor, s.product) %> <%= it.f.clean(s.version) %> (matched by version)</p>
<table class="cve-table fixed"><colgroup><col style="width: 18%"><col style="width: 11%"><col style="width: 7%"><col style="width: 6%"><col style="width: 34%"><col style="width: 9%"><col style="width: 15%"></colgroup>
<thead><tr><th>CVE</th><th>severity</th><th class="num">CVSS</th><th>KEV</th><th>title</th><th>state</th><th>evidence</th></tr></thead><tbody>
<% cves.forEach(function (x) { %><tr id="finding-<%= x.id %>" data-check="<%= x.checkId %>" class="sev-<%= x.severity %>"><td class="mono nowrap"><%= x.checkId %></td><td><span class="sev"><%= x.severity %></span></td><td class="num"><%= it.f.evidence(x, 'cvss') || '-' %></td><td><%= it.f.evidence(x, 'kev') === 'true' ? 'yes' : 'no' %></td><td><%= it.f.clean(x.title) %></td><td><%= it.f.shortState(x) %></td><td class="small"><%= it.f.otherEvidence(x) %></td></tr>
<% }) %></tbody></table>
<p class="remediation"><strong>Remediation:</strong> <%= it.cveRemediation %></p></div>
<% } %>
<% }) %></article>
<% }) %>
<% if (it.assetsOmitted > 0) { %><p class="empty"><%= it.f.int(it.assetsOmitted) %> further system(s) in scope are not detailed here (the riskiest are shown first; narrow the report with --query or --org, or raise --max-assets).</p><% } %>
</section>
`;

const METHODOLOGY = `<section id="methodology" data-section="methodology">
<h2>5. Methodology and scope</h2>
<h3>Scope</h3>
<p><%= it.scopeText %></p>
<p><%= it.honeypotText %></p>
<h3>How the figures are counted</h3>
<ul class="compact">
<% it.countingRules.forEach(function (r) { %><li><%= r %></li>
<% }) %></ul>
<h3>Profiles</h3>
<p>Runs covered used the profile(s): <strong><%= it.methodology.profiles.join(', ') || 'none' %></strong>.</p>
<ul class="compact">
<% it.profileRows.forEach(function (p) { %><li><strong><%= p.name %></strong>: <%= p.text %></li>
<% }) %></ul>
<p>Never sent, in any profile: <%= it.neverSent %></p>
<h3>What each probe sends</h3>
<table class="probes fixed"><colgroup><col style="width: 24%"><col style="width: 16%"><col style="width: 60%"></colgroup><thead><tr><th>probe</th><th>default ports</th><th>actions (profile)</th></tr></thead><tbody>
<% it.methodology.probes.forEach(function (p) { %><tr><td><strong><%= p.id %></strong><br><span class="muted"><%= p.title %></span></td><td><%= p.defaultPorts.join(', ') %></td><td><ul class="compact">
<% p.actions.forEach(function (a) { %><li><span class="mono">[<%= a.profile %>]</span> <%= a.description %></li>
<% }) %></ul></td></tr>
<% }) %></tbody></table>
<h3>Scan runs covered</h3>
<% if (it.methodology.runs.length === 0) { %><p class="empty">No scan run observed the systems in scope.</p><% } else { %>
<table class="runs fixed"><colgroup><col style="width: 13%"><col style="width: 15%"><col style="width: 15%"><col style="width: 13%"><col style="width: 11%"><col style="width: 33%"></colgroup><thead><tr><th>run</th><th>started</th><th>finished</th><th>state</th><th>profile</th><th>targets</th></tr></thead><tbody>
<% it.methodology.runs.forEach(function (r) { %><tr data-run="<%= r.id %>"><td class="mono"><%= r.id %></td><td><%= it.f.when(r.startedAt) %></td><td><%= it.f.when(r.finishedAt) || '-' %></td><td><%= r.state %></td><td><%= r.profile %></td><td class="mono"><%= r.targets.map(function (t) { return it.f.clean(t, 80); }).join(', ') %><% if (r.targetsOmitted > 0) { %> and <%= r.targetsOmitted %> more<% } %> (<%= it.f.int(r.totalTargets) %> addresses)</td></tr>
<% }) %></tbody></table>
<% if (it.methodology.runsOmitted > 0) { %><p class="muted"><%= it.f.int(it.methodology.runsOmitted) %> earlier run(s) are not listed.</p><% } %>
<% } %>
</section>
`;

const APPENDIX = `<section id="appendix" data-section="appendix">
<h2>Appendix: checks</h2>
<p>Every check of the check database <%= it.meta.checksDbVersion %>, and the other finding ids present in scope (known vulnerabilities matched by version, the inventory's own). "Open" counts the open, untriaged findings in scope.</p>
<table class="checks fixed"><colgroup><col style="width: 20%"><col style="width: 10%"><col style="width: 17%"><col style="width: 47%"><col style="width: 6%"></colgroup>
<thead><tr><th>id</th><th>severity</th><th>title</th><th>description</th><th class="num">open</th></tr></thead><tbody>
<% it.checks.filter(function (c) { return c.kind !== 'cve'; }).forEach(function (c) { %><tr id="check-<%= c.id %>" data-kind="<%= c.kind %>"><td class="mono"><%= c.id %></td><td><span class="sev sev-<%= c.severity %>"><%= c.severity %></span></td><td><%= it.f.clean(c.title) %></td><td><%= c.description %></td><td class="num"><%= it.f.int(c.open) %></td></tr>
<% }) %></tbody></table>
<% var cves = it.checks.filter(function (c) { return c.kind === 'cve'; }); if (cves.length > 0) { %>
<h3>Known vulnerabilities found (matched by product version)</h3>
<p>From the offline vulnerability database (curated set, NVD, CISA KEV, CSAF): each names a product version a service announced.</p>
<table class="cves-found fixed"><colgroup><col style="width: 20%"><col style="width: 11%"><col style="width: 61%"><col style="width: 8%"></colgroup>
<thead><tr><th>id</th><th>severity</th><th>title</th><th class="num">open</th></tr></thead><tbody>
<% cves.forEach(function (c) { %><tr id="check-<%= c.id %>" data-kind="cve"><td class="mono nowrap"><%= c.id %></td><td><span class="sev sev-<%= c.severity %>"><%= c.severity %></span></td><td><%= it.f.clean(c.title) %></td><td class="num"><%= it.f.int(c.open) %></td></tr>
<% }) %></tbody></table>
<% } %>
</section>
</main>
<footer class="tlp-footer" data-section="footer">
<%~ include('@banner', it) %>
<p class="muted">medsurface <%= it.meta.toolVersion %>, <%= it.f.when(it.meta.generatedAt) %>. This report holds no patient data: only identities, findings, evidence facts and counts.</p>
</footer>
</body>
</html>
`;

/*
 * Chromium's running header and footer of the PDF (page.pdf headerTemplate/footerTemplate): their
 * own small documents, styled inline (the page's style sheet does not reach them); Chromium fills
 * the pageNumber and totalPages spans.
 */
const PDF_HEADER = `<div style="width: 100%; margin: 0 12mm; font-family: 'DejaVu Sans', sans-serif; font-size: 8px; color: #374151; display: flex; justify-content: space-between; align-items: center; -webkit-print-color-adjust: exact; print-color-adjust: exact;">
<span style="background: #000; color: <%= it.tlp.colour %>; font-weight: bold; padding: 2px 6px;"><%= it.tlp.label %></span>
<span><%= it.title %></span>
</div>`;

const PDF_FOOTER = `<div style="width: 100%; margin: 0 12mm; font-family: 'DejaVu Sans', sans-serif; font-size: 8px; color: #374151; display: flex; justify-content: space-between; align-items: center; -webkit-print-color-adjust: exact; print-color-adjust: exact;">
<span style="background: #000; color: <%= it.tlp.colour %>; font-weight: bold; padding: 2px 6px;"><%= it.tlp.label %></span>
<span><%= it.generated %></span>
<span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span>
</div>`;

/** The named partials and the page itself. */
export const TEMPLATES = {
  '@banner': BANNER,
  '@buckets': BUCKET_TABLE,
  '@finding': FINDING,
  '@pdf-header': PDF_HEADER,
  '@pdf-footer': PDF_FOOTER,
  '@page': HEAD + HEADER + SUMMARY + CHARTS + STATISTICS + ASSETS + METHODOLOGY + APPENDIX,
} as const;
