/**
 * AMQP topic matching: words are separated by `.`, `*` matches exactly one
 * word and `#` zero or more. Used by the in-process bus to behave like
 * RabbitMQ, including for CC routing keys.
 */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const p = pattern.split('.');
  const k = routingKey.split('.');
  // memo[i][j]: does p[i..] match k[j..]? Iterative DP keeps `#.#.#` patterns linear-ish, not exponential.
  let next: boolean[] = new Array(k.length + 1).fill(false);
  next[k.length] = true; // empty pattern matches only the empty remainder
  for (let i = p.length - 1; i >= 0; i--) {
    const current: boolean[] = new Array(k.length + 1).fill(false);
    for (let j = k.length; j >= 0; j--) {
      const word = p[i];
      if (word === '#') {
        // Match zero words, or consume one and stay on `#`.
        current[j] = next[j] || (j < k.length && current[j + 1]);
      } else if (j < k.length && (word === '*' || word === k[j])) {
        current[j] = next[j + 1];
      }
    }
    next = current;
  }
  return next[0];
}
