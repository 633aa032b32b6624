// Markdown to a tree of allowed elements: the README renderer's whole security boundary.
// Nothing here produces HTML: React renders the tree as elements and text, so raw HTML in a README
// can only ever become text or nothing. Tags, attributes and URL schemes are allow-listed.
import { Lexer, type Token, type Tokens } from 'marked';

export type SafeTag =
  | 'h1' | 'h2' | 'h3' | 'h4' | 'h5' | 'h6' | 'p' | 'blockquote' | 'pre' | 'code' | 'ul' | 'ol' | 'li'
  | 'table' | 'thead' | 'tbody' | 'tr' | 'th' | 'td' | 'hr' | 'br' | 'strong' | 'em' | 'del' | 'a' | 'span';

export interface SafeElement {
  tag: SafeTag;
  /** only these attributes exist: a link's checked href, a heading's id, a class for highlighting and alignment, a list's start */
  href?: string;
  id?: string;
  className?: string;
  start?: number;
  title?: string;
  children: SafeNode[];
}

export type SafeNode = string | SafeElement;

/** Turns a fenced code block into highlighted spans (lazy-loaded); without it code is plain text. */
export type Highlighter = (code: string, language: string | undefined) => SafeNode[];

export interface SafeTreeOptions {
  highlight?: Highlighter;
}

/** Inline links and images: absolute http(s) and mailto only, plus anchors inside the README. */
export function safeHref(raw: string | null | undefined): string | undefined {
  if (!raw) return undefined;
  // browsers ignore ASCII whitespace and control characters inside a scheme ("java\tscript:")
  const href = raw.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  if (href.startsWith('#')) return href.length > 1 ? `#${headingId(decodeFragment(href.slice(1)))}` : undefined;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return undefined; // relative: it points into a source tree Pier does not have
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:' && url.protocol !== 'mailto:') return undefined;
  return url.href;
}

/** Heading ids carry a prefix, so that a README can neither clobber the page's own ids nor jump outside itself. */
export function headingId(text: string): string {
  const slug = text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9\s-]/g, '')
    .trim()
    .replace(/\s+/g, '-')
    .slice(0, 80);
  return `readme-${slug}`;
}

export function markdownToSafeTree(markdown: string, options: SafeTreeOptions = {}): SafeNode[] {
  // 25 KB is the API's limit for a README: more is not ours to render
  const tokens = new Lexer({ gfm: true, breaks: false }).lex(markdown.slice(0, 64 * 1024));
  return new Builder(options).blocks(tokens);
}

/** Elements whose content is code or style, never text to show. */
const RAW_CONTENT = /^<\s*(script|style|textarea|title|iframe|noscript|template|xmp|noembed|noframes|object)\b/i;
const RAW_CLOSE = /^<\s*\/\s*(script|style|textarea|title|iframe|noscript|template|xmp|noembed|noframes|object)\b/i;

class Builder {
  private readonly ids = new Map<string, number>();
  private skipping = 0;

  constructor(private readonly options: SafeTreeOptions) {}

  blocks(tokens: Token[]): SafeNode[] {
    const out: SafeNode[] = [];
    for (const token of tokens) {
      const node = this.block(token);
      if (node !== undefined) out.push(node);
    }
    return out;
  }

  private block(token: Token): SafeNode | undefined {
    switch (token.type) {
      case 'heading': {
        const t = token as Tokens.Heading;
        const depth = Math.min(6, Math.max(1, t.depth));
        return { tag: `h${depth}` as SafeTag, id: this.uniqueId(plainText(t.tokens)), children: this.inline(t.tokens) };
      }
      case 'paragraph':
        return { tag: 'p', children: this.inline((token as Tokens.Paragraph).tokens) };
      case 'text': {
        const t = token as Tokens.Text;
        return t.tokens ? { tag: 'p', children: this.inline(t.tokens) } : decodeEntities(t.text);
      }
      case 'blockquote':
        return { tag: 'blockquote', children: this.blocks((token as Tokens.Blockquote).tokens) };
      case 'code': {
        const t = token as Tokens.Code;
        const language = /^[\w+#.-]{1,32}$/.test(t.lang ?? '') ? t.lang!.toLowerCase() : undefined;
        const children = this.options.highlight ? this.options.highlight(t.text, language) : [t.text];
        return { tag: 'pre', children: [{ tag: 'code', ...(language ? { className: `language-${language}` } : {}), children }] };
      }
      case 'list': {
        const t = token as Tokens.List;
        const start = t.ordered && typeof t.start === 'number' && t.start !== 1 ? { start: t.start } : {};
        return { tag: t.ordered ? 'ol' : 'ul', ...start, children: t.items.map((item) => this.listItem(item, t.loose)) };
      }
      case 'table':
        return this.table(token as Tokens.Table);
      case 'hr':
        return { tag: 'hr', children: [] };
      case 'html':
      case 'def':
      case 'space':
        return undefined; // raw HTML is never rendered; link definitions were used by the lexer
      default:
        return undefined;
    }
  }

  private listItem(item: Tokens.ListItem, loose: boolean): SafeElement {
    const children: SafeNode[] = [];
    if (item.task) children.push(item.checked ? '☑ ' : '☐ ');
    for (const token of item.tokens) {
      if (token.type === 'checkbox') continue;
      if (token.type === 'text' && !loose) {
        const t = token as Tokens.Text;
        children.push(...(t.tokens ? this.inline(t.tokens) : [decodeEntities(t.text)]));
        continue;
      }
      const node = this.block(token);
      if (node !== undefined) children.push(node);
    }
    return { tag: 'li', children };
  }

  private table(t: Tokens.Table): SafeElement {
    const cell = (c: Tokens.TableCell, tag: 'th' | 'td'): SafeElement => ({
      tag,
      ...(c.align ? { className: `align-${c.align}` } : {}),
      children: this.inline(c.tokens),
    });
    return {
      tag: 'table',
      children: [
        { tag: 'thead', children: [{ tag: 'tr', children: t.header.map((c) => cell(c, 'th')) }] },
        { tag: 'tbody', children: t.rows.map((row) => ({ tag: 'tr' as const, children: row.map((c) => cell(c, 'td')) })) },
      ],
    };
  }

  inline(tokens: Token[] | undefined): SafeNode[] {
    const out: SafeNode[] = [];
    for (const token of tokens ?? []) {
      if (token.type === 'html') {
        // raw inline HTML: the tag is dropped; what a script or style element holds is dropped too
        const text = (token as Tokens.HTML).text;
        if (RAW_CONTENT.test(text) && !/\/\s*>$/.test(text)) this.skipping += 1;
        else if (RAW_CLOSE.test(text) && this.skipping > 0) this.skipping -= 1;
        continue;
      }
      if (this.skipping > 0) continue;
      const node = this.inlineOne(token);
      if (node !== undefined) out.push(node);
    }
    return out;
  }

  private inlineOne(token: Token): SafeNode | undefined {
    switch (token.type) {
      case 'text': {
        const t = token as Tokens.Text;
        return t.tokens ? { tag: 'span', children: this.inline(t.tokens) } : decodeEntities(t.text);
      }
      case 'escape':
        return (token as Tokens.Escape).text;
      case 'strong':
        return { tag: 'strong', children: this.inline((token as Tokens.Strong).tokens) };
      case 'em':
        return { tag: 'em', children: this.inline((token as Tokens.Em).tokens) };
      case 'del':
        return { tag: 'del', children: this.inline((token as Tokens.Del).tokens) };
      case 'codespan':
        return { tag: 'code', children: [decodeEntities((token as Tokens.Codespan).text)] };
      case 'br':
        return { tag: 'br', children: [] };
      case 'link': {
        const t = token as Tokens.Link;
        const children = this.inline(t.tokens);
        const href = safeHref(t.href);
        if (!href) return { tag: 'span', children };
        return { tag: 'a', href, ...(t.title ? { title: decodeEntities(t.title) } : {}), children };
      }
      case 'image': {
        // The page's CSP loads images from Pier only, and a README's relative image points into a
        // source tree Pier does not have: an absolute image becomes a link to it, a relative one its alt text.
        const t = token as Tokens.Image;
        const alt = decodeEntities(t.text);
        const href = safeHref(t.href);
        if (!href || href.startsWith('#') || href.startsWith('mailto:')) return alt ? { tag: 'span', children: [alt] } : undefined;
        return { tag: 'a', href, className: 'readme-image', children: [alt || href] };
      }
      default:
        return undefined;
    }
  }

  private uniqueId(text: string): string {
    const base = headingId(text);
    const seen = this.ids.get(base) ?? 0;
    this.ids.set(base, seen + 1);
    return seen === 0 ? base : `${base}-${seen}`;
  }
}

function plainText(tokens: Token[] | undefined): string {
  let out = '';
  for (const token of tokens ?? []) {
    if (token.type === 'html') continue;
    const t = token as Token & { tokens?: Token[]; text?: string };
    out += t.tokens ? plainText(t.tokens) : decodeEntities(t.text ?? '');
  }
  return out;
}

function decodeFragment(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®', trade: '™',
  hellip: '…', mdash: '—', ndash: '–', laquo: '«', raquo: '»', lsquo: '‘', rsquo: '’', ldquo: '“',
  rdquo: '”', bull: '•', middot: '·', times: '×', divide: '÷', deg: '°', euro: '€', pound: '£', yen: '¥',
  cent: '¢', sect: '§', para: '¶', larr: '←', rarr: '→', uarr: '↑', darr: '↓', harr: '↔', check: '✓',
  plusmn: '±', micro: 'µ', frac12: '½', frac14: '¼', frac34: '¾', shy: '\u00ad', zwj: '\u200d', zwnj: '\u200c',
};

/** Character references in Markdown text ("&amp;", "&#169;") are characters; they become text, never markup. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z][a-z0-9]{1,31});/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      if (!Number.isFinite(code) || code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
      return String.fromCodePoint(code);
    }
    return NAMED[body] ?? NAMED[body.toLowerCase()] ?? whole;
  });
}
