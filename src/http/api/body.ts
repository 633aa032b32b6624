export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
