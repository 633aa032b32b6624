/**
 * Accept negotiation for manifests. `undefined` means the client takes anything (no header, or a
 * wildcard); otherwise the set of media types it named. Several Accept headers arrive joined by
 * commas; quality values do not change which types a client can read (but q=0 refuses a type).
 */
export function parseAccept(header: string | string[] | undefined): Set<string> | undefined {
  if (header === undefined) return undefined;
  const values = (Array.isArray(header) ? header.join(',') : header).split(',');
  const types = new Set<string>();
  for (const value of values) {
    const [rawType, ...parameters] = value.split(';');
    const type = rawType!.trim().toLowerCase();
    if (type === '' || parameters.some((p) => /^\s*q\s*=\s*0(?:\.0*)?\s*$/i.test(p))) continue; // q=0: "not this one"
    if (type === '*/*' || type === 'application/*') return undefined;
    types.add(type);
  }
  return types.size === 0 ? undefined : types;
}

export function accepts(accepted: Set<string> | undefined, mediaType: string): boolean {
  return accepted === undefined || accepted.has(mediaType);
}
