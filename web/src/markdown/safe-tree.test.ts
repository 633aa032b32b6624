// Hostile READMEs: whatever the Markdown says, the rendered markup has no script, no event
// handler, no dangerous URL and no raw HTML element. Rendered with React's own server renderer,
// so what is checked is the markup the browser would get.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderToStaticMarkup } from 'react-dom/server';
import { highlight } from './highlight';
import { renderSafe } from './render';
import { decodeEntities, markdownToSafeTree, safeHref } from './safe-tree';

const html = (markdown: string) => renderToStaticMarkup(renderSafe(markdownToSafeTree(markdown, { highlight })));

/** Every tag in the output is one of these, with only these attributes. */
const TAGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'blockquote', 'pre', 'code', 'ul', 'ol', 'li', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'hr', 'br', 'strong', 'em', 'del', 'a', 'span']);
const ATTRIBUTES = new Set(['href', 'rel', 'id', 'class', 'start', 'title']);

function assertSafe(markup: string): void {
  for (const match of markup.matchAll(/<([a-zA-Z][\w-]*)([^>]*)>/g)) {
    const [, tag, attributes] = match;
    assert.ok(TAGS.has(tag!.toLowerCase()), `unexpected element <${tag}> in ${markup}`);
    for (const attribute of attributes!.matchAll(/\s([^\s=]+)(?:="([^"]*)")?/g)) {
      assert.ok(ATTRIBUTES.has(attribute[1]!.toLowerCase()), `unexpected attribute ${attribute[1]} in ${markup}`);
      if (attribute[1] === 'href') assert.match(attribute[2]!, /^(https?:\/\/|mailto:|#readme-)/, `unsafe href in ${markup}`);
      // text may say "javascript:" (it is only text); no attribute may
      assert.doesNotMatch(attribute[2] ?? '', /javascript:|vbscript:|data:/i, `unsafe attribute in ${markup}`);
    }
  }
}

const HOSTILE = [
  '<script>alert(1)</script>',
  'text <script>alert(document.cookie)</script> more',
  '<img src=x onerror=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  '<a href="javascript:alert(1)">x</a>',
  '<iframe src="https://evil.example"></iframe>',
  '<div onclick="alert(1)">click</div>',
  '<style>body{display:none}</style>',
  '[x](javascript:alert(1))',
  '[x](JaVaScRiPt:alert(1))',
  '[x](java\tscript:alert(1))',
  '[x]( javascript:alert(1))',
  '[x](&#106;avascript:alert(1))',
  '[x](javascript&#58;alert(1))',
  '[x](vbscript:msgbox(1))',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '![x](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)',
  '![x](javascript:alert(1))',
  '[x][ref]\n\n[ref]: javascript:alert(1)',
  '<javascript:alert(1)>',
  '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
  '<form action="https://evil.example"><input name=x></form>',
  '<object data="x.swf"></object><embed src="x">',
  '<meta http-equiv="refresh" content="0;url=https://evil.example">',
  '<base href="https://evil.example/">',
  '<link rel=stylesheet href=https://evil.example/x.css>',
  '<details open ontoggle=alert(1)>',
  '```html\n<script>alert(1)</script>\n```',
  '`<img src=x onerror=alert(1)>`',
  '# <img src=x onerror=alert(1)> title',
  '| <script>x</script> | b |\n|-|-|\n| <b onclick=1>c</b> | d |',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '<!-- <script>alert(1)</script> -->',
  '<scr<script>ipt>alert(1)</script>',
];

describe('README Markdown: hostile input', () => {
  for (const input of HOSTILE) {
    it(`renders safely: ${JSON.stringify(input).slice(0, 70)}`, () => {
      assertSafe(html(input));
    });
  }

  it('drops script and style content instead of showing it', () => {
    const out = html('before <script>alert(1)</script> after\n\n<style>p{}</style>');
    assert.doesNotMatch(out, /alert|p\{\}/);
    assert.match(out, /before/);
    assert.match(out, /after/);
  });

  it('shows escaped HTML and code as text', () => {
    assert.match(html('&lt;script&gt;'), /&lt;script&gt;/);
    const text = (markup: string) => markup.replace(/<[^>]+>/g, '');
    assert.equal(text(html('```html\n<script>alert(1)</script>\n```')), '&lt;script&gt;alert(1)&lt;/script&gt;');
    assert.match(html('`<b>`'), /<code>&lt;b&gt;<\/code>/);
  });

  it('keeps the text of raw inline HTML, not its tags', () => {
    assert.equal(html('a <b onclick="x">bold</b> word'), '<p>a bold word</p>');
  });

  it('keeps safe links, with rel, and turns unsafe ones into text', () => {
    assert.equal(html('[docs](https://example.com/a?b=1)'), '<p><a href="https://example.com/a?b=1" rel="nofollow noopener noreferrer">docs</a></p>');
    assert.equal(html('[bad](javascript:alert(1))'), '<p><span>bad</span></p>');
    assert.equal(html('[rel](docs/setup.md)'), '<p><span>rel</span></p>');
    assert.equal(html('[mail](mailto:a@example.com)'), '<p><a href="mailto:a@example.com" rel="nofollow noopener noreferrer">mail</a></p>');
  });

  it('leaves relative images out (their alt text stays) and links absolute ones', () => {
    assert.equal(html('![logo](logo.png)'), '<p><span>logo</span></p>');
    assert.equal(html('![](./x.png)'), '<p></p>');
    assert.equal(html('![diagram](https://example.com/d.png)'), '<p><a href="https://example.com/d.png" rel="nofollow noopener noreferrer" class="readme-image">diagram</a></p>');
  });

  it('prefixes heading ids and anchors, so a README cannot clobber the page', () => {
    const out = html('# Root\n\n# Root\n\n[go](#root)');
    assert.match(out, /<h1 id="readme-root">Root<\/h1><h1 id="readme-root-1">Root<\/h1>/);
    assert.match(out, /href="#readme-root"/);
  });
});

describe('README Markdown: what it renders', () => {
  it('renders the common elements', () => {
    const out = html('## Use\n\n- **one** and *two* ~~three~~\n- [x] done\n\n1. a\n2. b\n\n> quote\n\n---\n\n| a | b |\n|:-|-:|\n| 1 | 2 |');
    assert.match(out, /<h2 id="readme-use">Use<\/h2>/);
    assert.match(out, /<li><strong>one<\/strong> and <em>two<\/em> <del>three<\/del><\/li>/);
    assert.match(out, /<li>☑ done<\/li>/);
    assert.match(out, /<ol><li>a<\/li><li>b<\/li><\/ol>/);
    assert.match(out, /<blockquote><p>quote<\/p><\/blockquote>/);
    assert.match(out, /<hr\/>/);
    assert.match(out, /<th class="align-left">a<\/th><th class="align-right">b<\/th>/);
  });

  it('highlights code blocks with spans only, and leaves unknown languages plain', () => {
    const out = html('```dockerfile\nFROM alpine:3.20\nRUN echo "hi"\n```');
    assert.match(out, /<pre><code class="language-dockerfile"><span class="hljs-keyword">FROM<\/span>/);
    assert.equal(html('```brainfuck\n+++.\n```'), '<pre><code class="language-brainfuck">+++.</code></pre>');
    assert.equal(html('```\nplain <b>\n```'), '<pre><code>plain &lt;b&gt;</code></pre>');
  });

  it('decodes character references into text', () => {
    assert.equal(decodeEntities('a &amp; b &copy; &#169; &#xA9; &unknown; &#0;'), 'a & b © © © &unknown; \ufffd');
    assert.equal(html('Tom &amp; Jerry'), '<p>Tom &amp; Jerry</p>');
  });

  it('allows only http(s), mailto and in-page anchors as URLs', () => {
    assert.equal(safeHref('https://x.example/'), 'https://x.example/');
    assert.equal(safeHref('  https://x.example/'), 'https://x.example/');
    assert.equal(safeHref('javascript:alert(1)'), undefined);
    assert.equal(safeHref('\u0001javascript:alert(1)'), undefined);
    assert.equal(safeHref('//evil.example/x'), undefined);
    assert.equal(safeHref('ftp://x.example/'), undefined);
    assert.equal(safeHref('#Usage'), '#readme-usage');
    assert.equal(safeHref('#'), undefined);
  });
});
