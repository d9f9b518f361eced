import { randomUUID } from 'node:crypto';
import {
  awsQueryService,
  type QueryOperation,
  queryMembers,
  queryStringMap,
  xmlStringMap,
} from '../protocols/aws-query.ts';
import { el } from '../protocols/rest-xml.ts';
import type { SandboxService, ServiceContext } from '../service.ts';
import { AwsServiceError } from '../service.ts';

/*
 * Amazon SNS over the awsQuery protocol (signing name `sns`, API version 2010-03-31), the subset
 * Ballast's rollback notifications use: the stack's alarm topic is created (CreateTopic, idempotent
 * by name), described, listed and deleted, and the rollback workflow publishes to it. Nothing is
 * delivered (there are no subscriptions): every accepted message is kept, and tests, the demo and
 * `GET /_ballast/sns/messages` read them.
 *
 * Follows the Amazon SNS API Reference and what AWS answers:
 * - Topic names are 1–256 ASCII letters, digits, `_` and `-`; ARNs are
 *   `arn:aws:sns:REGION:ACCOUNT:NAME`. CreateTopic of an existing name returns its ARN; with attributes
 *   or tags that differ from the topic's it is InvalidParameter ("… Reason: Topic already exists with
 *   different attributes" / "… tags"). DeleteTopic of a topic that does not exist succeeds.
 * - Publish: a topic that does not exist is NotFound "Topic does not exist" (HTTP 404); no TopicArn
 *   nor TargetArn is InvalidParameter "Invalid parameter: TopicArn or TargetArn Reason: no value for
 *   required parameter"; an empty Message is "Invalid parameter: Empty message"; a message whose body
 *   and attributes exceed 256 KB (262,144 bytes) is "Invalid parameter: Message too long"; a Subject
 *   with line breaks or control characters, or longer than 100 characters, is "Invalid parameter:
 *   Subject" (the API Reference says "less than 100 characters", AWS accepts exactly 100, moto#1503).
 *   MessageStructure `json` needs a JSON object with a `default` string.
 * - Message attributes: names of letters, digits, `_`, `-` and `.` (not at either end, never `..`), at
 *   most 256 characters, not starting with `AWS.` or `Amazon.` in any casing; types String, Number or
 *   Binary with an optional custom label (`String.Array`, `Number.float`); a non-empty value of the
 *   type (String.Array a JSON array, Number a number). Broken attributes are ParameterValueInvalid.
 * Not emulated: subscriptions and delivery, FIFO topics (refused), SetTopicAttributes, KMS, data
 * protection and archive policies (stored as given), SMS and mobile push (refused).
 */

/** A message accepted by Publish, as the sandbox keeps it. */
export interface PublishedMessage {
  readonly messageId: string;
  readonly topicArn: string;
  readonly message: string;
  readonly subject?: string;
  /** `json` when Message is a per-protocol JSON object. */
  readonly messageStructure?: string;
  readonly messageGroupId?: string;
  /** As sent: BinaryValue stays base64, as it travels on the wire. */
  readonly messageAttributes: Readonly<Record<string, MessageAttribute>>;
  /** Simulated time of the Publish, ISO 8601. */
  readonly timestamp: string;
}

export interface MessageAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

/** What `GET /_ballast/sns/messages` and in-process readers need. */
export interface SnsMessageReader {
  /** Every message published so far (to `topicArn` only, when given), oldest first. */
  messages(topicArn?: string): readonly PublishedMessage[];
}

export interface SnsSandbox extends SandboxService, SnsMessageReader {
  /** ARNs of the topics that exist, in creation order. */
  topicArns(): string[];
}

interface Topic {
  readonly arn: string;
  readonly name: string;
  readonly attributes: Map<string, string>;
  readonly tags: Map<string, string>;
}

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:([A-Za-z0-9_.-]{1,256})$/;
/** 256 KB, in bytes (Publish, Message: "262,144 bytes, not 262,144 characters"). */
const MAX_MESSAGE_BYTES = 262_144;
const MAX_SUBJECT_CHARS = 100;
const PAGE_SIZE = 100;
/** The attributes CreateTopic accepts (API Reference, CreateTopic: Attributes). */
const SETTABLE_ATTRIBUTES = new Set([
  'DeliveryPolicy',
  'DisplayName',
  'Policy',
  'SignatureVersion',
  'TracingConfig',
  'KmsMasterKeyId',
  'DataProtectionPolicy',
  'ArchivePolicy',
  'FifoTopic',
  'ContentBasedDeduplication',
  'FifoThroughputScope',
]);
const FIFO_ONLY_ATTRIBUTES = ['ContentBasedDeduplication', 'FifoThroughputScope'];
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const ATTRIBUTE_TYPE = /^(String|Number|Binary)(\..+)?$/;

/** The delivery policy AWS reports for a topic that never set one (GetTopicAttributes). */
const EFFECTIVE_DELIVERY_POLICY = JSON.stringify({
  http: {
    defaultHealthyRetryPolicy: {
      minDelayTarget: 20,
      maxDelayTarget: 20,
      numRetries: 3,
      numMaxDelayRetries: 0,
      numNoDelayRetries: 0,
      numMinDelayRetries: 0,
      backoffFunction: 'linear',
    },
    disableSubscriptionOverrides: false,
    defaultRequestPolicy: { headerContentType: 'text/plain; charset=UTF-8' },
  },
});

const invalidParameter = (message: string) => new AwsServiceError('InvalidParameter', message);
const invalidValue = (message: string) => new AwsServiceError('ParameterValueInvalid', message);

export function createSnsService(ctx: ServiceContext): SnsSandbox {
  const topics = new Map<string, Topic>();
  const published: PublishedMessage[] = [];
  const arnOf = (name: string) => `arn:aws:sns:${ctx.region}:${ctx.account}:${name}`;

  /** The default access policy AWS gives a topic: the owning account may do everything. */
  const defaultPolicy = (arn: string) =>
    JSON.stringify({
      Version: '2008-10-17',
      Id: '__default_policy_ID',
      Statement: [
        {
          Sid: '__default_statement_ID',
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: [
            'SNS:GetTopicAttributes',
            'SNS:SetTopicAttributes',
            'SNS:AddPermission',
            'SNS:RemovePermission',
            'SNS:DeleteTopic',
            'SNS:Subscribe',
            'SNS:ListSubscriptionsByTopic',
            'SNS:Publish',
          ],
          Resource: arn,
          Condition: { StringEquals: { 'AWS:SourceOwner': ctx.account } },
        },
      ],
    });

  /** A well-formed topic ARN (any account or region: those are simply not found). */
  function topicArnParam(params: URLSearchParams, field = 'TopicArn'): string {
    const arn = params.get(field);
    if (!arn) {
      throw new AwsServiceError(
        'ValidationError',
        `1 validation error detected: Value null at '${field[0]?.toLowerCase()}${field.slice(1)}' failed to satisfy constraint: Member must not be null`,
      );
    }
    if (!TOPIC_ARN.test(arn)) throw invalidParameter(`Invalid parameter: ${field}`);
    return arn;
  }

  function findTopic(arn: string): Topic {
    const topic = topics.get(arn);
    if (!topic) throw new AwsServiceError('NotFound', 'Topic does not exist', 404);
    return topic;
  }

  const sameEntries = (given: ReadonlyMap<string, string>, existing: ReadonlyMap<string, string>) =>
    given.size === existing.size && [...given].every(([k, v]) => existing.get(k) === v);

  const operations: Record<string, QueryOperation> = {
    CreateTopic(params) {
      const name = params.get('Name');
      if (name === null) {
        throw new AwsServiceError(
          'ValidationError',
          "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
        );
      }
      const attributes = queryStringMap(params, 'Attributes');
      for (const key of attributes.keys()) {
        if (!SETTABLE_ATTRIBUTES.has(key)) throw invalidParameter('Invalid parameter: AttributeName');
      }
      // FifoTopic=false is a standard topic; anything else FIFO is refused rather than half-emulated.
      if (attributes.get('FifoTopic') === 'true' || FIFO_ONLY_ATTRIBUTES.some((key) => attributes.has(key))) {
        throw invalidParameter('The Ballast sandbox does not emulate FIFO topics: create a standard topic.');
      }
      if (!TOPIC_NAME.test(name)) {
        throw invalidParameter(
          'Invalid parameter: Topic Name. Topic names must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.',
        );
      }
      const tags = new Map<string, string>();
      for (const tag of queryMembers(params, 'Tags.member')) {
        if (tag.Key === undefined || tag.Key.length === 0) throw invalidParameter('Invalid parameter: Tags');
        tags.set(tag.Key, tag.Value ?? '');
      }
      const arn = arnOf(name);
      const existing = topics.get(arn);
      if (existing) {
        // Idempotent for the same request; a differing attribute or tag set is refused, not applied.
        for (const [key, value] of attributes) {
          if (existing.attributes.get(key) !== value) {
            throw invalidParameter(
              'Invalid parameter: Attributes Reason: Topic already exists with different attributes',
            );
          }
        }
        if (tags.size > 0 && !sameEntries(tags, existing.tags)) {
          throw invalidParameter('Invalid parameter: Tags Reason: Topic already exists with different tags');
        }
        return el('TopicArn', arn);
      }
      topics.set(arn, { arn, name, attributes, tags });
      return el('TopicArn', arn);
    },

    DeleteTopic(params) {
      // Idempotent: deleting a topic that does not exist is not an error (API Reference, DeleteTopic).
      topics.delete(topicArnParam(params));
      return undefined;
    },

    ListTopics(params) {
      const all = [...topics.keys()];
      const token = params.get('NextToken');
      const from = token === null ? 0 : Number.parseInt(token, 10);
      if (!Number.isInteger(from) || from < 0 || from > all.length || (token !== null && String(from) !== token)) {
        throw invalidParameter('Invalid parameter: NextToken');
      }
      const page = all.slice(from, from + PAGE_SIZE);
      const next = from + page.length < all.length ? String(from + page.length) : undefined;
      return [
        el(
          'Topics',
          page.map((arn) => el('member', el('TopicArn', arn))),
        ),
        next === undefined ? undefined : el('NextToken', next),
      ];
    },

    GetTopicAttributes(params) {
      const topic = findTopic(topicArnParam(params));
      const attributes = new Map<string, string>([
        ['Policy', defaultPolicy(topic.arn)],
        ['Owner', ctx.account],
        ['SubscriptionsPending', '0'],
        ['TopicArn', topic.arn],
        ['EffectiveDeliveryPolicy', topic.attributes.get('DeliveryPolicy') ?? EFFECTIVE_DELIVERY_POLICY],
        ['SubscriptionsConfirmed', '0'],
        ['DisplayName', ''],
        ['SubscriptionsDeleted', '0'],
        ...topic.attributes,
      ]);
      return xmlStringMap('Attributes', attributes);
    },

    ListTagsForResource(params) {
      const arn = params.get('ResourceArn') ?? '';
      const topic = topics.get(arn);
      if (!topic) throw new AwsServiceError('ResourceNotFound', 'Resource does not exist', 404);
      return el(
        'Tags',
        [...topic.tags].map(([key, value]) => el('member', el('Key', key), el('Value', value))),
      );
    },

    Publish(params) {
      if (params.get('PhoneNumber') !== null && params.get('TopicArn') === null && params.get('TargetArn') === null) {
        throw invalidParameter('The Ballast sandbox does not send SMS messages: publish to a topic.');
      }
      const field = params.get('TopicArn') !== null ? 'TopicArn' : 'TargetArn';
      if (params.get(field) === null) {
        throw invalidParameter('Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
      }
      const message = params.get('Message');
      if (message === null) {
        throw new AwsServiceError(
          'ValidationError',
          "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null",
        );
      }
      const arn = topicArnParam(params, field);
      if (message.length === 0) throw invalidParameter('Invalid parameter: Empty message');
      const subject = params.get('Subject') ?? undefined;
      if (subject !== undefined && !validSubject(subject)) throw invalidParameter('Invalid parameter: Subject');
      const structure = params.get('MessageStructure') ?? undefined;
      if (structure !== undefined) validateStructure(structure, message);
      if (params.get('MessageDeduplicationId') !== null) {
        // Only FIFO topics deduplicate, and the sandbox has none. (A MessageGroupId is kept: standard
        // topics accept it for SQS fair queues.)
        throw invalidParameter(
          'Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type',
        );
      }
      const attributes = messageAttributes(params);
      // The body and every part of every attribute count toward the 256 KB limit.
      let size = Buffer.byteLength(message, 'utf8');
      for (const [name, attribute] of Object.entries(attributes)) {
        size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(attribute.DataType, 'utf8');
        size += Buffer.byteLength(attribute.StringValue ?? '', 'utf8');
        size += attribute.BinaryValue === undefined ? 0 : Buffer.from(attribute.BinaryValue, 'base64').length;
      }
      if (size > MAX_MESSAGE_BYTES) throw invalidParameter('Invalid parameter: Message too long');
      // Validation first, then the topic: a bad request to a missing topic is told what is wrong with it.
      const topic = findTopic(arn);
      const groupId = params.get('MessageGroupId') ?? undefined;

      const messageId = randomUUID();
      published.push({
        messageId,
        topicArn: topic.arn,
        message,
        ...(subject !== undefined ? { subject } : {}),
        ...(structure !== undefined ? { messageStructure: structure } : {}),
        ...(groupId !== undefined ? { messageGroupId: groupId } : {}),
        messageAttributes: attributes,
        timestamp: ctx.clock.now().toISOString(),
      });
      return el('MessageId', messageId);
    },
  };

  const service = awsQueryService({
    signingName: 'sns',
    xmlns: 'http://sns.amazonaws.com/doc/2010-03-31/',
    operations,
    throttling: { code: 'Throttled', status: 429 },
    internalErrorCode: 'InternalError',
  });

  return {
    ...service,
    messages: (topicArn) => published.filter((m) => topicArn === undefined || m.topicArn === topicArn),
    topicArns: () => [...topics.keys()],
  };
}

/** No line breaks or other control characters, at most 100 characters (AWS accepts exactly 100). */
function validSubject(subject: string): boolean {
  if ([...subject].length > MAX_SUBJECT_CHARS) return false;
  for (const char of subject) {
    const code = char.codePointAt(0) ?? 0;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return false;
  }
  return true;
}

function validateStructure(structure: string, message: string): void {
  if (structure !== 'json') {
    throw invalidParameter(`Invalid parameter: MessageStructure Reason: '${structure}' is not 'json'`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    throw invalidParameter('Invalid parameter: Message Structure - JSON message body failed to parse');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidParameter('Invalid parameter: Message Structure - JSON message body failed to parse');
  }
  if (typeof (parsed as Record<string, unknown>).default !== 'string') {
    throw invalidParameter('Invalid parameter: Message Structure - No default entry in JSON message body');
  }
}

/** MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue / .Value.BinaryValue, validated. */
function messageAttributes(params: URLSearchParams): Record<string, MessageAttribute> {
  const attributes: Record<string, MessageAttribute> = {};
  for (const entry of queryMembers(params, 'MessageAttributes.entry')) {
    const name = entry.Name ?? '';
    if (
      !ATTRIBUTE_NAME.test(name) ||
      name.startsWith('.') ||
      name.endsWith('.') ||
      name.includes('..') ||
      /^(aws|amazon)\./i.test(name)
    ) {
      throw invalidValue(
        `The message attribute name '${name}' is invalid: use up to 256 letters, digits, '_', '-' and '.' (not first, last or twice in a row), not starting with 'AWS.' or 'Amazon.'.`,
      );
    }
    if (Object.hasOwn(attributes, name)) {
      throw invalidValue(`The message attribute '${name}' appears more than once.`);
    }
    const dataType = entry['Value.DataType'] ?? '';
    const kind = ATTRIBUTE_TYPE.exec(dataType)?.[1];
    if (dataType.length === 0) {
      throw invalidValue(`The message attribute '${name}' must contain non-empty message attribute type.`);
    }
    if (!kind) {
      throw invalidValue(
        `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
      );
    }
    const stringValue = entry['Value.StringValue'];
    const binaryValue = entry['Value.BinaryValue'];
    const value = kind === 'Binary' ? binaryValue : stringValue;
    if (value === undefined || value.length === 0) {
      throw invalidValue(
        `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${kind}'.`,
      );
    }
    if (kind === 'Number' && !Number.isFinite(Number(value))) {
      throw invalidValue(`Could not cast message attribute '${name}' value to number.`);
    }
    if (dataType === 'String.Array' && !isJsonArray(value)) {
      throw invalidValue(`The message attribute '${name}' with type 'String.Array' must be a JSON array.`);
    }
    attributes[name] =
      kind === 'Binary' ? { DataType: dataType, BinaryValue: value } : { DataType: dataType, StringValue: value };
  }
  return attributes;
}

function isJsonArray(text: string): boolean {
  try {
    return Array.isArray(JSON.parse(text));
  } catch {
    return false;
  }
}
