import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { pushImage } from '../support/images.js';
import { runPier } from '../support/cli.js';
import { bearer, tokenFor } from '../support/auth.js';
import { MT } from '../support/oci.js';

/** An anonymous pull of `name:latest` through the server's token flow, as docker does it. */
async function anonymousPull(url: string, name: string): Promise<number> {
  const token = await fetch(`${url}/token?service=pier&scope=repository:${name}:pull`);
  const { token: jwt } = (await token.json()) as { token: string };
  const res = await fetch(`${url}/v2/${name}/manifests/latest`, { headers: { authorization: `Bearer ${jwt}`, accept: MT.OciManifest } });
  await res.arrayBuffer();
  return res.status;
}

describe('pier repo visibility', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer();
    await createUser(server, 'alice');
    await pushImage(server.registry, 'alice/app', 'latest');
    await pushImage(server.registry, 'library/nginx', 'latest');
  });
  after(() => server.stop());

  it('against the data directory of a running server, takes effect for that server at once', async () => {
    await expectJson(await server.api('/repositories/alice/app'), 200);
    assert.equal(await anonymousPull(server.url, 'alice/app'), 200);

    const run = await runPier(['repo', 'visibility', 'alice/app', 'private', '--data', server.dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'alice/app is now private\n');

    await expectProblem(await server.api('/repositories/alice/app'), 404);
    const owner = await expectJson<{ is_private: boolean }>(await server.api('/repositories/alice/app', { auth: { basic: ['alice', PASSWORD] } }), 200);
    assert.equal(owner.is_private, true);
    const hidden = await anonymousPull(server.url, 'alice/app');
    assert.notEqual(hidden, 200);
    assert.equal(hidden, await anonymousPull(server.url, 'alice/nothing'), 'as if it did not exist');

    const back = await runPier(['repo', 'visibility', 'alice/app', 'public', '--data', server.dataDir]);
    assert.equal(back.code, 0, back.stderr);
    await expectJson(await server.api('/repositories/alice/app'), 200);
    assert.equal(await anonymousPull(server.url, 'alice/app'), 200);
  });

  it('reads a one-part name as an official image', async () => {
    const run = await runPier(['repo', 'visibility', 'nginx', 'private', '--data', server.dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'library/nginx is now private\n');
    assert.equal((await server.hub.repositories.visibility('library/nginx')).private, true);
    await expectProblem(await server.api('/repositories/library/nginx'), 404);
  });

  it('refuses a missing repository (1), a bad name or visibility (2)', async () => {
    const missing = await runPier(['repo', 'visibility', 'alice/nothing', 'private', '--data', server.dataDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no repository "alice\/nothing"/);
    const badName = await runPier(['repo', 'visibility', 'Alice/App', 'private', '--data', server.dataDir]);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /not a valid repository name/);
    const badWord = await runPier(['repo', 'visibility', 'alice/app', 'hidden', '--data', server.dataDir]);
    assert.equal(badWord.code, 2);
    assert.match(badWord.stderr, /public, private/);
  });
});

describe('pier repo immutable', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer();
    await pushImage(server.registry, 'library/nginx', 'v1');
    await createUser(server, 'boss', { admin: true });
  });
  const v2Delete = async () =>
    fetch(`${server.url}/v2/library/nginx/manifests/v1`, { method: 'DELETE', headers: bearer(await tokenFor(server.url, { username: 'boss', secret: PASSWORD }, ['repository:library/nginx:delete'])) });
  after(() => server.stop());

  it('adds, lists and removes rules, which the running server applies at once; refuses a bad pattern or repository', async () => {
    const add = await runPier(['repo', 'immutable', 'nginx', 'v*', '--data', server.dataDir]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'tags of library/nginx matching v* are now immutable\n');
    assert.equal((await runPier(['repo', 'immutable', 'nginx', '/^rel-\\d+$/', '--data', server.dataDir])).code, 0);
    const list = await runPier(['repo', 'immutable', 'library/nginx', '--data', server.dataDir]);
    assert.equal(list.stdout, '/^rel-\\d+$/\nv*\n');
    const moved = await v2Delete();
    assert.equal(moved.status, 403);
    assert.match(await moved.text(), /tag \\"v1\\" of library\/nginx is immutable \(rule \\"v\*\\"\)/);

    const bad = await runPier(['repo', 'immutable', 'nginx', '/(/', '--data', server.dataDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid regular expression/);
    const missing = await runPier(['repo', 'immutable', 'alice/nothing', 'v*', '--data', server.dataDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no repository "alice\/nothing"/);

    const remove = await runPier(['repo', 'immutable', 'nginx', 'v*', '--remove', '--data', server.dataDir]);
    assert.equal(remove.code, 0, remove.stderr);
    assert.equal(remove.stdout, 'tags of library/nginx matching v* are no longer immutable\n');
    const again = await runPier(['repo', 'immutable', 'nginx', 'v*', '--remove', '--data', server.dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no immutable tag rule "v\*" on library\/nginx/);
    assert.equal((await v2Delete()).status, 202);
  });
});

describe('pier tag delete, pier repo delete', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer();
  });
  after(() => server.stop());
  const tags = async () => (await server.database.db.selectFrom('tags').select(['name', 'digest']).where('repository', '=', 'library/app').orderBy('name').execute()).map((t) => t.name);

  it('deletes a tag (its manifest stays), a manifest with its tags, refuses an immutable tag, then the repository', async () => {
    const one = await pushImage(server.registry, 'library/app', 'v1');
    await server.registry.manifests.put('library/app' as never, 'latest', one.manifest, one.mediaType, [], {});
    await pushImage(server.registry, 'library/app', 'v2');
    const tag = await runPier(['tag', 'delete', 'library/app:latest', '--data', server.dataDir]);
    assert.equal(tag.code, 0, tag.stderr);
    assert.equal(tag.stdout, 'library/app:latest deleted\n');
    assert.deepEqual(await tags(), ['v1', 'v2']);

    await server.database.db.insertInto('immutable_tag_rules').values({ repository: 'library/app', pattern: 'v2', created_at: 0, created_by: null }).execute();
    const refused = await runPier(['tag', 'delete', 'library/app:v2', '--data', server.dataDir]);
    // the official images have every plan feature
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^pier: tag "v2" of library\/app is immutable \(rule "v2"\)/);
    const manifest = await runPier(['tag', 'delete', `library/app@${one.digest}`, '--data', server.dataDir]);
    assert.equal(manifest.code, 0, manifest.stderr);
    assert.equal((await server.database.db.selectFrom('manifests').select('digest').where('digest', '=', one.digest).execute()).length, 0);
    const missing = await runPier(['tag', 'delete', 'library/app:nothing', '--data', server.dataDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^pier: no tag library\/app:nothing\n$/);
    assert.equal((await runPier(['tag', 'delete', 'library/app', '--data', server.dataDir])).code, 2);

    const repo = await runPier(['repo', 'delete', 'library/app', '--data', server.dataDir]);
    assert.equal(repo.code, 0, repo.stderr);
    assert.equal(repo.stdout, 'library/app deleted\n');
    assert.deepEqual(await tags(), []);
    await expectProblem(await server.api('/repositories/library/app'), 404);
    const again = await runPier(['repo', 'delete', 'library/app', '--data', server.dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no repository "library\/app"/);
  });
});
