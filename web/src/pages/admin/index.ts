// Administration pages: one lazily loaded module (web/src/app.tsx).
export { AdminCategories } from './categories';
export { AdminLayout } from './layout';
export { AdminLibrary, AdminPublishers } from './official';
export { AdminPlans } from './plans';
export { AdminSettings } from './settings';
export { AdminUsers } from './users';
