/**
 * Read routes over the inventory (overview, search pages, facets, the asset page) and the
 * analyst's writes on it (asset metadata, finding triage). Every read goes through the user's
 * organisation scope (scope.ts); a host outside it answers 404, as a host that does not exist.
 */
import { z } from 'zod';
import { SEVERITIES, type Severity } from '../../core/types.js';
import { parseAddress } from '../../scope/ip.js';
import { CRITICALITIES, NOTES_MAX_CHARS, OWNER_MAX_CHARS, MAX_TAGS, normalizeTags, tagAssets } from '../../inventory/metadata.js';
import { assetMetadata } from '../../inventory/metadata.js';
import { FACET_FIELDS, SORT_KEYS } from '../../inventory/search/index.js';
import { USER_STATES, type UserState } from '../../inventory/store.js';
import { ipKey } from '../../inventory/ip-key.js';
import { auditRequest } from '../audit.js';
import type { ServerContext, ZApp } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { assetPage, FINDING_FILTER_STATES, findingWithOrg, listFindings, scopeOf, summaryCounts, topAssets, trendPoints } from '../queries.js';
import { orgVisible, scopedQuery } from '../scope.js';

/** Largest page of a list route. */
export const MAX_PAGE = 1000;
/** Findings one bulk request may change. */
export const MAX_BULK = 1000;
const QUERY_MAX_CHARS = 4096;

const Q = z.string().max(QUERY_MAX_CHARS).default('');
const Limit = (def: number, max: number) => z.coerce.number().int().min(0).max(max).default(def);
const Offset = z.coerce.number().int().min(0).max(2_000_000_000).default(0);
const Bool = z.enum(['true', 'false']).transform((v) => v === 'true');

export const IpParam = z.strictObject({
  ip: z
    .string()
    .max(64)
    .refine((v) => parseAddress(v) !== null, 'not an IP address'),
});
const IdParam = z.strictObject({ id: z.coerce.number().int().positive().max(2_147_483_647) });

const PageQuery = z.strictObject({
  q: Q,
  sort: z.enum(SORT_KEYS).default('ip'),
  order: z.enum(['asc', 'desc']).default('asc'),
  limit: Limit(100, MAX_PAGE),
  offset: Offset,
});

const UserStateBody = z.enum(USER_STATES).nullable();
const Note = z.string().max(2000);

export function inventoryRoutes(app: ZApp, ctx: ServerContext): void {
  const { inv, db } = ctx;
  const nowMs = () => ctx.now().getTime();

  app.get('/api/v1/summary', { schema: { tags: ['inventory'] }, config: { access: 'user' } }, async (req) => {
    const p = req.principal;
    const counts = await summaryCounts(inv, p, nowMs());
    const facet = async (field: string) => (await inv.facets(scopedQuery(p, ''), field, { limit: 10, now: nowMs() })).buckets;
    const runs = p?.orgs
      ? Number((await db.selectFrom('api_scans').select((eb) => eb.fn.countAll<number | string>().as('n')).where('user_id', '=', p.userId).executeTakeFirstOrThrow()).n)
      : Number((await db.selectFrom('scan_runs').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n);
    return {
      assets: counts.assets,
      services: counts.services,
      openFindings: counts.openFindings,
      bySeverity: counts.bySeverity,
      byDeviceType: await facet('devicetype'),
      byCountry: await facet('country'),
      byProduct: await facet('product'),
      recordsReachable: counts.recordsReachable,
      servicesWithRecords: counts.servicesWithRecords,
      honeypots: counts.honeypots,
      runs,
    };
  });

  app.get(
    '/api/v1/trend',
    { schema: { querystring: z.strictObject({ days: z.coerce.number().int().min(1).max(365).default(90) }), tags: ['inventory'] }, config: { access: 'user' } },
    async (req) => {
      const now = nowMs();
      // The same answer until the findings change (or the day does): the overview asks on every visit.
      const key = `trend|${scopedQuery(req.principal, '')}|${req.query.days}|${new Date(now).toISOString().slice(0, 10)}`;
      return { points: await inv.memo(key, () => trendPoints(inv, req.principal, req.query.days, now)) };
    },
  );

  app.get(
    '/api/v1/assets/top',
    { schema: { querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(10) }), tags: ['inventory'] }, config: { access: 'user' } },
    async (req) => topAssets(inv, req.principal, req.query.limit, nowMs()),
  );

  for (const [path, assets] of [
    ['/api/v1/services', false],
    ['/api/v1/assets', true],
  ] as const) {
    app.get(path, { schema: { querystring: PageQuery, tags: ['inventory'] }, config: { access: 'user' } }, async (req) => {
      const { q, sort, order, limit, offset } = req.query;
      if (assets && sort === 'port') throw badRequest('sort: hosts cannot be sorted by port');
      const res = await inv.search(scopedQuery(req.principal, q), { assets, sort: `${order === 'desc' ? '-' : ''}${sort}`, limit, offset, now: nowMs() });
      return { total: res.total, rows: res.rows, query: q, sort, order, limit, offset, honeypotsExcluded: res.honeypotsExcluded };
    });
  }

  app.get(
    '/api/v1/facets',
    {
      schema: {
        querystring: z.strictObject({ q: Q, field: z.enum(FACET_FIELDS), size: z.coerce.number().int().min(1).max(100).default(10), assets: Bool.default(false) }),
        tags: ['inventory'],
      },
      config: { access: 'user' },
    },
    async (req) => {
      const { q, field, size, assets } = req.query;
      const f = await inv.facets(scopedQuery(req.principal, q), field, { limit: size, assets, now: nowMs() });
      const shown = f.buckets.reduce((n, b) => n + b.count, 0);
      return {
        field: f.field,
        unit: f.unit,
        buckets: f.buckets,
        other: Math.max(0, f.total - f.missing - shown),
        total: f.total,
        missing: f.missing,
        distinct: f.distinct,
        truncated: f.truncated,
        honeypotsExcluded: f.honeypotsExcluded,
      };
    },
  );

  app.get('/api/v1/assets/:ip', { schema: { params: IpParam, tags: ['inventory'] }, config: { access: 'user' } }, async (req) => {
    const page = await assetPage(inv, req.principal, req.params.ip);
    if (page === null) throw notFound(`no host ${req.params.ip} in the inventory`);
    return page;
  });

  app.patch(
    '/api/v1/assets/:ip',
    {
      schema: {
        params: IpParam,
        body: z
          .strictObject({
            tags: z.array(z.string().max(64)).max(MAX_TAGS).optional(),
            owner: z.string().max(OWNER_MAX_CHARS).nullable().optional(),
            criticality: z.enum(CRITICALITIES).nullable().optional(),
            notes: z.string().max(NOTES_MAX_CHARS).nullable().optional(),
          })
          .refine((b) => Object.keys(b).length > 0, 'give at least one of tags, owner, criticality, notes'),
        tags: ['inventory'],
      },
      config: { access: 'analyst' },
    },
    async (req) => {
      const { ip } = req.params;
      const row = await db.selectFrom('assets').select(['id', 'org', 'ip']).where('ip_key', '=', ipKey(ip)).executeTakeFirst();
      if (row === undefined || !orgVisible(req.principal, row.org)) throw notFound(`no host ${ip} in the inventory`);
      const before = (await assetMetadata(db, Number(row.id)))!;
      const b = req.body;
      const want = b.tags === undefined ? null : normalizeTags(b.tags);
      const add = want === null ? [] : want.filter((t) => !before.tags.includes(t));
      const remove = want === null ? [] : before.tags.filter((t) => !want.includes(t));
      const change = {
        add,
        remove,
        ...(b.owner !== undefined ? { owner: b.owner === null || b.owner.trim() === '' ? null : b.owner } : {}),
        ...(b.criticality !== undefined ? { criticality: b.criticality } : {}),
        ...(b.notes !== undefined ? { notes: b.notes === null || b.notes.trim() === '' ? null : b.notes } : {}),
      };
      const fields = Object.keys(change).filter((k) => k !== 'add' && k !== 'remove');
      if (add.length > 0 || remove.length > 0 || fields.length > 0) {
        await tagAssets(db, row.ip, change);
        await auditRequest(db, req, ctx.now(), { action: 'asset-metadata', target: row.ip, detail: { tagsAdded: add, tagsRemoved: remove, fields } });
      }
      return { metadata: await assetMetadata(db, Number(row.id)) };
    },
  );

  app.get(
    '/api/v1/findings',
    {
      schema: {
        querystring: z.strictObject({
          q: Q,
          state: z.enum(FINDING_FILTER_STATES).default('any'),
          severity: z
            .string()
            .max(100)
            .optional()
            .transform((v, c) => {
              if (v === undefined || v.trim() === '') return null;
              const list = v.split(',').map((s) => s.trim().toLowerCase());
              const bad = list.find((s) => !(SEVERITIES as readonly string[]).includes(s));
              if (bad !== undefined) {
                c.addIssue({ code: 'custom', message: `"${bad.slice(0, 20)}" is not one of ${SEVERITIES.join(', ')}` });
                return z.NEVER;
              }
              return list as Severity[];
            }),
          check: z
            .string()
            .max(100)
            .regex(/^[A-Za-z0-9_.-]+$/, 'a finding id like dicom-any-ae or CVE-2024-1234')
            .optional(),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
          offset: Offset,
        }),
        tags: ['findings'],
      },
      config: { access: 'user' },
    },
    async (req) => {
      const { q, state, severity, check, limit, offset } = req.query;
      const s = await scopeOf(inv, req.principal, q, nowMs());
      const checkId = check === undefined ? null : /^cve-/i.test(check) ? check.toUpperCase() : check.toLowerCase();
      const filter = { state, severities: severity, checkId, limit, offset };
      // Reused until a finding (or service, host, tag) changes, unless the query's answer moves
      // with the clock (a relative time such as lastseen>7d: any term on a time field).
      if (/seen/i.test(s.query)) return listFindings(inv, s, filter);
      return inv.memo(`findings|${JSON.stringify([s.query, filter])}`, () => listFindings(inv, s, filter));
    },
  );

  app.patch(
    '/api/v1/findings/:id',
    { schema: { params: IdParam, body: z.strictObject({ userState: UserStateBody, note: Note.optional() }), tags: ['findings'] }, config: { access: 'analyst' } },
    async (req) => {
      const { id } = req.params;
      const cur = await findingWithOrg(db, id);
      if (cur === undefined || !orgVisible(req.principal, cur.org)) throw notFound(`no finding ${id}`);
      const to = req.body.userState as UserState | null;
      if (cur.finding.userState !== to || req.body.note !== undefined) {
        await inv.setUserState(id, to, req.body.note);
        await auditRequest(db, req, ctx.now(), {
          action: 'finding-state',
          target: `${id} ${cur.finding.checkId} ${cur.finding.ip}:${cur.finding.port}`,
          detail: { from: cur.finding.userState, to, ...(req.body.note !== undefined ? { note: req.body.note.slice(0, 500) } : {}) },
        });
      }
      return { finding: (await findingWithOrg(db, id))!.finding };
    },
  );

  app.post(
    '/api/v1/findings/bulk',
    {
      schema: {
        body: z.strictObject({
          ids: z.array(z.number().int().positive().max(2_147_483_647)).min(1).max(MAX_BULK),
          userState: UserStateBody,
          note: Note.optional(),
        }),
        tags: ['findings'],
      },
      config: { access: 'analyst' },
    },
    async (req) => {
      const ids = [...new Set(req.body.ids)];
      const to = req.body.userState as UserState | null;
      const found = new Map<number, { org: string | null; from: string | null; label: string }>();
      for (let i = 0; i < ids.length; i += 500) {
        const part = ids.slice(i, i + 500);
        const rows = await db
          .selectFrom('findings')
          .innerJoin('services', 'services.id', 'findings.service_id')
          .innerJoin('assets', 'assets.id', 'services.asset_id')
          .select(['findings.id', 'findings.user_state', 'findings.check_id', 'services.ip', 'services.port', 'assets.org'])
          .where('findings.id', 'in', part)
          .execute();
        for (const r of rows) found.set(Number(r.id), { org: r.org, from: r.user_state, label: `${r.id} ${r.check_id} ${r.ip}:${r.port}` });
      }
      const missing = ids.filter((id) => !found.has(id) || !orgVisible(req.principal, found.get(id)!.org));
      if (missing.length > 0) throw notFound(`no finding ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}: nothing was changed`);
      let updated = 0;
      for (const id of ids) {
        const f = found.get(id)!;
        if (f.from === to && req.body.note === undefined) continue;
        await inv.setUserState(id, to, req.body.note);
        await auditRequest(db, req, ctx.now(), {
          action: 'finding-state',
          target: f.label,
          detail: { from: f.from, to, bulk: true, ...(req.body.note !== undefined ? { note: req.body.note.slice(0, 500) } : {}) },
        });
        updated++;
      }
      return { updated };
    },
  );
}
