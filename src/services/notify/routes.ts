/**
 * Task routes that ask for notifications: `notify.<type>.<target>.on-<event>`. The target is
 * everything between the type and the last word, so it may contain dots (email addresses,
 * pulse topics, matrix rooms).
 */

export const ROUTE_PREFIX = 'notify.';

export const ROUTE_TYPES = [
  'email',
  'pulse',
  'slack-channel',
  'matrix-room',
  'irc-user',
  'irc-channel',
] as const;
export type RouteType = (typeof ROUTE_TYPES)[number];

/** The queue events a route can follow (the task-* exchanges, by their last word). */
export type TaskEvent = 'defined' | 'pending' | 'running' | 'completed' | 'failed' | 'exception';

export const DECIDERS = [
  'defined',
  'pending',
  'running',
  'completed',
  'failed',
  'exception',
  'resolved',
  'transition',
  'any',
  'success',
  'group-resolved',
] as const;
export type Decider = (typeof DECIDERS)[number];

export interface NotifyRoute {
  route: string;
  type: RouteType;
  target: string;
  decider: Decider;
}

/** The route's parts, or a sentence saying why it is not a notify route we can follow. */
export function parseRoute(route: string): NotifyRoute | string {
  const words = route.split('.');
  if (words[0] !== 'notify' || words.length < 4) return 'is not notify.<type>.<target>.on-<event>';
  const type = words[1] as RouteType;
  if (!ROUTE_TYPES.includes(type)) return `has unknown type ${JSON.stringify(words[1])}`;
  const last = words[words.length - 1];
  const decider = last.slice(3) as Decider;
  if (!last.startsWith('on-') || !DECIDERS.includes(decider)) {
    return `ends in ${JSON.stringify(last)}, not one of ${DECIDERS.map((d) => `on-${d}`).join(', ')}`;
  }
  const target = words.slice(2, -1).join('.');
  if (target === '') return 'has an empty target';
  return { route, type, target, decider };
}

/**
 * Whether a route with this decider follows this event. A resolution (`resolved`, `any`,
 * `exception`) excludes an exception that the queue retried: the task is not over.
 */
export function deciderMatches(decider: Decider, event: TaskEvent, retried: boolean): boolean {
  switch (decider) {
    case 'transition':
      return true;
    case 'resolved':
    case 'any':
      return event === 'completed' || event === 'failed' || (event === 'exception' && !retried);
    case 'success':
      return event === 'completed';
    case 'exception':
      return event === 'exception' && !retried;
    case 'group-resolved':
      return false;
    default:
      return decider === event;
  }
}
