// The permission matrix of the repository-page routes of /api/v1: every kind of caller (anonymous,
// an owner of the organisation, a member without a team, teams with read, write and admin on the
// private repository, an outsider, personal access tokens by scope, an organisation token limited
// to the private repository, an administrator) against each route, on a private and a public
// repository of the organisation. A private repository's page, README, tags, manifests, stars, pulls and
// search hits must be exactly as invisible as the repository: the same 404 as a missing one. Its
// retention policy (read, set, a dry run) answers as a change of the repository does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProblemKind } from '../../src/http/api/problem.js';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { pushImage } from '../support/images.js';

type Subject =
  | 'anonymous'
  | 'owner'
  | 'member'
  | 'team read'
  | 'team write'
  | 'team admin'
  | 'outsider'
  | 'PAT repo:read'
  | 'PAT repo:write'
  | 'PAT repo:admin'
  | 'organisation token'
  | 'administrator';

type Route =
  | 'GET repository'
  | 'GET tags'
  | 'GET tag'
  | 'GET images'
  | 'GET manifest'
  | 'GET pulls'
  | 'PATCH repository'
  | 'DELETE tag'
  | 'DELETE manifest'
  | 'DELETE repository'
  | 'PUT star'
  | 'search'
  | 'suggest'
  | 'namespace list'
  | 'GET retention'
  | 'PUT retention'
  | 'run retention';

/** ok: the answer; hidden: a list without it; the rest: that problem */
type Cell = 'ok' | 'hidden' | Extract<ProblemKind, 'unauthorized' | 'forbidden' | 'not-found'>;

const ROUTES = [
  'GET repository',
  'GET tags',
  'GET tag',
  'GET images',
  'GET manifest',
  'GET pulls',
  'PATCH repository',
  'DELETE tag',
  'DELETE manifest',
  'DELETE repository',
  'PUT star',
  'search',
  'suggest',
  'namespace list',
  'GET retention',
  'PUT retention',
  'run retention',
] as const satisfies readonly Route[];
const READS: Route[] = ['GET repository', 'GET tags', 'GET tag', 'GET images', 'GET manifest', 'GET pulls'];
const LISTS: Route[] = ['search', 'suggest', 'namespace list'];
/** a repository's retention policy, reading it included, is its administrators' business: as PATCH */
const ADMINISTRATION: Route[] = ['PATCH repository', 'GET retention', 'PUT retention', 'run retention'];

const row = (reads: Cell, patch: Cell, deleteTag: Cell, deleteRepository: Cell, star: Cell, lists: Cell): Record<Route, Cell> =>
  Object.fromEntries(
    ROUTES.map((route) => [
      route,
      READS.includes(route) ? reads : LISTS.includes(route) ? lists : ADMINISTRATION.includes(route) ? patch : route === 'DELETE tag' || route === 'DELETE manifest' ? deleteTag : route === 'DELETE repository' ? deleteRepository : star,
    ]),
  ) as Record<Route, Cell>;

const nf: Cell = 'not-found';
const deny: Cell = 'forbidden';
const no: Cell = 'unauthorized';

// prettier-ignore
const PRIVATE: Record<Subject, Record<Route, Cell>> = {
  //                                reads  PATCH  DEL tag (and manifest) DEL repo star  lists
  'anonymous':              row(nf,   no,    no,    no,    no,   'hidden'),
  'owner':                  row('ok', 'ok',  'ok',  'ok',  'ok', 'ok'),
  'member':                 row(nf,   nf,    nf,    nf,    nf,   'hidden'),
  'team read':              row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'team write':             row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'team admin':             row('ok', 'ok',  'ok',  'ok',  'ok', 'ok'),
  'outsider':               row(nf,   nf,    nf,    nf,    nf,   'hidden'),
  'PAT repo:read':          row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'PAT repo:write':         row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'PAT repo:admin':         row('ok', 'ok',  'ok',  'ok',  'ok', 'ok'),
  // limited to acme/private: the victims of DELETE repository are other repositories
  'organisation token':     { ...row('ok', 'ok', 'ok', nf, deny, 'ok') },
  'administrator':          row('ok', 'ok',  'ok',  'ok',  'ok', 'ok'),
};

// prettier-ignore
const PUBLIC: Record<Subject, Record<Route, Cell>> = {
  'anonymous':              row('ok', no,    no,    no,    no,   'ok'),
  'owner':                  row('ok', 'ok',  'ok',  'ok',  'ok', 'ok'),
  'member':                 row('ok', deny,  deny,  deny,  'ok', 'ok'),
  // the teams' grants name acme/private: here they are members like any other
  'team read':              row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'team write':             row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'team admin':             row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'outsider':               row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'PAT repo:read':          row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'PAT repo:write':         row('ok', deny,  deny,  deny,  'ok', 'ok'),
  'PAT repo:admin':         row('ok', 'ok',  'ok',  'ok',  'ok', 'ok'),
  'organisation token':     row('ok', deny,  deny,  deny,  deny, 'ok'),
  'administrator':          row('ok', 'ok',  'ok',  'ok',  'ok', 'ok'),
};

describe('/api/v1 permission matrix: repository pages, by kind of caller', () => {
  let server: ApiServer;
  const auth = {} as Record<Subject, { basic: [string, string] } | undefined>;
  let victims = 0;
  const digests: Record<string, string> = {};

  before(async () => {
    server = await startApiServer({ 'auth.loginFailures': 1000 });
    for (const name of ['carol', 'mia', 'rita', 'wes', 'ada', 'otto']) await createUser(server, name);
    await createUser(server, 'boss', { admin: true });
    const { hub, registry } = server;
    await hub.organizations.create('acme', 'carol');
    await hub.plans.apply('acme', 'team');
    for (const member of ['mia', 'rita', 'wes', 'ada']) await hub.organizations.addMember('acme', member);
    for (const [team, member, permission] of [['readers', 'rita', 'read'], ['writers', 'wes', 'write'], ['admins', 'ada', 'admin']] as const) {
      await hub.teams.create('acme', team);
      await hub.teams.addMember('acme', team, member);
      await hub.teams.setPermission('acme', team, 'acme/private', permission);
    }
    for (const repository of ['acme/private', 'acme/public']) {
      digests[repository] = (await pushImage(registry, repository, 'v1')).digest;
      await hub.repositories.describe(repository, { description: `matrix ${repository.slice(5)} words`, fullDescription: '# README' });
      await hub.retention.set('repository', repository, { keepLast: 100, keepPulledDays: null, keepPattern: null }, 'carol');
    }
    await hub.repositories.setVisibility('acme/private', true);
    const pat = async (scope: string) => (await hub.tokens.createPersonalAccessToken('carol', { label: scope, scopes: [scope] })).token;
    const orgToken = (await hub.tokens.createOrganizationToken('acme', { label: 'ci', scopes: ['repo:admin'], repositories: ['acme/private'] })).token;
    const basic = (name: string, secret = PASSWORD) => ({ basic: [name, secret] as [string, string] });
    Object.assign(auth, {
      anonymous: undefined,
      owner: basic('carol'),
      member: basic('mia'),
      'team read': basic('rita'),
      'team write': basic('wes'),
      'team admin': basic('ada'),
      outsider: basic('otto'),
      'PAT repo:read': basic('carol', await pat('repo:read')),
      'PAT repo:write': basic('carol', await pat('repo:write')),
      'PAT repo:admin': basic('carol', await pat('repo:admin')),
      'organisation token': basic('acme', orgToken),
      administrator: basic('boss'),
    });
  });
  after(() => server?.stop());

  /** The answer of a route for a subject on `repository` ('acme/private' or 'acme/public'); victims are made fresh. */
  async function call(route: Route, subject: Subject, repository: string): Promise<Response> {
    const init = { auth: auth[subject] };
    const path = `/repositories/${repository}`;
    const isPrivate = repository === 'acme/private';
    switch (route) {
      case 'GET repository':
        return server.api(path, init);
      case 'GET tags':
        return server.api(`${path}/tags`, init);
      case 'GET tag':
        return server.api(`${path}/tags/v1`, init);
      case 'GET images':
        return server.api(`${path}/tags/v1/images`, init);
      case 'GET manifest':
        return server.api(`${path}/manifests/${digests[repository] ?? digests['acme/public']}`, init);
      case 'GET pulls':
        return server.api(`${path}/pulls?days=7`, init);
      case 'PATCH repository':
        return server.api(path, { ...init, method: 'PATCH', json: { description: `changed by ${subject}` } });
      case 'DELETE tag': {
        const tag = `victim-${++victims}`;
        await pushImage(server.registry, repository, tag);
        return server.api(`${path}/tags/${tag}`, { ...init, method: 'DELETE' });
      }
      case 'DELETE manifest': {
        const { digest } = await pushImage(server.registry, repository, `victim-${++victims}`);
        return server.api(`${path}/manifests/${digest}`, { ...init, method: 'DELETE' });
      }
      case 'DELETE repository': {
        const victim = `acme/victim-${++victims}`;
        await pushImage(server.registry, victim, 'v1');
        if (isPrivate) {
          // a private victim is granted to the teams as acme/private is
          await server.hub.repositories.setVisibility(victim, true);
          for (const [team, permission] of [['readers', 'read'], ['writers', 'write'], ['admins', 'admin']]) await server.hub.teams.setPermission('acme', team!, victim, permission!);
        }
        return server.api(`/repositories/${victim}`, { ...init, method: 'DELETE' });
      }
      case 'PUT star':
        return server.api(`${path}/star`, { ...init, method: 'PUT' });
      case 'search':
        return server.api(`/search?q=acme%20${repository.slice(5)}`, init);
      case 'suggest':
        return server.api(`/search/suggest?q=${repository}`, init);
      case 'namespace list':
        return server.api('/namespaces/acme/repositories?name=' + repository.slice(5), init);
      case 'GET retention':
        return server.api(`${path}/retention`, init);
      case 'PUT retention':
        return server.api(`${path}/retention`, { ...init, method: 'PUT', json: { keep_last: 100 } });
      case 'run retention':
        return server.api(`${path}/retention/run?dry_run=true`, { ...init, method: 'POST' });
    }
  }

  for (const [repository, matrix] of [['acme/private', PRIVATE], ['acme/public', PUBLIC]] as const) {
    describe(repository, () => {
      for (const subject of Object.keys(matrix) as Subject[]) {
        describe(subject, () => {
          for (const route of ROUTES) {
            const expected = matrix[subject][route];
            it(`${route} -> ${expected}`, async () => {
              const res = await call(route, subject, repository);
              if (LISTS.includes(route)) {
                const body = await expectJson<{ results: Array<{ namespace: string; name: string }> }>(res, 200);
                const names = body.results.map((r) => `${r.namespace}/${r.name}`);
                assert.equal(names.includes(repository), expected === 'ok', `${route}: ${JSON.stringify(names)}`);
                return;
              }
              if (expected === 'ok') {
                const text = await res.text();
                assert.ok(res.status === 200 || res.status === 204, `${res.status} ${text}`);
                return;
              }
              const status = { unauthorized: 401, forbidden: 403, 'not-found': 404 }[expected as 'forbidden'];
              const problem = await expectProblem(res, status, undefined, expected as ProblemKind);
              if (expected === 'not-found' && route !== 'DELETE repository' && route !== 'DELETE tag' && route !== 'DELETE manifest') {
                // exactly what a missing repository answers, its name aside
                const missing = await expectProblem(await call(route, subject, 'acme/nothing-here'), 404, undefined, 'not-found');
                assert.deepEqual({ ...problem, detail: problem.detail.replace(repository, 'X') }, { ...missing, detail: missing.detail.replace('acme/nothing-here', 'X') });
              }
            });
          }
        });
      }
    });
  }
});
