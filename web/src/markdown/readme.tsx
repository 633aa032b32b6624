// The README view: loaded on demand (React.lazy), so that marked and the grammars stay out of the first load.
import { useMemo } from 'react';
import { highlight } from './highlight';
import { renderSafe } from './render';
import { markdownToSafeTree } from './safe-tree';

export default function Readme({ markdown }: { markdown: string }) {
  const tree = useMemo(() => markdownToSafeTree(markdown, { highlight }), [markdown]);
  return <div className="readme">{renderSafe(tree)}</div>;
}
