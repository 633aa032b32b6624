// Organisation pages: one lazily loaded module (web/src/app.tsx).
export { OrgLayout } from './context';
export { OrgList } from './list';
export { OrgMembers } from './members';
export { OrgSettings } from './org-settings';
export { OrgTokens } from './org-tokens';
export { OrgTeam, OrgTeams } from './teams';
