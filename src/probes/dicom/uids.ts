/**
 * DICOM UIDs, short names and a small data dictionary for the scanner.
 *
 * UID values come from DICOM PS3.6 Annex A (registry of DICOM unique identifiers); tags,
 * keywords and VRs from PS3.6 §6 (registry of DICOM data elements). Only what a scanner
 * needs is here: the services it negotiates, the storage classes a PACS commonly accepts
 * (reported by name), and the attributes that show up in C-FIND identifiers.
 */
import { randomUUID } from 'node:crypto';

export const UID = {
  /** DICOM Application Context Name, PS3.7 Annex A.2.1. */
  ApplicationContext: '1.2.840.10008.3.1.1.1',

  // Transfer syntaxes (PS3.5 §10, PS3.6 Annex A).
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  RLELossless: '1.2.840.10008.1.2.5',

  // Services (PS3.4).
  Verification: '1.2.840.10008.1.1',
  StorageCommitmentPushModel: '1.2.840.10008.1.20.1',
  ModalityPerformedProcedureStep: '1.2.840.10008.3.1.2.3.3',
  PatientRootFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootGet: '1.2.840.10008.5.1.4.1.2.2.3',
  ModalityWorklistFind: '1.2.840.10008.5.1.4.31',

  // Storage SOP classes (PS3.4 Annex B.5).
  CRImageStorage: '1.2.840.10008.5.1.4.1.1.1',
  DigitalXRayImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.1.1',
  DigitalXRayImageStorageForProcessing: '1.2.840.10008.5.1.4.1.1.1.1.1',
  DigitalMammographyXRayImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.1.2',
  CTImageStorage: '1.2.840.10008.5.1.4.1.1.2',
  EnhancedCTImageStorage: '1.2.840.10008.5.1.4.1.1.2.1',
  UltrasoundMultiFrameImageStorage: '1.2.840.10008.5.1.4.1.1.3.1',
  MRImageStorage: '1.2.840.10008.5.1.4.1.1.4',
  EnhancedMRImageStorage: '1.2.840.10008.5.1.4.1.1.4.1',
  UltrasoundImageStorage: '1.2.840.10008.5.1.4.1.1.6.1',
  SecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7',
  GrayscaleSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.1',
  XRayAngiographicImageStorage: '1.2.840.10008.5.1.4.1.1.12.1',
  NuclearMedicineImageStorage: '1.2.840.10008.5.1.4.1.1.20',
  VLPhotographicImageStorage: '1.2.840.10008.5.1.4.1.1.77.1.4',
  BasicTextSRStorage: '1.2.840.10008.5.1.4.1.1.88.11',
  EnhancedSRStorage: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSRStorage: '1.2.840.10008.5.1.4.1.1.88.33',
  EncapsulatedPDFStorage: '1.2.840.10008.5.1.4.1.1.104.1',
  PositronEmissionTomographyImageStorage: '1.2.840.10008.5.1.4.1.1.128',
  RTImageStorage: '1.2.840.10008.5.1.4.1.1.481.1',
  RTDoseStorage: '1.2.840.10008.5.1.4.1.1.481.2',
  RTStructureSetStorage: '1.2.840.10008.5.1.4.1.1.481.3',
  RTPlanStorage: '1.2.840.10008.5.1.4.1.1.481.5',
} as const;

const SOP_NAMES: ReadonlyMap<string, string> = new Map<string, string>([
  [UID.ApplicationContext, 'application-context'],
  [UID.ImplicitVRLittleEndian, 'implicit-vr-little-endian'],
  [UID.ExplicitVRLittleEndian, 'explicit-vr-little-endian'],
  [UID.DeflatedExplicitVRLittleEndian, 'deflated-explicit-vr-little-endian'],
  [UID.ExplicitVRBigEndian, 'explicit-vr-big-endian'],
  [UID.JPEGBaseline8Bit, 'jpeg-baseline'],
  [UID.JPEGLosslessSV1, 'jpeg-lossless-sv1'],
  [UID.JPEG2000Lossless, 'jpeg-2000-lossless'],
  [UID.JPEG2000, 'jpeg-2000'],
  [UID.RLELossless, 'rle-lossless'],
  [UID.Verification, 'verification'],
  [UID.StorageCommitmentPushModel, 'storage-commitment-push'],
  [UID.ModalityPerformedProcedureStep, 'modality-performed-procedure-step'],
  [UID.PatientRootFind, 'patient-root-find'],
  [UID.PatientRootMove, 'patient-root-move'],
  [UID.PatientRootGet, 'patient-root-get'],
  [UID.StudyRootFind, 'study-root-find'],
  [UID.StudyRootMove, 'study-root-move'],
  [UID.StudyRootGet, 'study-root-get'],
  [UID.ModalityWorklistFind, 'modality-worklist-find'],
  [UID.CRImageStorage, 'cr-image-storage'],
  [UID.DigitalXRayImageStorageForPresentation, 'dx-image-storage-for-presentation'],
  [UID.DigitalXRayImageStorageForProcessing, 'dx-image-storage-for-processing'],
  [UID.DigitalMammographyXRayImageStorageForPresentation, 'mg-image-storage-for-presentation'],
  [UID.CTImageStorage, 'ct-image-storage'],
  [UID.EnhancedCTImageStorage, 'enhanced-ct-image-storage'],
  [UID.UltrasoundMultiFrameImageStorage, 'us-multiframe-image-storage'],
  [UID.MRImageStorage, 'mr-image-storage'],
  [UID.EnhancedMRImageStorage, 'enhanced-mr-image-storage'],
  [UID.UltrasoundImageStorage, 'us-image-storage'],
  [UID.SecondaryCaptureImageStorage, 'secondary-capture-image-storage'],
  [UID.GrayscaleSoftcopyPresentationStateStorage, 'grayscale-presentation-state-storage'],
  [UID.XRayAngiographicImageStorage, 'xa-image-storage'],
  [UID.NuclearMedicineImageStorage, 'nm-image-storage'],
  [UID.VLPhotographicImageStorage, 'vl-photographic-image-storage'],
  [UID.BasicTextSRStorage, 'basic-text-sr-storage'],
  [UID.EnhancedSRStorage, 'enhanced-sr-storage'],
  [UID.ComprehensiveSRStorage, 'comprehensive-sr-storage'],
  [UID.EncapsulatedPDFStorage, 'encapsulated-pdf-storage'],
  [UID.PositronEmissionTomographyImageStorage, 'pet-image-storage'],
  [UID.RTImageStorage, 'rt-image-storage'],
  [UID.RTDoseStorage, 'rt-dose-storage'],
  [UID.RTStructureSetStorage, 'rt-structure-set-storage'],
  [UID.RTPlanStorage, 'rt-plan-storage'],
]);

/** Short kebab-case name of a SOP class or transfer syntax UID; an unknown UID is returned as is. */
export function sopName(uid: string): string {
  return SOP_NAMES.get(uid) ?? uid;
}

/**
 * True for the storage SOP classes: PS3.6 Annex A allocates them all under
 * 1.2.840.10008.5.1.4.1.1 (the Q/R classes sit under ...5.1.4.1.2, so the trailing dot matters).
 */
export function isStorageSopClass(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.5.1.4.1.1.');
}

/**
 * Our own implementation class UID (PS3.7 Annex D.3.3.2): a UUID-derived UID under the
 * 2.25 root (PS3.5 §B.2), generated once from crypto.randomUUID() and fixed here so that
 * servers' logs and other scanners can recognise medsurface.
 */
export const MEDSURFACE_IMPLEMENTATION_CLASS_UID = '2.25.176468361364942593333487693074808592087';

/** Implementation version name (PS3.7 Annex D.3.3.2.3): 1..16 characters. */
export function implementationVersionName(version: string): string {
  return ('MEDSURFACE_' + version).slice(0, 16);
}

/**
 * A fresh UID under 2.25: the decimal value of a random 128-bit UUID (PS3.5 §B.2). Used as
 * a C-FIND match key that cannot match any record, and for our own instance UIDs.
 */
export function randomUid(): string {
  return '2.25.' + BigInt('0x' + randomUUID().replace(/-/g, '')).toString(10);
}

/** [keyword, VR] per PS3.6 §6. */
const DICTIONARY: ReadonlyMap<number, readonly [string, string]> = new Map<number, readonly [string, string]>([
  [0x00080005, ['SpecificCharacterSet', 'CS']],
  [0x00080008, ['ImageType', 'CS']],
  [0x00080016, ['SOPClassUID', 'UI']],
  [0x00080018, ['SOPInstanceUID', 'UI']],
  [0x00080020, ['StudyDate', 'DA']],
  [0x00080021, ['SeriesDate', 'DA']],
  [0x00080022, ['AcquisitionDate', 'DA']],
  [0x00080023, ['ContentDate', 'DA']],
  [0x00080030, ['StudyTime', 'TM']],
  [0x00080031, ['SeriesTime', 'TM']],
  [0x00080033, ['ContentTime', 'TM']],
  [0x00080050, ['AccessionNumber', 'SH']],
  [0x00080052, ['QueryRetrieveLevel', 'CS']],
  [0x00080054, ['RetrieveAETitle', 'AE']],
  [0x00080056, ['InstanceAvailability', 'CS']],
  [0x00080060, ['Modality', 'CS']],
  [0x00080061, ['ModalitiesInStudy', 'CS']],
  [0x00080062, ['SOPClassesInStudy', 'UI']],
  [0x00080070, ['Manufacturer', 'LO']],
  [0x00080080, ['InstitutionName', 'LO']],
  [0x00080090, ['ReferringPhysicianName', 'PN']],
  [0x00080201, ['TimezoneOffsetFromUTC', 'SH']],
  [0x00081010, ['StationName', 'SH']],
  [0x00081030, ['StudyDescription', 'LO']],
  [0x0008103e, ['SeriesDescription', 'LO']],
  [0x00081040, ['InstitutionalDepartmentName', 'LO']],
  [0x00081048, ['PhysiciansOfRecord', 'PN']],
  [0x00081050, ['PerformingPhysicianName', 'PN']],
  [0x00081060, ['NameOfPhysiciansReadingStudy', 'PN']],
  [0x00081090, ['ManufacturerModelName', 'LO']],
  [0x00081110, ['ReferencedStudySequence', 'SQ']],
  [0x00081120, ['ReferencedPatientSequence', 'SQ']],
  [0x00100010, ['PatientName', 'PN']],
  [0x00100020, ['PatientID', 'LO']],
  [0x00100021, ['IssuerOfPatientID', 'LO']],
  [0x00100030, ['PatientBirthDate', 'DA']],
  [0x00100032, ['PatientBirthTime', 'TM']],
  [0x00100040, ['PatientSex', 'CS']],
  [0x00101000, ['OtherPatientIDs', 'LO']],
  [0x00101001, ['OtherPatientNames', 'PN']],
  [0x00101010, ['PatientAge', 'AS']],
  [0x00101020, ['PatientSize', 'DS']],
  [0x00101030, ['PatientWeight', 'DS']],
  [0x00101040, ['PatientAddress', 'LO']],
  [0x00102154, ['PatientTelephoneNumbers', 'SH']],
  [0x00102160, ['EthnicGroup', 'SH']],
  [0x00104000, ['PatientComments', 'LT']],
  [0x00180015, ['BodyPartExamined', 'CS']],
  [0x00181030, ['ProtocolName', 'LO']],
  [0x0020000d, ['StudyInstanceUID', 'UI']],
  [0x0020000e, ['SeriesInstanceUID', 'UI']],
  [0x00200010, ['StudyID', 'SH']],
  [0x00200011, ['SeriesNumber', 'IS']],
  [0x00200013, ['InstanceNumber', 'IS']],
  [0x00201200, ['NumberOfPatientRelatedStudies', 'IS']],
  [0x00201202, ['NumberOfPatientRelatedSeries', 'IS']],
  [0x00201204, ['NumberOfPatientRelatedInstances', 'IS']],
  [0x00201206, ['NumberOfStudyRelatedSeries', 'IS']],
  [0x00201208, ['NumberOfStudyRelatedInstances', 'IS']],
  [0x00201209, ['NumberOfSeriesRelatedInstances', 'IS']],
  [0x00280010, ['Rows', 'US']],
  [0x00280011, ['Columns', 'US']],
  [0x00321032, ['RequestingPhysician', 'PN']],
  [0x00321060, ['RequestedProcedureDescription', 'LO']],
  [0x00321064, ['RequestedProcedureCodeSequence', 'SQ']],
  [0x00380010, ['AdmissionID', 'LO']],
  [0x00400001, ['ScheduledStationAETitle', 'AE']],
  [0x00400002, ['ScheduledProcedureStepStartDate', 'DA']],
  [0x00400003, ['ScheduledProcedureStepStartTime', 'TM']],
  [0x00400006, ['ScheduledPerformingPhysicianName', 'PN']],
  [0x00400007, ['ScheduledProcedureStepDescription', 'LO']],
  [0x00400009, ['ScheduledProcedureStepID', 'SH']],
  [0x00400010, ['ScheduledStationName', 'SH']],
  [0x00400020, ['ScheduledProcedureStepStatus', 'CS']],
  [0x00400100, ['ScheduledProcedureStepSequence', 'SQ']],
  [0x00401001, ['RequestedProcedureID', 'SH']],
  [0x7fe00010, ['PixelData', 'OW']],
]);

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** `(gggg,eeee)` in lower-case hex, the form used for tags without a keyword. */
export function tagString(tag: number): string {
  return '(' + hex4((tag >>> 16) & 0xffff) + ',' + hex4(tag & 0xffff) + ')';
}

/** The PS3.6 keyword of a tag in our small dictionary, else `(gggg,eeee)`. */
export function keywordOf(tag: number): string {
  return DICTIONARY.get(tag >>> 0)?.[0] ?? tagString(tag);
}

/**
 * The VR of a tag for Implicit VR decoding (PS3.5 §7.1.3): from the dictionary, UL for
 * group lengths (gggg,0000), else UN.
 */
export function vrOf(tag: number): string {
  const entry = DICTIONARY.get(tag >>> 0);
  if (entry) return entry[1];
  if ((tag & 0xffff) === 0) return 'UL';
  return 'UN';
}
