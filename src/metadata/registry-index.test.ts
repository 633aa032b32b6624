import { openSqlite } from './database.js';
import { registryIndexSuite } from './registry-index.suite.js';

registryIndexSuite('sqlite', () => openSqlite({ path: ':memory:' }));
