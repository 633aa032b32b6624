// Administration pages: one lazily loaded module (web/src/app.tsx).
export { AdminLayout } from './layout';
export { AdminLibrary, AdminPublishers } from './official';
export { AdminPlans } from './plans';
export { AdminSettings } from './settings';
export { AdminUsers } from './users';
