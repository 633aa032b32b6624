// Code highlighting for READMEs: lowlight (highlight.js grammars) gives a tree of spans, turned
// into SafeNodes like the rest of the README; never an HTML string. Loaded with the README only.
import type { ElementContent, RootContent } from 'hast';
import { createLowlight } from 'lowlight';
import bash from 'highlight.js/lib/languages/bash';
import diff from 'highlight.js/lib/languages/diff';
import dockerfile from 'highlight.js/lib/languages/dockerfile';
import go from 'highlight.js/lib/languages/go';
import ini from 'highlight.js/lib/languages/ini';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import nginx from 'highlight.js/lib/languages/nginx';
import python from 'highlight.js/lib/languages/python';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import type { Highlighter, SafeNode } from './safe-tree';

// what container READMEs are written in; other languages stay plain text
const lowlight = createLowlight({ bash, diff, dockerfile, go, ini, javascript, json, nginx, python, shell, sql, typescript, xml, yaml });
lowlight.registerAlias({ bash: ['sh', 'zsh'], dockerfile: ['docker', 'containerfile'], javascript: ['js'], typescript: ['ts'], yaml: ['yml'], ini: ['toml'], shell: ['console', 'shell-session'], xml: ['html'] });

export const highlight: Highlighter = (code, language) => {
  if (!language || !lowlight.registered(language)) return [code];
  try {
    return lowlight.highlight(language, code).children.map(toSafe).filter((n): n is SafeNode => n !== undefined);
  } catch {
    return [code];
  }
};

function toSafe(node: RootContent | ElementContent): SafeNode | undefined {
  if (node.type === 'text') return node.value;
  if (node.type !== 'element') return undefined;
  const classes = node.properties?.className;
  const className = Array.isArray(classes) ? classes.filter((c): c is string => typeof c === 'string' && /^hljs-[\w-]+$/.test(c)).join(' ') : '';
  const children = node.children.map(toSafe).filter((n): n is SafeNode => n !== undefined);
  return { tag: 'span', ...(className ? { className } : {}), children };
}
