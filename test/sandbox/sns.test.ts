/**
 * Sandbox-only SNS behaviour: what the sandbox keeps of published messages (in process and on
 * `GET /_ballast/sns/messages`), AWS's answers that moto does not give (CreateTopic conflicts, exact
 * messages), limits, faults and wire details. The behaviour shared with AWS and moto is in
 * test/conformance/notify.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  GetTopicAttributesCommand,
  ListTagsForResourceCommand,
  ListTopicsCommand,
  PublishCommand,
  SNSClient,
  SNSServiceException,
} from '@aws-sdk/client-sns';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.ts';
import { createSnsService, type PublishedMessage, type SnsSandbox } from '../../sandbox/services/sns.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget, uniqueName } from '../support/aws-targets.ts';

/** Asserts that `promise` rejects with this SNS exception, and returns it. */
async function rejectsWith(promise: Promise<unknown>, name: string): Promise<SNSServiceException> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SNSServiceException, `expected an SNSServiceException, got ${String(error)}`);
    assert.equal(error.name, name, `error name (message: ${error.message})`);
    return error;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

describe('SNS sandbox service', () => {
  let target: SandboxTarget;
  let sns: SNSClient;
  let service: SnsSandbox;

  before(async () => {
    target = await startSandboxTarget((ctx) => [createSnsService(ctx)], { timeScale: 600 });
    sns = new SNSClient(clientConfig(target.endpoint));
    service = target.services[0] as SnsSandbox;
  });
  after(async () => {
    sns.destroy();
    await target.stop();
  });

  const createTopic = async (name = uniqueName('alarms')) =>
    (await sns.send(new CreateTopicCommand({ Name: name }))).TopicArn ?? '';

  describe('CreateTopic', () => {
    it('is idempotent by name: the same request returns the same ARN and creates one topic', async () => {
      const name = uniqueName('ballast-alarms');
      const input = {
        Name: name,
        Attributes: { DisplayName: 'Ballast' },
        Tags: [{ Key: 'ballast:stack', Value: 's' }],
      };
      const first = await sns.send(new CreateTopicCommand(input));
      const again = await sns.send(new CreateTopicCommand(input));
      assert.equal(again.TopicArn, first.TopicArn);
      assert.equal(service.topicArns().filter((arn) => arn === first.TopicArn).length, 1);
    });

    it('returns the existing topic when the request names no attributes or tags', async () => {
      const name = uniqueName('ballast-alarms');
      const first = await sns.send(
        new CreateTopicCommand({
          Name: name,
          Attributes: { DisplayName: 'Ballast' },
          Tags: [{ Key: 'k', Value: 'v' }],
        }),
      );
      const bare = await sns.send(new CreateTopicCommand({ Name: name }));
      assert.equal(bare.TopicArn, first.TopicArn);
    });

    it('refuses an existing name with a different attribute, as AWS words it', async () => {
      const name = uniqueName('ballast-alarms');
      await sns.send(new CreateTopicCommand({ Name: name, Attributes: { DisplayName: 'Ballast' } }));
      const error = await rejectsWith(
        sns.send(new CreateTopicCommand({ Name: name, Attributes: { DisplayName: 'Other' } })),
        'InvalidParameterException',
      );
      assert.equal(
        error.message,
        'Invalid parameter: Attributes Reason: Topic already exists with different attributes',
      );
    });

    it('refuses an existing name with different tags, as AWS words it', async () => {
      const name = uniqueName('ballast-alarms');
      await sns.send(new CreateTopicCommand({ Name: name, Tags: [{ Key: 'k', Value: 'v' }] }));
      const error = await rejectsWith(
        sns.send(new CreateTopicCommand({ Name: name, Tags: [{ Key: 'k', Value: 'w' }] })),
        'InvalidParameterException',
      );
      assert.equal(error.message, 'Invalid parameter: Tags Reason: Topic already exists with different tags');
    });

    it('refuses an attribute name CreateTopic does not know', async () => {
      const error = await rejectsWith(
        sns.send(new CreateTopicCommand({ Name: uniqueName('t'), Attributes: { Colour: 'blue' } })),
        'InvalidParameterException',
      );
      assert.equal(error.message, 'Invalid parameter: AttributeName');
    });

    it('refuses FIFO topics, which it does not emulate, and says so', async () => {
      const error = await rejectsWith(
        sns.send(new CreateTopicCommand({ Name: `${uniqueName('t')}.fifo`, Attributes: { FifoTopic: 'true' } })),
        'InvalidParameterException',
      );
      assert.match(error.message, /does not emulate FIFO topics/);
    });

    it('keeps the tags, which ListTagsForResource returns', async () => {
      const arn = (
        await sns.send(
          new CreateTopicCommand({
            Name: uniqueName('t'),
            Tags: [
              { Key: 'ballast:stack', Value: 'prod' },
              { Key: 'team', Value: 'ml' },
            ],
          }),
        )
      ).TopicArn;
      const tags = (await sns.send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags;
      assert.deepEqual(tags, [
        { Key: 'ballast:stack', Value: 'prod' },
        { Key: 'team', Value: 'ml' },
      ]);
    });
  });

  describe('GetTopicAttributes, ListTopics, DeleteTopic', () => {
    it("describes a topic with the owner, the ARN, the display name and a default policy on the topic's ARN", async () => {
      const arn = (
        await sns.send(new CreateTopicCommand({ Name: uniqueName('t'), Attributes: { DisplayName: 'Rollbacks' } }))
      ).TopicArn;
      const attributes = (await sns.send(new GetTopicAttributesCommand({ TopicArn: arn }))).Attributes ?? {};
      const policy = JSON.parse(attributes.Policy ?? '{}') as { Statement?: Array<{ Resource?: string }> };
      assert.deepEqual(
        {
          TopicArn: attributes.TopicArn,
          Owner: attributes.Owner,
          DisplayName: attributes.DisplayName,
          SubscriptionsConfirmed: attributes.SubscriptionsConfirmed,
          policyResource: policy.Statement?.[0]?.Resource,
        },
        {
          TopicArn: arn,
          Owner: '123456789012',
          DisplayName: 'Rollbacks',
          SubscriptionsConfirmed: '0',
          policyResource: arn,
        },
      );
    });

    describe('over more than one page', () => {
      const created = new Set<string>();
      const pages: string[][] = [];
      before(async () => {
        for (let i = 0; i < 120; i++) created.add(await createTopic(uniqueName('page')));
        let token: string | undefined;
        do {
          const page = await sns.send(new ListTopicsCommand(token ? { NextToken: token } : {}));
          pages.push((page.Topics ?? []).map((t) => t.TopicArn ?? ''));
          token = page.NextToken;
        } while (token);
      });

      it('lists 100 topics on a page that has a NextToken', () => {
        assert.ok(pages.length >= 2, `pages: ${pages.length}`);
        assert.equal(pages[0]?.length, 100);
      });

      it('lists every topic over all pages', () => {
        assert.equal(created.size, 120);
        const listed = pages.flat();
        assert.deepEqual(
          [...created].filter((arn) => !listed.includes(arn)),
          [],
        );
      });

      it('lists no topic twice', () => {
        const listed = pages.flat();
        assert.ok(listed.length > 0);
        assert.equal(new Set(listed).size, listed.length);
      });
    });

    it('no longer lists a deleted topic', async () => {
      const arn = await createTopic();
      await sns.send(new DeleteTopicCommand({ TopicArn: arn }));
      assert.equal(service.topicArns().includes(arn), false);
    });

    it('answers Publish to a deleted topic with NotFound', async () => {
      const arn = await createTopic();
      await sns.send(new DeleteTopicCommand({ TopicArn: arn }));
      await rejectsWith(sns.send(new PublishCommand({ TopicArn: arn, Message: 'late' })), 'NotFoundException');
    });

    it('keeps the messages published to a topic after it is deleted', async () => {
      const arn = await createTopic();
      await sns.send(new PublishCommand({ TopicArn: arn, Message: 'before' }));
      await sns.send(new DeleteTopicCommand({ TopicArn: arn }));
      assert.deepEqual(
        service.messages(arn).map((m) => m.message),
        ['before'],
      );
    });

    it('refuses a TopicArn that is not an SNS topic ARN with InvalidParameter', async () => {
      const error = await rejectsWith(
        sns.send(new GetTopicAttributesCommand({ TopicArn: 'alarms' })),
        'InvalidParameterException',
      );
      assert.equal(error.message, 'Invalid parameter: TopicArn');
    });
  });

  describe('Publish', () => {
    it('keeps the message with its topic, subject, attributes (binary as base64) and simulated time', async () => {
      const arn = await createTopic();
      const before = target.clock.nowMs();
      const { MessageId } = await sns.send(
        new PublishCommand({
          TopicArn: arn,
          Subject: 'Ballast rolled back chat (prod)',
          Message: JSON.stringify({ endpoint: 'chat', from: 'abc1234', to: 'def5678' }),
          MessageAttributes: {
            endpoint: { DataType: 'String', StringValue: 'chat' },
            attempt: { DataType: 'Number', StringValue: '2' },
            digest: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
          },
        }),
      );
      const kept = service.messages(arn);
      assert.equal(kept.length, 1);
      const message = kept[0] as PublishedMessage;
      assert.deepEqual(
        { ...message, timestamp: undefined },
        {
          messageId: MessageId,
          topicArn: arn,
          subject: 'Ballast rolled back chat (prod)',
          message: '{"endpoint":"chat","from":"abc1234","to":"def5678"}',
          messageAttributes: {
            endpoint: { DataType: 'String', StringValue: 'chat' },
            attempt: { DataType: 'Number', StringValue: '2' },
            digest: { DataType: 'Binary', BinaryValue: 'AQID' },
          },
          timestamp: undefined,
        },
      );
      const at = Date.parse(message.timestamp);
      assert.ok(at >= before && at <= target.clock.nowMs(), `timestamp ${message.timestamp} is simulated time`);
    });

    it('answers a MessageId that is a UUID', async () => {
      const arn = await createTopic();
      const { MessageId } = await sns.send(new PublishCommand({ TopicArn: arn, Message: 'm' }));
      assert.match(MessageId ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('answers a new MessageId for every message, also for the same message again', async () => {
      const arn = await createTopic();
      const ids = [];
      for (let i = 0; i < 3; i++)
        ids.push((await sns.send(new PublishCommand({ TopicArn: arn, Message: 'm' }))).MessageId);
      assert.equal(new Set(ids).size, 3);
    });

    describe('listing kept messages', () => {
      let a = '';
      let b = '';
      before(async () => {
        a = await createTopic();
        b = await createTopic();
        for (const [arn, text] of [
          [a, 'a1'],
          [b, 'b1'],
          [a, 'a2'],
        ] as const) {
          await sns.send(new PublishCommand({ TopicArn: arn, Message: text }));
        }
      });

      it("lists one topic's messages, oldest first", () => {
        assert.deepEqual(
          service.messages(a).map((m) => m.message),
          ['a1', 'a2'],
        );
      });

      it('lists every topic’s messages, oldest first, without a topic', () => {
        const all = service.messages().filter((m) => m.topicArn === a || m.topicArn === b);
        assert.deepEqual(
          all.map((m) => m.message),
          ['a1', 'b1', 'a2'],
        );
      });
    });

    it('answers a topic that does not exist with NotFound "Topic does not exist" and HTTP 404', async () => {
      const error = await rejectsWith(
        sns.send(new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:123456789012:missing', Message: 'm' })),
        'NotFoundException',
      );
      assert.deepEqual([error.message, error.$metadata.httpStatusCode], ['Topic does not exist', 404]);
    });

    it('keeps nothing from a refused Publish', async () => {
      const arn = await createTopic();
      await rejectsWith(sns.send(new PublishCommand({ TopicArn: arn, Message: '' })), 'InvalidParameterException');
      assert.deepEqual(service.messages(arn), []);
    });

    it('counts message attributes toward the 256 KB limit', async () => {
      const arn = await createTopic();
      const body = 'x'.repeat(262_144 - 10);
      await sns.send(new PublishCommand({ TopicArn: arn, Message: body }));
      const error = await rejectsWith(
        sns.send(
          new PublishCommand({
            TopicArn: arn,
            Message: body,
            MessageAttributes: { endpoint: { DataType: 'String', StringValue: 'chat' } },
          }),
        ),
        'InvalidParameterException',
      );
      assert.equal(error.message, 'Invalid parameter: Message too long');
    });

    it('counts the limit in bytes, not characters', async () => {
      const arn = await createTopic();
      const error = await rejectsWith(
        sns.send(new PublishCommand({ TopicArn: arn, Message: 'é'.repeat(131_073) })),
        'InvalidParameterException',
      );
      assert.equal(error.message, 'Invalid parameter: Message too long');
    });

    it('accepts a subject of 100 non-ASCII characters (the API Reference allows UTF-8 text)', async () => {
      const arn = await createTopic();
      await sns.send(new PublishCommand({ TopicArn: arn, Message: 'm', Subject: 'é'.repeat(100) }));
      assert.equal(service.messages(arn)[0]?.subject, 'é'.repeat(100));
    });

    it('refuses a subject with a control character as "Invalid parameter: Subject"', async () => {
      const arn = await createTopic();
      const error = await rejectsWith(
        sns.send(new PublishCommand({ TopicArn: arn, Message: 'm', Subject: 'rolled\tback' })),
        'InvalidParameterException',
      );
      assert.equal(error.message, 'Invalid parameter: Subject');
    });

    it('refuses a message attribute of a type outside String, Number and Binary as ParameterValueInvalid', async () => {
      const arn = await createTopic();
      await rejectsWith(
        sns.send(
          new PublishCommand({
            TopicArn: arn,
            Message: 'm',
            MessageAttributes: { endpoint: { DataType: 'Text', StringValue: 'chat' } },
          }),
        ),
        'InvalidParameterValueException',
      );
    });

    it('refuses a String.Array attribute whose value is not a JSON array', async () => {
      const arn = await createTopic();
      await rejectsWith(
        sns.send(
          new PublishCommand({
            TopicArn: arn,
            Message: 'm',
            MessageAttributes: { endpoints: { DataType: 'String.Array', StringValue: 'chat,search' } },
          }),
        ),
        'InvalidParameterValueException',
      );
    });

    it('refuses an attribute name with two periods in a row', async () => {
      const arn = await createTopic();
      await rejectsWith(
        sns.send(
          new PublishCommand({
            TopicArn: arn,
            Message: 'm',
            MessageAttributes: { 'ballast..endpoint': { DataType: 'String', StringValue: 'chat' } },
          }),
        ),
        'InvalidParameterValueException',
      );
    });

    it('accepts custom type labels (Number.float, String.Array with a JSON array)', async () => {
      const arn = await createTopic();
      await sns.send(
        new PublishCommand({
          TopicArn: arn,
          Message: 'm',
          MessageAttributes: {
            weight: { DataType: 'Number.float', StringValue: '0.25' },
            endpoints: { DataType: 'String.Array', StringValue: '["chat","search"]' },
          },
        }),
      );
      assert.deepEqual(Object.keys(service.messages(arn)[0]?.messageAttributes ?? {}), ['weight', 'endpoints']);
    });

    it('refuses MessageDeduplicationId, which only FIFO topics take', async () => {
      const arn = await createTopic();
      await rejectsWith(
        sns.send(new PublishCommand({ TopicArn: arn, Message: 'm', MessageDeduplicationId: 'd1' })),
        'InvalidParameterException',
      );
    });

    it('answers an injected throttle with ThrottledException and HTTP 429', async () => {
      const arn = await createTopic();
      target.faults.add({ service: 'sns', operation: 'Publish', kind: 'throttle', times: 1 });
      const error = await rejectsWith(
        sns.send(new PublishCommand({ TopicArn: arn, Message: 'm' })),
        'ThrottledException',
      );
      assert.equal(error.$metadata.httpStatusCode, 429);
    });

    it('logs calls under the signing name sns and the Action', async () => {
      const arn = await createTopic();
      await sns.send(new PublishCommand({ TopicArn: arn, Message: 'm' }));
      assert.ok((target.requests.counts()['sns:Publish'] ?? 0) > 0, JSON.stringify(target.requests.counts()));
    });
  });
});

describe('SNS in the full sandbox', () => {
  let sandbox: Sandbox;
  let sns: SNSClient;
  let alarms = '';
  const fetchMessages = async (query = '') =>
    ((await (await fetch(`${sandbox.url}/_ballast/sns/messages${query}`)).json()) as { messages: PublishedMessage[] })
      .messages;

  before(async () => {
    sandbox = await startSandbox({ timeScale: 600 });
    sns = new SNSClient(clientConfig(sandbox.url));
    alarms = (await sns.send(new CreateTopicCommand({ Name: 'ballast-alarms' }))).TopicArn ?? '';
    const other = (await sns.send(new CreateTopicCommand({ Name: 'other' }))).TopicArn ?? '';
    await sns.send(new PublishCommand({ TopicArn: alarms, Subject: 'Rollback', Message: 'chat rolled back' }));
    await sns.send(new PublishCommand({ TopicArn: other, Message: 'unrelated' }));
  });
  after(async () => {
    sns.destroy();
    await sandbox.stop();
  });

  it('serves SNS on the sandbox URL, read in process as sandbox.sns', () => {
    assert.deepEqual(
      sandbox.sns.messages(alarms).map((m) => m.message),
      ['chat rolled back'],
    );
  });

  it('lists every published message on GET /_ballast/sns/messages', async () => {
    assert.deepEqual(
      (await fetchMessages()).map((m) => m.message),
      ['chat rolled back', 'unrelated'],
    );
  });

  it("lists one topic's messages on GET /_ballast/sns/messages?topicArn=", async () => {
    assert.deepEqual(
      (await fetchMessages(`?topicArn=${encodeURIComponent(alarms)}`)).map((m) => [m.topicArn, m.subject, m.message]),
      [[alarms, 'Rollback', 'chat rolled back']],
    );
  });
});
