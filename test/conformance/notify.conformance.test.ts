/**
 * The notification APIs Ballast's rollback workflow calls, run against the sandbox and moto: SNS
 * (CreateTopic, GetTopicAttributes, ListTopics, DeleteTopic, Publish and its errors) and EventBridge
 * PutEvents (accepted entries and entry errors). See test/support/aws-targets.ts for the harness.
 * Where the two disagree, the case follows the SNS and EventBridge API References and is skipped for
 * the target that departs from them, with the reason. What only the sandbox does (kept messages,
 * events on its bus) is in test/sandbox/sns.test.ts and test/sandbox/eventbridge.test.ts.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  EventBridgeClient,
  EventBridgeServiceException,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  GetTopicAttributesCommand,
  ListTopicsCommand,
  PublishCommand,
  type PublishCommandInput,
  SNSClient,
  SNSServiceException,
} from '@aws-sdk/client-sns';
import { createEventBridgeService } from '../../sandbox/services/eventbridge.ts';
import { createSnsService } from '../../sandbox/services/sns.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  knownDifference,
  uniqueName,
} from '../support/aws-targets.ts';

const PUBLISH_REFERENCE = 'https://docs.aws.amazon.com/sns/latest/api/API_Publish.html';
const PUT_EVENTS_REFERENCE = 'https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html';

/** Asserts an SNS error: the SDK's error name, the query error code (`Code`) and the HTTP status. */
async function rejectsWithSns(
  promise: Promise<unknown>,
  expected: { name: string; code: string; status: number },
): Promise<SNSServiceException> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SNSServiceException, `expected an SNSServiceException, got ${String(error)}`);
    const { Code } = error as SNSServiceException & { Code?: string };
    assert.deepEqual(
      { name: error.name, code: Code, status: error.$metadata.httpStatusCode },
      expected,
      `error (message: ${error.message})`,
    );
    return error;
  }
  assert.fail(`expected ${expected.name}, but the call succeeded`);
}

/** An InvalidParameter answer (HTTP 400, code InvalidParameter). */
const INVALID_PARAMETER = { name: 'InvalidParameterException', code: 'InvalidParameter', status: 400 };

async function rejectsWithEvents(promise: Promise<unknown>, name: string): Promise<EventBridgeServiceException> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof EventBridgeServiceException,
      `expected an EventBridgeServiceException, got ${String(error)}`,
    );
    assert.equal(error.name, name, `error (message: ${error.message})`);
    return error;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

const rollback = (detail: Record<string, unknown> = { endpoint: 'chat' }): PutEventsRequestEntry => ({
  Source: 'ballast',
  DetailType: 'Ballast Rollback',
  Detail: JSON.stringify(detail),
});

describeConformance(
  'Notifications (SNS, EventBridge PutEvents)',
  (ctx) => [createSnsService(ctx), createEventBridgeService(ctx)],
  (target: () => AwsTarget, name) => {
    let snsClient: SNSClient | undefined;
    let eventsClient: EventBridgeClient | undefined;
    const sns = () => {
      snsClient ??= new SNSClient(clientConfig(target().endpoint));
      return snsClient;
    };
    const events = () => {
      eventsClient ??= new EventBridgeClient(clientConfig(target().endpoint));
      return eventsClient;
    };
    const createTopic = async (topicName = uniqueName('ballast-alarms')) =>
      (await sns().send(new CreateTopicCommand({ Name: topicName }))).TopicArn ?? '';
    const listAllTopics = async (): Promise<string[]> => {
      const arns: string[] = [];
      let token: string | undefined;
      do {
        const page = await sns().send(new ListTopicsCommand(token ? { NextToken: token } : {}));
        for (const topic of page.Topics ?? []) arns.push(topic.TopicArn ?? '');
        token = page.NextToken;
      } while (token);
      return arns;
    };
    const publish = async (input: Partial<PublishCommandInput>) =>
      sns().send(new PublishCommand({ TopicArn: await createTopic(), Message: 'chat rolled back', ...input }));

    // --- SNS: topics --------------------------------------------------------------------------

    it('creates a topic whose ARN is arn:aws:sns:REGION:ACCOUNT:NAME', async () => {
      const topicName = uniqueName('ballast-alarms');
      const arn = await createTopic(topicName);
      assert.equal(arn, `arn:aws:sns:us-east-1:123456789012:${topicName}`);
    });

    it('answers CreateTopic of an existing name with the same ARN (CreateTopic is idempotent)', async () => {
      const topicName = uniqueName('ballast-alarms');
      const first = await createTopic(topicName);
      const again = await createTopic(topicName);
      assert.equal(again, first);
    });

    it('refuses a topic name with characters outside letters, digits, _ and - as InvalidParameter', async () => {
      await rejectsWithSns(sns().send(new CreateTopicCommand({ Name: 'ballast alarms' })), INVALID_PARAMETER);
    });

    it('refuses a topic name longer than 256 characters as InvalidParameter', async () => {
      await rejectsWithSns(sns().send(new CreateTopicCommand({ Name: 'a'.repeat(257) })), INVALID_PARAMETER);
    });

    it('describes a topic with its ARN, the owning account and its display name', async () => {
      const arn = (
        await sns().send(
          new CreateTopicCommand({ Name: uniqueName('ballast-alarms'), Attributes: { DisplayName: 'Ballast' } }),
        )
      ).TopicArn;
      const attributes = (await sns().send(new GetTopicAttributesCommand({ TopicArn: arn }))).Attributes ?? {};
      assert.deepEqual(
        [attributes.TopicArn, attributes.Owner, attributes.DisplayName],
        [arn, '123456789012', 'Ballast'],
      );
    });

    it('lists a created topic (over every page of ListTopics)', async () => {
      const arn = await createTopic();
      const listed = await listAllTopics();
      assert.ok(listed.length > 0, 'ListTopics lists topics');
      assert.ok(listed.includes(arn), `${arn} is listed`);
    });

    it('deletes a topic: ListTopics no longer lists it', async () => {
      const arn = await createTopic();
      await sns().send(new DeleteTopicCommand({ TopicArn: arn }));
      const listed = await listAllTopics();
      assert.equal(listed.includes(arn), false);
    });

    it('answers GetTopicAttributes of a deleted topic with NotFound (HTTP 404)', async () => {
      const arn = await createTopic();
      await sns().send(new DeleteTopicCommand({ TopicArn: arn }));
      await rejectsWithSns(sns().send(new GetTopicAttributesCommand({ TopicArn: arn })), {
        name: 'NotFoundException',
        code: 'NotFound',
        status: 404,
      });
    });

    it('deletes a topic that does not exist without an error (DeleteTopic is idempotent)', async () => {
      const output = await sns().send(
        new DeleteTopicCommand({ TopicArn: `arn:aws:sns:us-east-1:123456789012:${uniqueName('missing')}` }),
      );
      assert.equal(output.$metadata.httpStatusCode, 200);
    });

    // --- SNS: Publish ---------------------------------------------------------------------------

    it('publishes to a topic and answers a MessageId', async () => {
      const { MessageId } = await publish({ Subject: 'Ballast rolled back chat', Message: '{"endpoint":"chat"}' });
      assert.match(MessageId ?? '', /^[0-9a-f-]{36}$/);
    });

    it('publishes a message with String and Number attributes', async () => {
      const { MessageId } = await publish({
        MessageAttributes: {
          endpoint: { DataType: 'String', StringValue: 'chat' },
          attempt: { DataType: 'Number', StringValue: '2' },
        },
      });
      assert.ok(MessageId, 'a MessageId');
    });

    it('answers Publish to a topic that does not exist with NotFound (HTTP 404)', async () => {
      await rejectsWithSns(
        sns().send(
          new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:123456789012:${uniqueName('missing')}`, Message: 'm' }),
        ),
        { name: 'NotFoundException', code: 'NotFound', status: 404 },
      );
    });

    it('accepts a message of 256 KB (262,144 bytes)', async () => {
      const { MessageId } = await publish({ Message: 'x'.repeat(262_144) });
      assert.ok(MessageId, 'a MessageId');
    });

    it('refuses a message over 256 KB as InvalidParameter', async () => {
      await rejectsWithSns(publish({ Message: 'x'.repeat(262_145) }), INVALID_PARAMETER);
    });

    it('says a message over 256 KB is "Message too long"', async () => {
      const error = await rejectsWithSns(publish({ Message: 'x'.repeat(262_145) }), INVALID_PARAMETER);
      assert.match(error.message, /Invalid parameter: Message too long/);
    });

    it('accepts a subject of 100 characters', async () => {
      const { MessageId } = await publish({ Subject: 's'.repeat(100) });
      assert.ok(MessageId, 'a MessageId');
    });

    it('refuses a subject of 101 characters as InvalidParameter', async () => {
      await rejectsWithSns(publish({ Subject: 's'.repeat(101) }), INVALID_PARAMETER);
    });

    it(
      'refuses a subject with a line break as InvalidParameter',
      knownDifference(name, {
        moto: `moto 5.2.1 accepts it; the API Reference (Publish, Subject) says "Subjects must be UTF-8 text with no line breaks or control characters" (${PUBLISH_REFERENCE})`,
      }),
      async () => {
        await rejectsWithSns(publish({ Subject: 'chat\nrolled back' }), INVALID_PARAMETER);
      },
    );

    it(
      'refuses an empty message as InvalidParameter',
      knownDifference(name, {
        moto: 'moto 5.2.1 accepts it; the SNS Developer Guide says "the message body should not be empty or null" (https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html)',
      }),
      async () => {
        await rejectsWithSns(publish({ Message: '' }), INVALID_PARAMETER);
      },
    );

    it(
      'refuses a Publish with neither TopicArn nor TargetArn as InvalidParameter',
      knownDifference(name, {
        moto: `moto 5.2.1 answers HTTP 500 with an HTML page; the API Reference (Publish, TopicArn) requires TopicArn, TargetArn or PhoneNumber, and AWS answers InvalidParameter (${PUBLISH_REFERENCE})`,
      }),
      async () => {
        await rejectsWithSns(sns().send(new PublishCommand({ Message: 'm' })), INVALID_PARAMETER);
      },
    );

    it(
      'refuses MessageStructure json without a "default" key as InvalidParameter',
      knownDifference(name, {
        moto: `moto 5.2.1 accepts it; the API Reference (Publish, MessageStructure) requires "at least a top-level JSON key of "default" with a value that is a string" (${PUBLISH_REFERENCE})`,
      }),
      async () => {
        await rejectsWithSns(
          publish({ MessageStructure: 'json', Message: '{"email":"chat rolled back"}' }),
          INVALID_PARAMETER,
        );
      },
    );

    /** A message attribute refused as an invalid parameter value: HTTP 400 and an InvalidParameter… exception. */
    const rejectsAttribute = async (promise: Promise<unknown>) => {
      try {
        await promise;
      } catch (error) {
        assert.ok(error instanceof SNSServiceException, String(error));
        // AWS's code is ParameterValueInvalid (InvalidParameterValueException); moto 5.2.1 answers
        // InvalidParameter for the same refusal: both are "an invalid parameter, HTTP 400".
        assert.match(`${error.name} ${error.$metadata.httpStatusCode}`, /^InvalidParameter(Value)?Exception 400$/);
        return;
      }
      assert.fail('expected the attribute to be refused, but the call succeeded');
    };

    it('refuses a Number message attribute whose value is not a number', async () => {
      await rejectsAttribute(publish({ MessageAttributes: { attempt: { DataType: 'Number', StringValue: 'two' } } }));
    });

    it('refuses a message attribute whose type is not String, Number or Binary', async () => {
      await rejectsAttribute(publish({ MessageAttributes: { endpoint: { DataType: 'Text', StringValue: 'chat' } } }));
    });

    it('refuses a String message attribute with an empty value', async () => {
      await rejectsAttribute(publish({ MessageAttributes: { endpoint: { DataType: 'String', StringValue: '' } } }));
    });

    it(
      'refuses a message attribute named with the reserved AWS. prefix',
      knownDifference(name, {
        moto: 'moto 5.2.1 accepts it; the SNS Developer Guide says names "must not start with AWS-reserved prefixes such as AWS. or Amazon." (https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html)',
      }),
      async () => {
        await rejectsAttribute(
          publish({ MessageAttributes: { 'AWS.endpoint': { DataType: 'String', StringValue: 'chat' } } }),
        );
      },
    );

    // --- EventBridge PutEvents ------------------------------------------------------------------

    it('accepts an event on the default bus: FailedEntryCount 0 and an EventId', async () => {
      const result = await events().send(new PutEventsCommand({ Entries: [rollback()] }));
      assert.deepEqual(
        [result.FailedEntryCount, result.Entries?.length, typeof result.Entries?.[0]?.EventId],
        [0, 1, 'string'],
      );
    });

    it('accepts an event that names the default bus', async () => {
      const result = await events().send(
        new PutEventsCommand({ Entries: [{ ...rollback(), EventBusName: 'default' }] }),
      );
      assert.equal(result.FailedEntryCount, 0);
    });

    describe('a batch with entries missing Source, DetailType or Detail', () => {
      let result: PutEventsCommandOutput;
      before(async () => {
        result = await events().send(
          new PutEventsCommand({
            Entries: [
              { DetailType: 'Ballast Rollback', Detail: '{}' },
              { Source: 'ballast', Detail: '{}' },
              { Source: 'ballast', DetailType: 'Ballast Rollback' },
              rollback(),
            ],
          }),
        );
      });

      it('fails each of them as InvalidArgument, naming the missing parameter', () => {
        assert.deepEqual(
          result.Entries?.slice(0, 3).map((e) => [e.ErrorCode, e.ErrorMessage]),
          [
            ['InvalidArgument', 'Parameter Source is not valid. Reason: Source is a required argument.'],
            ['InvalidArgument', 'Parameter DetailType is not valid. Reason: DetailType is a required argument.'],
            ['InvalidArgument', 'Parameter Detail is not valid. Reason: Detail is a required argument.'],
          ],
        );
      });

      it('accepts the complete entry of the same batch', () => {
        assert.deepEqual(
          [result.Entries?.length, typeof result.Entries?.[3]?.EventId, result.Entries?.[3]?.ErrorCode],
          [4, 'string', undefined],
        );
      });

      it('counts the failed entries in FailedEntryCount', () => {
        assert.equal(result.FailedEntryCount, 3);
      });
    });

    it('fails an entry whose Detail is not JSON as MalformedDetail "Detail is malformed."', async () => {
      const result = await events().send(
        new PutEventsCommand({ Entries: [{ ...rollback(), Detail: 'chat rolled back' }] }),
      );
      assert.deepEqual(
        [result.FailedEntryCount, result.Entries?.[0]?.ErrorCode, result.Entries?.[0]?.ErrorMessage],
        [1, 'MalformedDetail', 'Detail is malformed.'],
      );
    });

    it(
      'fails an entry whose source starts with the reserved aws. prefix as NotAuthorizedForSourceException',
      knownDifference(name, {
        moto: 'moto 5.2.1 accepts it; a source "can\'t start with the aws. prefix" (EventBridge Scheduler, EventBridgeParameters: https://docs.aws.amazon.com/scheduler/latest/APIReference/API_EventBridgeParameters.html) and PutEvents reports NotAuthorizedForSourceException (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html)',
      }),
      async () => {
        const result = await events().send(
          new PutEventsCommand({
            Entries: [{ ...rollback(), Source: 'aws.cloudwatch', DetailType: 'CloudWatch Alarm State Change' }],
          }),
        );
        assert.deepEqual(
          [result.FailedEntryCount, result.Entries?.[0]?.ErrorCode],
          [1, 'NotAuthorizedForSourceException'],
        );
      },
    );

    it('refuses more than 10 entries with ValidationException', async () => {
      await rejectsWithEvents(
        events().send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, (_, n) => rollback({ n })) })),
        'ValidationException',
      );
    });

    it(
      'refuses a request without entries with ValidationException',
      knownDifference(name, {
        moto: `moto 5.2.1 accepts it; the API Reference (PutEvents, Entries) says "Minimum number of 1 item" (${PUT_EVENTS_REFERENCE})`,
      }),
      async () => {
        await rejectsWithEvents(events().send(new PutEventsCommand({ Entries: [] })), 'ValidationException');
      },
    );

    it(
      'refuses entries over 256 KB with ValidationException',
      knownDifference(name, {
        moto: `moto 5.2.1 accepts them; the API Reference (PutEvents) says "The maximum size for a PutEvents event entry is 256 KB" (${PUT_EVENTS_REFERENCE})`,
      }),
      async () => {
        await rejectsWithEvents(
          events().send(new PutEventsCommand({ Entries: [rollback({ pad: 'x'.repeat(256 * 1024) })] })),
          'ValidationException',
        );
      },
    );
  },
);
