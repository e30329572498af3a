import { ApiError } from '../errors.ts';
import {
  expressionToString,
  removeGivenScopes,
  renderExpression,
  type ScopeExpression,
  type ScopeExpressionTemplate,
  ScopeTemplateError,
  satisfiesExpression,
} from '../scopes/index.ts';

/**
 * Renders an endpoint's scope template with the parameters known so far. Returns undefined when
 * a parameter the template names is not known yet (the handler must call `authorize` with it).
 */
export function tryRender(
  template: ScopeExpressionTemplate,
  params: Record<string, unknown>,
): ScopeExpression | undefined {
  try {
    // null: an if-clause without else dropped everything, so nothing is required.
    return renderExpression(template, params) ?? { AllOf: [] };
  } catch (err) {
    if (err instanceof ScopeTemplateError) return undefined;
    throw err;
  }
}

/** Throws InsufficientScopes, saying what is missing, unless `scopes` satisfy `expr`. */
export function requireScopes(scopes: string[], expr: ScopeExpression, clientId: string | undefined): void {
  if (satisfiesExpression(scopes, expr)) return;
  const missing = removeGivenScopes(scopes, expr) ?? expr;
  const who = clientId ? `Client ${clientId}` : 'This unauthenticated request';
  throw new ApiError(
    'InsufficientScopes',
    `${who} lacks the scopes this request needs. Missing: ${expressionToString(missing)}. ` +
      `Required: ${expressionToString(expr)}.`,
    { required: expr, missing, clientId },
  );
}
