// The zod schemas the dataset route modules share (datasets.ts, dataset-images.ts, dataset-uploads.ts,
// dataset-finalize.ts): the Dataset and Image objects, the {id} path parameter, distinct lists.
import { z } from '@hono/zod-openapi';

export const DatasetId = z.string().openapi({ example: 'ds_0m3k9x2qa4f7hz81kd0p3q' });
export const ImageId = z.string().openapi({ example: 'img_0m3k9x2qa4f7hz81kd0p3q' });
const Label = z.string().openapi({ description: 'The class of the image.', example: 'golden retriever' });

/** A list of strings without repeats: the repeat is reported at its own index. */
export function distinct<T extends z.ZodType<string[]>>(schema: T, what: string) {
  return schema.superRefine((items, ctx) => {
    const seen = new Set<string>();
    items.forEach((v, i) => {
      if (seen.has(v)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} appears twice; list each ${what} once`, path: [i] });
      seen.add(v);
    });
  });
}

export const Dataset = z
  .object({
    id: DatasetId,
    name: z.string(),
    status: z.enum(['open', 'ready']).openapi({ description: '`open` takes images; `ready` (after finalize) is immutable.' }),
    image_count: z.number().int(),
    classes: z.array(z.object({ name: z.string(), image_count: z.number().int() })).openapi({
      description: 'Declared classes (in their order) and then any other labels, with their stored image counts.',
    }),
    created_at: z.string().openapi({ example: '2025-01-01T12:00:00.000Z' }),
  })
  .openapi('Dataset');

const Image = z.object({ id: ImageId, label: Label, width: z.number().int(), height: z.number().int() }).openapi('Image');
export const ImageList = z.object({ images: z.array(Image) }).openapi('ImageList');

export const DatasetParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The dataset id (`ds_…`).', example: 'ds_0m3k9x2qa4f7hz81kd0p3q' }),
});

export const tags = ['Datasets'];
