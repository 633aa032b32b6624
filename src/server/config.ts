import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseNetwork } from '../hub/webhooks/network-guard.js';
import { storageUrlProblem } from '../storage/storage-url.js';
import { parseDuration } from './duration.js';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 15m or 24h, got "${value}"` });
    return z.NEVER;
  }
  return ms;
});

const listen = z.string().refine((v) => parseListen(v) !== undefined, { message: 'expected host:port, e.g. 127.0.0.1:5000' });

const booleanish = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'])]).transform((v) => v === true || v === 'true' || v === '1');

export const ConfigSchema = z
  .object({
    listen: listen.default('127.0.0.1:5000'),
    data: z.string().min(1).default('./data'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `auto`: readable lines on a terminal, JSON lines otherwise; `json` or `pretty` always */
    logFormat: z.enum(['auto', 'json', 'pretty']).default('auto'),
    shutdownTimeout: duration.default(30_000),
    uploads: z
      .object({
        ttl: duration.default(24 * 3_600_000),
        sweepInterval: duration.default(15 * 60_000),
        /** open upload sessions a namespace may hold at once; the next is refused until one ends */
        maxOpenSessions: z.coerce.number().int().min(1).max(1_000_000).default(100),
      })
      .strict()
      .default({ ttl: 24 * 3_600_000, sweepInterval: 15 * 60_000, maxOpenSessions: 100 }),
    /** how long a request may take to arrive: slow or stalled clients lose their connection */
    http: z
      .object({
        /** the request line and headers must arrive within this */
        headersTimeout: duration.default(30_000),
        /** a request body must arrive within this in all (0: no total bound, only the rate) */
        requestTimeout: duration.default(0),
        /** the slowest a body may arrive, in bytes per second averaged over `bodyRateWindow` */
        bodyMinRate: z.coerce.number().int().min(1).default(1024),
        bodyRateWindow: duration.default(60_000),
        /** the body of a request that signs in (/token, /api/v1/users/login) must arrive within this */
        signInBodyTimeout: duration.default(10_000),
      })
      .strict()
      .default({ headersTimeout: 30_000, requestTimeout: 0, bodyMinRate: 1024, bodyRateWindow: 60_000, signInBodyTimeout: 10_000 }),
    manifests: z
      .object({ maxBytes: z.coerce.number().int().min(4 * 1024 * 1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024) })
      .strict()
      .default({ maxBytes: 4 * 1024 * 1024 }),
    /** the metadata database: unset means SQLite in the data directory (`<data>/pier.db`) */
    database: z
      .object({
        url: z
          .string()
          .refine((v) => /^postgres(?:ql)?:\/\/[^/?#]/i.test(v) && URL.canParse(v), {
            message: 'expected a PostgreSQL URL such as postgres://user@127.0.0.1:5432/pier (unset: SQLite in the data directory)',
          })
          .optional(),
      })
      .strict()
      .default({}),
    storage: z
      .object({
        /** where blobs live: unset means `<data>/storage`; `s3://bucket/prefix?endpoint=…&region=…` (src/storage/storage-url.ts) */
        url: z
          .string()
          .superRefine((value, ctx) => {
            const problem = storageUrlProblem(value);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
        fsync: booleanish.default(true),
      })
      .strict()
      .default({ fsync: true }),
    /** state replicas share quickly (counters, caches, invalidation): unset means in process */
    redis: z
      .object({
        url: z
          .string()
          .refine((v) => /^rediss?:\/\/[^/?#]/i.test(v) && URL.canParse(v), {
            message: 'expected a Redis URL such as redis://127.0.0.1:6379/0 (unset: in process)',
          })
          .optional(),
        /** prefix of every key Pier writes, so that installations (or tests) can share one Redis */
        prefix: z.string().min(1).max(100).default('pier:'),
      })
      .strict()
      .default({ prefix: 'pier:' }),
    /** built-in TLS: PEM certificate chain and private key files, both or neither */
    tls: z
      .object({ cert: z.string().min(1).optional(), key: z.string().min(1).optional() })
      .strict()
      .refine((v) => (v.cert === undefined) === (v.key === undefined), { message: 'set both tls.cert and tls.key, or neither' })
      .default({}),
    /** the URL clients reach Pier at: the token realm is `<publicUrl>/token` (never the Host header) */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** the `service` of token auth and the audience of its JWTs */
    service: z.string().min(1).max(200).default('pier'),
    /** addresses (or CIDRs) of reverse proxies whose X-Forwarded-For is believed; none by default */
    trustProxy: z
      .union([z.string(), z.array(z.string())])
      .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
      .default([]),
    auth: z
      .object({
        /** `token`: accounts and docker login; `open`: anonymous push and pull, for local development */
        mode: z.enum(['token', 'open']).default('token'),
        tokenTtl: duration.default(5 * 60_000),
        /** a 32-byte secret shared by replicas (encrypts signing keys); unset: <data>/secret.key */
        secretKeyFile: z.string().min(1).optional(),
        /** failed logins allowed per account and client address in `loginWindow`, before 429 */
        loginFailures: z.coerce.number().int().min(1).max(1000).default(5),
        loginWindow: duration.default(15 * 60_000),
      })
      .strict()
      .default({ mode: 'token', tokenTtl: 5 * 60_000, loginFailures: 5, loginWindow: 15 * 60_000 }),
    /** Pier as the Docker daemon's `registry-mirrors` entry: the proxy namespace that serves names not stored here */
    mirror: z
      .object({
        namespace: z
          .string()
          .regex(/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/, { message: 'expected a proxy namespace such as hub' })
          .optional(),
      })
      .strict()
      .default({}),
    /** replication runs: a failed run is tried again `attempts` times in all, after `retryDelay`, doubling */
    replication: z
      .object({
        retryDelay: duration.default(30_000),
        attempts: z.coerce.number().int().min(1).max(100).default(5),
      })
      .strict()
      .default({ retryDelay: 30_000, attempts: 5 }),
    /** webhook deliveries: retried after `retryDelay` (doubling) until `retryFor` has passed; `allowNetworks` opens refused ranges */
    webhooks: z
      .object({
        /** CIDRs deliveries may reach although they are loopback, private, link-local or metadata ranges (none by default) */
        allowNetworks: z
          .union([z.string(), z.array(z.string())])
          .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
          .superRefine((networks, context) => {
            for (const network of networks) {
              try {
                parseNetwork(network);
              } catch (error) {
                context.addIssue({ code: 'custom', message: (error as Error).message });
              }
            }
          })
          .default([]),
        retryDelay: duration.default(10_000),
        retryFor: duration.default(24 * 3600_000),
        timeout: duration.default(10_000),
        /** deliveries failed for good in a row that disable a hook */
        disableAfter: z.coerce.number().int().min(1).max(1000).default(5),
      })
      .strict()
      .default({ allowNetworks: [], retryDelay: 10_000, retryFor: 24 * 3600_000, timeout: 10_000, disableAfter: 5 }),
    /** Prometheus /metrics: off unless enabled; with `token`, only for that bearer token */
    metrics: z
      .object({ enabled: booleanish.default(false), token: z.string().min(16, { message: 'at least 16 characters' }).optional() })
      .strict()
      .default({ enabled: false }),
    /** the audit log: entries older than `retention` are removed */
    audit: z.object({ retention: duration.default(365 * 24 * 3600_000) }).strict().default({ retention: 365 * 24 * 3600_000 }),
    /** online garbage collection (docs/garbage-collection.md) */
    gc: z
      .object({
        /** how often a collection runs (one replica runs each), or off */
        schedule: z.union([z.literal('off'), duration]).default(24 * 3_600_000),
        /** nothing younger than this is collected: blobs stored, links seen, manifests pushed */
        grace: duration.default(3_600_000),
        /** scheduled runs also collect manifests that no tag keeps */
        untagged: booleanish.default(false),
        /** cached repositories of the pull-through cache that nobody read for this long are dropped */
        proxyIdle: duration.default(30 * 24 * 3_600_000),
        /** how long the collector's lock outlives a collector that died (renewed every third of it while one runs) */
        lease: duration.default(60_000),
      })
      .strict()
      .default({ schedule: 24 * 3_600_000, grace: 3_600_000, untagged: false, proxyIdle: 30 * 24 * 3_600_000, lease: 60_000 }),
    /** retention policies (docs/retention.md): how often every policy is applied (one replica runs each), or off */
    retention: z
      .object({ schedule: z.union([z.literal('off'), duration]).default(24 * 3_600_000) })
      .strict()
      .default({ schedule: 24 * 3_600_000 }),
    /** the first administrator, created on first start when no account exists */
    admin: z.object({ user: z.string().optional(), password: z.string().optional() }).strict().default({}),
  })
  .strict();

export type Config = z.output<typeof ConfigSchema>;

/** Environment variables and the config key each one sets: the one table of them. */
export const ENVIRONMENT: Record<string, string> = {
  PIER_LISTEN: 'listen',
  PIER_DATA: 'data',
  PIER_LOG_LEVEL: 'logLevel',
  PIER_LOG_FORMAT: 'logFormat',
  PIER_SHUTDOWN_TIMEOUT: 'shutdownTimeout',
  PIER_UPLOAD_TTL: 'uploads.ttl',
  PIER_UPLOAD_SWEEP_INTERVAL: 'uploads.sweepInterval',
  PIER_UPLOAD_MAX_OPEN_SESSIONS: 'uploads.maxOpenSessions',
  PIER_MANIFEST_MAX_BYTES: 'manifests.maxBytes',
  PIER_HTTP_HEADERS_TIMEOUT: 'http.headersTimeout',
  PIER_HTTP_REQUEST_TIMEOUT: 'http.requestTimeout',
  PIER_HTTP_BODY_MIN_RATE: 'http.bodyMinRate',
  PIER_HTTP_BODY_RATE_WINDOW: 'http.bodyRateWindow',
  PIER_HTTP_SIGN_IN_BODY_TIMEOUT: 'http.signInBodyTimeout',
  PIER_DATABASE_URL: 'database.url',
  PIER_STORAGE_URL: 'storage.url',
  PIER_STORAGE_FSYNC: 'storage.fsync',
  PIER_REDIS_URL: 'redis.url',
  PIER_REDIS_PREFIX: 'redis.prefix',
  PIER_TLS_CERT: 'tls.cert',
  PIER_TLS_KEY: 'tls.key',
  PIER_PUBLIC_URL: 'publicUrl',
  PIER_SERVICE: 'service',
  PIER_TRUST_PROXY: 'trustProxy',
  PIER_AUTH: 'auth.mode',
  PIER_TOKEN_TTL: 'auth.tokenTtl',
  PIER_SECRET_KEY_FILE: 'auth.secretKeyFile',
  PIER_LOGIN_FAILURES: 'auth.loginFailures',
  PIER_LOGIN_WINDOW: 'auth.loginWindow',
  PIER_MIRROR_NAMESPACE: 'mirror.namespace',
  PIER_REPLICATION_RETRY_DELAY: 'replication.retryDelay',
  PIER_REPLICATION_ATTEMPTS: 'replication.attempts',
  PIER_WEBHOOK_ALLOW_NETWORKS: 'webhooks.allowNetworks',
  PIER_WEBHOOK_RETRY_DELAY: 'webhooks.retryDelay',
  PIER_WEBHOOK_RETRY_FOR: 'webhooks.retryFor',
  PIER_WEBHOOK_TIMEOUT: 'webhooks.timeout',
  PIER_AUDIT_RETENTION: 'audit.retention',
  PIER_METRICS: 'metrics.enabled',
  PIER_METRICS_TOKEN: 'metrics.token',
  PIER_GC_SCHEDULE: 'gc.schedule',
  PIER_GC_GRACE: 'gc.grace',
  PIER_GC_UNTAGGED: 'gc.untagged',
  PIER_GC_PROXY_IDLE: 'gc.proxyIdle',
  PIER_GC_LEASE: 'gc.lease',
  PIER_RETENTION_SCHEDULE: 'retention.schedule',
  PIER_ADMIN_USER: 'admin.user',
  PIER_ADMIN_PASSWORD: 'admin.password',
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** a YAML or JSON file; PIER_CONFIG when not given */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** command-line flags, which win over everything, keyed like the config (`listen`, `data`) */
  overrides?: Record<string, unknown>;
}

/** Defaults < config file < environment < flags; validated once, errors name the key and its source. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.PIER_CONFIG;
  const raw: Record<string, unknown> = file ? readConfigFile(file) : {};
  const sources = new Map<string, string>();
  for (const [variable, key] of Object.entries(ENVIRONMENT)) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    setPath(raw, key, value);
    sources.set(key, variable);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(raw, key, value);
    sources.set(key, `--${key}`);
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(root)';
      const source = sources.get(key) ?? (file ? file : 'defaults');
      const message = issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message;
      return `  ${key} (from ${source}): ${message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...result.data, data: resolve(result.data.data) };
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text); // YAML is a superset of JSON: one parser reads both
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid YAML or JSON: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must hold a mapping of keys`);
  return parsed as Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
