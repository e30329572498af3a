import type { TSchema } from '@sinclair/typebox';

/** One word of a Pulse routing key, as documented in the exchanges reference. */
export interface RoutingKeyPart {
  name: string;
  summary: string;
  /** May contain dots (so consumers must match it with `#`); at most one per key. */
  multipleWords?: boolean;
  /** Absent values of non-required parts are published as `_`. */
  required?: boolean;
  /** Maximum length in bytes; defaults to the constant's length for constant parts. */
  maxSize?: number;
  constant?: string;
}

export interface ExchangeDeclaration<T extends TSchema = TSchema> {
  /** Exchange name below the service prefix, e.g. `client-created`. */
  exchange: string;
  /** camelCase method name used by client generators, e.g. `clientCreated`. */
  name: string;
  title: string;
  description: string;
  routingKey: RoutingKeyPart[];
  schema: T;
}

export interface ServiceExchanges {
  serviceName: string;
  projectName: string;
  title: string;
  description: string;
  // biome-ignore lint/suspicious/noExplicitAny: declarations carry different payload schemas
  exchanges: ExchangeDeclaration<any>[];
}

export type RoutingValue = string | number | null | undefined;
export type RoutingValues = Readonly<Record<string, RoutingValue>>;

/** AMQP short strings (exchange names, routing keys) are limited to 255 bytes. */
export const MAX_ROUTING_KEY_BYTES = 255;

/** The leading `primary` word Taskcluster puts in front of formalized routing keys (queue, github, ...). */
export const routingKeyKindPart: RoutingKeyPart = {
  name: 'routingKeyKind',
  summary: "Identifier for the routing-key kind. This is always `'primary'` for the formalized routing key.",
  constant: 'primary',
  required: true,
};

/** The trailing multi-word part every Taskcluster routing key ends with. */
export const reservedPart: RoutingKeyPart = {
  name: 'reserved',
  summary:
    'Space reserved for future routing-key entries, you should always match this entry with `#`. ' +
    'As automatically done by our tooling, if not specified.',
  multipleWords: true,
  maxSize: 1,
};

export function exchangePrefix(svc: Pick<ServiceExchanges, 'projectName'>): string {
  return `exchange/${svc.projectName}/v1/`;
}

/** Full AMQP exchange name, e.g. `exchange/taskcluster-auth/v1/client-created`. */
export function exchangeName(svc: Pick<ServiceExchanges, 'projectName'>, decl: ExchangeDeclaration): string {
  return exchangePrefix(svc) + decl.exchange;
}

function maxSizeOf(part: RoutingKeyPart): number {
  return part.maxSize ?? part.constant?.length ?? 0;
}

const checkedKeys = new WeakSet<RoutingKeyPart[]>();

/**
 * Checks a routing key declaration the way Taskcluster's publisher does when
 * an exchange is declared: unique names, at most one multi-word part, a
 * positive maxSize everywhere, and a worst case that fits in 255 bytes.
 */
export function checkRoutingKeyDeclaration(decl: ExchangeDeclaration): void {
  if (checkedKeys.has(decl.routingKey)) {
    return;
  }
  const names = new Set<string>();
  let multiWord: string | undefined;
  let total = -1; // n parts need n-1 joining dots
  for (const part of decl.routingKey) {
    const where = `exchange ${decl.exchange}: routing key part ${part.name}`;
    if (names.has(part.name)) {
      throw new Error(`${where} is declared twice`);
    }
    names.add(part.name);
    if (part.multipleWords) {
      if (multiWord !== undefined) {
        throw new Error(`${where}: only one multipleWords part is allowed (already have ${multiWord})`);
      }
      multiWord = part.name;
    }
    const size = maxSizeOf(part);
    if (!(size > 0)) {
      throw new Error(`${where} must have maxSize > 0`);
    }
    total += size + 1;
  }
  if (total > MAX_ROUTING_KEY_BYTES) {
    throw new Error(
      `exchange ${decl.exchange}: routing key may reach ${total} bytes including dots, more than ${MAX_ROUTING_KEY_BYTES}`,
    );
  }
  checkedKeys.add(decl.routingKey);
}

/** Checks every declaration of a service, including unique exchange and method names. */
export function checkServiceExchanges(svc: ServiceExchanges): void {
  const exchanges = new Set<string>();
  const names = new Set<string>();
  for (const decl of svc.exchanges) {
    if (exchanges.has(decl.exchange) || names.has(decl.name)) {
      throw new Error(`${svc.serviceName}: exchange ${decl.exchange} (${decl.name}) is declared twice`);
    }
    exchanges.add(decl.exchange);
    names.add(decl.name);
    if (Buffer.byteLength(exchangeName(svc, decl)) > MAX_ROUTING_KEY_BYTES) {
      throw new Error(`${svc.serviceName}: exchange name ${exchangeName(svc, decl)} exceeds 255 bytes`);
    }
    checkRoutingKeyDeclaration(decl);
  }
}

/**
 * Builds the primary routing key: each part in declaration order, a
 * constant part always its constant, an absent optional part `_`, numbers
 * in decimal. Throws (a bug in the publishing code, not user input) for a
 * missing required value, a dot in a single-word part, or a word over its
 * maxSize.
 */
export function buildRoutingKey(decl: ExchangeDeclaration, values: RoutingValues): string {
  checkRoutingKeyDeclaration(decl);
  const words = decl.routingKey.map((part) => {
    const where = `exchange ${decl.exchange}: routing key part ${part.name}`;
    let word: RoutingValue = part.constant ?? values[part.name];
    if (word === undefined || word === null) {
      if (part.required) {
        throw new Error(`${where} is required but has no value`);
      }
      word = '_';
    }
    if (typeof word === 'number') {
      word = String(word);
    }
    if (typeof word !== 'string') {
      throw new Error(`${where} must be a string or number, got ${typeof word}`);
    }
    if (word === '') {
      // An empty word would shift every following word for `*` bindings.
      throw new Error(`${where} is empty`);
    }
    if (!part.multipleWords && word.includes('.')) {
      throw new Error(`${where} value ${JSON.stringify(word)} contains '.'`);
    }
    const size = Buffer.byteLength(word, 'utf8');
    if (size > maxSizeOf(part)) {
      throw new Error(
        `${where} value ${JSON.stringify(word)} is ${size} bytes, longer than ${maxSizeOf(part)}`,
      );
    }
    return word;
  });
  return words.join('.');
}

/**
 * A binding pattern for `decl`: given values are matched literally, missing
 * single-word parts with `*`, a missing multi-word part with `#`, which is
 * what Taskcluster's clients generate for partial routing key patterns.
 */
export function routingKeyPattern(decl: ExchangeDeclaration, values: RoutingValues = {}): string {
  return decl.routingKey
    .map((part) => {
      const value = part.constant ?? values[part.name];
      if (value === undefined || value === null) {
        return part.multipleWords ? '#' : '*';
      }
      return String(value);
    })
    .join('.');
}

/** Taskcluster's relative schema id for a message: `v1/<exchange>-message.json#`. */
export function defaultSchemaPath(decl: ExchangeDeclaration): string {
  return `v1/${decl.exchange}-message.json#`;
}

export interface ExchangesReferenceEntry {
  type: 'topic-exchange';
  exchange: string;
  name: string;
  title: string;
  description: string;
  schema: string;
  routingKey: Array<{
    name: string;
    summary: string;
    constant?: string;
    multipleWords: boolean;
    required: boolean;
  }>;
}

export interface ExchangesReference {
  $schema: string;
  apiVersion: 'v1';
  serviceName: string;
  title: string;
  description: string;
  exchangePrefix: string;
  entries: ExchangesReferenceEntry[];
}

export interface ExchangesReferenceOptions {
  /**
   * The `schema` of each entry. Upstream uses a URI relative to
   * `<rootUrl>/schemas/<serviceName>/`, which is the default here.
   */
  schemaPath?: (decl: ExchangeDeclaration) => string;
}

/** The `exchanges-reference-v0` document Taskcluster serves at `/references/<service>/v1/exchanges.json`. */
export function exchangesReference(
  svc: ServiceExchanges,
  opts: ExchangesReferenceOptions = {},
): ExchangesReference {
  checkServiceExchanges(svc);
  const schemaPath = opts.schemaPath ?? defaultSchemaPath;
  return {
    $schema: '/schemas/common/exchanges-reference-v0.json#',
    apiVersion: 'v1',
    serviceName: svc.serviceName,
    title: svc.title,
    description: svc.description,
    exchangePrefix: exchangePrefix(svc),
    entries: svc.exchanges.map((decl) => ({
      type: 'topic-exchange',
      exchange: decl.exchange,
      name: decl.name,
      title: decl.title,
      description: decl.description,
      schema: schemaPath(decl),
      routingKey: decl.routingKey.map((part) => ({
        name: part.name,
        summary: part.summary,
        // Only present when set, as upstream's JSON (undefined keys vanish in JSON.stringify).
        ...(part.constant !== undefined ? { constant: part.constant } : {}),
        multipleWords: Boolean(part.multipleWords),
        required: Boolean(part.required),
      })),
    })),
  };
}
