/** A resource scope of Docker's token auth: `repository:alice/app:pull,push`, `registry:catalog:*`. */
export interface Scope {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

/** The key of a (type, name) pair, for maps: `repository:alice/app`. */
export function scopeKey(type: Scope['type'], name: string): string {
  return `${type}:${name}`;
}

/** `repository:alice/app:pull,push`, the form of the `scope` parameter and of WWW-Authenticate. */
export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}

/**
 * Parses `scope` values as a client sends them: one per GET parameter, or several separated by
 * spaces in one POST field. Per scope: the type is before the first colon, the actions (comma
 * separated) after the last one, and the name in between, so it may hold a registry host's port
 * (`repository:localhost:5000/alice/app:pull`). The deprecated resource class is dropped
 * (`repository(plugin)` is `repository`). Scopes of another type, without a name or without an
 * action are ignored, never an error. Scopes naming the same resource are merged, actions
 * deduplicated in first-seen order. Names are returned as given (no `library/` here).
 */
export function parseScopes(values: string | string[] | undefined): Scope[] {
  if (values === undefined) return [];
  const list = Array.isArray(values) ? values : [values];
  const byKey = new Map<string, Scope>();
  for (const value of list) {
    if (typeof value !== 'string') continue;
    for (const part of value.split(/[ \t\r\n]+/)) {
      const scope = parseOne(part);
      if (!scope) continue;
      const key = scopeKey(scope.type, scope.name);
      const seen = byKey.get(key);
      if (!seen) {
        byKey.set(key, scope);
        continue;
      }
      for (const action of scope.actions) if (!seen.actions.includes(action)) seen.actions.push(action);
    }
  }
  return [...byKey.values()];
}

const TYPE = /^([a-z0-9]+)(?:\([a-z0-9]+\))?$/;

function parseOne(text: string): Scope | undefined {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = TYPE.exec(text.slice(0, first))?.[1];
  if (type !== 'repository' && type !== 'registry') return undefined;
  const name = text.slice(first + 1, last);
  if (name === '') return undefined;
  const actions: string[] = [];
  for (const action of text.slice(last + 1).split(',')) {
    if (action !== '' && !actions.includes(action)) actions.push(action);
  }
  if (actions.length === 0) return undefined;
  return { type, name, actions };
}
