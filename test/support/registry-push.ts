/**
 * Pushing test images to any registry, the reference registry included (which has no monolithic
 * `POST ?digest=`): each blob in a session, POST then PUT with the body, as docker does.
 */
import assert from 'node:assert/strict';
import { makeImage, type ImageOptions, type PushedImage, type TestImage } from './images.js';
import { bin, pushManifest, sha256 } from './oci.js';

export async function pushBlobInSession(base: string, repo: string, data: Buffer, token?: string): Promise<string> {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const started = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
  await started.arrayBuffer();
  assert.equal(started.status, 202, `starting an upload to ${repo}`);
  const location = new URL(started.headers.get('location')!, base);
  const digest = sha256(data);
  location.searchParams.set('digest', digest);
  const res = await fetch(location, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bin(data) });
  const text = await res.text();
  assert.equal(res.status, 201, `uploading ${digest} to ${repo}: ${text}`);
  return digest;
}

/** Pushes an image (made from `options`, or `options.image`) under `reference`, to any registry. */
export async function pushImageTo(base: string, repo: string, reference: string, options: ImageOptions & { image?: TestImage; token?: string } = {}): Promise<PushedImage> {
  const image = options.image ?? makeImage(options);
  for (const blob of [image.config, ...image.layers]) await pushBlobInSession(base, repo, blob.bytes, options.token);
  await pushManifest(base, repo, reference, image.manifest, image.mediaType, options.token ? { token: options.token } : {});
  return { ...image, repository: repo, reference };
}
