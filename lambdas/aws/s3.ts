import { S3Client } from '@aws-sdk/client-s3';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';

let client: S3Client | undefined;
onResetClients(() => {
  client = undefined;
});
/**
 * The S3 client of this container: created on first use (a cold start that never calls S3 does
 * not pay for it), reused across invocations, and captured by the Tracer (a no-op outside Lambda).
 * Artifact copies and sha256 streaming move large objects, so S3 calls get a longer request timeout.
 *
 * `followRegionRedirects`: model artifacts may live in a bucket of another region than the stack.
 * S3 answers a request sent to the wrong region with a 301 and the bucket's region in the
 * `x-amz-bucket-region` header; the client then signs and sends it again for that region (AWS SDK
 * for JavaScript v3, S3Client configuration `followRegionRedirects`; off by default).
 */
export function s3(): S3Client {
  client ??= tracer.captureAWSv3Client(
    new S3Client({ ...clientConfig({ requestTimeoutMs: 120_000 }), followRegionRedirects: true }),
  );
  return client;
}
