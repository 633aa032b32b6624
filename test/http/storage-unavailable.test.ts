// A bucket that goes away under a running Pier: every push gets a clear 503 in the OCI envelope
// (not a 500 "internal error"), and the log says what is wrong once, without a stack per request.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createS3Client } from '../../src/storage/s3/client.js';
import { parseStorageUrl, type S3Settings } from '../../src/storage/storage-url.js';
import { inCi } from '../support/exec.js';
import { assertOciError, bin, sha256 } from '../support/oci.js';
import { S3_TEST_URL, s3Problem } from '../support/s3.js';
import { startTestServer, type TestServer } from '../support/server.js';

const problem = await s3Problem();

describe('storage that becomes unavailable', problem && !inCi ? { skip: problem } : {}, () => {
  let server: TestServer;
  let settings: S3Settings;
  const lines: string[] = [];
  const bucket = `pier-gone-${randomBytes(4).toString('hex')}`;

  before(async () => {
    const url = S3_TEST_URL.replace(/^s3:\/\/[^?/]*/, `s3://${bucket}`);
    const location = parseStorageUrl(url);
    if (location.kind !== 's3') throw new Error('not an s3 URL');
    settings = location.settings;
    const client = createS3Client(settings);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    server = await startTestServer({ 'storage.url': url }, { logger });
  });
  after(() => server?.stop());

  it('answers every push 503 with a clear message, and logs the reason once, without a stack', async () => {
    const client = createS3Client(settings);
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    // Swift caches a container's existence in its proxy for a moment: wait until it says the
    // bucket is gone, as every later request of Pier's will see it
    for (let tries = 0; ; tries++) {
      const gone = await client.send(new HeadBucketCommand({ Bucket: bucket })).then(() => false, () => true);
      if (gone) break;
      assert.ok(tries < 100, 'the bucket is still there 10 s after it was deleted');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    client.destroy();
    for (let i = 0; i < 3; i++) {
      const blob = randomBytes(100);
      const res = await fetch(`${server.url}/v2/alice/app/blobs/uploads/?digest=${encodeURIComponent(sha256(blob))}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bin(blob),
      });
      assert.equal(res.headers.get('retry-after'), '30', `${res.status} ${await res.clone().text()}`);
      await assertOciError(res, 503, 'UNKNOWN', { message: /^the registry cannot use its storage right now; try again later$/ });
    }
    const logged = lines.filter((l) => l.includes('"the storage is unavailable'));
    assert.equal(logged.length, 1, lines.join(''));
    assert.match(JSON.parse(logged[0]!).msg, new RegExp(`^the storage is unavailable: S3 bucket "${bucket}" at .* does not exist \\(create it first\\)$`));
    assert.doesNotMatch(lines.join(''), /"stack"/);
  });
});
