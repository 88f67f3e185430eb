/** The probe registry. One folder per protocol; add a probe here to make it selectable. */
import type { Probe } from '../core/probe.js';
import { UsageError } from '../core/errors.js';
import { dicomProbe } from './dicom/probe.js';
import { dicomwebProbe } from './dicomweb/probe.js';
import { fhirProbe } from './fhir/probe.js';
import { hl7Probe } from './hl7/probe.js';
import { ftpProbe } from './ftp/probe.js';
import { httpProbe } from './http/probe.js';
import { rdpProbe } from './rdp/probe.js';
import { telnetProbe } from './telnet/probe.js';
import { vncProbe } from './vnc/probe.js';

/** In priority order: when several identify one port, the first one names its `protocol`. */
export const PROBES: readonly Probe[] = [
  dicomProbe as Probe,
  hl7Probe as Probe,
  dicomwebProbe as Probe,
  fhirProbe as Probe,
  httpProbe as Probe,
  vncProbe as Probe,
  telnetProbe as Probe,
  ftpProbe as Probe,
  rdpProbe as Probe,
];

/**
 * Probes tried, one attempt each, on an open port that no selected probe claims
 * (DESIGN.md "Probe selection": banner read, HTTP, DICOM, MLLP). Only those that exist run.
 */
export const IDENTIFICATION_CHAIN: readonly string[] = ['telnet', 'http', 'dicom', 'hl7'];

export function selectProbes(ids?: string[]): Probe[] {
  if (!ids || ids.length === 0 || (ids.length === 1 && ids[0] === 'all')) return [...PROBES];
  return ids.map((id) => {
    const p = PROBES.find((x) => x.id === id);
    if (!p) throw new UsageError(`unknown probe "${id}" (available: ${PROBES.map((x) => x.id).join(', ')})`);
    return p;
  });
}

export function defaultPortsOf(probes: readonly Probe[]): number[] {
  return [...new Set(probes.flatMap((p) => p.defaultPorts))].sort((a, b) => a - b);
}
