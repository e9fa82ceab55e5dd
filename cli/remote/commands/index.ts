// Every `cocoop remote` command, in the order the help lists them.
import type { RemoteCommand } from '../context.ts';
import { ACCOUNT_COMMANDS, CREDENTIAL_COMMANDS } from './account.ts';
import { CLASSIFY_COMMAND } from './classify.ts';
import { DATASET_COMMANDS } from './datasets.ts';
import { EVALUATION_COMMANDS } from './evaluations.ts';
import { JOB_COMMANDS } from './jobs.ts';
import { MODEL_COMMANDS } from './models.ts';
import { TRAIN_COMMAND } from './train.ts';
import { WEBHOOK_COMMANDS } from './webhooks.ts';

export const COMMANDS: RemoteCommand[] = [
  ...CREDENTIAL_COMMANDS,
  TRAIN_COMMAND,
  CLASSIFY_COMMAND,
  ...JOB_COMMANDS,
  ...MODEL_COMMANDS,
  ...DATASET_COMMANDS,
  ...EVALUATION_COMMANDS,
  ...WEBHOOK_COMMANDS,
  ...ACCOUNT_COMMANDS,
];
