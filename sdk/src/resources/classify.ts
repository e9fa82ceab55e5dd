// Classification and text embeddings (answered by the inference service behind the API; 503 inference_unavailable
// with Retry-After when it cannot answer now, which the client retries like any 5xx).
import type { HttpClient, RequestOptions } from '../core/http.ts';
import { APIResource } from '../core/resource.ts';
import type { ClassifyRequest, ClassifyResponse, Prediction, TextEmbeddings, TextEmbeddingsParams } from '../types.ts';

/** An image: its bytes (JPEG, PNG or WebP), or those bytes already base64-encoded. */
export type ImageInput = Uint8Array | ArrayBuffer | Blob | string;

type ClassifyCommon = Omit<ClassifyRequest, 'image' | 'images'>;
export type ClassifyOneParams = ClassifyCommon & { image: ImageInput; images?: never };
export type ClassifyBatchParams = ClassifyCommon & { images: ImageInput[]; image?: never };
export type ClassifyOneResponse = Omit<ClassifyResponse, 'results' | 'predictions'> & { predictions: Prediction[] };
export type ClassifyBatchResponse = Omit<ClassifyResponse, 'results' | 'predictions'> & { results: { predictions: Prediction[] }[] };

/** Base64 of `bytes` with standard APIs only (btoa), in chunks so that large images do not overflow the call stack. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

async function encodeImage(image: ImageInput): Promise<string> {
  if (typeof image === 'string') return image;
  if (image instanceof Blob) return toBase64(new Uint8Array(await image.arrayBuffer()));
  return toBase64(image instanceof Uint8Array ? image : new Uint8Array(image));
}

/** POST /v1/classify; safe to repeat, so retried after an unknown outcome too. */
export async function classify(http: HttpClient, params: ClassifyOneParams | ClassifyBatchParams, options?: RequestOptions): Promise<ClassifyOneResponse | ClassifyBatchResponse> {
  const { image, images, ...rest } = params;
  const body: ClassifyRequest = { ...rest };
  if (images !== undefined) body.images = await Promise.all(images.map(encodeImage));
  else if (image !== undefined) body.image = await encodeImage(image);
  return http.request({ method: 'POST', path: '/v1/classify', body, retry: 'repeatable' }, options);
}

export class Embeddings extends APIResource {
  /** POST /v1/embeddings/text: text embeddings of prompts (zero-shot CLIP, or a CoOp model's). */
  create(params: TextEmbeddingsParams, options?: RequestOptions): Promise<TextEmbeddings> {
    return this.http.request({ method: 'POST', path: '/v1/embeddings/text', body: params, retry: 'repeatable' }, options);
  }
}
