import type { Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import { Remembered } from './remembered.js';

/** Settings an administrator changes at run time; read per use, so every replica sees a change at once. */
export interface HubSettingValues {
  /** whether anyone may create an account (Docker Hub: yes) */
  signupOpen: boolean;
  /** whether pulling public repositories needs an account (default: public means public) */
  pullRequiresLogin: boolean;
  /** pulls an anonymous client address (an IPv6 /64) may make per window; null: unlimited */
  anonymousPullLimit: number | null;
  /** that window, in seconds */
  anonymousPullWindowSeconds: number;
  /**
   * Client addresses and CIDRs whose pulls are never limited (anonymous or not). Loopback by
   * default: the machine itself (a developer's `docker pull localhost:5000/...`, a benchmark).
   * A reverse proxy on the same machine must be listed in PIER_TRUST_PROXY, or every client
   * looks like loopback and is exempt.
   */
  pullLimitExempt: string[];
}

/** Docker Hub's anonymous allowance: 100 pulls per 6 hours per address. */
const DEFAULTS: HubSettingValues = {
  signupOpen: true,
  pullRequiresLogin: false,
  anonymousPullLimit: 100,
  anonymousPullWindowSeconds: 6 * 3600,
  pullLimitExempt: ['127.0.0.0/8', '::1/128'],
};

const KEYS = Object.keys(DEFAULTS) as Array<keyof HubSettingValues>;

export type PullLimitSettings = Pick<HubSettingValues, 'anonymousPullLimit' | 'anonymousPullWindowSeconds' | 'pullLimitExempt'>;

/** How long a replica keeps the pull-limit settings it read: they are asked on every manifest GET. */
const PULL_LIMITS_TTL_MS = 1000;

export class HubSettings {
  readonly #pullLimits = new Remembered<PullLimitSettings>(PULL_LIMITS_TTL_MS, Date.now);

  constructor(private readonly db: Kysely<Database>) {}

  async get<K extends keyof HubSettingValues>(key: K): Promise<HubSettingValues[K]> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row ? (JSON.parse(row.value) as HubSettingValues[K]) : DEFAULTS[key];
  }

  async all(): Promise<HubSettingValues> {
    return this.#many(KEYS);
  }

  /**
   * The settings of pull limits, asked on every manifest GET: read in one query, and kept for a
   * second (a change made on this replica applies at once, on the others within a second).
   */
  pullLimits(): Promise<PullLimitSettings> {
    return this.#pullLimits.get('', () => this.#many(['anonymousPullLimit', 'anonymousPullWindowSeconds', 'pullLimitExempt']));
  }

  async set<K extends keyof HubSettingValues>(key: K, value: HubSettingValues[K]): Promise<void> {
    const json = JSON.stringify(value);
    await this.db
      .insertInto('settings')
      .values({ key, value: json })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json }))
      .execute();
    this.#pullLimits.forget();
  }

  async #many<K extends keyof HubSettingValues>(keys: K[]): Promise<Pick<HubSettingValues, K>> {
    const rows = await this.db.selectFrom('settings').select(['key', 'value']).where('key', 'in', keys).execute();
    const stored = new Map(rows.map((r) => [r.key, r.value]));
    const values = {} as Pick<HubSettingValues, K>;
    for (const key of keys) {
      const json = stored.get(key);
      values[key] = json === undefined ? DEFAULTS[key] : (JSON.parse(json) as HubSettingValues[K]);
    }
    return values;
  }
}
