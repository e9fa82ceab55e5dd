// Option definitions that several `cocoop` subcommands share.
import { MODEL_FILES } from './paths.ts';
import type { OptionDef } from './usage.ts';

export const MODEL_DIR_HELP = `CLIP model directory in Hugging Face layout (${MODEL_FILES.join(', ')})`;

export const MODEL_OPTION: OptionDef = { type: 'string', value: 'DIR', required: true, help: MODEL_DIR_HELP };

export const TRUNCATE_OPTION: OptionDef = {
  type: 'boolean',
  help: 'cut a prompt over 77 tokens to 77 (end-of-text kept last) instead of refusing it',
};

export const ADAPTER_OPTION: OptionDef = {
  type: 'string',
  value: 'FILE',
  help: 'adapter from `cocoop train` (made for this model); without it: zero-shot "a photo of a {label}."',
};

export const LABELS_HELP = 'class names, comma-separated or repeated; trimmed, distinct; any names, seen in training or not';
