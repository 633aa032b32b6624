import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { PageQuery, pageOf, pageWindow } from './paging.js';

const request = (url: string) => ({ url }) as FastifyRequest;
const page = (query: Record<string, string>) => PageQuery.parse(query);

describe('paged lists', () => {
  it('reads page and page_size with their defaults and limits', () => {
    assert.deepEqual(page({}), { page: 1, page_size: 25 });
    assert.deepEqual(page({ page: '3', page_size: '100' }), { page: 3, page_size: 100 });
    for (const bad of [{ page: '0' }, { page: '-1' }, { page: '1.5' }, { page: 'x' }, { page_size: '0' }, { page_size: '101' }]) {
      assert.equal(PageQuery.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.deepEqual(pageWindow({ page: 3, page_size: 10 }), { offset: 20, limit: 10 });
  });

  it('links the neighbouring pages with the request’s own query', () => {
    const url = '/api/v1/users?q=a%20b&page=2&page_size=10';
    assert.deepEqual(pageOf(request(url), { page: 2, page_size: 10 }, 35, ['x']), {
      count: 35,
      next: '/api/v1/users?q=a+b&page=3&page_size=10',
      previous: '/api/v1/users?q=a+b&page=1&page_size=10',
      results: ['x'],
    });
    const first = pageOf(request('/api/v1/users'), { page: 1, page_size: 25 }, 26, []);
    assert.deepEqual([first.next, first.previous], ['/api/v1/users?page=2', null]);
    const last = pageOf(request('/api/v1/users?page=4&page_size=10'), { page: 4, page_size: 10 }, 35, []);
    assert.deepEqual([last.next, last.previous], [null, '/api/v1/users?page=3&page_size=10']);
  });

  it('points a page past the end back at the last one; an empty list has no neighbours', () => {
    const beyond = pageOf(request('/api/v1/users?page=9'), { page: 9, page_size: 25 }, 30, []);
    assert.deepEqual([beyond.next, beyond.previous], [null, '/api/v1/users?page=2']);
    const empty = pageOf(request('/api/v1/users'), { page: 1, page_size: 25 }, 0, []);
    assert.deepEqual([empty.count, empty.next, empty.previous], [0, null, null]);
  });
});
