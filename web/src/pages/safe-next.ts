/** Where to go after signing in: only a path of this site (`next=//evil.example` must not send anyone elsewhere). */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}
