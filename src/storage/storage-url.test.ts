import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseByteSize, parseStorageUrl, storageUrlProblem } from './storage-url.js';

describe('storage URL', () => {
  it('reads file: URLs', () => {
    assert.deepEqual(parseStorageUrl('file:///var/lib/pier%20data'), { kind: 'file', root: '/var/lib/pier data' });
    assert.match(storageUrlProblem('file:///') ?? '', /absolute path/);
  });

  it('reads every s3 parameter', () => {
    const location = parseStorageUrl(
      's3://pier-blobs/prod/eu/?endpoint=http://127.0.0.1:8080/&region=eu-west-3&forcePathStyle=true&partSize=64MiB&redirect=true&presignTtl=1h',
    );
    assert.deepEqual(location, {
      kind: 's3',
      settings: {
        bucket: 'pier-blobs',
        prefix: 'prod/eu',
        endpoint: 'http://127.0.0.1:8080',
        region: 'eu-west-3',
        forcePathStyle: true,
        partSize: 64 * 1024 * 1024,
        redirect: true,
        presignTtlSeconds: 3600,
      },
    });
  });

  it('has defaults for everything but the bucket', () => {
    const location = parseStorageUrl('s3://pier-blobs');
    assert.equal(location.kind, 's3');
    if (location.kind !== 's3') return;
    const { prefix, endpoint, forcePathStyle, partSize, redirect, presignTtlSeconds } = location.settings;
    assert.deepEqual(
      { prefix, endpoint, forcePathStyle, partSize, redirect, presignTtlSeconds },
      { prefix: '', endpoint: undefined, forcePathStyle: false, partSize: 8 * 1024 * 1024, redirect: false, presignTtlSeconds: 1200 },
    );
  });

  it('explains what is wrong', () => {
    const problems: Array<[string, RegExp]> = [
      ['not a url', /expected file:\/\/\/path or s3:\/\//],
      ['http://bucket/x', /unsupported storage scheme http:/],
      ['s3://key:secret@bucket/x', /AWS_ACCESS_KEY_ID/],
      ['s3://bucket:9000/x', /put the server in \?endpoint=/],
      ['s3://My_Bucket/x', /invalid S3 bucket name "My_Bucket"/],
      ['s3://bucket/a//b', /no empty, "\." or "\.\." path segments/],
      ['s3://bucket/a%2F..%2Fb', /path segments/],
      ['s3://bucket?endpont=http://x', /unknown s3 storage parameter "endpont" \(known: endpoint, region/],
      ['s3://bucket?region=a&region=b', /"region" is given twice/],
      ['s3://bucket?endpoint=ftp://x', /endpoint=ftp:\/\/x: expected an http:\/\/ or https:\/\/ URL/],
      ['s3://bucket?endpoint=http://u:p@x', /not in the URL/],
      ['s3://bucket?region=us east', /region=us east: expected a region name/],
      ['s3://bucket?forcePathStyle=yes', /forcePathStyle=yes: expected true or false/],
      ['s3://bucket?redirect=1', /redirect=1: expected true or false/],
      ['s3://bucket?partSize=lots', /partSize=lots: expected a size such as 16MiB/],
      ['s3://bucket?partSize=4MiB', /partSize=4MiB: S3 parts are 5MiB to 5GiB/],
      ['s3://bucket?partSize=6GiB', /S3 parts are 5MiB to 5GiB/],
      ['s3://bucket?presignTtl=soon', /presignTtl=soon: expected a duration such as 90s/],
      ['s3://bucket?presignTtl=8d', /presignTtl=8d: presigned URLs live 1s to 7d/],
      ['s3://bucket?presignTtl=0s', /presigned URLs live 1s to 7d/],
    ];
    for (const [url, expected] of problems) assert.match(storageUrlProblem(url) ?? 'no problem', expected, url);
    assert.equal(storageUrlProblem('s3://bucket/p?endpoint=https://s3.example.com&presignTtl=90&partSize=5242880'), undefined);
  });

  it('reads sizes in bytes, binary and decimal units', () => {
    assert.equal(parseByteSize('8388608'), 8388608);
    assert.equal(parseByteSize('16MiB'), 16 * 1024 * 1024);
    assert.equal(parseByteSize('16M'), 16 * 1024 * 1024);
    assert.equal(parseByteSize('64MB'), 64_000_000);
    assert.equal(parseByteSize('1gib'), 1024 ** 3);
    assert.equal(parseByteSize('1.5GiB'), undefined);
    assert.equal(parseByteSize('5 parsecs'), undefined);
  });
});
