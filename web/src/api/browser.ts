import { createClient } from './client';

/** The client the pages use: the browser's fetch, with the page's own cookies. */
export const api = createClient((input, init) => fetch(input, init), () => document.cookie);

/** Forgets the CSRF cookie of a session the server no longer knows, so that the next load does not ask again. */
export function forgetSessionCookie(): void {
  document.cookie = 'pier_csrf=; Max-Age=0; Path=/; SameSite=Lax';
}
