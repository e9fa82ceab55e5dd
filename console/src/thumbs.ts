// Thumbnails of the images this tab uploaded, per dataset and class (the API does not serve dataset images back, so a
// dataset opened in another session shows its classes and counts without pictures). Object URLs of the user's own
// File objects: nothing is fetched. Forgotten (and the URLs revoked) on sign-out.
import { signal } from '@preact/signals';
import { whenSignedOut } from './session.ts';

/** Thumbnails kept per class. */
export const THUMBS_PER_CLASS = 6;

/** dataset id → label → object URLs; a new Map on every change, so readers re-render. */
export const thumbnails = signal<Map<string, Map<string, string[]>>>(new Map());

export function addThumbnail(datasetId: string, label: string, file: File): void {
  const byLabel = thumbnails.value.get(datasetId) ?? new Map<string, string[]>();
  const urls = byLabel.get(label) ?? [];
  if (urls.length >= THUMBS_PER_CLASS) return;
  byLabel.set(label, [...urls, URL.createObjectURL(file)]);
  const next = new Map(thumbnails.value);
  next.set(datasetId, byLabel);
  thumbnails.value = next;
}

export function forgetThumbnails(datasetId?: string): void {
  const next = new Map(thumbnails.value);
  for (const [id, byLabel] of thumbnails.value) {
    if (datasetId !== undefined && id !== datasetId) continue;
    for (const urls of byLabel.values()) urls.forEach((u) => URL.revokeObjectURL(u));
    next.delete(id);
  }
  thumbnails.value = next;
}

whenSignedOut(() => forgetThumbnails());
