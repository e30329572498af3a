export { removeGivenScopes, satisfiesExpression, scopesSatisfying } from './expression.ts';
export { expressionToString, formatExpression } from './format.ts';
export { LruCache } from './lru.ts';
export { patternMatch, scopeMatch } from './match.ts';
export {
  mergeScopeSets,
  normalizedSetSatisfies,
  normalizeScopeSet,
  scopeCompare,
  scopeIntersection,
  scopeUnion,
} from './normalize.ts';
export { type RoleValidationCode, RoleValidationError, validateRoles } from './role-validation.ts';
export { assumedInput, type Role, RoleResolver, type RoleResolverOptions } from './roles.ts';
export { RoleExpansionError } from './rule-expander.ts';
export {
  renderExpression,
  ScopeTemplateError,
  type TemplateParams,
  tryRenderExpression,
} from './template.ts';
export { paramsSuffice, type TemplateParamType, templateParameters } from './template-params.ts';
export type {
  AllOfExpression,
  AnyOfExpression,
  ForTemplate,
  IfTemplate,
  ScopeExpression,
  ScopeExpressionTemplate,
  ScopeTemplateItem,
} from './types.ts';
export {
  isParamName,
  isScopeExpression,
  isScopeExpressionTemplate,
  isValidScope,
  validateExpression,
  validateExpressionTemplate,
  validScopeSet,
} from './validate.ts';
