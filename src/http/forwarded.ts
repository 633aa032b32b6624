import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { normalizeAddress, parseCidr } from '../hub/pull-limits.js';

/**
 * What a reverse proxy in front of Pier may tell it. Fastify believes X-Forwarded-Proto from any
 * peer once a proxy is configured; a Secure cookie decided on that would follow whoever sends the
 * header. Here the peer itself must be one of the configured proxies (`PIER_TRUST_PROXY`).
 */
export interface ProxyTrust {
  trusts(address: string | undefined): boolean;
}

/** proxy-addr's names, which Fastify's `trustProxy` also accepts. */
const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

export function trustedProxies(entries: readonly string[]): ProxyTrust {
  const list = new BlockList();
  let any = false;
  for (const entry of entries.flatMap((e) => NAMED[e] ?? [e])) {
    const cidr = parseCidr(entry);
    if (!cidr) continue;
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    any = true;
  }
  return {
    trusts(address) {
      if (!any || !address) return false;
      const normalized = normalizeAddress(address);
      const version = isIP(normalized);
      return version !== 0 && list.check(normalized, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** Whether the client reached Pier over TLS: Pier's own, or a trusted proxy's that says so (its last X-Forwarded-Proto). */
export function cameOverTls(request: FastifyRequest, proxies: ProxyTrust): boolean {
  if ((request.raw.socket as TLSSocket | undefined)?.encrypted) return true;
  if (!proxies.trusts(request.raw.socket?.remoteAddress)) return false;
  const header = request.headers['x-forwarded-proto'];
  const value = Array.isArray(header) ? header[header.length - 1] : header;
  return value?.split(',').pop()?.trim().toLowerCase() === 'https';
}

/** The origin the request was sent to, as a browser names it in `Origin`: scheme and Host. */
export function requestOrigin(request: FastifyRequest, proxies: ProxyTrust): string | undefined {
  const host = request.headers.host;
  if (!host) return undefined;
  return `${cameOverTls(request, proxies) ? 'https' : 'http'}://${host.toLowerCase()}`;
}
