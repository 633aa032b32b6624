import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer } from '../support/api.js';

interface Token {
  id: string;
  label: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  token?: string;
  expired?: boolean;
}

describe('/api/v1 personal access tokens and sessions', () => {
  let server: ApiServer;
  let session: string;
  const alice = { basic: ['alice', PASSWORD] as [string, string] };
  before(async () => {
    server = await startApiServer();
    await createUser(server, 'alice');
    await createUser(server, 'bob');
    session = await signIn(server, 'alice');
  });
  after(() => server.stop());

  it('creates a token: 201, shown once with its prefix, never listed, stored only as SHA-256', async () => {
    const res = await server.api('/users/me/tokens', { method: 'POST', json: { label: 'ci', scopes: ['repo:write'] }, auth: { bearer: session } });
    const created = await expectJson<Token>(res, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(created.token!, /^pier_pat_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.label, 'ci');
    assert.deepEqual(created.scopes, ['repo:write']);
    assert.equal(created.expires_at, null);
    assert.equal(created.last_used_at, null);

    const list = await expectJson<{ results: Token[]; count: number }>(await server.api('/users/me/tokens', { auth: { bearer: session } }), 200);
    assert.equal(list.count, 1);
    assert.deepEqual(list.results[0], { id: created.id, label: 'ci', scopes: ['repo:write'], created_at: created.created_at, expires_at: null, last_used_at: null, expired: false });
    assert.ok(!JSON.stringify(list).includes(created.token!));

    // the database holds the hash, never the secret: neither in a row nor anywhere in its files
    const db = new SQLite(join(server.dataDir, 'pier.db'), { readonly: true });
    try {
      const rows = db.prepare('select * from access_tokens').all() as Array<Record<string, unknown>>;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.token_hash, createHash('sha256').update(created.token!).digest('hex'));
      assert.ok(!JSON.stringify(rows).includes(created.token!));
      assert.ok(!JSON.stringify(rows).includes(created.token!.slice('pier_pat_'.length)));
    } finally {
      db.close();
    }
    for (const file of ['pier.db', 'pier.db-wal']) {
      const bytes = await readFile(join(server.dataDir, file)).catch(() => Buffer.alloc(0));
      assert.equal(bytes.indexOf(created.token!.slice('pier_pat_'.length)), -1, `${file} holds the secret`);
    }

    // usable on the API; its use is recorded
    await expectJson(await server.api('/users/me', { auth: { basic: ['alice', created.token!] } }), 200);
    const used = await expectJson<{ results: Token[] }>(await server.api('/users/me/tokens', { auth: alice }), 200);
    assert.ok(used.results[0]!.last_used_at);
  });

  it('takes expires_in as seconds or a duration', async () => {
    const now = Date.now();
    const days = await expectJson<Token>(await server.api('/users/me/tokens', { method: 'POST', json: { label: 'month', scopes: ['repo:read'], expires_in: '30d' }, auth: alice }), 201);
    const expiresIn = Date.parse(days.expires_at!) - now;
    assert.ok(Math.abs(expiresIn - 30 * 86_400_000) < 60_000, `${expiresIn}`);
    const seconds = await expectJson<Token>(await server.api('/users/me/tokens', { method: 'POST', json: { label: 'hour', scopes: ['repo:read'], expires_in: 3600 }, auth: alice }), 201);
    assert.ok(Math.abs(Date.parse(seconds.expires_at!) - now - 3600_000) < 60_000);
    const digits = await expectJson<Token>(await server.api('/users/me/tokens', { method: 'POST', json: { label: 'digits', scopes: ['repo:read'], expires_in: '60' }, auth: alice }), 201);
    assert.ok(Math.abs(Date.parse(digits.expires_at!) - now - 60_000) < 60_000);
    for (const id of [days.id, seconds.id, digits.id]) {
      assert.equal((await server.api(`/users/me/tokens/${id}`, { method: 'DELETE', auth: alice })).status, 204);
    }
  });

  it('refuses bad input with 400', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ label: 'x', scopes: ['repo:everything'] }, /repo:read, repo:write/],
      [{ label: 'x', scopes: [] }, /^scopes: at least one/],
      [{ label: 'x' }, /^scopes: /],
      [{ label: '', scopes: ['repo:read'] }, /label/],
      [{ label: 'x'.repeat(101), scopes: ['repo:read'] }, /label/],
      [{ scopes: ['repo:read'] }, /^label: /],
      [{ label: 'x', scopes: ['repo:read'], expires_in: '30 days' }, /expires_in/],
      [{ label: 'x', scopes: ['repo:read'], expires_in: -5 }, /expires_in/],
      [{ label: 'x', scopes: ['repo:read'], expires_in: 0 }, /expires_in/],
      [{ label: 'x', scopes: ['repo:read'], expires_in: 1.5 }, /expires_in/],
      [{ label: 'x', scopes: ['repo:read'], expires_in: '3650d' }, /5 years/],
      [{ label: 'x', scopes: ['repo:read'], owner: 'bob' }, /unknown field: owner/],
    ];
    for (const [json, detail] of cases) {
      await expectProblem(await server.api('/users/me/tokens', { method: 'POST', json, auth: alice }), 400, detail);
    }
  });

  it('needs the password or a session: a PAT cannot create, list or revoke tokens', async () => {
    const { token, info } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'admin', scopes: ['repo:admin'] });
    for (const auth of [{ bearer: token }, { basic: ['alice', token] as [string, string] }]) {
      await expectProblem(await server.api('/users/me/tokens', { method: 'POST', json: { label: 'more', scopes: ['repo:read'] }, auth }), 403, /personal access token/);
      await expectProblem(await server.api('/users/me/tokens', { auth }), 403);
      await expectProblem(await server.api(`/users/me/tokens/${info.id}`, { method: 'DELETE', auth }), 403);
      await expectProblem(await server.api('/users/me/sessions', { auth }), 403);
    }
    await expectProblem(await server.api('/users/me/tokens', { method: 'POST', json: { label: 'x', scopes: ['repo:read'] } }), 401);
    await expectProblem(await server.api('/users/me/tokens'), 401);
    await server.hub.tokens.revokePersonalAccessToken('alice', info.id);
  });

  it('revokes a token: it stops working at once; a second revoke, or another account\'s token, is 404', async () => {
    const created = await expectJson<Token>(await server.api('/users/me/tokens', { method: 'POST', json: { label: 'gone', scopes: ['repo:read'] }, auth: alice }), 201);
    await expectJson(await server.api('/users/me', { auth: { bearer: created.token! } }), 200);
    await expectProblem(await server.api(`/users/me/tokens/${created.id}`, { method: 'DELETE', auth: { basic: ['bob', PASSWORD] } }), 404);
    const res = await server.api(`/users/me/tokens/${created.id}`, { method: 'DELETE', auth: alice });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
    await expectProblem(await server.api('/users/me', { auth: { bearer: created.token! } }), 401, /revoked/);
    await expectProblem(await server.api('/users/me', { auth: { basic: ['alice', created.token!] } }), 401, /incorrect username or password/);
    await expectProblem(await server.api(`/users/me/tokens/${created.id}`, { method: 'DELETE', auth: alice }), 404);
    await expectProblem(await server.api('/users/me/tokens/not-an-id', { method: 'DELETE', auth: alice }), 404);
    const list = await expectJson<{ results: Token[] }>(await server.api('/users/me/tokens', { auth: alice }), 200);
    assert.ok(!list.results.some((t) => t.id === created.id));
  });

  it('an expired token stops working, and is listed as expired', async () => {
    const created = await expectJson<Token>(await server.api('/users/me/tokens', { method: 'POST', json: { label: 'short', scopes: ['repo:read'], expires_in: 60 }, auth: alice }), 201);
    await expectJson(await server.api('/users/me', { auth: { bearer: created.token! } }), 200);
    server.advance(61_000);
    await expectProblem(await server.api('/users/me', { auth: { bearer: created.token! } }), 401);
    const list = await expectJson<{ results: Token[] }>(await server.api('/users/me/tokens', { auth: alice }), 200);
    assert.equal(list.results.find((t) => t.id === created.id)?.expired, true);
  });

  it('lists and ends docker login sessions (refresh tokens), one account at a time', async () => {
    const refresh = await server.hub.tokens.createRefreshToken('alice', 'docker');
    await server.hub.tokens.createRefreshToken('bob', 'docker');
    const list = await expectJson<{ results: Array<{ id: string; client_id: string | null; created_at: string; last_used_at: string | null }>; count: number }>(
      await server.api('/users/me/sessions', { auth: alice }),
      200,
    );
    assert.equal(list.count, 1);
    assert.equal(list.results[0]!.client_id, 'docker');
    assert.ok(!JSON.stringify(list).includes(refresh));
    const id = list.results[0]!.id;
    await expectProblem(await server.api(`/users/me/sessions/${id}`, { method: 'DELETE', auth: { basic: ['bob', PASSWORD] } }), 404);
    assert.equal((await server.api(`/users/me/sessions/${id}`, { method: 'DELETE', auth: alice })).status, 204);
    assert.equal(await server.hub.tokens.authenticateRefreshToken(refresh), undefined);
    await expectProblem(await server.api(`/users/me/sessions/${id}`, { method: 'DELETE', auth: alice }), 404);
    const bobs = await expectJson<{ count: number }>(await server.api('/users/me/sessions', { auth: { basic: ['bob', PASSWORD] } }), 200);
    assert.equal(bobs.count, 1);
  });
});
