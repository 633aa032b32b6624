import { sql, type Kysely, type Selectable } from 'kysely';
import { fakePasswordCheck, hashPassword, passwordProblem, verifyPassword } from '../auth/password.js';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import { accountNameProblem } from './account-names.js';
import { HubError } from './errors.js';
import { isProxyNamespace } from './proxies.js';

export type AccountKind = 'user' | 'organization';

export interface Account {
  name: string;
  /** a user signs in; an organisation never does (it has no password), only its tokens act for it */
  kind: AccountKind;
  email: string | null;
  admin: boolean;
  /** visibility of repositories created by a first push into this namespace */
  defaultPrivate: boolean;
  createdAt: number;
  passwordChangedAt: number;
  /** an organisation an administrator vouched for */
  verifiedPublisher: boolean;
  plan: string;
}

export interface NewAccount {
  name: string;
  email?: string;
  password: string;
  admin?: boolean;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/** Accounts: a user owns the namespace of its name; a deleted account's name stays reserved. */
export class AccountService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async create(input: NewAccount): Promise<Account> {
    const problem = accountNameProblem(input.name) ?? passwordProblem(input.password);
    if (problem) throw new HubError('invalid', problem);
    if (input.email !== undefined && !EMAIL.test(input.email)) throw new HubError('invalid', 'the email address is not valid');
    const existing = await this.db.selectFrom('accounts').select('name').where('name', '=', input.name).executeTakeFirst();
    if (existing || (await isProxyNamespace(this.db, input.name))) throw new HubError('conflict', `the username "${input.name}" is taken`);
    const now = this.clock.now();
    const passwordHash = await hashPassword(input.password);
    try {
      await this.db
        .insertInto('accounts')
        .values({
          name: input.name,
          email: input.email ?? null,
          password_hash: passwordHash,
          is_admin: input.admin ? 1 : 0,
          default_private: 0,
          created_at: now,
          password_changed_at: now,
          deleted_at: null,
        })
        .execute();
    } catch (error) {
      if (/unique|duplicate|constraint/i.test(String((error as Error).message))) {
        throw new HubError('conflict', `the username "${input.name}" is taken`);
      }
      throw error;
    }
    return (await this.get(input.name))!;
  }

  async get(name: string): Promise<Account | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
    return row && toAccount(row);
  }

  /** Users (organisations are listed by OrganizationService). */
  async list(): Promise<Account[]> {
    const rows = await this.db.selectFrom('accounts').selectAll().where('deleted_at', 'is', null).where('kind', '=', 'user').orderBy('name').execute();
    return rows.map(toAccount);
  }

  /**
   * One page of users by name (for administrators), with how many match in all. `q` keeps those
   * whose name or email contains it (case-insensitive; `%` and `_` are plain characters).
   */
  async page(options: { q?: string; offset: number; limit: number }): Promise<{ count: number; accounts: Account[] }> {
    const pattern = options.q ? `%${options.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
    let query = this.db.selectFrom('accounts').where('deleted_at', 'is', null).where('kind', '=', 'user');
    if (pattern !== undefined) {
      query = query.where(({ or }) =>
        or([sql<boolean>`lower(${sql.ref('name')}) like ${pattern} escape '\\'`, sql<boolean>`lower(${sql.ref('email')}) like ${pattern} escape '\\'`]),
      );
    }
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await query.selectAll().orderBy('name').limit(options.limit).offset(options.offset).execute();
    return { count: Number(total?.n ?? 0), accounts: rows.map(toAccount) };
  }

  /** Users: an installation with organisations only (`library` is made at start) has no account yet. */
  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('deleted_at', 'is', null)
      .where('kind', '=', 'user')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** The verified publishers among `names`, in one query (for listings and search results). */
  async verifiedAmong(names: string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('accounts')
      .select('name')
      .where('name', 'in', [...new Set(names)])
      .where('verified_publisher', '=', 1)
      .where('deleted_at', 'is', null)
      .execute();
    return new Set(rows.map((r) => r.name));
  }

  /** The account when the password is right; undefined otherwise (same cost either way). */
  async authenticate(name: string, password: string): Promise<Account | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
    if (!row?.password_hash || row.kind !== 'user') return fakePasswordCheck(password).then(() => undefined);
    return (await verifyPassword(row.password_hash, password)) ? toAccount(row) : undefined;
  }

  async setPassword(name: string, password: string): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw new HubError('invalid', problem);
    const hash = await hashPassword(password);
    const result = await this.db
      .updateTable('accounts')
      .set({ password_hash: hash, password_changed_at: this.clock.now() })
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      // an organisation never gets a password: it could sign in
      .where('kind', '=', 'user')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new HubError('not_found', `no account "${name}"`);
  }

  /**
   * Makes a user an administrator or not. The last administrator stays one (409): nobody but the
   * CLI could make another. Decided in the UPDATE itself, so two demotions at once on SQLite
   * cannot both pass the count.
   */
  async setAdmin(name: string, admin: boolean): Promise<Account> {
    const account = await this.get(name);
    // an organisation never administers anything: it cannot sign in, and its tokens are scoped
    if (account?.kind !== 'user') throw new HubError('not_found', `no user "${name}"`);
    if (account.admin === admin) return account;
    let update = this.db.updateTable('accounts').set({ is_admin: admin ? 1 : 0 }).where('name', '=', name).where('deleted_at', 'is', null).where('kind', '=', 'user');
    if (!admin) update = update.where((eb) => eb(eb.selectFrom('accounts as a').select((a) => a.fn.countAll<number>().as('n')).where('a.is_admin', '=', 1).where('a.deleted_at', 'is', null).where('a.kind', '=', 'user'), '>', 1));
    const result = await update.executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      if (!admin) throw new HubError('conflict', `${name} is the last administrator: make another one first`);
      throw new HubError('not_found', `no user "${name}"`);
    }
    return (await this.get(name))!;
  }

  /** How many administrators there are (deleting the last one is refused). */
  async countAdmins(): Promise<number> {
    const row = await this.db
      .selectFrom('accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('deleted_at', 'is', null)
      .where('kind', '=', 'user')
      .where('is_admin', '=', 1)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async setDefaultPrivate(name: string, defaultPrivate: boolean): Promise<void> {
    await this.db.updateTable('accounts').set({ default_private: defaultPrivate ? 1 : 0 }).where('name', '=', name).execute();
  }

  /**
   * Marks the account deleted; its name stays taken. Credentials and repositories go with the
   * caller (Hub). Organisations billed to it are billed to themselves from then on (their own plan).
   */
  async markDeleted(name: string): Promise<boolean> {
    const result = await this.db
      .updateTable('accounts')
      .set({ deleted_at: this.clock.now(), password_hash: null, email: null, is_admin: 0, billed_to: null })
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await this.db.updateTable('accounts').set({ billed_to: null }).where('billed_to', '=', name).execute();
    return true;
  }
}

function toAccount(row: Selectable<Database['accounts']>): Account {
  return {
    name: row.name,
    email: row.email,
    admin: Number(row.is_admin) === 1,
    kind: row.kind === 'organization' ? 'organization' : 'user',
    defaultPrivate: Number(row.default_private) === 1,
    createdAt: Number(row.created_at),
    passwordChangedAt: Number(row.password_changed_at),
    verifiedPublisher: Number(row.verified_publisher) === 1,
    plan: row.plan,
  };
}
