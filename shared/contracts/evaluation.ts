// Held-out quality, as the public API returns it: the `validation` block of a training job (and of the model it
// publishes) and the `result` of an evaluation (POST /v1/evaluations), both computed by a GPU worker
// (gpu-worker/cocoop/scoring.ts) and stored by the edge as sent. Plain zod with `.meta()` (the edge's OpenAPI
// generator names the components by `id`), so the worker process parses and builds them without Hono.
//
// Every figure is a fraction in [0, 1]. The confusion matrix counts images: rows are true labels, columns the
// labels the adapted model predicted, both in the order of `confusion.labels`.
import { z } from 'zod';

const fraction = z.number().min(0).max(1);
const count = z.number().int().min(0);

export const ClassScore = z
  .object({
    label: z.string(),
    n: count.meta({ description: 'Held-out images of this class.' }),
    accuracy: fraction.meta({ description: 'Share of them the adapted model classified right.' }),
    zero_shot_accuracy: fraction.meta({ description: 'Share of them zero-shot CLIP ("a photo of a {label}.") classified right.' }),
  })
  .meta({ id: 'ClassScore' });
export type ClassScore = z.infer<typeof ClassScore>;

export const Confusion = z
  .object({
    labels: z.array(z.string()),
    matrix: z.array(z.array(count)).meta({ description: 'matrix[i][j]: images of true label i predicted as label j.' }),
  })
  .meta({ id: 'Confusion' });
export type Confusion = z.infer<typeof Confusion>;

/** The figures of one labelled image set under the adapted model and under zero-shot CLIP. */
export const Scores = z
  .object({
    n: count.meta({ description: 'Images scored.' }),
    accuracy: fraction.meta({ description: 'Top-1 accuracy of the adapted model (of zero-shot CLIP for a zero-shot evaluation).' }),
    zero_shot_accuracy: fraction.meta({ description: 'Top-1 accuracy of zero-shot CLIP on the same images and labels.' }),
    per_class: z.array(ClassScore).meta({ description: 'One entry per class of the images, in label order.' }),
    confusion: Confusion,
  })
  .meta({ id: 'Scores' });
export type Scores = z.infer<typeof Scores>;

/** A succeeded training job's result. `validation` is null when the job held nothing out (validation_split 0). */
export const TrainingResult = z
  .object({
    train: z.object({
      loss: z.number().meta({ description: 'Mean cross-entropy of the last epoch on the training views.' }),
      accuracy: fraction.meta({ description: 'Accuracy of the last epoch on the (augmented) training views.' }),
    }),
    validation: Scores.nullable(),
  })
  .meta({ id: 'TrainingResult' });
export type TrainingResult = z.infer<typeof TrainingResult>;

export const EVALUATION_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type EvaluationStatus = (typeof EVALUATION_STATES)[number];

/** The `model` of an evaluation (and of classify) that names the base CLIP model without an adapter. */
export const ZERO_SHOT_MODEL = 'zero-shot';

export const Evaluation = z
  .object({
    id: z.string().meta({ example: 'eval_0m3k9x2qa4f7hz81kd0p3q' }),
    object: z.literal('evaluation'),
    model: z.string().meta({ description: 'The evaluated model id, or "zero-shot".' }),
    dataset_id: z.string(),
    labels: z.array(z.string()).meta({ description: 'The label list the images were classified against.' }),
    status: z.enum(EVALUATION_STATES),
    result: Scores.nullable().meta({ description: 'Set when the evaluation succeeded.' }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: 'Evaluation' });
export type Evaluation = z.infer<typeof Evaluation>;
