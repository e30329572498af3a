import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body as received, kept to check a Hawk payload hash. */
    rawBody?: string;
  }
}

/** CORS as upstream answers it: any origin may call the API (credentials are Hawk, not cookies). */
const corsHeaders = {
  'access-control-allow-origin': '*',
  'access-control-max-age': '900',
  'access-control-allow-methods': 'OPTIONS,GET,HEAD,POST,PUT,DELETE,TRACE,CONNECT',
  'access-control-allow-headers': 'X-Requested-With,Content-Type,Authorization,Accept,Origin,Cache-Control',
};

/**
 * JSON bodies are parsed here rather than by Fastify's parser so the raw text is kept for Hawk
 * payload hashes; also CORS headers and preflight answers.
 */
export function installHttpExtras(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    request.rawBody = text;
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new SyntaxError(withoutQuotedBody((err as Error).message)), undefined);
    }
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(corsHeaders);
  });
  app.options('/*', async (_request, reply) => {
    reply.headers(corsHeaders).status(204).send();
  });
}

/**
 * V8 quotes the body (and the offending character) in JSON syntax errors, and error answers and
 * logs repeat the message: a body may hold a secret, so only the kind of mistake is kept.
 */
export function withoutQuotedBody(message: string): string {
  const kept = message
    .replace(/(^|,\s*)(\.\.\.)?"[\s\S]*"(\.\.\.)? is not valid JSON$/, '')
    .replace(/^Unexpected token '[\s\S]*'$/, 'Unexpected token');
  return kept || 'not a JSON value';
}

/** Hawk's payload hash: sha256 over `hawk.1.payload\n<content type>\n<body>\n`, base64. */
export function payloadHash(request: FastifyRequest): string {
  const contentType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return createHash('sha256')
    .update(`hawk.1.payload\n${contentType}\n${request.rawBody ?? ''}\n`)
    .digest('base64');
}
