import { skipUnlessRedis } from '../../test/support/redis.js';
import { countersSuite } from '../hub/counters.suite.js';
import { MemoryCounters } from './memory-counters.js';
import { RedisCounters } from './redis-counters.js';
import { openTestConnection } from './redis-connection.testing.js';

countersSuite('in process', async (now) => ({ counters: new MemoryCounters({ now }) }));

countersSuite(
  'Redis',
  async (now) => {
    const { connection, cleanup } = await openTestConnection();
    return { counters: new RedisCounters(connection, { now }), cleanup };
  },
  await skipUnlessRedis(),
);
