import { describe, expect, it } from 'vitest';
import { markdownToHtml } from '../../../src/services/notify/markdown.ts';
import { deciderMatches, parseRoute } from '../../../src/services/notify/routes.ts';

describe('markdown to HTML', () => {
  it('escapes HTML and keeps unsafe link targets as text', () => {
    const html = markdownToHtml(
      '<img src=x onerror=alert(1)> [x](javascript:alert(1)) [ok](https://a.example/?a=1&b=2)',
    );
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('href="javascript');
    expect(html).toContain('<a href="https://a.example/?a=1&amp;b=2">ok</a>');
  });

  it('renders code blocks verbatim and single newlines as line breaks', () => {
    expect(markdownToHtml('```\n**not bold**\n```')).toBe('<pre><code>**not bold**</code></pre>');
    expect(markdownToHtml('a\nb')).toBe('<p>a<br>\nb</p>');
  });
});

describe('notify routes', () => {
  it('takes the target between the type and the last word, dots included', () => {
    expect(parseRoute('notify.email.jane.doe@example.com.on-failed')).toEqual({
      route: 'notify.email.jane.doe@example.com.on-failed',
      type: 'email',
      target: 'jane.doe@example.com',
      decider: 'failed',
    });
    expect(parseRoute('notify.fax.123.on-failed')).toMatch(/unknown type/);
    expect(parseRoute('notify.email.a@b.c.on-whenever')).toMatch(/not one of/);
  });

  it('leaves retried exceptions out of resolutions but not out of transitions', () => {
    expect(deciderMatches('exception', 'exception', true)).toBe(false);
    expect(deciderMatches('resolved', 'exception', true)).toBe(false);
    expect(deciderMatches('transition', 'exception', true)).toBe(true);
    expect(deciderMatches('any', 'failed', false)).toBe(true);
    expect(deciderMatches('success', 'completed', false)).toBe(true);
    expect(deciderMatches('success', 'failed', false)).toBe(false);
  });
});
