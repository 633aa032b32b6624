import pino, { type Logger } from 'pino';
import { deleteRedisPrefix, redisTestPrefix, redisTestUrl } from '../../test/support/redis.js';
import { RedisConnection, type RedisConnectionOptions } from './redis-connection.js';

/** A connection to the test Redis under a fresh prefix; cleanup() closes it and deletes the prefix. */
export async function openTestConnection(
  options: Partial<RedisConnectionOptions> & { logger?: Logger } = {},
): Promise<{ connection: RedisConnection; prefix: string; url: string; cleanup: () => Promise<void> }> {
  const url = options.url ?? redisTestUrl();
  const prefix = options.prefix ?? redisTestPrefix();
  const connection = await RedisConnection.open({ logger: pino({ level: 'silent' }), ...options, url, prefix });
  return {
    connection,
    prefix,
    url,
    async cleanup() {
      await connection.close();
      await deleteRedisPrefix(url, prefix);
    },
  };
}

/** A pino logger that keeps its lines, and can wait for one (no sleeps: resolves when it is written). */
export class LogCapture {
  readonly lines: Array<{ level: number; msg: string; [key: string]: unknown }> = [];
  readonly #waiting: Array<{ match: (line: LogCapture['lines'][number]) => boolean; resolve: () => void }> = [];
  readonly logger: Logger;

  constructor(level = 'info') {
    this.logger = pino(
      { level },
      {
        write: (text: string) => {
          for (const raw of text.split('\n')) {
            if (!raw) continue;
            const line = JSON.parse(raw) as LogCapture['lines'][number];
            this.lines.push(line);
            for (const w of [...this.#waiting]) {
              if (w.match(line)) {
                this.#waiting.splice(this.#waiting.indexOf(w), 1);
                w.resolve();
              }
            }
          }
        },
      },
    );
  }

  /** Lines whose message contains `text`. */
  find(text: string): LogCapture['lines'] {
    return this.lines.filter((l) => l.msg.includes(text));
  }

  /** Resolves at the `count`-th line (counting those already written) whose message contains `text`. */
  waitFor(text: string, count = 1): Promise<void> {
    let seen = this.find(text).length;
    if (seen >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiting.push({ match: (line) => line.msg.includes(text) && ++seen >= count, resolve });
    });
  }
}
