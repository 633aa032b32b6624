import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, forgetSessionCookie } from './browser';
import { ApiError, csrfToken } from './client';
import type { Me, SessionStarted } from './types';

export interface SessionState {
  /** undefined while the first "who am I" is pending; null when signed out */
  me: Me | null | undefined;
  signIn(username: string, password: string): Promise<Me>;
  signOut(): Promise<void>;
  refresh(): Promise<Me | null>;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

/**
 * Who is signed in. The session cookie is HttpOnly; its companion `pier_csrf` is readable, so
 * without it the page knows it is signed out and asks nothing (no 401 in the console on every load).
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  const refresh = useCallback(async (): Promise<Me | null> => {
    if (!csrfToken(document.cookie)) {
      setMe(null);
      return null;
    }
    try {
      const found = await api<Me>('/users/me');
      setMe(found);
      return found;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        forgetSessionCookie();
        setMe(null);
        return null;
      }
      throw error;
    }
  }, []);

  useEffect(() => {
    refresh().catch(() => setMe(null));
  }, [refresh]);

  const signIn = useCallback(async (username: string, password: string) => {
    await api<SessionStarted>('/sessions', { method: 'POST', json: { username, password } });
    const found = await api<Me>('/users/me');
    setMe(found);
    return found;
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api('/sessions/current', { method: 'DELETE' });
    } catch (error) {
      // a session that had already ended is signed out all the same
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    forgetSessionCookie();
    setMe(null);
  }, []);

  const value = useMemo(() => ({ me, signIn, signOut, refresh }), [me, signIn, signOut, refresh]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
