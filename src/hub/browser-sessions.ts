import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { hashSecret, newSecret } from '../auth/secret-token.js';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import type { Account, AccountService } from './accounts.js';
import { HubError } from './errors.js';

/**
 * How long a browser session lasts. Idle: a browser left unused this long is signed out (a
 * shared computer forgotten overnight). Absolute: however busy, a session ends this long after
 * its sign-in, so a stolen cookie cannot be kept alive by using it.
 */
export const SESSION_IDLE_MS = 24 * 3600_000;
export const SESSION_LIFETIME_MS = 14 * 86_400_000;

/** Last use is recorded at most this often: checking a session stays a read. */
const TOUCH_INTERVAL_MS = 60_000;
/** A User-Agent is kept to tell sessions apart in the list, not in full. */
const MAX_USER_AGENT = 300;

export interface BrowserSession {
  id: string;
  account: string;
  userAgent: string | null;
  createdAt: number;
  lastUsedAt: number;
  /** the absolute end; idleness may end it earlier (`endsAt`) */
  expiresAt: number;
}

type Row = Selectable<Database['browser_sessions']>;

/**
 * Browser sessions: the web UI's sign-in, a row per session whose secret (the `pier_session`
 * cookie) is kept as its SHA-256 only. A session ends when revoked, when idle or old (above), when
 * its account's password changes after it began (the rule refresh tokens follow), and with the
 * account. What the cookie looks like and how requests prove they are not cross-site is HTTP's
 * business (http/api/session-cookie.ts); this is the state behind it.
 */
export class BrowserSessionService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly accounts: AccountService,
    private readonly clock: Clock,
  ) {}

  /** Starts a session for a user who has just proved their password; the secret is shown once. */
  async start(account: Account, userAgent: string | undefined): Promise<{ secret: string; session: BrowserSession }> {
    if (account.kind !== 'user') throw new HubError('forbidden', 'an organisation does not sign in');
    const now = this.clock.now();
    // each sign-in clears the account's sessions that have ended, so the table does not grow forever
    await this.db
      .deleteFrom('browser_sessions')
      .where('account', '=', account.name)
      .where((eb) => eb.or([eb('revoked_at', 'is not', null), eb('expires_at', '<=', now), eb('last_used_at', '<=', now - SESSION_IDLE_MS)]))
      .execute();
    const { secret, hash } = newSecret('session');
    const row: Row = {
      id: randomUUID(),
      account: account.name,
      secret_hash: hash,
      user_agent: userAgent ? userAgent.slice(0, MAX_USER_AGENT) : null,
      created_at: now,
      last_used_at: now,
      expires_at: now + SESSION_LIFETIME_MS,
      revoked_at: null,
    };
    await this.db.insertInto('browser_sessions').values(row).execute();
    return { secret, session: toSession(row) };
  }

  /** The account and session of a live session secret, or undefined (unknown, ended, account gone). */
  async authenticate(secret: string): Promise<{ account: Account; session: BrowserSession } | undefined> {
    const row = await this.db.selectFrom('browser_sessions').selectAll().where('secret_hash', '=', hashSecret(secret)).executeTakeFirst();
    if (!row) return undefined;
    const account = await this.accounts.get(row.account);
    if (!account || !this.#live(row, account)) return undefined;
    const now = this.clock.now();
    if (now - Number(row.last_used_at) > TOUCH_INTERVAL_MS) {
      await this.db.updateTable('browser_sessions').set({ last_used_at: now }).where('id', '=', row.id).execute();
      row.last_used_at = now;
    }
    return { account, session: toSession(row) };
  }

  /** The account's live sessions, oldest first. */
  async list(account: Account): Promise<BrowserSession[]> {
    const now = this.clock.now();
    const rows = await this.db
      .selectFrom('browser_sessions')
      .selectAll()
      .where('account', '=', account.name)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .where('last_used_at', '>', now - SESSION_IDLE_MS)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.filter((row) => this.#live(row, account)).map(toSession);
  }

  /** Ends the session of a secret (signing out); nothing happens when it has none or it had ended. */
  async end(secret: string): Promise<void> {
    await this.db.updateTable('browser_sessions').set({ revoked_at: this.clock.now() }).where('secret_hash', '=', hashSecret(secret)).where('revoked_at', 'is', null).execute();
  }

  /** Ends one of the account's sessions; false when it has none by that id (or it had ended). */
  async revoke(account: string, id: string): Promise<boolean> {
    const result = await this.db
      .updateTable('browser_sessions')
      .set({ revoked_at: this.clock.now() })
      .where('account', '=', account)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Ends every session of an account (its deletion). */
  async revokeAll(account: string): Promise<void> {
    await this.db.updateTable('browser_sessions').set({ revoked_at: this.clock.now() }).where('account', '=', account).where('revoked_at', 'is', null).execute();
  }

  /** The one rule of a live session. */
  #live(row: Row, account: Account): boolean {
    const now = this.clock.now();
    return (
      row.revoked_at === null &&
      now < Number(row.expires_at) &&
      now < Number(row.last_used_at) + SESSION_IDLE_MS &&
      // a password change ends every session begun before it
      Number(row.created_at) >= account.passwordChangedAt
    );
  }
}

function toSession(row: Row): BrowserSession {
  return {
    id: row.id,
    account: row.account,
    userAgent: row.user_agent,
    createdAt: Number(row.created_at),
    lastUsedAt: Number(row.last_used_at),
    expiresAt: Number(row.expires_at),
  };
}
