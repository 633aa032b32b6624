import { createElement, Fragment, type ReactNode } from 'react';
import type { SafeNode } from './safe-tree';

/** SafeNodes as React elements: text is always text (React escapes it), attributes are the tree's allow-listed few. */
export function renderSafe(nodes: SafeNode[], keyPrefix = 'n'): ReactNode {
  return createElement(Fragment, null, ...nodes.map((node, index) => renderNode(node, `${keyPrefix}${index}`)));
}

function renderNode(node: SafeNode, key: string): ReactNode {
  if (typeof node === 'string') return node;
  const props: Record<string, unknown> = { key };
  if (node.href !== undefined) {
    props.href = node.href;
    if (!node.href.startsWith('#')) props.rel = 'nofollow noopener noreferrer';
  }
  if (node.id !== undefined) props.id = node.id;
  if (node.className !== undefined) props.className = node.className;
  if (node.start !== undefined) props.start = node.start;
  if (node.title !== undefined) props.title = node.title;
  if (node.tag === 'hr' || node.tag === 'br') return createElement(node.tag, props);
  return createElement(node.tag, props, ...node.children.map((child, index) => renderNode(child, `${key}.${index}`)));
}
