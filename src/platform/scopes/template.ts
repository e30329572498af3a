// biome-ignore-all lint/suspicious/noThenProperty: `then` is a branch of {if, then, else} templates, not a thenable
import type { ScopeExpression, ScopeExpressionTemplate } from './types.ts';

/** Raised when a template cannot be rendered with the given parameters. */
export class ScopeTemplateError extends Error {
  /** The parameter at fault, when the problem is a parameter. */
  readonly param: string | undefined;

  constructor(message: string, param?: string) {
    super(message);
    this.name = 'ScopeTemplateError';
    this.param = param;
  }
}

export type TemplateParams = Readonly<Record<string, unknown>>;

/** `<name>` placeholders; `<..>` (role parameters) and other text in angle brackets stay literal. */
export const PLACEHOLDER = /<([a-zA-Z][a-zA-Z0-9_]*)>/g;

const lookup = (params: TemplateParams, name: string): unknown =>
  Object.hasOwn(params, name) ? params[name] : undefined;

/**
 * Why a template did not render. Rendering returns it instead of throwing, so that a caller
 * probing with the parameters known so far (`tryRenderExpression`, once per request of most
 * endpoints) pays for no exception and no message: `message` is built only when asked for.
 */
class RenderFailure {
  constructor(
    readonly message: () => string,
    readonly param?: string,
  ) {}
}

const describe = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A missing parameter, or one of the wrong type (`wanted` says which type it needs). */
function badParam(name: string, value: unknown, wanted: string): RenderFailure {
  return new RenderFailure(
    () =>
      value === undefined
        ? `scope template parameter '${name}' is missing (needs ${wanted})`
        : `scope template parameter '${name}' must be ${wanted}, got ${describe(value)}`,
    name,
  );
}

const invalidNode = (node: unknown): RenderFailure =>
  new RenderFailure(() => `invalid scope template node: ${JSON.stringify(node)}`);

/** A string template split at its placeholders: literal text at even indices, parameter names at odd ones. */
const splitTemplates = new Map<string, readonly string[]>();
const MAX_SPLIT_TEMPLATES = 10_000;

function splitTemplate(template: string): readonly string[] {
  let parts = splitTemplates.get(template);
  if (parts === undefined) {
    // split() with a capturing group puts each captured name between the texts around it.
    parts = template.split(new RegExp(PLACEHOLDER.source));
    if (splitTemplates.size < MAX_SPLIT_TEMPLATES) splitTemplates.set(template, parts);
  }
  return parts;
}

function renderString(template: string, params: TemplateParams): string | RenderFailure {
  const parts = splitTemplate(template);
  if (parts.length === 1) return template;
  let out = parts[0];
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i];
    const value = lookup(params, name);
    if (typeof value !== 'string' && typeof value !== 'number') {
      return badParam(name, value, 'a string or number');
    }
    out += String(value) + parts[i + 1];
  }
  return out;
}

type Rendered = ScopeExpression | ScopeExpression[] | null;

/**
 * Render one template node. Strings, AllOf and AnyOf render to an expression; a false
 * conditional without `else` renders to null (the clause imposes nothing); a loop renders
 * to a list spliced into the enclosing AllOf / AnyOf.
 */
function renderNode(node: unknown, params: TemplateParams): Rendered | RenderFailure {
  if (typeof node === 'string') {
    return renderString(node, params);
  }
  if (!isObject(node)) {
    return invalidNode(node);
  }
  if (Array.isArray(node.AllOf)) {
    const list = renderList(node.AllOf, params);
    return list instanceof RenderFailure ? list : { AllOf: list };
  }
  if (Array.isArray(node.AnyOf)) {
    const list = renderList(node.AnyOf, params);
    return list instanceof RenderFailure ? list : { AnyOf: list };
  }
  if (typeof node.for === 'string' && typeof node.in === 'string' && typeof node.each === 'string') {
    const values = lookup(params, node.in);
    if (!Array.isArray(values)) {
      return badParam(node.in, values, 'an array');
    }
    const { each, for: name } = node;
    const out: ScopeExpression[] = [];
    for (const value of values) {
      const rendered = renderString(each, { ...params, [name]: value });
      if (rendered instanceof RenderFailure) return rendered;
      out.push(rendered);
    }
    return out;
  }
  if (typeof node.if === 'string' && Object.hasOwn(node, 'then')) {
    const cond = lookup(params, node.if);
    if (cond === true) {
      return renderStandalone(node.then, params);
    }
    if (cond === false) {
      return Object.hasOwn(node, 'else') ? renderStandalone(node.else, params) : null;
    }
    return badParam(node.if, cond, 'a boolean');
  }
  return invalidNode(node);
}

function renderList(items: readonly unknown[], params: TemplateParams): ScopeExpression[] | RenderFailure {
  const out: ScopeExpression[] = [];
  for (const item of items) {
    const rendered = renderNode(item, params);
    if (rendered instanceof RenderFailure) {
      return rendered;
    }
    if (Array.isArray(rendered)) {
      out.push(...rendered);
    } else if (rendered !== null) {
      out.push(rendered);
    }
  }
  return out;
}

const LOOP_OUTSIDE_LIST = new RenderFailure(
  () => 'a {for, in, each} loop is only allowed inside AllOf or AnyOf',
);

function renderStandalone(template: unknown, params: TemplateParams): ScopeExpression | null | RenderFailure {
  const rendered = renderNode(template, params);
  return Array.isArray(rendered) ? LOOP_OUTSIDE_LIST : rendered;
}

/**
 * Render a template into the scope expression a request must satisfy.
 *
 * `<name>` in strings is replaced by the string or number parameter `name`; a
 * `{for, in, each}` loop contributes one rendered `each` per element of the array
 * parameter `in`; `{if, then, else}` picks a branch on the boolean parameter `if`, and a
 * false condition without `else` drops the clause. Returns null when the whole template
 * is such a dropped clause: the request then requires no scopes at all. Throws
 * `ScopeTemplateError` naming the parameter when one is missing or of the wrong type.
 */
export function renderExpression(
  template: ScopeExpressionTemplate,
  params: TemplateParams,
): ScopeExpression | null {
  const rendered = renderStandalone(template, params);
  if (rendered instanceof RenderFailure) {
    throw new ScopeTemplateError(rendered.message(), rendered.param);
  }
  return rendered;
}

/**
 * Like `renderExpression`, but a template that does not render with these parameters (one is
 * missing or of the wrong type, or the template is invalid) gives undefined instead of an error.
 */
export function tryRenderExpression(
  template: ScopeExpressionTemplate,
  params: TemplateParams,
): ScopeExpression | null | undefined {
  const rendered = renderStandalone(template, params);
  return rendered instanceof RenderFailure ? undefined : rendered;
}
