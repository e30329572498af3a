import type { ScopeExpression } from './types.ts';

/**
 * A compact one-line rendering for log lines and error messages, e.g.
 * `AllOf: [queue:create-task:x, AnyOf: [a, b]]`. Scopes are printed verbatim; use JSON
 * when the output must be parsed back.
 */
export function expressionToString(expr: ScopeExpression): string {
  if (typeof expr === 'string') {
    return expr;
  }
  if ('AllOf' in expr) {
    return `AllOf: [${expr.AllOf.map(expressionToString).join(', ')}]`;
  }
  return `AnyOf: [${expr.AnyOf.map(expressionToString).join(', ')}]`;
}

/**
 * A multi-line, indented rendering for longer messages, one scope per line:
 *
 *     AllOf:
 *       - queue:create-task:x
 *       - AnyOf:
 *         - a
 *         - b
 */
export function formatExpression(expr: ScopeExpression, indent = ''): string {
  if (typeof expr === 'string') {
    return `${indent}${expr}`;
  }
  const [key, items] = 'AllOf' in expr ? ['AllOf', expr.AllOf] : ['AnyOf', expr.AnyOf];
  if (items.length === 0) {
    return `${indent}${key}: []`;
  }
  const lines = items.map((item) => {
    const inner = formatExpression(item, `${indent}  `).trimStart();
    return `${indent}  - ${inner}`;
  });
  return `${indent}${key}:\n${lines.join('\n')}`;
}
