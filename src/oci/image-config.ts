import { MediaType } from './media-types.js';
import type { Platform } from './manifest.js';

/**
 * What a registry shows of an image's configuration (OCI image-spec `config.md`, Docker's
 * `application/vnd.docker.container.image.v1+json`): the platform, when it was built, its labels,
 * and its history (one entry per build step, `empty_layer` for steps that added no layer).
 * A registry does not validate configs (clients push what they like): anything unexpected is
 * left out rather than refused.
 */
export interface ImageConfig {
  platform?: Platform;
  /** `created`, as epoch milliseconds, when it is an RFC 3339 time */
  created?: number;
  labels: Record<string, string>;
  history: HistoryEntry[];
}

export interface HistoryEntry {
  /** the build step (`/bin/sh -c #(nop) CMD ["nginx"]`), or undefined */
  createdBy?: string;
  emptyLayer: boolean;
}

/** Config media types that describe a runnable image (anything else is an artifact's config). */
export const IMAGE_CONFIG_MEDIA_TYPES: readonly string[] = [MediaType.OciConfig, MediaType.DockerConfig];

export function isImageConfigMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && IMAGE_CONFIG_MEDIA_TYPES.includes(mediaType);
}

/** The annotation (on a manifest) or label (in a config) that describes an image in one text. */
export const DESCRIPTION_ANNOTATION = 'org.opencontainers.image.description';

/** Long build steps (a RUN of a whole script) are cut: a page shows a line, not a file. */
const MAX_CREATED_BY = 4096;
const MAX_HISTORY = 1000;

/** Parses a config blob; undefined when it is not a JSON object. */
export function parseImageConfig(bytes: Buffer): ImageConfig | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(json)) return undefined;
  const config: ImageConfig = { labels: {}, history: [] };
  if (typeof json.architecture === 'string' && typeof json.os === 'string' && json.architecture !== '' && json.os !== '') {
    config.platform = { architecture: json.architecture, os: json.os };
    if (typeof json.variant === 'string' && json.variant !== '') config.platform.variant = json.variant;
  }
  const created = typeof json.created === 'string' ? Date.parse(json.created) : NaN;
  if (Number.isFinite(created)) config.created = created;
  // the runtime config is `config` (OCI and Docker); Docker's older images also copy it to `container_config`
  const runtime = isObject(json.config) ? json.config : undefined;
  if (runtime && isObject(runtime.Labels)) {
    for (const [key, value] of Object.entries(runtime.Labels)) if (typeof value === 'string') config.labels[key] = value;
  }
  if (Array.isArray(json.history)) {
    for (const entry of json.history.slice(0, MAX_HISTORY)) {
      if (!isObject(entry)) continue;
      const createdBy = typeof entry.created_by === 'string' ? entry.created_by.slice(0, MAX_CREATED_BY) : undefined;
      config.history.push({ ...(createdBy !== undefined ? { createdBy } : {}), emptyLayer: entry.empty_layer === true });
    }
  }
  return config;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
