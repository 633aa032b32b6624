import { BlockList, isIP } from 'node:net';

/**
 * Which addresses a webhook may be delivered to. A hook's URL is the user's, the request is the
 * server's: without a guard a hook would reach what only the server can (its loopback, the
 * cloud's metadata service, the private network behind it). Addresses are checked after DNS
 * resolution, each time a delivery is sent, and the connection goes to the address that was
 * checked (no second lookup a rebinding name could answer differently).
 */
const REFUSED: ReadonlyArray<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'this network'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared address space'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'protocol assignments'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['64:ff9b::', 96, 'ipv6', 'NAT64'],
  ['fc00::', 7, 'ipv6', 'unique local (private)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

export class NetworkGuard {
  readonly #allowed = new BlockList();
  readonly #refused: Array<{ list: BlockList; why: string }> = [];

  /** `allowNetworks`: CIDRs (or single addresses) that are delivered to even though they are refused by default. */
  constructor(allowNetworks: readonly string[] = []) {
    for (const [address, prefix, type, why] of REFUSED) {
      const list = new BlockList();
      list.addSubnet(address, prefix, type);
      this.#refused.push({ list, why });
    }
    for (const network of allowNetworks) {
      const { address, prefix, type } = parseNetwork(network);
      this.#allowed.addSubnet(address, prefix, type);
    }
  }

  /** Why an address may not be delivered to (its range), or undefined when it may. */
  refusal(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return 'not an IP address';
    const type = family === 4 ? 'ipv4' : 'ipv6';
    // an IPv4 address written as IPv6 (::ffff:127.0.0.1) is the IPv4 address
    const mapped = type === 'ipv6' ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
    if (mapped) return this.refusal(mapped);
    if (this.#allowed.check(address, type)) return undefined;
    return this.#refused.find((r) => r.list.check(address, type))?.why;
  }
}

/** `10.0.0.0/8`, `fd00::/8`, `192.168.1.5` (one address); throws with what is wrong. */
export function parseNetwork(network: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } {
  const [address = '', bits] = network.trim().split('/');
  const family = isIP(address);
  if (family === 0) throw new Error(`"${network}" is not a network: expected a CIDR such as 10.0.0.0/8 or fd00::/8`);
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
    throw new Error(`"${network}" has a bad prefix length: expected 0 to ${max}`);
  }
  return { address, prefix, type: family === 4 ? 'ipv4' : 'ipv6' };
}
