/**
 * Called AE titles the probe may try after a random title was rejected. Data, with sources.
 *
 * `safe` tries at most two documented defaults (DESIGN.md "Safety is a feature"): the default
 * of the product that usually listens on this port, then DCMTK's generic default.
 * `intrusive` adds the guess list, within the per-host budget.
 */

/** Documented product defaults, by the port the product listens on by default. */
export const DEFAULT_AE_BY_PORT: Readonly<Record<number, readonly string[]>> = {
  // Orthanc: "DicomAet" : "ORTHANC", "DicomPort" : 4242 (OrthancServer/Resources/Configuration.json).
  4242: ['ORTHANC'],
  // dcm4chee-arc-light: AE title DCM4CHEE on port 11112 (dcm4chee-arc-light wiki, "Run minimum set of archive services").
  11112: ['DCM4CHEE'],
};

/**
 * DCMTK's storescp/movescu default AE title (`storescp --help`: "--aetitle ... (default: ANY-SCP)"),
 * the most widely deployed default on port 104.
 */
export const GENERIC_DEFAULT_AE = 'ANY-SCP';

/** Intrusive profile: a short guess list of common called AE titles, tried within the host budget. */
export const GUESS_AE_TITLES: readonly string[] = [
  'ANY-SCP',
  'ORTHANC',
  'DCM4CHEE',
  'PACS',
  'STORESCP',
  'DCMQRSCP',
  'CONQUESTSRV1', // Conquest DICOM server default (dicom.ini MyACRNema)
  'ARCHIVE',
  'SERVER',
  'DICOM',
];

export function defaultCalledAes(port: number): string[] {
  const list = [...(DEFAULT_AE_BY_PORT[port] ?? []), GENERIC_DEFAULT_AE];
  return [...new Set(list)].slice(0, 2);
}
