import { createBrowserRouter, type RouteObject } from 'react-router';
import { Shell } from './components/shell';
import { Loading } from './components/ui';
import Home from './pages/home';
import NotFound from './pages/not-found';
import Search from './pages/search';
import SignIn from './pages/sign-in';
import SignUp from './pages/sign-up';

// Account, organisation and administration pages are loaded when first visited: the first load
// carries the shell, the front page and the sign-in forms only.
const settings = () => import('./pages/settings/settings');
const orgs = () => import('./pages/orgs');
const admin = () => import('./pages/admin');
const repository = () => import('./pages/repository');
const dashboard = () => import('./pages/dashboard');

export const routes: RouteObject[] = [
  {
    element: <Shell />,
    // shown while the first page's lazy module loads
    hydrateFallbackElement: <Loading />,
    children: [
      { index: true, element: <Home /> },
      { path: 'search', element: <Search /> },
      { path: 'r/*', lazy: async () => ({ Component: (await repository()).RepositoryPage }) },
      { path: 'dashboard', lazy: async () => ({ Component: (await dashboard()).Dashboard }) },
      { path: 'signin', element: <SignIn /> },
      { path: 'signup', element: <SignUp /> },
      {
        path: 'settings',
        lazy: async () => ({ Component: (await settings()).SettingsLayout }),
        children: [
          { index: true, lazy: async () => ({ Component: (await settings()).SettingsIndex }) },
          { path: 'profile', lazy: async () => ({ Component: (await settings()).Profile }) },
          { path: 'password', lazy: async () => ({ Component: (await settings()).Password }) },
          { path: 'tokens', lazy: async () => ({ Component: (await settings()).Tokens }) },
          { path: 'sessions', lazy: async () => ({ Component: (await settings()).Sessions }) },
        ],
      },
      { path: 'orgs', lazy: async () => ({ Component: (await orgs()).OrgList }) },
      {
        path: 'orgs/:org',
        lazy: async () => ({ Component: (await orgs()).OrgLayout }),
        children: [
          { index: true, lazy: async () => ({ Component: (await orgs()).OrgMembers }) },
          { path: 'teams', lazy: async () => ({ Component: (await orgs()).OrgTeams }) },
          { path: 'teams/:team', lazy: async () => ({ Component: (await orgs()).OrgTeam }) },
          { path: 'tokens', lazy: async () => ({ Component: (await orgs()).OrgTokens }) },
          { path: 'settings', lazy: async () => ({ Component: (await orgs()).OrgSettings }) },
        ],
      },
      {
        path: 'admin',
        lazy: async () => ({ Component: (await admin()).AdminLayout }),
        children: [
          { index: true, lazy: async () => ({ Component: (await admin()).AdminUsers }) },
          { path: 'plans', lazy: async () => ({ Component: (await admin()).AdminPlans }) },
          { path: 'library', lazy: async () => ({ Component: (await admin()).AdminLibrary }) },
          { path: 'publishers', lazy: async () => ({ Component: (await admin()).AdminPublishers }) },
          { path: 'categories', lazy: async () => ({ Component: (await admin()).AdminCategories }) },
          { path: 'settings', lazy: async () => ({ Component: (await admin()).AdminSettings }) },
        ],
      },
      { path: '*', element: <NotFound /> },
    ],
  },
];

export const createRouter = () => createBrowserRouter(routes);
