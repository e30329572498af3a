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

function renderString(template: string, params: TemplateParams): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = lookup(params, name);
    if (typeof value === 'string' || typeof value === 'number') {
      return String(value);
    }
    if (value === undefined) {
      throw new ScopeTemplateError(
        `scope template parameter '${name}' is missing (needs a string or number)`,
        name,
      );
    }
    throw new ScopeTemplateError(
      `scope template parameter '${name}' must be a string or number, got ${describe(value)}`,
      name,
    );
  });
}

const describe = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * Render one template node. Strings, AllOf and AnyOf render to an expression; a false
 * conditional without `else` renders to null (the clause imposes nothing); a loop renders
 * to a list spliced into the enclosing AllOf / AnyOf.
 */
function renderNode(node: unknown, params: TemplateParams): ScopeExpression | ScopeExpression[] | null {
  if (typeof node === 'string') {
    return renderString(node, params);
  }
  if (!isObject(node)) {
    throw new ScopeTemplateError(`invalid scope template node: ${JSON.stringify(node)}`);
  }
  if (Array.isArray(node.AllOf)) {
    return { AllOf: renderList(node.AllOf, params) };
  }
  if (Array.isArray(node.AnyOf)) {
    return { AnyOf: renderList(node.AnyOf, params) };
  }
  if (typeof node.for === 'string' && typeof node.in === 'string' && typeof node.each === 'string') {
    const values = lookup(params, node.in);
    if (values === undefined) {
      throw new ScopeTemplateError(
        `scope template parameter '${node.in}' is missing (needs an array)`,
        node.in,
      );
    }
    if (!Array.isArray(values)) {
      throw new ScopeTemplateError(
        `scope template parameter '${node.in}' must be an array, got ${describe(values)}`,
        node.in,
      );
    }
    const { each, for: name } = node;
    return values.map((value) => renderString(each, { ...params, [name]: value }));
  }
  if (typeof node.if === 'string' && Object.hasOwn(node, 'then')) {
    const cond = lookup(params, node.if);
    if (cond === true) {
      return renderStandalone(node.then, params);
    }
    if (cond === false) {
      return Object.hasOwn(node, 'else') ? renderStandalone(node.else, params) : null;
    }
    if (cond === undefined) {
      throw new ScopeTemplateError(
        `scope template parameter '${node.if}' is missing (needs a boolean)`,
        node.if,
      );
    }
    throw new ScopeTemplateError(
      `scope template parameter '${node.if}' must be a boolean, got ${describe(cond)}`,
      node.if,
    );
  }
  throw new ScopeTemplateError(`invalid scope template node: ${JSON.stringify(node)}`);
}

function renderList(items: readonly unknown[], params: TemplateParams): ScopeExpression[] {
  const out: ScopeExpression[] = [];
  for (const item of items) {
    const rendered = renderNode(item, params);
    if (Array.isArray(rendered)) {
      out.push(...rendered);
    } else if (rendered !== null) {
      out.push(rendered);
    }
  }
  return out;
}

function renderStandalone(template: unknown, params: TemplateParams): ScopeExpression | null {
  const rendered = renderNode(template, params);
  if (Array.isArray(rendered)) {
    throw new ScopeTemplateError('a {for, in, each} loop is only allowed inside AllOf or AnyOf');
  }
  return rendered;
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
  return renderStandalone(template, params);
}
