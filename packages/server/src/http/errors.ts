import { ConfabError, type ErrorBody } from '@confab/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

/** Maps anything thrown while handling a request to exactly one of the contract's error codes. */
export function toConfabError(error: unknown): ConfabError {
  if (error instanceof ConfabError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    // e.g. { path: "body.email", message: "Invalid email address" }
    const issues = error.validation.map((v) => ({
      path: [error.validationContext, ...v.instancePath.split('/')].filter(Boolean).join('.'),
      message: v.message ?? 'invalid',
    }));
    const first = issues[0];
    return new ConfabError('VALIDATION_ERROR', first ? `${first.path}: ${first.message}` : 'invalid input', { issues });
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ConfabError('PAYLOAD_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ConfabError('VALIDATION_ERROR', 'the request body must be JSON (Content-Type: application/json)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ConfabError('VALIDATION_ERROR', 'the request body must not be empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ConfabError('VALIDATION_ERROR', 'the request body is not valid JSON');
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) return new ConfabError('VALIDATION_ERROR', 'the request body is not valid JSON');
  if (fastifyError.statusCode === 413) return new ConfabError('PAYLOAD_TOO_LARGE', 'the request body is too large');
  if (fastifyError.statusCode === 400) return new ConfabError('VALIDATION_ERROR', fastifyError.message ?? 'bad request');
  return new ConfabError('INTERNAL', 'something went wrong on our side; it has been logged');
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  const confabError = toConfabError(error);
  if (confabError.code === 'INTERNAL') request.log.error({ err: error }, 'unhandled error');
  const retryAfterMs = (confabError.details as { retryAfterMs?: number } | undefined)?.retryAfterMs;
  if (confabError.code === 'RATE_LIMITED' && retryAfterMs !== undefined) reply.header('Retry-After', Math.ceil(retryAfterMs / 1000));
  const body: ErrorBody = { error: confabError.toPayload() };
  return reply.status(confabError.status).send(body);
}
