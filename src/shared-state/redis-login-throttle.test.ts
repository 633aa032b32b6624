import { loginThrottleSuite } from '../auth/login-throttle.suite.js';
import { skipUnlessRedis } from '../../test/support/redis.js';
import { openTestConnection } from './redis-connection.testing.js';
import { RedisLoginThrottle } from './redis-login-throttle.js';

loginThrottleSuite(
  'Redis',
  async (options) => {
    const { connection, cleanup } = await openTestConnection();
    try {
      return { throttle: new RedisLoginThrottle(connection, options), cleanup };
    } catch (error) {
      await cleanup();
      throw error;
    }
  },
  await skipUnlessRedis(),
);
