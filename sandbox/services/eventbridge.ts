import type { EventBridgeEvent } from '../events.ts';
import { awsJsonService, type JsonOperation } from '../protocols/aws-json.ts';
import type { SandboxService, ServiceContext } from '../service.ts';
import { AwsServiceError } from '../service.ts';

/*
 * Amazon EventBridge PutEvents over awsJson 1.1 (target prefix `AWSEvents`, signing name `events`),
 * what Ballast's rollback notifications send: custom events (source `ballast`) on the default event
 * bus. Accepted entries go onto the sandbox's EventBus (sandbox/events.ts) in the envelope AWS
 * delivers to rules, so LocalTriggers and tests see them next to the events the other services emit.
 *
 * Follows the EventBridge API Reference (PutEvents, PutEventsRequestEntry, PutEventsResultEntry) and
 * what AWS answers:
 * - 1–10 entries, else ValidationException. Their total size, counted as the User Guide's
 *   "Calculating PutEvents event entry size" does (UTF-8 bytes of Source, DetailType, Detail and each
 *   Resource, 14 bytes for a Time), must stay within 256 KB, else the whole request is refused
 *   ("Total size of the entries in the request is over the limit.", as AWS words it).
 * - Entries fail one by one, the others are accepted, and the answer lists one result per entry in
 *   request order with FailedEntryCount: a missing Source, DetailType or Detail is InvalidArgument
 *   ("Parameter Source is not valid. Reason: Source is a required argument."); a source starting with
 *   `aws.` is reserved for AWS services (NotAuthorizedForSourceException "Not authorized for the
 *   source."); a Detail that is not a JSON object is MalformedDetail ("Detail is malformed.").
 * - The event's time is the entry's Time, or the time of the call (simulated).
 * Departure from AWS, on purpose: an EventBusName other than the default bus (by name or ARN) is
 * ResourceNotFoundException for the whole request, as moto answers. AWS accepts such entries and
 * drops them without a word (aws/aws-sdk#186, aws/aws-cli#9186); the sandbox has only the default
 * bus, and a notification that vanished locally would be harder to find than a loud error.
 * Not emulated: rules and targets through the API (LocalTriggers subscribes in-process), other
 * buses, global endpoints (EndpointId), TraceHeader.
 */

export interface EventBridgeSandbox extends SandboxService {
  /** The events PutEvents accepted (from `source` only, when given), oldest first. */
  events(source?: string): readonly EventBridgeEvent[];
}

/** 256 KB (PutEvents: "the total entry size must be less than 256KB"). */
const MAX_REQUEST_ENTRY_BYTES = 256 * 1024;
const MAX_ENTRIES = 10;
/** What the User Guide counts for a Time, whatever its value. */
const TIME_BYTES = 14;

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export function createEventBridgeService(ctx: ServiceContext): EventBridgeSandbox {
  const accepted: EventBridgeEvent[] = [];
  const defaultBusArn = `arn:aws:events:${ctx.region}:${ctx.account}:event-bus/default`;

  function requireDefaultBus(entries: readonly Record<string, unknown>[]): void {
    for (const entry of entries) {
      const bus = entry.EventBusName;
      if (bus === undefined || bus === null || bus === '' || bus === 'default' || bus === defaultBusArn) continue;
      const name = String(bus).startsWith('arn:') ? String(bus).split('/').pop() : String(bus);
      throw new AwsServiceError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
    }
  }

  /** The entry's event, or the reason it fails. */
  function putEntry(entry: Record<string, unknown>): EntryResult {
    const missing = (['Source', 'DetailType', 'Detail'] as const).find(
      (field) => typeof entry[field] !== 'string' || (entry[field] as string).length === 0,
    );
    if (missing) {
      return {
        ErrorCode: 'InvalidArgument',
        ErrorMessage: `Parameter ${missing} is not valid. Reason: ${missing} is a required argument.`,
      };
    }
    const source = entry.Source as string;
    if (source.startsWith('aws.')) {
      return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail as string);
    } catch {
      detail = undefined;
    }
    // The envelope's detail is an object. Other JSON values are refused as malformed here; moto
    // accepts them with a warning that AWS ignores such events, which a sandbox should not do silently.
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    const event = ctx.events.put({
      source,
      detailType: entry.DetailType as string,
      resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : [],
      detail: detail as Record<string, unknown>,
      ...(typeof entry.Time === 'number' ? { time: new Date(entry.Time * 1000) } : {}),
    });
    accepted.push(event);
    return { EventId: event.id };
  }

  const operations: Record<string, JsonOperation> = {
    PutEvents(input) {
      const entries = input.Entries;
      if (!Array.isArray(entries)) {
        throw new AwsServiceError(
          'ValidationException',
          "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
        );
      }
      if (entries.length < 1 || entries.length > MAX_ENTRIES) {
        const bound = entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ENTRIES}`;
        throw new AwsServiceError(
          'ValidationException',
          `1 validation error detected: Value '[${entries.map(() => 'PutEventsRequestEntry').join(', ')}]' at 'entries' failed to satisfy constraint: Member must have length ${bound}`,
        );
      }
      const records = entries.map((e) =>
        typeof e === 'object' && e !== null ? (e as Record<string, unknown>) : ({} as Record<string, unknown>),
      );
      if (records.reduce((total, entry) => total + entrySize(entry), 0) > MAX_REQUEST_ENTRY_BYTES) {
        throw new AwsServiceError('ValidationException', 'Total size of the entries in the request is over the limit.');
      }
      requireDefaultBus(records);
      const results = records.map(putEntry);
      return {
        FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length,
        Entries: results,
      };
    },
  };

  const service = awsJsonService({
    signingName: 'events',
    targetPrefix: 'AWSEvents',
    version: '1.1',
    operations,
    throttlingCode: 'ThrottlingException',
  });

  return {
    ...service,
    events: (source) => accepted.filter((e) => source === undefined || e.source === source),
  };
}

/** An entry's size as the User Guide counts it ("Calculating PutEvents event entry size"). */
function entrySize(entry: Record<string, unknown>): number {
  const bytes = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
  let size = entry.Time === undefined || entry.Time === null ? 0 : TIME_BYTES;
  size += bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail);
  if (Array.isArray(entry.Resources)) for (const resource of entry.Resources) size += bytes(resource);
  return size;
}
