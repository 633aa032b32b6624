/**
 * `WWW-Authenticate` as registries send it (RFC 7235): `Bearer realm="https://auth.example/token",
 * service="registry.example",scope="repository:library/nginx:pull"` or `Basic realm="Registry"`.
 * Quoted values may hold commas and escaped quotes.
 */
export interface Challenge {
  /** lower case: 'bearer', 'basic' */
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(value);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  const rest = match[2]!;
  const param = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  let found: RegExpExecArray | null;
  while ((found = param.exec(rest)) !== null) {
    if (found[0] === '') break;
    params[found[1]!.toLowerCase()] = found[2] !== undefined ? found[2].replace(/\\(.)/g, '$1') : found[3]!;
  }
  return { scheme: match[1]!.toLowerCase(), params };
}
