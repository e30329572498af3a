import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ScopeExpression, ScopeExpressionTemplate } from '../scopes/index.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete' | 'patch';
export type Stability = 'stable' | 'experimental' | 'deprecated';

/** What an authenticator is asked: the fields Hawk signs, as the client saw them. */
export interface AuthenticationInput {
  method: string;
  /** Path and query string, as requested (bewits live in the query). */
  resource: string;
  host: string;
  port: number;
  authorization?: string;
  sourceIp?: string;
}

export type AuthenticationResult =
  | {
      status: 'auth-success';
      scheme: 'hawk';
      clientId: string;
      /** The fully expanded scopes the request carries. */
      scopes: string[];
      /** When the credentials stop being valid. */
      expires: Date;
      hash?: string;
    }
  | { status: 'no-auth'; scheme: 'none'; scopes: string[]; expires: Date }
  | { status: 'auth-failed'; message: string };

export interface Authenticator {
  authenticate(input: AuthenticationInput): Promise<AuthenticationResult>;
}

/** What a handler sees of its request. */
export interface EndpointContext<P = Record<string, string>, Q = Record<string, unknown>, I = unknown> {
  params: P;
  query: Q;
  body: I;
  /** The authenticated clientId, or undefined for an unauthenticated request. */
  clientId: string | undefined;
  /** Expanded scopes of the request (the anonymous role's when unauthenticated). */
  scopes: string[];
  satisfies(expr: ScopeExpression): boolean;
  /**
   * Checks the endpoint's scope expression with these parameters added to the path parameters;
   * throws InsufficientScopes. Needed when the expression names data only the handler knows.
   */
  authorize(params: Record<string, unknown>): void;
  rootUrl: string;
  log: Logger;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface EndpointDeclaration<
  TQuery extends TObject = TObject,
  TInput extends TSchema = TSchema,
  TOutput extends TSchema = TSchema,
> {
  name: string;
  method: HttpMethod;
  /** Taskcluster form: `/clients/<clientId>`. */
  route: string;
  /** Patterns path parameters must match (checked after URL decoding). */
  params?: Record<string, RegExp>;
  query?: TQuery;
  scopes: ScopeExpressionTemplate | null;
  input?: TInput;
  output?: TOutput;
  title: string;
  description: string;
  stability: Stability;
  category?: string;
  /** The handler authenticates the request itself (testAuthenticate, with its own test clients). */
  skipAuthentication?: boolean;
  /**
   * What error bodies echo of the request body (`requestInfo.payload`), for bodies that carry
   * secrets; without it the body is echoed as sent.
   */
  cleanPayload?(body: unknown): unknown;
  handler(
    ctx: EndpointContext<Record<string, string>, Static<TQuery>, Static<TInput>>,
  ): Promise<Static<TOutput> | undefined>;
}

/** Type-checks one endpoint declaration while keeping its schema types. */
export function endpoint<TQuery extends TObject, TInput extends TSchema, TOutput extends TSchema>(
  decl: EndpointDeclaration<TQuery, TInput, TOutput>,
): EndpointDeclaration {
  return decl as unknown as EndpointDeclaration;
}

export interface ServiceApi {
  serviceName: string;
  title: string;
  description: string;
  endpoints: EndpointDeclaration[];
}
