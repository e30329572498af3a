/**
 * The error catalog: every error an API handler can answer with, by code. Handlers throw
 * `new ApiError(code, message, details)`; the API builder turns it into Taskcluster's error body
 * (`{code, message, requestInfo}`) with the status below.
 */
export const errorStatus = {
  InputError: 400,
  InputValidationError: 400,
  MalformedPayload: 400,
  DenylistedAddress: 400,
  AuthenticationFailed: 401,
  InsufficientScopes: 403,
  ResourceNotFound: 404,
  MethodNotAllowed: 405,
  RequestConflict: 409,
  ResourceExpired: 410,
  InputTooLarge: 413,
  UnsupportedMediaType: 415,
  TooManyRequests: 429,
  InternalServerError: 500,
  NotImplemented: 501,
  ServiceUnavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.details = details;
  }

  get statusCode(): number {
    return errorStatus[this.code];
  }
}

export const isApiError = (err: unknown): err is ApiError => err instanceof ApiError;
