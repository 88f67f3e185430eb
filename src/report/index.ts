/**
 * Assessment reports (`medsurface report`): what the inventory holds about the systems in scope,
 * as self-contained HTML, PDF (Chromium) or Markdown, with a TLP marking everywhere. gather.ts
 * reads, the renderers format; no patient value can reach a report because the inventory holds
 * none and observations are read for record counts only.
 */
export { type Chart, reportCharts, UnsafeChartError } from './charts.js';
export { PdfRenderError, ReportOptionError } from './errors.js';
export { DEFAULT_TITLE, gatherReport } from './gather.js';
export { pdfHeaderFooter, renderHtml } from './html.js';
export { renderMarkdown } from './markdown.js';
export { CHROMIUM_ARGS, chromiumPath, DEFAULT_CHROMIUM, launchChromium, PDF_TIMEOUT_MS, type PdfOptions, type PdfResult, renderPdf } from './pdf.js';
export { type PdfInfo, PdfMetadataError, pdfPageCount, readPdfInfo, setPdfInfo } from './pdf-info.js';
export { DEFAULT_TLP, parseTlp, TLP_LEVELS, type Tlp, type TlpMarking, tlpMarking } from './tlp.js';
export { REPORT_FORMATS, REPORT_LIMITS, type ReportData, type ReportFormat, type ReportOptions } from './types.js';
