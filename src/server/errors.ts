/**
 * The API's errors: `{"error": "<code>", "message": "<human sentence>"}` with the HTTP status
 * (docs/api.md "Authentication"). Handlers throw ApiError; the error handler in app.ts maps
 * validation errors, search-language errors and UsageErrors to 400 and anything unexpected to
 * a 500 that says nothing about the internals.
 */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: string;
  /** Extra fields of the answer (e.g. the position of a bad search token). */
  readonly extra: Record<string, unknown>;

  constructor(statusCode: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.code = code;
    this.extra = extra;
  }
}

export const badRequest = (message: string, extra: Record<string, unknown> = {}) => new ApiError(400, 'bad-request', message, extra);
export const unauthenticated = (message = 'log in first (session cookie or Authorization: Bearer token)') =>
  new ApiError(401, 'unauthenticated', message);
export const forbidden = (message: string, code = 'forbidden') => new ApiError(403, code, message);
export const notFound = (message: string) => new ApiError(404, 'not-found', message);
export const conflict = (message: string, code = 'conflict') => new ApiError(409, code, message);
