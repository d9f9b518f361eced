/**
 * TRANSITIONAL compatibility facade: `clients.s3()` etc. for code written before the per-service
 * client modules (s3.ts, sagemaker.ts, cloudwatch.ts, codecommit.ts, sfn.ts, secrets-manager.ts).
 * Importing this file pulls every SDK client into a handler's bundle (about 0.5 MB minified and
 * tens of milliseconds of cold start); import the one module a handler needs instead. Remove this
 * file once nothing imports it.
 */
import { cloudwatch } from './cloudwatch.ts';
import { codecommit } from './codecommit.ts';
import { s3 } from './s3.ts';
import { sagemaker } from './sagemaker.ts';
import { secretsManager } from './secrets-manager.ts';
import { sfn } from './sfn.ts';

export { clientConfig, resetClients } from './client-config.ts';

export const clients = {
  s3,
  sagemaker,
  cloudwatch,
  codecommit,
  sfn,
  secrets: secretsManager,
};
