import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import type { Me } from '../api/types';
import { useSession } from '../api/session';
import NotFound from '../pages/not-found';
import { Loading } from './ui';

/** Pages for the signed-in: the sign-in page first (and back here after); administration pages are "not found" to others. */
export function RequireSession({ admin, children }: { admin?: boolean; children: (me: Me) => ReactNode }) {
  const { me } = useSession();
  const location = useLocation();
  if (me === undefined) return <Loading />;
  if (me === null) return <Navigate to={`/signin?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  if (admin && !me.admin) return <NotFound />;
  return <>{children(me)}</>;
}
