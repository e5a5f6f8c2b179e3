// @vitest-environment jsdom
// Sanitization of rendered assistant Markdown: formatting survives, active content does not.
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown';

describe('renderMarkdown', () => {
  it('renders ordinary Markdown', () => {
    const html = renderMarkdown('**bold** and `code`\n\n- one\n- two');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<code>code</code>');
    expect(html).toMatch(/<ul>\s*<li>one<\/li>/);
  });

  it('strips script tags and event handlers', () => {
    const html = renderMarkdown('hi <script>alert(1)</script><b onclick="x()">b</b><svg onload="y()"></svg>');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/onclick|onload/i);
    expect(html).toContain('hi');
  });

  it('drops images entirely, including onerror payloads and remote fetches', () => {
    const html = renderMarkdown('<img src=x onerror="alert(1)"> ![pic](https://example.com/a.png)');
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/onerror/i);
    expect(html).not.toContain('example.com/a.png');
  });

  it('neutralizes javascript: links and hardens real ones', () => {
    const bad = renderMarkdown('[click](javascript:alert(1))');
    expect(bad).not.toMatch(/javascript:/i);
    const good = renderMarkdown('[docs](https://example.com)');
    expect(good).toContain('href="https://example.com"');
    expect(good).toContain('rel="noopener noreferrer"');
    expect(good).toContain('target="_blank"');
  });

  it('drops iframes, styles and forms', () => {
    const html = renderMarkdown('<iframe src="https://x"></iframe><style>*{}</style><form><input></form>ok');
    expect(html).not.toMatch(/<iframe|<style|<form|<input/i);
    expect(html).toContain('ok');
  });
});
