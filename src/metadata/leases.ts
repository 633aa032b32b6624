import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** A lease held by this process: renewed in the background until released. */
export interface HeldLease {
  /** true once a renewal found the lease taken by another (it expired while the database did not answer) */
  lost(): boolean;
  release(): Promise<void>;
}

/**
 * Named locks across replicas (the `leases` table): one holder at a time, until it releases the
 * lease or lets it expire (a holder that died). The garbage collector's and retention's.
 */
export class Leases {
  constructor(private readonly db: Kysely<Database>) {}

  /** Takes the lease `name` when nobody holds it (or its holder let it expire); true when `holder` has it now. */
  async acquire(name: string, holder: string, now: number, until: number): Promise<boolean> {
    await this.db
      .insertInto('leases')
      .values({ name, holder, expires_at: until })
      .onConflict((oc) => oc.column('name').doUpdateSet({ holder, expires_at: until }).where('leases.expires_at', '<', now))
      .execute();
    const row = await this.db.selectFrom('leases').select('holder').where('name', '=', name).executeTakeFirst();
    return row?.holder === holder;
  }

  /** Extends a lease its holder still holds; false when it was lost (expired and taken). */
  async renew(name: string, holder: string, until: number): Promise<boolean> {
    const result = await this.db.updateTable('leases').set({ expires_at: until }).where('name', '=', name).where('holder', '=', holder).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute();
  }

  /**
   * Takes the lease and renews it every third of `leaseMs` until released; undefined when
   * another holds it.
   */
  async hold(name: string, holder: string, options: { now: () => number; leaseMs: number }): Promise<HeldLease | undefined> {
    const { now, leaseMs } = options;
    if (!(await this.acquire(name, holder, now(), now() + leaseMs))) return undefined;
    let lost = false;
    const renewal = setInterval(() => {
      this.renew(name, holder, now() + leaseMs).then(
        (held) => {
          if (!held) lost = true;
        },
        () => {}, // a database hiccup: the next renewal decides
      );
    }, Math.max(500, leaseMs / 3));
    renewal.unref();
    return {
      lost: () => lost,
      release: async () => {
        clearInterval(renewal);
        await this.release(name, holder).catch(() => {});
      },
    };
  }
}
