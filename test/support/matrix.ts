import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bearer, jwtPayload, parseChallenge, tokenFor, tokenGet, type Login } from './auth.js';
import { pushImage, type PushedImage } from './images.js';
import { bin, descriptorOf, jsonBytes, MT, ociManifest, pushBlob } from './oci.js';

/** The kinds of /v2 request a permission matrix runs (the user matrix and the organisation matrix). */
export type MatrixRoute =
  | 'HEAD manifest'
  | 'GET manifest'
  | 'GET blob'
  | 'tags list'
  | 'referrers'
  | 'POST upload'
  | 'PUT manifest'
  | 'DELETE manifest'
  | 'DELETE blob'
  | 'catalog';

export interface MatrixAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** the /token answers on the way, which must not leak either */
  tokens: string[];
}

export interface MatrixSetup {
  url: string;
  /** the image pushed into each repository the matrix asks about (MISSING borrows PRIVATE's) */
  images: Record<string, PushedImage>;
  privateRepository: string;
  missingRepository: string;
  /** who pushes what a destructive request destroys */
  admin: Login;
}

/**
 * Runs one cell the way a client runs it: the request, its 401 challenge, a token for the
 * challenge's scope with the subject's credentials, the request again. A subject whose
 * credentials /token refuses stops at the challenge (its answer is that 401), unless
 * `requireToken` says every subject of the matrix must get a token.
 */
export function matrixClient(setup: MatrixSetup, options: { requireToken?: boolean } = {}) {
  const { url, images, privateRepository: PRIVATE, missingRepository: MISSING } = setup;

  /** Something for a destructive request to destroy, pushed by the admin; the same digest is used on MISSING. */
  async function victim(route: MatrixRoute, repo: string): Promise<string> {
    const target = repo === MISSING ? PRIVATE : repo;
    const token = await tokenFor(url, setup.admin, [`repository:${target}:pull,push`]);
    if (route === 'DELETE blob') return (await pushBlob(url, target, randomBytes(64), { token })).digest;
    return (await pushImage(url, target, `victim-${randomBytes(4).toString('hex')}`, { token })).digest;
  }

  async function request(route: MatrixRoute, repo: string, token?: string, victimRef?: string): Promise<Response> {
    const image = images[repo === MISSING ? PRIVATE : repo]!;
    const auth = token ? bearer(token) : {};
    switch (route) {
      case 'HEAD manifest':
        return fetch(`${url}/v2/${repo}/manifests/${image.reference}`, { method: 'HEAD', headers: auth });
      case 'GET manifest':
        return fetch(`${url}/v2/${repo}/manifests/${image.digest}`, { headers: { ...auth, accept: MT.OciManifest } });
      case 'GET blob':
        return fetch(`${url}/v2/${repo}/blobs/${image.layers[0]!.digest}`, { headers: auth });
      case 'tags list':
        return fetch(`${url}/v2/${repo}/tags/list`, { headers: auth });
      case 'referrers':
        return fetch(`${url}/v2/${repo}/referrers/${image.digest}`, { headers: auth });
      case 'POST upload':
        return fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
      case 'PUT manifest': {
        const manifest = jsonBytes(
          ociManifest({ config: descriptorOf(MT.OciConfig, image.config.bytes), layers: [descriptorOf(MT.OciLayer, image.layers[0]!.bytes)], annotations: { n: randomBytes(4).toString('hex') } }),
        );
        return fetch(`${url}/v2/${repo}/manifests/matrix`, { method: 'PUT', headers: { ...auth, 'content-type': MT.OciManifest }, body: bin(manifest) });
      }
      case 'DELETE manifest':
        return fetch(`${url}/v2/${repo}/manifests/${victimRef}`, { method: 'DELETE', headers: auth });
      case 'DELETE blob':
        return fetch(`${url}/v2/${repo}/blobs/${victimRef}`, { method: 'DELETE', headers: auth });
      case 'catalog':
        return fetch(`${url}/v2/_catalog`, { headers: auth });
    }
  }

  async function asClient(login: Login | undefined, route: MatrixRoute, repo: string, subject: string): Promise<MatrixAnswer> {
    const victimRef = route === 'DELETE manifest' || route === 'DELETE blob' ? await victim(route, repo) : undefined;
    const first = await request(route, repo, undefined, victimRef);
    await first.arrayBuffer();
    assert.equal(first.status, 401, 'a request without a token is challenged');
    const scope = parseChallenge(first.headers.get('www-authenticate')).params.scope;
    const tokenAnswer = await tokenGet(url, { login, scopes: scope ? scope.split(' ') : [] });
    if (options.requireToken) assert.equal(tokenAnswer.status, 200, `${subject} logs in: ${tokenAnswer.text}`);
    const tokens = [tokenAnswer.text, ...[...tokenAnswer.headers.entries()].filter(([k]) => k !== 'date' && k !== 'x-request-id').map(([k, v]) => `${k}: ${v}`)];
    if (tokenAnswer.body.token) tokens.push(JSON.stringify(jwtPayload(tokenAnswer.body.token as string)));
    const issued = tokenAnswer.status === 200;
    // a client whose credentials are refused stops at the challenge
    const res = issued ? await request(route, repo, tokenAnswer.body.token as string, victimRef) : first;
    const headers: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      if (!['date', 'keep-alive', 'connection', 'x-request-id'].includes(key)) headers[key] = value;
    });
    const body = issued ? await res.text() : '';
    if (!issued) headers['x-token-status'] = String(tokenAnswer.status);
    return { status: issued ? res.status : 401, headers, body, tokens };
  }

  return { asClient };
}

/** Whatever a response says, as one string (what a private repository's answer is compared by). */
export function matrixText(answer: MatrixAnswer): string {
  return [answer.status, JSON.stringify(answer.headers), answer.body].join('\n');
}
