import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MT, assertOciError, pushBlob, pushManifest, randomBlob } from '../support/oci.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Byte order, as the spec wants (JavaScript's default sort compares UTF-16 units: the same for ASCII). */
function byteOrder(values: string[]): string[] {
  return [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

interface Page<T> {
  status: number;
  link: string | null;
  body: T;
  contentType: string | null;
}

async function getJson<T>(url: string): Promise<Page<T>> {
  const res = await fetch(url);
  const contentType = res.headers.get('content-type');
  const link = res.headers.get('link');
  const body = (await res.json()) as T;
  return { status: res.status, link, body, contentType };
}

/** `</v2/...?n=2&last=b>; rel="next"` -> the path inside the brackets. */
function nextPath(link: string): string {
  const match = /^<([^>]+)>; rel="next"$/.exec(link);
  assert.ok(match, `Link header: ${link}`);
  return match[1]!;
}

describe('tags list', () => {
  let server: TestServer;
  const repo = 'alice/tagged';
  // uppercase sorts before lowercase; '-' < '.' < digits < uppercase < '_' < lowercase in bytes
  const tags = ['latest', 'Latest', 'LATEST', 'v1', 'v1.0', 'v1-rc', 'v1_0', 'V2', '_private', '1.0', '9', 'a', 'b', 'c', 'Z', 'z'];
  let image: PushedImage;
  before(async () => {
    server = await startTestServer();
    image = await pushImage(server.url, repo, tags[0]!);
    for (const tag of tags.slice(1)) await pushManifest(server.url, repo, tag, image.manifest, MT.OciManifest);
  });
  after(() => server.stop());

  const tagsUrl = (query = '') => `${server.url}/v2/${repo}/tags/list${query}`;

  it('lists every tag in byte order, with the repository name', async () => {
    const page = await getJson<{ name: string; tags: string[] }>(tagsUrl());
    assert.equal(page.status, 200);
    assert.match(page.contentType ?? '', /^application\/json\b/);
    assert.equal(page.link, null);
    assert.equal(page.body.name, repo);
    const expected = byteOrder(tags);
    assert.deepEqual(page.body.tags, expected);
    // spot checks of the byte order, spelled out
    const at = (t: string) => page.body.tags.indexOf(t);
    assert.ok(at('1.0') < at('9') && at('9') < at('LATEST') && at('LATEST') < at('Latest'));
    assert.ok(at('Z') < at('_private') && at('_private') < at('a'));
    assert.ok(at('v1') < at('v1-rc') && at('v1-rc') < at('v1.0') && at('v1.0') < at('v1_0'));
    assert.ok(at('V2') < at('latest'));
  });

  it('paginates with n, and Link: </v2/<name>/tags/list?n=2&last=...>; rel="next"', async () => {
    const expected = byteOrder(tags);
    const first = await getJson<{ name: string; tags: string[] }>(tagsUrl('?n=2'));
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.tags, expected.slice(0, 2));
    assert.equal(first.link, `</v2/${repo}/tags/list?n=2&last=${expected[1]}>; rel="next"`);
  });

  it('starts after `last`', async () => {
    const expected = byteOrder(tags);
    const page = await getJson<{ tags: string[] }>(tagsUrl('?n=2&last=b'));
    const from = expected.indexOf('b') + 1;
    assert.deepEqual(page.body.tags, expected.slice(from, from + 2));
    assert.equal(page.link, `</v2/${repo}/tags/list?n=2&last=${expected[from + 1]}>; rel="next"`);
    // `last` need not be a tag that exists
    const between = await getJson<{ tags: string[] }>(tagsUrl('?last=bb'));
    assert.deepEqual(between.body.tags, expected.filter((t) => Buffer.compare(Buffer.from(t), Buffer.from('bb')) > 0));
    // without n: everything after last
    const rest = await getJson<{ tags: string[] }>(tagsUrl('?last=b'));
    assert.deepEqual(rest.body.tags, expected.slice(from));
    assert.equal(rest.link, null);
  });

  it('collects every tag, once, by following Link headers', async () => {
    for (const n of [1, 2, 3, 5, tags.length - 1, tags.length, tags.length + 1]) {
      const seen: string[] = [];
      let path: string | undefined = `/v2/${repo}/tags/list?n=${n}`;
      let pages = 0;
      while (path) {
        const page: Page<{ tags: string[] }> = await getJson<{ tags: string[] }>(`${server.url}${path}`);
        assert.equal(page.status, 200);
        assert.ok(page.body.tags.length <= n);
        seen.push(...page.body.tags);
        path = page.link ? nextPath(page.link) : undefined;
        assert.ok(++pages <= tags.length + 1, 'pagination terminates');
      }
      assert.deepEqual(seen, byteOrder(tags), `n=${n}`);
      assert.equal(pages, Math.max(1, Math.ceil(tags.length / n)), `pages for n=${n}`);
    }
  });

  it('has no Link on the last page, even when it is full', async () => {
    const all = await getJson<{ tags: string[] }>(tagsUrl(`?n=${tags.length}`));
    assert.equal(all.body.tags.length, tags.length);
    assert.equal(all.link, null);
    const expected = byteOrder(tags);
    const lastTwo = await getJson<{ tags: string[] }>(tagsUrl(`?n=2&last=${expected[expected.length - 3]}`));
    assert.deepEqual(lastTwo.body.tags, expected.slice(-2));
    assert.equal(lastTwo.link, null);
  });

  it('answers n=0 with an empty list', async () => {
    const page = await getJson<{ name: string; tags: string[] }>(tagsUrl('?n=0'));
    assert.equal(page.status, 200);
    assert.deepEqual(page.body.tags, []);
    assert.equal(page.link, null);
  });

  it('answers a `last` after every tag with an empty list', async () => {
    const page = await getJson<{ tags: string[] }>(tagsUrl('?last=zzz'));
    assert.equal(page.status, 200);
    assert.deepEqual(page.body.tags, []);
  });

  it('refuses an invalid n with 400 PAGINATION_NUMBER_INVALID', async () => {
    for (const n of ['-1', 'abc', '1.5', '2x', '0x10']) {
      await assertOciError(await fetch(tagsUrl(`?n=${n}`)), 400, 'PAGINATION_NUMBER_INVALID');
    }
  });

  it('answers an unknown repository with 404 NAME_UNKNOWN', async () => {
    const envelope = await assertOciError(await fetch(`${server.url}/v2/nobody/nothing/tags/list`), 404, 'NAME_UNKNOWN');
    assert.deepEqual(envelope!.errors[0]!.detail, { name: 'nobody/nothing' });
  });

  it('lists an existing repository without tags as an empty list', async () => {
    await pushBlob(server.url, 'alice/untagged', randomBlob(10));
    const page = await getJson<{ name: string; tags: string[] }>(`${server.url}/v2/alice/untagged/tags/list`);
    assert.equal(page.status, 200);
    assert.equal(page.body.name, 'alice/untagged');
    assert.deepEqual(page.body.tags, []);
  });

  it('lists the tags of a one-part name under library/', async () => {
    await pushImage(server.url, 'busybox', 'stable');
    const page = await getJson<{ name: string; tags: string[] }>(`${server.url}/v2/busybox/tags/list`);
    assert.equal(page.status, 200);
    assert.equal(page.body.name, 'library/busybox');
    assert.deepEqual(page.body.tags, ['stable']);
    const full = await getJson<{ name: string; tags: string[] }>(`${server.url}/v2/library/busybox/tags/list?n=1`);
    assert.deepEqual(full.body, page.body);
  });

  it('uses the normalized name in the Link of a one-part name', async () => {
    await pushImage(server.url, 'alpine', 'a');
    const image2 = await pushImage(server.url, 'alpine', 'b');
    await pushManifest(server.url, 'alpine', 'c', image2.manifest, MT.OciManifest);
    const page = await getJson<{ tags: string[] }>(`${server.url}/v2/alpine/tags/list?n=1`);
    assert.equal(page.link, '</v2/library/alpine/tags/list?n=1&last=a>; rel="next"');
  });

  it('forgets deleted tags', async () => {
    const one = await pushImage(server.url, 'alice/deleting', 'one');
    await pushManifest(server.url, 'alice/deleting', 'two', one.manifest, MT.OciManifest);
    await (await fetch(`${server.url}/v2/alice/deleting/manifests/one`, { method: 'DELETE' })).arrayBuffer();
    const page = await getJson<{ tags: string[] }>(`${server.url}/v2/alice/deleting/tags/list`);
    assert.deepEqual(page.body.tags, ['two']);
  });
});

describe('catalog', () => {
  let server: TestServer;
  // '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < digits < '_' (0x5f) < letters, byte by byte
  const names = ['a/b', 'a-b/c', 'a.b/c', 'a_b/c', 'a/b/c', 'a/b-c', 'a/b.c', 'a/b_c', 'a0/x', 'b/a', 'zz/top'];
  before(async () => {
    server = await startTestServer();
    for (const name of names) await pushBlob(server.url, name, randomBlob(8));
    await pushBlob(server.url, 'nginx', randomBlob(8)); // library/nginx
  });
  after(() => server.stop());

  const all = () => byteOrder([...names, 'library/nginx']);

  it('lists every repository in byte order, one-part names as library/<name>', async () => {
    const page = await getJson<{ repositories: string[] }>(`${server.url}/v2/_catalog`);
    assert.equal(page.status, 200);
    assert.match(page.contentType ?? '', /^application\/json\b/);
    assert.deepEqual(page.body.repositories, all());
    assert.ok(!page.body.repositories.includes('nginx'));
    const at = (t: string) => page.body.repositories.indexOf(t);
    assert.ok(at('a-b/c') < at('a.b/c') && at('a.b/c') < at('a/b') && at('a/b') < at('a0/x') && at('a0/x') < at('a_b/c'));
    assert.ok(at('a/b') < at('a/b-c') && at('a/b-c') < at('a/b.c') && at('a/b.c') < at('a/b/c') && at('a/b/c') < at('a/b_c'));
  });

  it('paginates with n and a Link to the next page', async () => {
    const expected = all();
    const page = await getJson<{ repositories: string[] }>(`${server.url}/v2/_catalog?n=2`);
    assert.deepEqual(page.body.repositories, expected.slice(0, 2));
    assert.ok(page.link);
    const next = new URL(nextPath(page.link), server.url);
    assert.equal(next.pathname, '/v2/_catalog');
    assert.equal(next.searchParams.get('n'), '2');
    assert.equal(next.searchParams.get('last'), expected[1]);
  });

  it('starts after `last`', async () => {
    const expected = all();
    const page = await getJson<{ repositories: string[] }>(`${server.url}/v2/_catalog?n=3&last=${encodeURIComponent('a/b')}`);
    const from = expected.indexOf('a/b') + 1;
    assert.deepEqual(page.body.repositories, expected.slice(from, from + 3));
  });

  it('collects every repository, once, by following Link headers', async () => {
    for (const n of [1, 2, 4, names.length, names.length + 1, names.length + 5]) {
      const seen: string[] = [];
      let path: string | undefined = `/v2/_catalog?n=${n}`;
      let pages = 0;
      while (path) {
        const page: Page<{ repositories: string[] }> = await getJson<{ repositories: string[] }>(`${server.url}${path}`);
        assert.equal(page.status, 200);
        assert.ok(page.body.repositories.length <= n);
        seen.push(...page.body.repositories);
        path = page.link ? nextPath(page.link) : undefined;
        assert.ok(++pages <= names.length + 2, 'pagination terminates');
      }
      assert.deepEqual(seen, all(), `n=${n}`);
      assert.equal(pages, Math.ceil(all().length / n), `pages for n=${n}`);
    }
  });

  it('answers n=0 with an empty list and an invalid n with 400', async () => {
    const page = await getJson<{ repositories: string[] }>(`${server.url}/v2/_catalog?n=0`);
    assert.equal(page.status, 200);
    assert.deepEqual(page.body.repositories, []);
    assert.equal(page.link, null);
    for (const n of ['-2', 'ten', '3.0']) {
      await assertOciError(await fetch(`${server.url}/v2/_catalog?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID');
    }
  });

  it('answers a `last` after every repository with an empty list', async () => {
    const page = await getJson<{ repositories: string[] }>(`${server.url}/v2/_catalog?last=zzzz`);
    assert.equal(page.status, 200);
    assert.deepEqual(page.body.repositories, []);
    assert.equal(page.link, null);
  });
});

describe('catalog of an empty registry', () => {
  it('is an empty list', async () => {
    const server = await startTestServer();
    try {
      const page = await getJson<{ repositories: string[] }>(`${server.url}/v2/_catalog`);
      assert.equal(page.status, 200);
      assert.deepEqual(page.body, { repositories: [] });
    } finally {
      await server.stop();
    }
  });
});
