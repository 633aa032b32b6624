import type { Generated } from 'kysely';

/** Kysely's view of the tables. Times are epoch milliseconds; ordering columns compare bytes. */
export interface RepositoriesTable {
  name: string;
  created_at: number;
  /** the last manifest push, kept by the index in the push transaction */
  last_pushed_at: number | null;
  /** 'image' (holds images or indexes), 'artifact' (only other manifests), null (no manifest) */
  kind: string | null;
}

export interface BlobsTable {
  digest: string;
  size: number;
  created_at: number;
  /** set when the collector decided to delete the bytes: nothing links the blob again (007-lifecycle) */
  deleting_at: number | null;
}

/** Which repository may read which blob; `last_seen_at` is refreshed by HEAD and mount (for GC). */
export interface BlobLinksTable {
  repository: string;
  digest: string;
  linked_at: number;
  last_seen_at: number;
}

export interface ManifestsTable {
  repository: string;
  digest: string;
  media_type: string;
  size: number;
  content: Buffer;
  artifact_type: string | null;
  subject: string | null;
  annotations: string | null;
  created_at: number;
}

/** Blobs and child manifests a manifest refers to: for delete checks, GC and quotas. */
export interface ManifestReferencesTable {
  repository: string;
  manifest_digest: string;
  digest: string;
  kind: 'blob' | 'manifest';
}

export interface TagsTable {
  repository: string;
  name: string;
  digest: string;
  updated_at: number;
  /** who pushed it last (last_updater_username); null when unknown */
  pushed_by: string | null;
}

/** What a manifest shows, computed once when it is pushed (never by reading blobs on a list). */
export interface ManifestDetailsTable {
  repository: string;
  digest: string;
  /** 'image' | 'index' | 'helm' | 'artifact' */
  content_type: string;
  /** an image: config + layers; an index: the sum of its platforms' sizes */
  size: number;
  config_digest: string | null;
  os: string | null;
  architecture: string | null;
  variant: string | null;
  /** the config's `created`, epoch ms */
  created: number | null;
  /** org.opencontainers.image.description (annotation, else label) */
  description: string | null;
  /** JSON, an index's platforms: [{digest, os, architecture, variant, size, pushed_at}] */
  platforms: string | null;
  /** JSON, an image config's history: [{created_by, empty_layer}] */
  history: string | null;
}

export interface UploadsTable {
  id: string;
  repository: string;
  /** bytes received so far */
  size: number;
  /** sha256 of the bytes received so far, so a final PUT without a body completes on any replica */
  sha256: string;
  created_at: number;
  updated_at: number;
  /** while a request writes to the session: until when its claim holds (a crashed writer's expires) */
  locked_until: number | null;
  /** who holds the claim (a random id per request) */
  claim: string | null;
  /**
   * bytes a body in flight may still add (a chunk's declared length, or what it reserved as it
   * streams): counted against the storage quota with `size`, so parallel uploads cannot each take
   * the room that is left; 0 between requests
   */
  reserved: Generated<number>;
}

export interface AccountsTable {
  name: string;
  email: string | null;
  password_hash: string | null;
  is_admin: number;
  default_private: number;
  created_at: number;
  password_changed_at: number;
  deleted_at: number | null;
  /** 'user' | 'organization' (an organisation has no password) */
  kind: Generated<string>;
  verified_publisher: Generated<number>;
  /** the name of its plan */
  plan: Generated<string>;
  /**
   * the account whose plan's allowance this one draws on (an organisation: the user who created
   * it, until an administrator grants it a plan of its own); null: itself
   */
  billed_to: Generated<string | null>;
}

export interface AccessTokensTable {
  id: string;
  account: string;
  label: string;
  token_hash: string;
  /** space-separated: repo:read repo:write repo:delete repo:admin */
  scopes: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  /** organisation tokens: the repositories it may reach (JSON array), null for all */
  repositories: string | null;
}

export interface RefreshTokensTable {
  id: string;
  account: string;
  token_hash: string;
  client_id: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** A browser's sign-in (the `pier_session` cookie); only the secret's SHA-256 is kept. */
export interface BrowserSessionsTable {
  id: string;
  account: string;
  secret_hash: string;
  user_agent: string | null;
  created_at: number;
  /** idle expiry counts from here */
  last_used_at: number;
  /** absolute expiry */
  expires_at: number;
  revoked_at: number | null;
}

export interface HubRepositoriesTable {
  name: string;
  namespace: string;
  private: number;
  created_at: number;
  star_count: Generated<number>;
  /** repository_pulls.pulls, written with it: the sort key of "most pulled" */
  pull_count: Generated<number>;
  /** short description, at most 100 characters */
  description: Generated<string>;
  /** slugs and names of its categories, for the full-text index (repository_categories is the record) */
  categories: Generated<string>;
}

/** A repository's README (full_description): Markdown, at most 25 KB; kept off the row lists read. */
export interface RepositoryReadmesTable {
  repository: string;
  content: string;
  updated_at: number;
}

export interface CategoriesTable {
  slug: string;
  name: string;
  description: string;
  created_at: number;
}

export interface RepositoryCategoriesTable {
  repository: string;
  category: string;
}

export interface StarsTable {
  account: string;
  repository: string;
  created_at: number;
}

/** Pulls per repository per UTC day (days since 1970-01-01). */
export interface RepositoryPullDaysTable {
  repository: string;
  day: number;
  pulls: number;
}

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  public_jwk: string;
  private_jwk_encrypted: string;
  created_at: number;
  retired_at: number | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface OrganizationMembersTable {
  organization: string;
  account: string;
  /** 'owner' | 'member' */
  role: string;
  created_at: number;
}

export interface TeamsTable {
  organization: string;
  name: string;
  description: string;
  created_at: number;
}

export interface TeamMembersTable {
  organization: string;
  team: string;
  account: string;
}

export interface TeamPermissionsTable {
  organization: string;
  team: string;
  /** a repository of the organisation, or '*' for all of them */
  repository: string;
  /** 'read' | 'write' | 'admin' */
  permission: string;
}

/** Limits are null when unlimited. */
export interface PlansTable {
  name: string;
  title: string;
  price_label: string;
  private_repositories: number | null;
  storage_bytes: number | null;
  pulls_per_window: number | null;
  pull_window_seconds: number;
  seats: number | null;
  /** JSON array of feature names */
  features: string;
  /** order in listings */
  position: number;
}

export interface RepositoryPullsTable {
  repository: string;
  pulls: number;
  last_pulled_at: number | null;
}

export interface TagPullsTable {
  repository: string;
  tag: string;
  pulls: number;
  last_pulled_at: number | null;
}

export interface OutboxTable {
  id: string;
  type: string;
  /** JSON */
  payload: string;
  created_at: number;
  delivered_at: number | null;
}

/** A namespace that caches an upstream registry (pull-through); the password is sealed. */
export interface ProxiesTable {
  namespace: string;
  url: string;
  username: string | null;
  password_sealed: string | null;
  ttl_ms: number;
  /** 'public' | 'members' */
  visibility: string;
  created_at: number;
  updated_at: number;
}

/** When the upstream was last asked where a cached tag points. */
export interface ProxyTagsTable {
  repository: string;
  tag: string;
  digest: string;
  checked_at: number;
}

/** A cached repository and when a client last read it (for the garbage collector's idle time). */
export interface ProxyRepositoriesTable {
  repository: string;
  namespace: string;
  created_at: number;
  last_access_at: number;
}

export interface ReplicationRulesTable {
  name: string;
  /** 'push' | 'pull' */
  direction: string;
  url: string;
  username: string | null;
  password_sealed: string | null;
  /** JSON array of repository name patterns */
  repositories: string;
  /** JSON array of tag patterns, or null for every tag */
  tags: string | null;
  destination: string;
  interval_ms: number | null;
  next_run_at: number | null;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface ReplicationRunsTable {
  id: string;
  rule: string;
  /** 'push' | 'schedule' | 'manual' */
  trigger: string;
  /** JSON, or null for everything the rule names */
  scope: string | null;
  /** 'queued' | 'running' | 'succeeded' | 'failed' */
  status: string;
  attempts: number;
  not_before: number;
  claim: string | null;
  claimed_until: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  manifests_copied: number;
  blobs_copied: number;
  blobs_skipped: number;
  bytes_copied: number;
  /** JSON */
  report: string | null;
  error: string | null;
}

/** A webhook of a repository or an organisation; the signing secret is sealed. */
export interface WebhooksTable {
  id: string;
  /** 'repository' | 'organization' */
  scope_kind: string;
  scope: string;
  name: string;
  url: string;
  /** JSON array of event names */
  events: string;
  active: number;
  secret_sealed: string;
  disabled_reason: string | null;
  failures: Generated<number>;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

/** The delivery queue of webhooks (fed by the outbox). */
export interface WebhookDeliveriesTable {
  id: string;
  hook: string;
  event_id: string | null;
  event: string;
  ordering: string;
  body: string;
  /** 'pending' | 'delivering' | 'succeeded' | 'failed' */
  status: string;
  attempts: number;
  next_attempt_at: number;
  claim: string | null;
  claimed_until: number | null;
  created_at: number;
  finished_at: number | null;
  error: string | null;
}

export interface WebhookAttemptsTable {
  delivery: string;
  attempt: number;
  at: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
}

export interface AuditEventsTable {
  id: string;
  at: number;
  actor: string | null;
  via: string | null;
  action: string;
  target: string | null;
  namespace: string | null;
  /** 'ok' | 'failed' | 'refused' */
  result: string;
  address: string | null;
  user_agent: string | null;
  request_id: string | null;
  /** JSON */
  details: string | null;
}

/** A named lock one process holds until it expires (the garbage collector's, across replicas). */
export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

export interface GcRunsTable {
  id: string;
  trigger: string;
  status: 'running' | 'succeeded' | 'failed';
  dry_run: number;
  untagged: number;
  grace_ms: number;
  started_at: number;
  finished_at: number | null;
  /** JSON */
  report: string | null;
  error: string | null;
}

export interface ImmutableTagRulesTable {
  repository: string;
  pattern: string;
  created_at: number;
  created_by: string | null;
}

/** A retention policy (hub/retention/): the rules that keep a repository's tags, or those of a namespace's repositories. */
export interface RetentionPoliciesTable {
  scope: 'repository' | 'namespace';
  target: string;
  keep_last: number | null;
  keep_pulled_days: number | null;
  keep_pattern: string | null;
  updated_at: number;
  updated_by: string | null;
}

export interface RetentionRunsTable {
  id: string;
  trigger: string;
  /** '*', a namespace or a repository */
  scope: string;
  status: 'running' | 'succeeded' | 'failed';
  started_at: number;
  finished_at: number | null;
  deleted: number;
  error: string | null;
}

/**
 * Per namespace and digest, how many rows hold it (blob links; manifests in several repositories)
 * and its size: kept by triggers (migration 015), for NamespaceUsage. Never written by code.
 */
export interface NamespaceHeldTable {
  namespace: string;
  digest: string;
  holders: number;
  size: number;
}

/** The changes of a namespace's stored bytes (migration 015's triggers), added up when read. */
export interface NamespaceUsageTable {
  id: Generated<number>;
  namespace: string;
  bytes: number;
}

export interface Database {
  repositories: RepositoriesTable;
  blobs: BlobsTable;
  blob_links: BlobLinksTable;
  namespace_blobs: NamespaceHeldTable;
  namespace_manifests: NamespaceHeldTable;
  namespace_usage: NamespaceUsageTable;
  manifests: ManifestsTable;
  manifest_references: ManifestReferencesTable;
  tags: TagsTable;
  uploads: UploadsTable;
  accounts: AccountsTable;
  access_tokens: AccessTokensTable;
  refresh_tokens: RefreshTokensTable;
  browser_sessions: BrowserSessionsTable;
  hub_repositories: HubRepositoriesTable;
  signing_keys: SigningKeysTable;
  settings: SettingsTable;
  organization_members: OrganizationMembersTable;
  teams: TeamsTable;
  team_members: TeamMembersTable;
  team_permissions: TeamPermissionsTable;
  plans: PlansTable;
  repository_pulls: RepositoryPullsTable;
  tag_pulls: TagPullsTable;
  outbox: OutboxTable;
  manifest_details: ManifestDetailsTable;
  categories: CategoriesTable;
  repository_categories: RepositoryCategoriesTable;
  stars: StarsTable;
  repository_pull_days: RepositoryPullDaysTable;
  repository_readmes: RepositoryReadmesTable;
  proxies: ProxiesTable;
  proxy_tags: ProxyTagsTable;
  proxy_repositories: ProxyRepositoriesTable;
  replication_rules: ReplicationRulesTable;
  replication_runs: ReplicationRunsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  audit_events: AuditEventsTable;
  leases: LeasesTable;
  gc_runs: GcRunsTable;
  immutable_tag_rules: ImmutableTagRulesTable;
  retention_policies: RetentionPoliciesTable;
  retention_runs: RetentionRunsTable;
}
