// Shapes of /api/v1 answers the pages use (docs: /work/coord/api-contract.md, then /api/v1/openapi.json).

export interface Paged<T> {
  count: number;
  next?: string | null;
  previous?: string | null;
  results: T[];
}

export interface Me {
  username: string;
  email: string | null;
  admin: boolean;
  default_private: boolean;
  created_at: string | null;
  plan?: string;
}

export interface SessionStarted {
  username: string;
  csrf_token: string;
  expires_at: string | null;
}

export const TOKEN_SCOPES = ['repo:read', 'repo:write', 'repo:delete', 'repo:admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface AccessToken {
  id: string;
  label: string;
  scopes: string[];
  created_at: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  expired?: boolean;
  /** organisation tokens: the repositories they are limited to (null: all) */
  repositories?: string[] | null;
}

export interface CreatedToken extends AccessToken {
  token: string;
}

export interface Session {
  id: string;
  kind?: 'browser' | 'docker';
  user_agent?: string | null;
  client_id?: string | null;
  created_at: string | null;
  last_used_at: string | null;
  current?: boolean;
}

export interface Plan {
  name: string;
  title: string;
  price_label: string;
  private_repositories: number | null;
  storage_bytes: number | null;
  pulls_per_window: number | null;
  pull_window_seconds: number;
  seats: number | null;
  features: string[];
}

export interface Usage {
  namespace: string;
  plan: Plan;
  /** whose allowance applies: the namespace, or the user an organisation without a plan of its own is billed to */
  billed_to: string;
  storage_bytes: number;
  private_repositories: number;
  limits: { storage_bytes: number | null; private_repositories: number | null };
  read_only_repositories: string[];
}

export interface Organization {
  name: string;
  kind: 'organization';
  official: boolean;
  verified_publisher: boolean;
  plan: string;
  default_private: boolean;
  created_at: string | null;
  role?: 'owner' | 'member';
}

export interface Member {
  username: string;
  role: 'owner' | 'member';
  since: string | null;
}

export interface TeamPermission {
  repository: string;
  permission: 'read' | 'write' | 'admin';
}

export interface Team {
  name: string;
  description: string;
  created_at: string | null;
  members?: string[];
  permissions?: TeamPermission[];
}

export interface AdminUser {
  username: string;
  email?: string | null;
  admin: boolean;
  plan?: string;
  created_at: string | null;
}

export interface HubSettings {
  signup_open: boolean;
  pull_requires_login: boolean;
}

export interface PullLimits {
  anonymous_limit: number | null;
  anonymous_window_seconds: number;
  exempt: string[];
}

export type ContentType = 'image' | 'index' | 'helm' | 'artifact';

/** A repository in lists and search (RepositorySummary of the OpenAPI document). */
export interface RepositorySummary {
  namespace: string;
  name: string;
  repository_type: 'image' | 'artifact' | null;
  description: string;
  is_private: boolean;
  is_official: boolean;
  is_verified_publisher: boolean;
  star_count: number;
  pull_count: number;
  last_pulled: string | null;
  last_updated: string | null;
  date_registered: string;
  storage_size: number;
  media_types: string[];
  content_types: ContentType[];
  categories: Array<{ slug: string; name: string }>;
  is_starred: boolean;
  permissions: { read: boolean; write: boolean; admin: boolean };
}

export interface Repository extends RepositorySummary {
  full_description: string;
  readme_source: 'full_description' | 'image' | null;
}

export interface Category {
  slug: string;
  name: string;
  description: string;
}

export interface Suggestion {
  namespace: string;
  name: string;
  is_official: boolean;
  is_verified_publisher: boolean;
}

export const SEARCH_ORDERINGS = ['best', '-pull_count', '-star_count', '-last_updated'] as const;
export type SearchOrdering = (typeof SEARCH_ORDERINGS)[number];

export const TAG_ORDERINGS = ['name', '-name', 'last_pushed', '-last_pushed'] as const;
export type TagOrdering = (typeof TAG_ORDERINGS)[number];

export interface TagImage {
  architecture: string | null;
  os: string | null;
  variant: string | null;
  digest: string;
  size: number;
  last_pushed: string | null;
}

export interface Tag {
  name: string;
  digest: string;
  media_type: string;
  content_type: ContentType;
  full_size: number;
  last_pushed: string;
  last_pulled: string | null;
  pull_count: number;
  last_updater_username: string | null;
  tag_status: 'active' | 'inactive';
  images: TagImage[];
}

export interface Layer {
  digest: string | null;
  size: number;
  media_type: string | null;
  instruction: string | null;
  empty_layer: boolean;
}

export interface Image {
  architecture: string | null;
  os: string | null;
  variant: string | null;
  digest: string;
  size: number;
  config_digest: string | null;
  created: string | null;
  layers: Layer[];
}

export interface PullHistory {
  days: number;
  results: Array<{ date: string; pulls: number }>;
}

export interface PullLimit {
  plan: string;
  limit: number | null;
  window_seconds: number;
  remaining: number | null;
  reset_at: string | null;
}

/** A pattern of tags a push may create but never move, nor anyone delete (GET .../immutable-tags). */
export interface ImmutableTagRule {
  pattern: string;
  created_at: string;
  created_by: string | null;
}

/** A retention policy's rules: a tag is kept when any set rule keeps it; null is a rule not set. */
export interface RetentionRules {
  keep_last: number | null;
  keep_pulled_days: number | null;
  keep_pattern: string | null;
}

/** GET .../retention: the repository's own policy, or the namespace's it inherits (`effective` applies). */
export interface RetentionSettings {
  policy: RetentionRules | null;
  inherited_from: 'namespace' | null;
  effective: RetentionRules | null;
}

/** POST .../retention/run: what went (or would go, in a dry run) and why the others stay. */
export interface RetentionRun {
  dry_run: boolean;
  repository: string;
  policy_from: 'repository' | 'namespace';
  /** newest push first; `reason` is the server's sentence (in English) */
  deleted: Array<{ tag: string; digest: string; reason: string }>;
  /** `rule`: the first that keeps it; changed: pushed again or deleted during the run */
  kept: Array<{ tag: string; digest: string; rule: RetentionKeeper; reason: string }>;
}

export type RetentionKeeper = 'immutable' | 'keep_last' | 'keep_pulled_days' | 'keep_pattern' | 'changed';
