import { blobStoreSuite } from './blob-store.suite.js';
import { createMemoryStore } from './memory-store.js';

blobStoreSuite('memory', async () => ({ store: createMemoryStore() }));
