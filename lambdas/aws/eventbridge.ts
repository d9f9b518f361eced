import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';

let client: EventBridgeClient | undefined;
onResetClients(() => {
  client = undefined;
});

/** The EventBridge client of this container: created on first use, reused, captured by the Tracer. */
export function eventBridge(): EventBridgeClient {
  client ??= tracer.captureAWSv3Client(new EventBridgeClient(clientConfig()));
  return client;
}
