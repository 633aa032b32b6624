import { isImageConfigMediaType } from './image-config.js';
import type { ParsedManifest } from './manifest.js';
import { MediaType } from './media-types.js';

/**
 * What a manifest holds, in the words a hub shows (Docker Hub's `content_types`): a runnable
 * image, an index of them (multi-platform), a Helm chart, or another OCI artifact.
 */
export type ContentType = 'image' | 'index' | 'helm' | 'artifact';
export const CONTENT_TYPES: readonly ContentType[] = ['image', 'index', 'helm', 'artifact'];

export function contentTypeOf(manifest: Pick<ParsedManifest, 'kind' | 'config' | 'artifactType'>): ContentType {
  if (manifest.kind === 'index') return 'index';
  const artifactType = manifest.artifactType ?? manifest.config?.mediaType;
  if (artifactType === MediaType.HelmConfig || manifest.config?.mediaType === MediaType.HelmConfig) return 'helm';
  // an image manifest's artifactType defaults to its config's type (parseManifest): an image config is an image
  if (isImageConfigMediaType(manifest.config?.mediaType) && (artifactType === undefined || isImageConfigMediaType(artifactType))) return 'image';
  return 'artifact';
}
