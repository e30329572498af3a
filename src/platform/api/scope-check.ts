import { ApiError } from '../errors.ts';
import {
  expressionToString,
  removeGivenScopes,
  type ScopeExpression,
  type ScopeExpressionTemplate,
  satisfiesExpression,
  tryRenderExpression,
} from '../scopes/index.ts';

/**
 * Renders an endpoint's scope template with the parameters known so far. Returns undefined when
 * a parameter the template names is not known yet (the handler must call `authorize` with it).
 */
export function tryRender(
  template: ScopeExpressionTemplate,
  params: Record<string, unknown>,
): ScopeExpression | undefined {
  const rendered = tryRenderExpression(template, params);
  // null: an if-clause without else dropped everything, so nothing is required.
  return rendered === null ? { AllOf: [] } : rendered;
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
