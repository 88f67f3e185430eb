/**
 * The lab's synthetic record store and its C-FIND matching (DICOM PS3.4 §C.2.2.2: single
 * value, wildcard, list-of-UID, range and universal matching, reduced to what the lab needs).
 *
 * Every value here is invented: names like TEST^ALPHA, ids like TEST0001, Study Instance
 * UIDs under 2.25 derived from a hash of the record number. Nothing resembles a person.
 */
import { createHash } from 'node:crypto';
import type { RecordSet } from './layout.js';

export interface LabRecord {
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: string;
  studyInstanceUid: string;
  studyDate: string;
  studyTime: string;
  accessionNumber: string;
  studyId: string;
  studyDescription: string;
  modalitiesInStudy: string;
  referringPhysicianName: string;
  numberOfStudyRelatedSeries: string;
  numberOfStudyRelatedInstances: string;
}

export type QueryLevel = 'PATIENT' | 'STUDY';

const NATO = [
  'ALPHA', 'BRAVO', 'CHARLIE', 'DELTA', 'ECHO', 'FOXTROT', 'GOLF', 'HOTEL', 'INDIA', 'JULIETT', 'KILO', 'LIMA', 'MIKE',
  'NOVEMBER', 'OSCAR', 'PAPA', 'QUEBEC', 'ROMEO', 'SIERRA', 'TANGO', 'UNIFORM', 'VICTOR', 'WHISKEY', 'XRAY', 'YANKEE', 'ZULU',
] as const;
const MODALITIES = ['CT', 'MR', 'CR', 'US', 'CT\\SR'] as const;
const DESCRIPTIONS = ['TEST CHEST', 'TEST HEAD', 'TEST ABDOMEN', 'TEST KNEE', 'TEST SPINE'] as const;

/** A deterministic UID under 2.25 (PS3.5 §B.2: the decimal value of a 128-bit number). */
export function labUid(seed: string): string {
  const h = createHash('sha256').update(`medsurface-lab:${seed}`).digest();
  return `2.25.${BigInt(`0x${h.subarray(0, 16).toString('hex')}`).toString(10)}`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function makeStandard(): LabRecord[] {
  // 26 patients (TEST^ALPHA ... TEST^ZULU, TEST0001 ... TEST0026), 1 to 3 studies each: 51 studies.
  const out: LabRecord[] = [];
  let study = 0;
  NATO.forEach((word, p) => {
    const studies = 1 + (p % 3);
    for (let s = 0; s < studies; s++) out.push(record(`TEST^${word}`, `TEST${pad(p + 1, 4)}`, p, study++, 'std'));
  });
  return out;
}

function makeLarge(): LabRecord[] {
  // 300 patients, 5 studies each: 1,500 studies, more than the scanner's count cap (LIMITS.dicomFindCap).
  const out: LabRecord[] = [];
  let study = 0;
  for (let p = 0; p < 300; p++) {
    const name = `TEST^${NATO[p % NATO.length]}${Math.floor(p / NATO.length) + 1}`;
    for (let s = 0; s < 5; s++) out.push(record(name, `TESTL${pad(p + 1, 4)}`, p, study++, 'large'));
  }
  return out;
}

function record(name: string, id: string, p: number, study: number, set: string): LabRecord {
  const day = 1 + (study % 28);
  const month = 1 + (study % 12);
  return {
    patientName: name,
    patientId: id,
    patientBirthDate: `19${pad(50 + (p % 50), 2)}0101`,
    patientSex: p % 2 === 0 ? 'F' : 'M',
    studyInstanceUid: labUid(`${set}:study:${study}`),
    studyDate: `2024${pad(month, 2)}${pad(day, 2)}`,
    studyTime: `${pad(8 + (study % 10), 2)}0000`,
    accessionNumber: `ACC${pad(study + 1, 6)}`,
    studyId: String(study + 1),
    studyDescription: DESCRIPTIONS[study % DESCRIPTIONS.length]!,
    modalitiesInStudy: MODALITIES[study % MODALITIES.length]!,
    referringPhysicianName: 'TEST^REFERRER',
    numberOfStudyRelatedSeries: String(1 + (study % 4)),
    numberOfStudyRelatedInstances: String(10 + (study % 90)),
  };
}

const cache = new Map<RecordSet, readonly LabRecord[]>();

/** The named record store, built once per process and shared by every node that serves it. */
export function recordSet(set: RecordSet): readonly LabRecord[] {
  if (set === 'none') return [];
  let rs = cache.get(set);
  if (!rs) {
    rs = Object.freeze(set === 'large' ? makeLarge() : makeStandard());
    cache.set(set, rs);
  }
  return rs;
}

/** How a record attribute is read at each level. */
interface Attr {
  vr: string;
  study?: (r: LabRecord) => string;
  patient?: (r: LabRecord, studies: number) => string;
}

/** Attributes the store can match on and return, by tag (PS3.4 §C.6.1.1 and §C.6.2.1). */
export const ATTRIBUTES: ReadonlyMap<number, Attr> = new Map<number, Attr>([
  [0x00100010, { vr: 'PN', study: (r) => r.patientName, patient: (r) => r.patientName }],
  [0x00100020, { vr: 'LO', study: (r) => r.patientId, patient: (r) => r.patientId }],
  [0x00100030, { vr: 'DA', study: (r) => r.patientBirthDate, patient: (r) => r.patientBirthDate }],
  [0x00100040, { vr: 'CS', study: (r) => r.patientSex, patient: (r) => r.patientSex }],
  [0x00201200, { vr: 'IS', patient: (_r, n) => String(n) }],
  [0x0020000d, { vr: 'UI', study: (r) => r.studyInstanceUid }],
  [0x00080020, { vr: 'DA', study: (r) => r.studyDate }],
  [0x00080030, { vr: 'TM', study: (r) => r.studyTime }],
  [0x00080050, { vr: 'SH', study: (r) => r.accessionNumber }],
  [0x00200010, { vr: 'SH', study: (r) => r.studyId }],
  [0x00081030, { vr: 'LO', study: (r) => r.studyDescription }],
  [0x00080061, { vr: 'CS', study: (r) => r.modalitiesInStudy }],
  [0x00080090, { vr: 'PN', study: (r) => r.referringPhysicianName }],
  [0x00201206, { vr: 'IS', study: (r) => r.numberOfStudyRelatedSeries }],
  [0x00201208, { vr: 'IS', study: (r) => r.numberOfStudyRelatedInstances }],
]);

export interface QueryKey {
  tag: number;
  vr: string;
  value: string;
}

/** One compiled matching key; `null` means universal matching (empty value). */
type Matcher = (value: string) => boolean;

/** Builds the matcher of one key per PS3.4 §C.2.2.2; returns null for universal matching. */
export function compileMatcher(vr: string, raw: string): Matcher | null {
  const value = vr === 'UI' ? raw.replace(/\0+$/, '').trim() : raw.trim();
  if (value === '' || value === '*') return null;
  if (vr === 'UI') {
    // List of UID matching (§C.2.2.2.2): backslash-separated, each an exact match.
    const set = new Set(value.split('\\').map((u) => u.trim()));
    return (v) => set.has(v);
  }
  if ((vr === 'DA' || vr === 'TM' || vr === 'DT') && value.includes('-')) {
    // Range matching (§C.2.2.2.5): "a-b", "a-", "-b"; these VRs sort as strings.
    const [lo = '', hi = ''] = value.split('-', 2);
    return (v) => (lo === '' || v >= lo) && (hi === '' || v <= hi);
  }
  if (value.includes('*') || value.includes('?')) {
    // Wildcard matching (§C.2.2.2.4): * any run, ? one character.
    const re = new RegExp(`^${value.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
    return (v) => re.test(v);
  }
  return (v) => v === value;
}

export interface FindResult {
  /** Identifier values for each match, in the order of `keys`. */
  matches: string[][];
}

/**
 * Runs a C-FIND over the store at PATIENT or STUDY level. Keys the store does not know are
 * return keys only: they never filter and come back empty. Returns, for each match, the
 * values of `keys` in order (QueryRetrieveLevel and RetrieveAETitle are filled by the SCP).
 */
export function findRecords(records: readonly LabRecord[], level: QueryLevel, keys: readonly QueryKey[]): string[][] {
  const active: { get: (r: LabRecord, n: number) => string; match: Matcher }[] = [];
  const getters: ((r: LabRecord, n: number) => string)[] = [];
  for (const k of keys) {
    const attr = ATTRIBUTES.get(k.tag);
    const get = attr ? (level === 'PATIENT' ? attr.patient : attr.study) : undefined;
    getters.push(get ?? (() => ''));
    if (!get) continue;
    const m = compileMatcher(attr!.vr, k.value);
    if (m) active.push({ get, match: m });
  }
  const out: string[][] = [];
  if (level === 'STUDY') {
    for (const r of records) {
      if (active.every((a) => a.match(a.get(r, 1)))) out.push(getters.map((g) => g(r, 1)));
    }
    return out;
  }
  // PATIENT level: one entry per patient (its first record), with its number of studies.
  const byPatient = new Map<string, { first: LabRecord; studies: number }>();
  for (const r of records) {
    const e = byPatient.get(r.patientId);
    if (e) e.studies++;
    else byPatient.set(r.patientId, { first: r, studies: 1 });
  }
  for (const { first, studies } of byPatient.values()) {
    if (active.every((a) => a.match(a.get(first, studies)))) out.push(getters.map((g) => g(first, studies)));
  }
  return out;
}
