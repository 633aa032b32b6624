import type { Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';

/** Settings an administrator changes at run time; read per use, so every replica sees a change at once. */
export interface HubSettingValues {
  /** whether anyone may create an account (Docker Hub: yes) */
  signupOpen: boolean;
  /** whether pulling public repositories needs an account (default: public means public) */
  pullRequiresLogin: boolean;
}

const DEFAULTS: HubSettingValues = { signupOpen: true, pullRequiresLogin: false };

export class HubSettings {
  constructor(private readonly db: Kysely<Database>) {}

  async get<K extends keyof HubSettingValues>(key: K): Promise<HubSettingValues[K]> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row ? (JSON.parse(row.value) as HubSettingValues[K]) : DEFAULTS[key];
  }

  async all(): Promise<HubSettingValues> {
    return { signupOpen: await this.get('signupOpen'), pullRequiresLogin: await this.get('pullRequiresLogin') };
  }

  async set<K extends keyof HubSettingValues>(key: K, value: HubSettingValues[K]): Promise<void> {
    const json = JSON.stringify(value);
    await this.db
      .insertInto('settings')
      .values({ key, value: json })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json }))
      .execute();
  }
}
