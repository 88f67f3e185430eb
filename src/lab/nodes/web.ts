import type { LabNodeSpec } from '../layout.js';

/** Lab nodes of this protocol family (filled in with its probe). */
export const NODES: readonly LabNodeSpec[] = [];
