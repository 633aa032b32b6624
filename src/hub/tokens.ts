import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { isTokenScope, type TokenScope } from '../auth/access-policy.js';
import { hashSecret, newSecret } from '../auth/secret-token.js';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import type { Account, AccountService } from './accounts.js';
import { HubError } from './errors.js';
import type { PlanService } from './plans.js';
import { teamRepository } from './teams.js';

export interface PersonalAccessToken {
  id: string;
  label: string;
  scopes: TokenScope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** A token owned by an organisation, for CI: its scopes, on its listed repositories (null: all of them). */
export interface OrganizationAccessToken extends PersonalAccessToken {
  repositories: string[] | null;
}

/** The longest lifetime a personal or organisation access token may be given. */
export const MAX_TOKEN_LIFETIME_SECONDS = 5 * 366 * 86_400;

/** What a token lifetime may be, for the messages of every surface that takes one. */
export const TOKEN_LIFETIME_RULE = 'a whole number of seconds or a duration such as 30d or 12h, at most 5 years';

const LIFETIME_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A token lifetime in seconds, from a number of seconds, a string of digits (seconds) or a
 * duration (`30d`, `12h`, `90m`, `45s`); undefined when it is none of those, not a whole positive
 * number of seconds, or over MAX_TOKEN_LIFETIME_SECONDS. The one rule: the API and the CLI both
 * pass what they were given to TokenService, which applies it.
 */
export function tokenLifetimeSeconds(value: string | number): number | undefined {
  let seconds: number | undefined;
  if (typeof value === 'number') seconds = value;
  else {
    const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$/.exec(value.trim());
    if (match) seconds = Number(match[1]) * LIFETIME_UNITS[match[2] ?? 's']!;
  }
  if (seconds === undefined || !Number.isSafeInteger(seconds) || seconds <= 0 || seconds > MAX_TOKEN_LIFETIME_SECONDS) return undefined;
  return seconds;
}

/** When a token given `lifetime` expires: none without one (it never expires). */
export interface TokenExpiry {
  /** a lifetime as the API and CLI take it (seconds, or a duration such as 30d): see tokenLifetimeSeconds */
  expiresIn?: string | number | null;
  /** an instant (epoch ms), held to the same rule: in the future, at most MAX_TOKEN_LIFETIME_SECONDS away */
  expiresAt?: number;
}

/** Most repositories one organisation token may list. */
const MAX_TOKEN_REPOSITORIES = 100;

export interface RefreshTokenInfo {
  id: string;
  clientId: string | null;
  createdAt: number;
  lastUsedAt: number | null;
}

/** Last use is recorded at most this often: checking a credential stays a read. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Personal access tokens (for machines and CI), organisation access tokens and refresh tokens
 * (docker login's identity token): long random secrets, shown once, kept as SHA-256, revocable.
 * Organisation tokens need a plan that includes them, when they are made and each time they are
 * used: after a downgrade they stop working, with the plan named, until the plan has them again.
 */
export class TokenService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly accounts: AccountService,
    private readonly clock: Clock,
    private readonly plans: Pick<PlanService, 'requireFeature'>,
  ) {}

  async createPersonalAccessToken(
    account: string,
    input: { label: string; scopes: string[] } & TokenExpiry,
  ): Promise<{ token: string; info: PersonalAccessToken }> {
    const owner = await this.accounts.get(account);
    if (owner?.kind === 'organization') throw new HubError('invalid', `${account} is an organisation: create an organisation access token instead`);
    const { token, info } = await this.createToken(account, { ...input, repositories: null });
    const { repositories: _none, ...personal } = info;
    return { token, info: personal };
  }

  /** An organisation access token: scoped, and limited to `repositories` of the organisation when given. */
  async createOrganizationToken(
    organization: string,
    input: { label: string; scopes: string[]; repositories?: string[] | null } & TokenExpiry,
  ): Promise<{ token: string; info: OrganizationAccessToken }> {
    const owner = await this.accounts.get(organization);
    if (owner?.kind !== 'organization') throw new HubError('not_found', `no organisation "${organization}"`);
    await this.plans.requireFeature(organization, 'organization-tokens', 'an organisation access token');
    let repositories: string[] | null = null;
    if (input.repositories !== undefined && input.repositories !== null) {
      if (input.repositories.length === 0 || input.repositories.length > MAX_TOKEN_REPOSITORIES) {
        throw new HubError('invalid', `an organisation token lists 1 to ${MAX_TOKEN_REPOSITORIES} repositories (or none at all for every repository)`);
      }
      repositories = [
        ...new Set(
          input.repositories.map((r) => {
            if (r === '*') throw new HubError('invalid', 'leave repositories out for a token on every repository');
            return teamRepository(organization, r);
          }),
        ),
      ].sort();
    }
    return this.createToken(organization, { ...input, repositories });
  }

  async listOrganizationTokens(organization: string): Promise<OrganizationAccessToken[]> {
    return this.listTokens(organization);
  }

  revokeOrganizationToken(organization: string, id: string): Promise<boolean> {
    return this.revoke('access_tokens', organization, id);
  }

  private async createToken(
    account: string,
    input: { label: string; scopes: string[]; repositories: string[] | null } & TokenExpiry,
  ): Promise<{ token: string; info: OrganizationAccessToken }> {
    const label = input.label.trim();
    if (label.length === 0 || label.length > 100) throw new HubError('invalid', 'a token needs a label of 1 to 100 characters');
    const scopes = [...new Set(input.scopes)];
    const unknown = scopes.filter((s) => !isTokenScope(s));
    if (scopes.length === 0 || unknown.length > 0) {
      throw new HubError('invalid', `token scopes are repo:read, repo:write, repo:delete, repo:admin${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`);
    }
    const now = this.clock.now();
    const expiresAt = expiryOf(input, now);
    if (!(await this.accounts.get(account))) throw new HubError('not_found', `no account "${account}"`);
    const { secret, hash } = newSecret('pat');
    const id = randomUUID();
    await this.db
      .insertInto('access_tokens')
      .values({
        id,
        account,
        label,
        token_hash: hash,
        scopes: scopes.join(' '),
        created_at: now,
        expires_at: expiresAt ?? null,
        last_used_at: null,
        revoked_at: null,
        repositories: input.repositories === null ? null : JSON.stringify(input.repositories),
      })
      .execute();
    return {
      token: secret,
      info: { id, label, scopes: scopes as TokenScope[], createdAt: now, expiresAt: expiresAt ?? null, lastUsedAt: null, repositories: input.repositories },
    };
  }

  async listPersonalAccessTokens(account: string): Promise<PersonalAccessToken[]> {
    return (await this.listTokens(account)).map(({ repositories: _none, ...personal }) => personal);
  }

  private async listTokens(account: string): Promise<OrganizationAccessToken[]> {
    const rows = await this.db
      .selectFrom('access_tokens')
      .selectAll()
      .where('account', '=', account)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      scopes: r.scopes.split(' ').filter(isTokenScope),
      createdAt: Number(r.created_at),
      expiresAt: r.expires_at === null ? null : Number(r.expires_at),
      lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
      repositories: parseRepositories(r.repositories),
    }));
  }

  revokePersonalAccessToken(account: string, id: string): Promise<boolean> {
    return this.revoke('access_tokens', account, id);
  }

  /**
   * The owner and scopes of a live PAT or organisation token (the owner is the organisation, and
   * `repositories` its limit), or undefined (unknown, revoked, expired, owner deleted). An
   * organisation token whose plan no longer includes organisation tokens is right but refused:
   * HubError 'plan_limit' naming the plan.
   */
  async authenticatePersonalAccessToken(secret: string): Promise<{ account: Account; scopes: TokenScope[]; repositories: string[] | null } | undefined> {
    const row = await this.db.selectFrom('access_tokens').selectAll().where('token_hash', '=', hashSecret(secret)).executeTakeFirst();
    const now = this.clock.now();
    if (!row || row.revoked_at !== null || (row.expires_at !== null && Number(row.expires_at) <= now)) return undefined;
    const account = await this.accounts.get(row.account);
    if (!account) return undefined;
    if (account.kind === 'organization') await this.plans.requireFeature(account.name, 'organization-tokens', 'an organisation access token');
    await this.touch('access_tokens', row.id, row.last_used_at);
    return { account, scopes: row.scopes.split(' ').filter(isTokenScope), repositories: parseRepositories(row.repositories) };
  }

  async createRefreshToken(account: string, clientId: string | undefined): Promise<string> {
    const { secret, hash } = newSecret('refresh');
    await this.db
      .insertInto('refresh_tokens')
      .values({ id: randomUUID(), account, token_hash: hash, client_id: clientId?.slice(0, 200) ?? null, created_at: this.clock.now(), last_used_at: null, revoked_at: null })
      .execute();
    return secret;
  }

  /** The account of a live refresh token. Not rotated when used: the Docker daemon never stores a new one. */
  async authenticateRefreshToken(secret: string): Promise<Account | undefined> {
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', hashSecret(secret)).executeTakeFirst();
    if (!row || row.revoked_at !== null) return undefined;
    const account = await this.accounts.get(row.account);
    // A password change ends every session that began before it.
    if (!account || Number(row.created_at) < account.passwordChangedAt) return undefined;
    await this.touch('refresh_tokens', row.id, row.last_used_at);
    return account;
  }

  async listRefreshTokens(account: string): Promise<RefreshTokenInfo[]> {
    const rows = await this.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('account', '=', account)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      clientId: r.client_id,
      createdAt: Number(r.created_at),
      lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    }));
  }

  revokeRefreshToken(account: string, id: string): Promise<boolean> {
    return this.revoke('refresh_tokens', account, id);
  }

  private async revoke(table: 'access_tokens' | 'refresh_tokens', account: string, id: string): Promise<boolean> {
    const result = await this.db
      .updateTable(table)
      .set({ revoked_at: this.clock.now() })
      .where('account', '=', account)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Records a use, at most once a minute per credential, so that checking one stays a read. */
  private async touch(table: 'access_tokens' | 'refresh_tokens', id: string, lastUsedAt: number | null): Promise<void> {
    const now = this.clock.now();
    if (lastUsedAt !== null && now - Number(lastUsedAt) <= TOUCH_INTERVAL_MS) return;
    await this.db.updateTable(table).set({ last_used_at: now }).where('id', '=', id).execute();
  }

  /** Ends every credential of an account (deletion). */
  async revokeAll(account: string): Promise<void> {
    const now = this.clock.now();
    await this.db.updateTable('access_tokens').set({ revoked_at: now }).where('account', '=', account).where('revoked_at', 'is', null).execute();
    await this.db.updateTable('refresh_tokens').set({ revoked_at: now }).where('account', '=', account).where('revoked_at', 'is', null).execute();
  }
}

/** The expiry of a new token under the lifetime rule; undefined: it never expires. */
function expiryOf(input: TokenExpiry, now: number): number | undefined {
  if (input.expiresIn !== undefined && input.expiresIn !== null) {
    const seconds = tokenLifetimeSeconds(input.expiresIn);
    if (seconds === undefined) throw new HubError('invalid', `expires_in: ${TOKEN_LIFETIME_RULE}`);
    return now + seconds * 1000;
  }
  if (input.expiresAt === undefined) return undefined;
  if (input.expiresAt <= now) throw new HubError('invalid', 'the expiry must be in the future');
  if (input.expiresAt > now + MAX_TOKEN_LIFETIME_SECONDS * 1000) throw new HubError('invalid', `the expiry is too far: ${TOKEN_LIFETIME_RULE}`);
  return input.expiresAt;
}

/** A token's repository limit; a malformed one limits to nothing rather than to everything. */
function parseRepositories(value: string | null): string[] | null {
  if (value === null) return null;
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}
