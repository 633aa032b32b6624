/**
 * PIER_STORAGE_URL: which BlobStore driver, and its settings, in one string.
 *
 *   (unset)                                  the filesystem under `<data>/storage`
 *   file:///var/lib/pier/storage             the filesystem at that path
 *   s3://bucket/prefix?endpoint=http://127.0.0.1:8080&region=us-east-1&forcePathStyle=true
 *
 * S3 parameters (all optional; anything else is an error):
 *   endpoint        http(s) URL of an S3-compatible server; unset: AWS for the region
 *   region          default: AWS_REGION, else us-east-1
 *   forcePathStyle  true: http://endpoint/bucket/key (most self-hosted servers); default false
 *   partSize        multipart part size, 5MiB..5GiB (bytes, or 16MiB, 64MB, ...); default 8MiB
 *   redirect        true: blob GETs answer 307 to a presigned URL of the object; default false
 *   presignTtl      how long a presigned URL stays valid, 1s..7d (90s, 20m, 1h); default 20m
 *
 * S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the SDK's usual chain),
 * never from the URL, so the URL can be logged.
 */
export type StorageLocation = { kind: 'file'; root: string } | { kind: 's3'; settings: S3Settings };

export interface S3Settings {
  bucket: string;
  /** key prefix without leading or trailing slash; '' for the bucket's root */
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  partSize: number;
  redirect: boolean;
  presignTtlSeconds: number;
}

const MiB = 1024 * 1024;
export const S3_MIN_PART_SIZE = 5 * MiB;
export const S3_MAX_PART_SIZE = 5 * 1024 * MiB;
/** An append buffers 3 parts at most (s3/multipart-writer.ts), 24 MiB; 16 MiB parts were no faster on a local Swift. */
export const DEFAULT_PART_SIZE = 8 * MiB;
export const DEFAULT_PRESIGN_TTL_SECONDS = 20 * 60;
/** SigV4 presigned URLs live at most a week. */
const MAX_PRESIGN_TTL_SECONDS = 7 * 24 * 3600;

const USAGE = 'expected file:///path or s3://bucket/prefix?endpoint=…&region=… (unset: the data directory)';

export function parseStorageUrl(value: string): StorageLocation {
  const parsed = parse(value);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

/** Why `value` is not a storage URL, or undefined when it is one. */
export function storageUrlProblem(value: string): string | undefined {
  const parsed = parse(value);
  return typeof parsed === 'string' ? parsed : undefined;
}

/** The location, or the problem with the URL as a sentence. */
function parse(value: string): StorageLocation | string {
  if (!URL.canParse(value)) return USAGE;
  const url = new URL(value);
  if (url.protocol === 'file:') {
    if (url.search || url.hash) return 'a file: storage URL takes no query or fragment';
    return url.pathname.length > 1 ? { kind: 'file', root: decodeURIComponent(url.pathname) } : 'a file: storage URL needs an absolute path';
  }
  if (url.protocol !== 's3:') return `unsupported storage scheme ${url.protocol} (file: or s3:)`;
  if (url.username || url.password) return 'put S3 credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, not in the URL';
  if (!url.hostname) return 'an s3: storage URL names its bucket: s3://bucket/prefix';
  if (url.port) return 's3://bucket/prefix names a bucket, not a host: put the server in ?endpoint=http://host:port';
  if (url.hash) return 'an s3: storage URL takes no fragment (#…)';
  const bucket = url.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    return `invalid S3 bucket name "${bucket}": 3 to 63 lowercase letters, digits, dots and hyphens`;
  }
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  if (prefix && prefix.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    return `invalid S3 key prefix "${prefix}": no empty, "." or ".." path segments`;
  }
  const settings = s3Parameters(url.searchParams);
  if (typeof settings === 'string') return settings;
  return { kind: 's3', settings: { bucket, prefix, ...settings } };
}

type Parameters = Omit<S3Settings, 'bucket' | 'prefix'>;

const PARAMETERS = ['endpoint', 'region', 'forcePathStyle', 'partSize', 'redirect', 'presignTtl'] as const;

function s3Parameters(query: URLSearchParams): Parameters | string {
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      return `unknown s3 storage parameter "${name}" (known: ${PARAMETERS.join(', ')})`;
    }
    if (seen.has(name)) return `the s3 storage parameter "${name}" is given twice`;
    seen.add(name);
  }
  const result: Parameters = {
    region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
    forcePathStyle: false,
    partSize: DEFAULT_PART_SIZE,
    redirect: false,
    presignTtlSeconds: DEFAULT_PRESIGN_TTL_SECONDS,
  };
  const endpoint = query.get('endpoint');
  if (endpoint !== null) {
    if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
      return `endpoint=${endpoint}: expected an http:// or https:// URL such as http://127.0.0.1:8080`;
    }
    const parsed = new URL(endpoint);
    if (parsed.username || parsed.password) return 'endpoint: put S3 credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, not in the URL';
    if (parsed.search || parsed.hash) return `endpoint=${endpoint}: no query or fragment`;
    result.endpoint = endpoint.replace(/\/+$/, '');
  }
  const region = query.get('region');
  if (region !== null) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(region)) return `region=${region}: expected a region name such as us-east-1`;
    result.region = region;
  }
  for (const name of ['forcePathStyle', 'redirect'] as const) {
    const flag = query.get(name);
    if (flag === null) continue;
    if (flag !== 'true' && flag !== 'false') return `${name}=${flag}: expected true or false`;
    result[name] = flag === 'true';
  }
  const partSize = query.get('partSize');
  if (partSize !== null) {
    const bytes = parseByteSize(partSize);
    if (bytes === undefined) return `partSize=${partSize}: expected a size such as 16MiB, 64MB or 8388608`;
    if (bytes < S3_MIN_PART_SIZE || bytes > S3_MAX_PART_SIZE) {
      return `partSize=${partSize}: S3 parts are 5MiB to 5GiB`;
    }
    result.partSize = bytes;
  }
  const ttl = query.get('presignTtl');
  if (ttl !== null) {
    const seconds = parseSeconds(ttl);
    if (seconds === undefined) return `presignTtl=${ttl}: expected a duration such as 90s, 20m or 1h`;
    if (seconds < 1 || seconds > MAX_PRESIGN_TTL_SECONDS) return `presignTtl=${ttl}: presigned URLs live 1s to 7d`;
    result.presignTtlSeconds = seconds;
  }
  return result;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1024,
  KI: 1024,
  KIB: 1024,
  KB: 1000,
  M: MiB,
  MI: MiB,
  MIB: MiB,
  MB: 1000 ** 2,
  G: 1024 * MiB,
  GI: 1024 * MiB,
  GIB: 1024 * MiB,
  GB: 1000 ** 3,
};

/** `8388608`, `16MiB`, `16M`, `64MB` (decimal), `1GiB` → bytes; undefined if not a size. */
export function parseByteSize(value: string): number | undefined {
  const match = /^(\d+)\s*([A-Za-z]*)$/.exec(value.trim());
  if (!match) return undefined;
  const unit = SIZE_UNITS[match[2]!.toUpperCase()];
  return unit === undefined ? undefined : Number(match[1]) * unit;
}

const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `20m`, `1h`, `7d`, or plain seconds → seconds; undefined if not a duration. */
function parseSeconds(value: string): number | undefined {
  const match = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * (match[2] ? SECONDS[match[2]]! : 1);
}
