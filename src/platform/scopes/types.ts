/**
 * Shapes of scope expressions.
 *
 * A `ScopeExpression` is what an access check is evaluated against: a single required
 * scope, or a conjunction / disjunction of sub-expressions. A `ScopeExpressionTemplate` is
 * what an API method declares: the same structure, plus `<param>` placeholders in strings,
 * conditional clauses and loops, all of which disappear when it is rendered with the
 * request's parameters.
 */

export type ScopeExpression = string | AllOfExpression | AnyOfExpression;

export interface AllOfExpression {
  AllOf: ScopeExpression[];
}

export interface AnyOfExpression {
  AnyOf: ScopeExpression[];
}

/**
 * Templates that may stand on their own: at the root of a declaration, or as the branch
 * of a conditional. A loop may not, because it renders to a list of expressions that only
 * makes sense spliced into an enclosing `AllOf` / `AnyOf`.
 */
export type ScopeExpressionTemplate =
  | string
  | { AllOf: ScopeTemplateItem[] }
  | { AnyOf: ScopeTemplateItem[] }
  | IfTemplate;

/** An element of an `AllOf` / `AnyOf` template. */
export type ScopeTemplateItem = ScopeExpressionTemplate | ForTemplate;

/** Renders `then` when the boolean parameter named by `if` is true, otherwise `else` (or nothing). */
export interface IfTemplate {
  if: string;
  then: ScopeExpressionTemplate;
  else?: ScopeExpressionTemplate;
}

/**
 * Renders the string `each` once per element of the array parameter named by `in`, with
 * the element bound to the parameter named by `for`.
 */
export interface ForTemplate {
  for: string;
  in: string;
  each: string;
}
