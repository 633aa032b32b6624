import { BlockList, isIP } from 'node:net';
import { isDigestLike } from '../oci/digest.js';
import { parseManifest } from '../oci/manifest.js';
import { isIndexMediaType } from '../oci/media-types.js';
import { OciError } from '../oci/errors.js';
import type { PullAdmission, PullCheck, PullGate } from '../registry/ports.js';
import type { Counters } from './counters.js';
import type { Plan, PlanService } from './plans.js';
import type { HubSettings } from './settings.js';

export interface PullLimitsOptions {
  /** in process, or in Redis so that replicas share them */
  counters: Counters;
  settings: HubSettings;
  plans: Pick<PlanService, 'planOf' | 'upgradeFrom'>;
}

/** What an account may still pull: its plan's allowance and what is left of the window in force. */
export interface PullAllowance {
  plan: string;
  /** pulls per window; null: unlimited */
  limit: number | null;
  windowSeconds: number;
  /** pulls left now; null when unlimited */
  remaining: number | null;
  /** epoch ms when the window in force ends and the allowance is whole again; null when nothing was pulled in it */
  resetAt: number | null;
}

/** Tells an account its pull allowance (GET /api/v1/users/me/pull-limit), without counting a pull. */
export interface PullAllowances {
  allowanceOf(account: string): Promise<PullAllowance>;
}

/**
 * Pull rate limits, as Docker Hub counts them. A pull is a manifest GET; HEAD is free (it answers
 * the headers, so a client can check its allowance). A multi-arch pull counts once: the GET of the
 * index counts, and a GET by digest of a manifest that index lists (the platform's manifest the
 * client then fetches) does not, for the client that fetched the index, within the window: the
 * counters remember, per client and repository, the children of the indexes it pulled. Anyone
 * else's GET of a platform manifest by digest counts (a published index listing an image does not
 * make that image free for everyone).
 *
 * Anonymous pulls are counted per client address (an IPv6 /64, which one subscriber usually
 * holds whole), authenticated pulls per account, by its plan. Exempt addresses are never limited.
 * A GET counts before the manifest is looked up: one atomic hit, whatever the answer.
 */
export class PullLimits implements PullGate, PullAllowances {
  readonly #counters: Counters;
  readonly #settings: HubSettings;
  readonly #plans: Pick<PlanService, 'planOf' | 'upgradeFrom'>;
  #exempt: { entries: string[]; source: string; list: BlockList; answers: Map<string, boolean> } | undefined;

  constructor(options: PullLimitsOptions) {
    this.#counters = options.counters;
    this.#settings = options.settings;
    this.#plans = options.plans;
  }

  async admit(pull: PullCheck): Promise<PullAdmission> {
    // a platform of an index this client just pulled is part of that pull, limited or not (the
    // pull statistics count what the gate counts)
    const counted = pull.get && !(isDigestLike(pull.reference) && (await this.#counters.recalls(listedKey(clientKey(pull), pull.repository), pull.reference)));
    const limit = await this.#limitOf(pull);
    if (!limit || limit.limit === null) return { counted, headers: {} };
    const windowMs = limit.windowSeconds * 1000;

    const state = counted ? await this.#counters.hit(limit.key, limit.limit, windowMs) : await this.#counters.peek(limit.key, limit.limit, windowMs);
    const w = `;w=${limit.windowSeconds}`;
    const headers = { 'ratelimit-limit': `${limit.limit}${w}`, 'ratelimit-remaining': `${state.remaining}${w}` };
    if (counted && !state.allowed) {
      const allowance = `${limit.limit} pulls per ${describeSeconds(limit.windowSeconds)}`;
      const wait = `or wait ${describeWait(state.retryAfterSeconds)}`;
      const message =
        'anonymous' in limit
          ? `You have reached the pull rate limit for anonymous clients: ${allowance} per address. Log in (docker login) to pull with your account's allowance, ${wait}.`
          : `You have reached the pull rate limit of ${limit.account} on the "${limit.plan.name}" plan: ${allowance}. ${await this.#raise(limit.account, limit.plan)}, ${wait}.`;
      throw new OciError('TOOMANYREQUESTS', message, { headers: { ...headers, 'retry-after': String(state.retryAfterSeconds) } });
    }
    return { counted, headers };
  }

  async allowanceOf(account: string): Promise<PullAllowance> {
    const limit = await this.#accountLimit(account);
    const base = { plan: limit.plan.name, limit: limit.limit, windowSeconds: limit.windowSeconds };
    if (limit.limit === null) return { ...base, remaining: null, resetAt: null };
    const state = await this.#counters.peek(limit.key, limit.limit, limit.windowSeconds * 1000);
    return { ...base, remaining: state.remaining, resetAt: state.remaining < limit.limit ? state.resetAt : null };
  }

  async served(pull: PullCheck, manifest: { mediaType: string; content: Buffer }): Promise<void> {
    if (!isIndexMediaType(manifest.mediaType)) return;
    const limit = await this.#limitOf(pull);
    const windowSeconds = limit?.windowSeconds ?? (await this.#settings.pullLimits()).anonymousPullWindowSeconds;
    let children: string[];
    try {
      children = parseManifest(manifest.content, manifest.mediaType).manifests.map((m) => m.digest);
    } catch {
      return; // stored before a stricter parser: nothing to make free
    }
    await this.#counters.remember(listedKey(clientKey(pull), pull.repository), children.slice(0, MAX_REMEMBERED_CHILDREN), windowSeconds * 1000);
  }

  /** The limit that applies to this client: undefined when its address is exempt. */
  async #limitOf(pull: PullCheck) {
    const settings = await this.#settings.pullLimits();
    if (this.#isExempt(settings.pullLimitExempt, pull.client)) return undefined;
    return pull.actor.account
      ? await this.#accountLimit(pull.actor.account)
      : { key: clientKey(pull), limit: settings.anonymousPullLimit, windowSeconds: settings.anonymousPullWindowSeconds, anonymous: true as const };
  }

  async #accountLimit(account: string) {
    const plan = await this.#plans.planOf(account);
    return { key: accountKey(account), limit: plan.pullsPerWindow, windowSeconds: plan.pullWindowSeconds, account, plan };
  }

  /** How to raise the limit: the next plan that allows more, when there is one. */
  async #raise(account: string, plan: Plan): Promise<string> {
    const next = await this.#plans.upgradeFrom(plan, (p) => p.pullsPerWindow).catch(() => undefined);
    if (!next) return `A bigger plan raises it (an administrator grants one: pier plan set ${account} PLAN)`;
    const allows = next.pullsPerWindow === null ? 'unlimited pulls' : `${next.pullsPerWindow} pulls per ${describeSeconds(next.pullWindowSeconds)}`;
    return `The "${next.name}" plan allows ${allows} (an administrator grants it: pier plan set ${account} ${next.name})`;
  }

  /**
   * Whether `client` is exempt: asked on every manifest GET and HEAD, so each address's answer is
   * kept while the list stays the same (a BlockList check builds a SocketAddress each time).
   */
  #isExempt(entries: string[], client: string): boolean {
    let exempt = this.#exempt;
    if (exempt?.entries !== entries) {
      const source = JSON.stringify(entries);
      exempt = exempt?.source === source ? { ...exempt, entries } : { entries, source, list: exemptList(entries), answers: new Map() };
      this.#exempt = exempt;
    }
    let answer = exempt.answers.get(client);
    if (answer === undefined) {
      const address = normalizeAddress(client);
      const family = isIP(address);
      answer = family !== 0 && exempt.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
      if (exempt.answers.size >= MAX_REMEMBERED_ADDRESSES) exempt.answers.clear();
      exempt.answers.set(client, answer);
    }
    return answer;
  }
}

/** Addresses whose exemption is remembered at once (past it the answers start over). */
const MAX_REMEMBERED_ADDRESSES = 10_000;

/** How many children of one index are remembered (an index lists a few dozen platforms at most, in practice). */
const MAX_REMEMBERED_CHILDREN = 1000;

/** Who a pull is counted for: its account, or its address (an IPv6 /64) when anonymous. */
function clientKey(pull: PullCheck): string {
  return pull.actor.account ? accountKey(pull.actor.account) : `pulls:address:${addressKey(normalizeAddress(pull.client))}`;
}

function accountKey(account: string): string {
  return `pulls:account:${account}`;
}

/** The set of manifests a client (its clientKey) may fetch by digest in a repository for free. */
function listedKey(client: string, repository: string): string {
  return `listed:${client}:${repository}`;
}

/** An address or a CIDR (`10.0.0.0/8`, `2001:db8::/32`): its network and prefix length, or undefined when it is neither. */
export function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = entry.indexOf('/');
  const address = normalizeAddress(slash === -1 ? entry : entry.slice(0, slash));
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function exemptList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const cidr = parseCidr(entry);
    if (cidr) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}

/** An IPv4 address seen through an IPv6 socket (`::ffff:10.1.2.3`) is that IPv4 address; a zone is dropped. */
export function normalizeAddress(address: string): string {
  const unzoned = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(unzoned);
  return mapped ? mapped[1]! : unzoned;
}

/** What anonymous pulls are counted by: an IPv4 address, or the /64 an IPv6 address is in. */
export function addressKey(address: string): string {
  const normalized = normalizeAddress(address);
  if (isIP(normalized) !== 6) return normalized;
  return `${expandIPv6(normalized).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, in lowercase without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16));
}

/** 21600 → "6 hours", 90 → "90 seconds", 3600 → "1 hour". */
export function describeSeconds(seconds: number): string {
  const units: Array<[number, string]> = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of units) {
    if (seconds >= size && seconds % size === 0) return plural(seconds / size, unit);
  }
  return plural(seconds, 'second');
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** A wait, rounded up to a unit that reads well: "45 seconds", "12 minutes", "6 hours". */
export function describeWait(seconds: number): string {
  if (seconds < 120) return plural(seconds, 'second');
  if (seconds < 2 * 3600) return plural(Math.ceil(seconds / 60), 'minute');
  return plural(Math.ceil(seconds / 3600), 'hour');
}
