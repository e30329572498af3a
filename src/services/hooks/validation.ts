/** Checks of hook definitions beyond their JSON schema, each naming the problem for a 400. */
import { Ajv, type ValidateFunction } from 'ajv';
import jsone from 'json-e';
import slugid from 'slugid';
import type { Binding } from './db.ts';

const MAX_AMQP_NAME_BYTES = 255;
// Printable ASCII without spaces: what Pulse exchange names and routing keys are made of.
const PRINTABLE = /^[\x21-\x7e]+$/;

/** Why the bindings are unusable, or undefined. */
export function bindingsProblem(bindings: Binding[]): string | undefined {
  const seen = new Set<string>();
  for (const [i, { exchange, routingKeyPattern: pattern }] of bindings.entries()) {
    const where = `bindings[${i}]`;
    if (!exchange.startsWith('exchange/') || exchange === 'exchange/') {
      return `${where}.exchange ${JSON.stringify(exchange)} is not a Pulse exchange name (exchange/<project>/v1/<name>)`;
    }
    if (!PRINTABLE.test(exchange) || Buffer.byteLength(exchange) > MAX_AMQP_NAME_BYTES) {
      return `${where}.exchange ${JSON.stringify(exchange)} must be printable ASCII without spaces, at most ${MAX_AMQP_NAME_BYTES} bytes`;
    }
    if (!PRINTABLE.test(pattern) || Buffer.byteLength(pattern) > MAX_AMQP_NAME_BYTES) {
      return `${where}.routingKeyPattern ${JSON.stringify(pattern)} must be printable ASCII without spaces, at most ${MAX_AMQP_NAME_BYTES} bytes`;
    }
    for (const word of pattern.split('.')) {
      if (word === '') {
        return `${where}.routingKeyPattern ${JSON.stringify(pattern)} has an empty word (a leading, trailing or doubled '.')`;
      }
      if (word !== '*' && word !== '#' && /[*#]/.test(word)) {
        return `${where}.routingKeyPattern ${JSON.stringify(pattern)}: '*' and '#' match only as whole words, not inside ${JSON.stringify(word)}`;
      }
    }
    const key = JSON.stringify([exchange, pattern]);
    if (seen.has(key)) return `${where} repeats an earlier binding`;
    seen.add(key);
  }
  return undefined;
}

/**
 * A JSON-e error every fire would hit (bad expression syntax, misuse of an operator), found by
 * rendering the template once with a scheduled fire's context. Errors that depend on the fire's
 * context (a missing payload property) are not reported: other fires may have it.
 */
export function templateProblem(task: Record<string, unknown>): string | undefined {
  const context = { firedBy: 'schedule', taskId: slugid.nice(), now: new Date().toJSON(), payload: {} };
  try {
    jsone(task, context);
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'SyntaxError' || name === 'TemplateError') return String(err);
    // json-e's parser crashes this way on some malformed expressions (`1 +`).
    if (err instanceof TypeError) return `an expression in the template does not parse (${err.message})`;
  }
  return undefined;
}

const validators = new Map<string, ValidateFunction>();
const MAX_CACHED_VALIDATORS = 1000;

/**
 * The validator of a triggerSchema, cached by its text. Each schema gets an Ajv of its own, so
 * schemas with the same `$id` do not collide. Throws for an invalid schema.
 */
export function triggerValidator(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (!validate) {
    validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    if (validators.size >= MAX_CACHED_VALIDATORS) validators.clear();
    validators.set(key, validate);
  }
  return validate;
}

/** Why `payload` fails the schema, or undefined when it passes. */
export function triggerPayloadProblem(schema: Record<string, unknown>, payload: unknown): string | undefined {
  const validate = triggerValidator(schema);
  if (validate(payload)) return undefined;
  return new Ajv().errorsText(validate.errors, { dataVar: 'payload' });
}
