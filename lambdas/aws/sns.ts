import { SNSClient } from '@aws-sdk/client-sns';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';

let client: SNSClient | undefined;
onResetClients(() => {
  client = undefined;
});

/** The SNS client of this container: created on first use, reused, captured by the Tracer. */
export function sns(): SNSClient {
  client ??= tracer.captureAWSv3Client(new SNSClient(clientConfig()));
  return client;
}
