/**
 * Replay protection for push deliveries: one write-once S3 object per delivery id, so a delivery
 * seen before is recognised however many Lambda containers handle it.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { classify, InvalidInputError, TransientError } from '../aws/errors.ts';

export type S3Like = Pick<S3Client, 'send'>;
export type DeliverySource = 'github' | 'codecommit';

/** Delivery ids become S3 key segments: GUIDs and EventBridge ids fit; a slash or `..` never does. */
const DELIVERY_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** `deliveries/<source>/<id>.json` (the layout in lambdas/state/keys.ts). */
export function deliveryKey(source: DeliverySource, deliveryId: string): string {
  if (source !== 'github' && source !== 'codecommit')
    throw new InvalidInputError(`unknown delivery source '${source}'`);
  if (!DELIVERY_ID.test(deliveryId)) throw new InvalidInputError(`'${deliveryId}' is not a usable delivery id`);
  return `deliveries/${source}/${deliveryId}.json`;
}

export interface RecordDeliveryOptions {
  /**
   * Who records it, e.g. the Step Functions execution name. A retry by the same owner (a Lambda
   * retried after it wrote the record) gets `'new'` again, not `'replayed'`; it costs one GetObject.
   * Leave it out where the owner is derived from the delivery itself (the webhook handler names
   * the execution after the delivery id, so every replay would match).
   */
  readonly owner?: string;
  /** Extra fields stored in the record, for people reading the bucket (repository, commit…). */
  readonly detail?: Readonly<Record<string, unknown>>;
  readonly now?: () => Date;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/**
 * Records a delivery with a conditional write (`If-None-Match: *`): the first writer creates
 * `deliveries/<source>/<id>.json` and gets `'new'`; everyone after gets 412 PreconditionFailed,
 * which means `'replayed'`. S3 answers 409 ConditionalRequestConflict while a concurrent write of
 * the same key is in flight and says to retry; after a few tries that is a TransientError.
 */
export async function recordDelivery(
  s3: S3Like,
  bucket: string,
  source: DeliverySource,
  deliveryId: string,
  options: RecordDeliveryOptions = {},
): Promise<'new' | 'replayed'> {
  const key = deliveryKey(source, deliveryId);
  const record = {
    ...options.detail,
    source,
    deliveryId,
    recordedAt: (options.now?.() ?? new Date()).toISOString(),
    ...(options.owner ? { owner: options.owner } : {}),
  };
  const attempts = 4;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: `${JSON.stringify(record)}\n`,
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      );
      return 'new';
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || (error instanceof Error && error.name === 'PreconditionFailed')) {
        if (options.owner && (await ownerOf(s3, bucket, key)) === options.owner) return 'new';
        return 'replayed';
      }
      if (status === 409) {
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 50 * attempt));
        continue;
      }
      return classify(error, `recording delivery s3://${bucket}/${key}`);
    }
  }
  throw new TransientError(`recording delivery s3://${bucket}/${key}: concurrent writes kept conflicting`);
}

async function ownerOf(s3: S3Like, bucket: string, key: string): Promise<string | undefined> {
  let text: string;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await response.Body?.transformToString('utf8')) ?? '';
  } catch (error) {
    return classify(error, `reading delivery s3://${bucket}/${key}`);
  }
  try {
    const stored: unknown = JSON.parse(text);
    const owner = typeof stored === 'object' && stored !== null ? (stored as { owner?: unknown }).owner : undefined;
    return typeof owner === 'string' ? owner : undefined;
  } catch {
    // Not ours to judge: a record that is not JSON simply has no owner.
    return undefined;
  }
}
