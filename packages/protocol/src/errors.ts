import { z } from 'zod';

/** The closed set of error codes of the contract, with their HTTP status. */
export const ERROR_HTTP_STATUS = {
  VALIDATION_ERROR: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_HTTP_STATUS;
export const ErrorCodeSchema = z.enum(Object.keys(ERROR_HTTP_STATUS) as [ErrorCode, ...ErrorCode[]]);
export type ErrorCodeSchema = z.infer<typeof ErrorCodeSchema>;

export const ErrorPayload = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  details: z.unknown().optional(),
});
export type ErrorPayload = z.infer<typeof ErrorPayload>;

/** REST error body: `{ error: { code, message, details? } }`. */
export const ErrorBody = z.object({ error: ErrorPayload });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The error every layer throws; transports map it to HTTP statuses and socket acks. */
export class ConfabError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ConfabError';
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return ERROR_HTTP_STATUS[this.code];
  }
  toPayload(): ErrorPayload {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Turns a Zod failure into a readable one-line message plus structured details. */
export function validationError(error: z.ZodError): ConfabError {
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  const message = first ? (first.path ? `${first.path}: ${first.message}` : first.message) : 'invalid input';
  return new ConfabError('VALIDATION_ERROR', message, { issues });
}

/** Parses input with a schema, throwing VALIDATION_ERROR on failure. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(result.error);
  return result.data;
}
