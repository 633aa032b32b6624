/**
 * Accept negotiation for manifests. `undefined` means the client takes anything (no header, or a
 * wildcard); otherwise the set of media types it named. Several Accept headers arrive joined by
 * commas; quality values do not change which types a client can read, so they are ignored.
 */
export function parseAccept(header: string | string[] | undefined): Set<string> | undefined {
  if (header === undefined) return undefined;
  const values = (Array.isArray(header) ? header.join(',') : header).split(',');
  const types = new Set<string>();
  for (const value of values) {
    const type = value.split(';', 1)[0]!.trim().toLowerCase();
    if (type === '') continue;
    if (type === '*/*' || type === 'application/*') return undefined;
    types.add(type);
  }
  return types.size === 0 ? undefined : types;
}

export function accepts(accepted: Set<string> | undefined, mediaType: string): boolean {
  return accepted === undefined || accepted.has(mediaType);
}
