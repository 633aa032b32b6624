import type { Redis } from 'ioredis';

type Arg = string | number | Buffer;
type Command = (...args: Arg[]) => Promise<unknown>;

/**
 * A Lua script run atomically in Redis, defined once per client (EVALSHA, loaded again after a
 * Redis restart). Its keys get the client's keyPrefix like any other command's.
 */
export class RedisScript {
  constructor(
    private readonly name: string,
    private readonly numberOfKeys: number,
    private readonly lua: string,
  ) {}

  run(client: Redis, keys: string[], args: Arg[]): Promise<unknown> {
    return this.#command(client, this.name)(...keys, ...args);
  }

  /** As run(), with bulk replies as Buffers (binary values). */
  runBuffer(client: Redis, keys: string[], args: Arg[]): Promise<unknown> {
    return this.#command(client, `${this.name}Buffer`)(...keys, ...args);
  }

  #command(client: Redis, name: string): Command {
    const commands = client as unknown as Record<string, Command | undefined>;
    if (!commands[this.name]) client.defineCommand(this.name, { numberOfKeys: this.numberOfKeys, lua: this.lua });
    return commands[name]!.bind(client);
  }
}
