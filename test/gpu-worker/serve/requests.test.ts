// The inference server's request parsing (shared/contracts/inference-api.ts schemas): a wrong shape is 400
// invalid_request, a request refused as sent is 422 validation_failed, each with the message the service has used.
import { describe, expect, it } from 'vitest';
import { MAX_IMAGES, MAX_LABELS, MAX_TEXT_CHARS } from '../../../shared/contracts/inference-api.ts';
import { HttpError, parseClassifyRequest, parseTextEmbeddingsRequest } from '../../../gpu-worker/serve/requests.ts';

const SHA = 'AB'.repeat(32);
const classify = (body: Record<string, unknown>) => parseClassifyRequest({ base_model: 'toy-clip', adapter: null, labels: ['cat', 'dog'], images: ['aGk='], ...body }, 'toy-clip');
const embed = (body: Record<string, unknown>) => parseTextEmbeddingsRequest({ base_model: 'toy-clip', adapter: null, texts: ['a cat'], ...body }, 'toy-clip');

function refusal(fn: () => unknown): [number, string, string] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    const err = e as HttpError;
    return [err.status, err.code, err.message];
  }
  throw new Error('accepted');
}

describe('inference requests', () => {
  it('accepts valid requests; a missing adapter is the zero-shot model; the sha256 is lower-cased', () => {
    expect(classify({})).toEqual({ base_model: 'toy-clip', adapter: null, labels: ['cat', 'dog'], images: ['aGk='] });
    expect(classify({ adapter: undefined }).adapter).toBeNull();
    expect(classify({ adapter: { key: 'k', sha256: SHA, method: 'cocoop' } }).adapter).toEqual({ key: 'k', sha256: SHA.toLowerCase(), method: 'cocoop' });
    expect(embed({ adapter: { key: 'k', sha256: SHA, method: 'coop' } })).toEqual({ base_model: 'toy-clip', adapter: { key: 'k', sha256: SHA.toLowerCase(), method: 'coop' }, texts: ['a cat'] });
  });

  it('400 for the wrong shape', () => {
    expect(refusal(() => parseClassifyRequest([1], 'toy-clip'))).toEqual([400, 'invalid_request', 'request body must be a JSON object']);
    expect(refusal(() => classify({ base_model: 3 }))).toEqual([400, 'invalid_request', 'base_model must be a string']);
    expect(refusal(() => classify({ labels: 'cat' }))).toEqual([400, 'invalid_request', 'labels must be an array of strings']);
    expect(refusal(() => classify({ labels: ['cat', 7] }))).toEqual([400, 'invalid_request', 'labels[1] must be a string']);
    expect(refusal(() => classify({ images: {} }))).toEqual([400, 'invalid_request', 'images must be an array of base64 strings']);
    expect(refusal(() => classify({ images: [null] }))).toEqual([400, 'invalid_request', 'images[0] must be a base64 string']);
    expect(refusal(() => classify({ adapter: 'k' }))).toEqual([400, 'invalid_request', 'adapter must be null or an object {key, sha256, method}']);
    expect(refusal(() => classify({ adapter: { key: '', sha256: SHA, method: 'coop' } }))).toEqual([400, 'invalid_request', 'adapter.key must be a non-empty string']);
    expect(refusal(() => classify({ adapter: { key: 'k', sha256: 'xyz', method: 'coop' } }))).toEqual([400, 'invalid_request', 'adapter.sha256 must be 64 hex digits']);
    expect(refusal(() => classify({ adapter: { key: 'k', sha256: SHA, method: 'clip' } }))).toEqual([400, 'invalid_request', 'adapter.method must be "coop" or "cocoop"']);
    expect(refusal(() => embed({ texts: 'a cat' }))).toEqual([400, 'invalid_request', 'texts must be an array of strings']);
  });

  it('422 for a request refused as sent', () => {
    expect(refusal(() => classify({ base_model: 'other' }))).toEqual([422, 'validation_failed', 'unknown base_model "other" (this service runs "toy-clip")']);
    expect(refusal(() => classify({ labels: [] }))).toEqual([422, 'validation_failed', 'labels must not be empty']);
    expect(refusal(() => classify({ labels: ['a', ' '] }))).toEqual([422, 'validation_failed', 'labels must not be empty']);
    expect(refusal(() => classify({ labels: ['a', 'a'] }))).toEqual([422, 'validation_failed', 'labels must be distinct ("a" appears twice)']);
    const many = Array.from({ length: MAX_LABELS + 1 }, (_, i) => `l${i}`);
    expect(refusal(() => classify({ labels: many }))).toEqual([422, 'validation_failed', `at most ${MAX_LABELS} labels per request (got ${MAX_LABELS + 1})`]);
    expect(refusal(() => classify({ labels: ['a', 'x'.repeat(201)] }))).toEqual([422, 'validation_failed', 'labels[1] is longer than 200 characters']);
    expect(refusal(() => classify({ images: [] }))).toEqual([422, 'validation_failed', 'images must not be empty']);
    expect(refusal(() => classify({ images: Array(MAX_IMAGES + 1).fill('aGk=') }))).toEqual([422, 'validation_failed', `at most ${MAX_IMAGES} images per request (got ${MAX_IMAGES + 1})`]);
    expect(refusal(() => embed({ adapter: { key: 'k', sha256: SHA, method: 'cocoop' } }))).toEqual([
      422,
      'validation_failed',
      'text embeddings need a zero-shot or CoOp model (CoCoOp prompts depend on the image)',
    ]);
    expect(refusal(() => embed({ texts: ['a', 'a'] }))).toEqual([422, 'validation_failed', 'texts must be distinct ("a" appears twice)']);
    expect(refusal(() => embed({ texts: ['x'.repeat(MAX_TEXT_CHARS + 1)] }))).toEqual([422, 'validation_failed', `texts[0] is longer than ${MAX_TEXT_CHARS} characters`]);
  });
});
