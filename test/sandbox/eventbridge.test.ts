/**
 * Sandbox-only EventBridge behaviour: PutEvents puts accepted entries on the sandbox's EventBus in
 * AWS's envelope, where LocalTriggers' rules see them; what the sandbox refuses that moto accepts; the
 * deliberate departure for unknown event buses; faults. The behaviour shared with AWS and moto is in
 * test/conformance/notify.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  EventBridgeClient,
  EventBridgeServiceException,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { EventBridgeEvent } from '../../sandbox/events.ts';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.ts';
import { createEventBridgeService, type EventBridgeSandbox } from '../../sandbox/services/eventbridge.ts';
import { LocalTriggers } from '../../sandbox/triggers.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../support/aws-targets.ts';

async function rejectsWith(promise: Promise<unknown>, name: string): Promise<EventBridgeServiceException> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof EventBridgeServiceException,
      `expected an EventBridgeServiceException, got ${String(error)}`,
    );
    assert.equal(error.name, name, `error name (message: ${error.message})`);
    return error;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

const rollback = (detail: Record<string, unknown> = { endpoint: 'chat' }): PutEventsRequestEntry => ({
  Source: 'ballast',
  DetailType: 'Ballast Rollback',
  Detail: JSON.stringify(detail),
});

describe('EventBridge sandbox service', () => {
  let target: SandboxTarget;
  let eb: EventBridgeClient;
  let service: EventBridgeSandbox;

  before(async () => {
    target = await startSandboxTarget((ctx) => [createEventBridgeService(ctx)], { timeScale: 600 });
    eb = new EventBridgeClient(clientConfig(target.endpoint));
    service = target.services[0] as EventBridgeSandbox;
  });
  after(async () => {
    eb.destroy();
    await target.stop();
  });

  /** Events on the bus from here on. */
  const busFrom = () => {
    const start = target.events.events().length;
    return () => target.events.events().slice(start);
  };

  it('puts an accepted entry on the bus in the envelope AWS delivers to rules, with the EventId as its id', async () => {
    const bus = busFrom();
    const result = await eb.send(
      new PutEventsCommand({
        Entries: [
          {
            ...rollback({ endpoint: 'chat', from: 'abc1234', to: 'def5678' }),
            Resources: ['arn:aws:sagemaker:us-east-1:123456789012:endpoint/chat'],
          },
        ],
      }),
    );
    const events = bus();
    assert.equal(events.length, 1);
    const event = events[0] as EventBridgeEvent;
    assert.deepEqual(
      { ...event, time: undefined },
      {
        version: '0',
        id: result.Entries?.[0]?.EventId,
        'detail-type': 'Ballast Rollback',
        source: 'ballast',
        account: '123456789012',
        time: undefined,
        region: 'us-east-1',
        resources: ['arn:aws:sagemaker:us-east-1:123456789012:endpoint/chat'],
        detail: { endpoint: 'chat', from: 'abc1234', to: 'def5678' },
      },
    );
    assert.match(event.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it("stamps the event with the entry's Time when given", async () => {
    const bus = busFrom();
    await eb.send(new PutEventsCommand({ Entries: [{ ...rollback(), Time: new Date('2026-03-01T12:30:00Z') }] }));
    assert.equal(bus()[0]?.time, '2026-03-01T12:30:00Z');
  });

  it('stamps the event with the simulated time of the call otherwise', async () => {
    const bus = busFrom();
    target.clock.advance(3_600_000);
    const expected = target.clock.nowMs();
    await eb.send(new PutEventsCommand({ Entries: [rollback()] }));
    const time = Date.parse(bus()[0]?.time ?? '');
    assert.ok(Math.abs(time - expected) < 60_000, `${bus()[0]?.time} is near ${new Date(expected).toISOString()}`);
  });

  it("starts the workflow of a LocalTriggers rule whose pattern matches, as the stack's rule would", async () => {
    const started: Array<{ workflow: string; input: unknown }> = [];
    const triggers = new LocalTriggers(
      (workflow, input) => started.push({ workflow, input }),
      target.events,
      target.clock,
    );
    triggers.onEvent({ source: ['ballast'], 'detail-type': ['Ballast Rollback'] }, 'notify');
    try {
      await eb.send(
        new PutEventsCommand({ Entries: [rollback({ endpoint: 'search' }), { ...rollback(), Source: 'other' }] }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        started.map((s) => [s.workflow, (s.input as EventBridgeEvent).detail]),
        [['notify', { endpoint: 'search' }]],
      );
    } finally {
      triggers.stop();
    }
  });

  describe('a mixed batch', () => {
    let result: PutEventsCommandOutput;
    let onBus: EventBridgeEvent[] = [];
    before(async () => {
      const bus = busFrom();
      result = await eb.send(
        new PutEventsCommand({
          Entries: [rollback({ n: 1 }), { ...rollback(), Detail: '[1, 2]' }, rollback({ n: 3 })],
        }),
      );
      onBus = [...bus()];
    });

    it('answers one result per entry, in request order', () => {
      assert.deepEqual(
        result.Entries?.map((e) => e.ErrorCode ?? 'accepted'),
        ['accepted', 'MalformedDetail', 'accepted'],
      );
    });

    it('counts the failed entries in FailedEntryCount', () => {
      assert.equal(result.FailedEntryCount, 1);
    });

    it('puts only the accepted entries on the bus, each under its EventId', () => {
      assert.deepEqual(
        onBus.map((e) => [e.id, e.detail]),
        [
          [result.Entries?.[0]?.EventId, { n: 1 }],
          [result.Entries?.[2]?.EventId, { n: 3 }],
        ],
      );
    });
  });

  it('refuses a Detail that is valid JSON but not an object as MalformedDetail (moto accepts it)', async () => {
    const details = ['[1]', '"rolled back"', '42', 'null'];
    const result = await eb.send(
      new PutEventsCommand({ Entries: details.map((Detail) => ({ ...rollback(), Detail })) }),
    );
    const errors = result.Entries ?? [];
    assert.equal(errors.length, details.length);
    assert.ok(
      errors.every((e) => e.ErrorCode === 'MalformedDetail' && e.ErrorMessage === 'Detail is malformed.'),
      JSON.stringify(errors),
    );
  });

  it('puts nothing on the bus for a source under the reserved aws. prefix', async () => {
    const bus = busFrom();
    const result = await eb.send(
      new PutEventsCommand({
        Entries: [{ ...rollback(), Source: 'aws.cloudwatch', DetailType: 'CloudWatch Alarm State Change' }],
      }),
    );
    assert.deepEqual([result.FailedEntryCount, bus().length], [1, 0]);
  });

  it('puts nothing on the bus when the request is refused (11 entries)', async () => {
    const bus = busFrom();
    await rejectsWith(
      eb.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, (_, n) => rollback({ n })) })),
      'ValidationException',
    );
    assert.equal(bus().length, 0);
  });

  it('accepts 10 entries, the most a request may carry', async () => {
    const result = await eb.send(
      new PutEventsCommand({ Entries: Array.from({ length: 10 }, (_, n) => rollback({ n })) }),
    );
    assert.deepEqual([result.FailedEntryCount, result.Entries?.length], [0, 10]);
  });

  /** An entry whose size, as the User Guide counts it, is `bytes` (with a Time: 14 bytes). */
  const entryOfSize = (bytes: number): PutEventsRequestEntry => {
    const fixed = 14 + 'ballast'.length + 'Ballast Rollback'.length + '{"pad":""}'.length;
    return { ...rollback({ pad: 'x'.repeat(bytes - fixed) }), Time: new Date() };
  };

  it('accepts entries totalling exactly 256 KB, counted as the User Guide counts them', async () => {
    const result = await eb.send(new PutEventsCommand({ Entries: [entryOfSize(128 * 1024), entryOfSize(128 * 1024)] }));
    assert.equal(result.FailedEntryCount, 0);
  });

  const overLimit = () => [entryOfSize(128 * 1024), entryOfSize(128 * 1024 + 1)];

  it('refuses entries totalling one byte over 256 KB with "Total size of the entries in the request is over the limit."', async () => {
    const error = await rejectsWith(eb.send(new PutEventsCommand({ Entries: overLimit() })), 'ValidationException');
    assert.equal(error.message, 'Total size of the entries in the request is over the limit.');
  });

  it('puts nothing on the bus from a request over the size limit', async () => {
    const bus = busFrom();
    await rejectsWith(eb.send(new PutEventsCommand({ Entries: overLimit() })), 'ValidationException');
    assert.equal(bus().length, 0);
  });

  it('counts Detail in UTF-8 bytes', async () => {
    const error = await rejectsWith(
      eb.send(new PutEventsCommand({ Entries: [rollback({ text: 'é'.repeat(131_072) })] })),
      'ValidationException',
    );
    assert.match(error.message, /over the limit/);
  });

  it('accepts the default bus by name and by ARN', async () => {
    const result = await eb.send(
      new PutEventsCommand({
        Entries: [
          { ...rollback(), EventBusName: 'default' },
          { ...rollback(), EventBusName: 'arn:aws:events:us-east-1:123456789012:event-bus/default' },
        ],
      }),
    );
    assert.equal(result.FailedEntryCount, 0);
  });

  // AWS accepts an entry for a bus that does not exist and drops it (aws/aws-sdk#186); the sandbox,
  // which has only the default bus, refuses the request as moto does, so a misnamed bus is seen.
  const toOtherBus = () => [rollback(), { ...rollback(), EventBusName: 'ballast-notify' }];

  it('refuses a request naming an event bus other than the default with ResourceNotFoundException', async () => {
    const error = await rejectsWith(
      eb.send(new PutEventsCommand({ Entries: toOtherBus() })),
      'ResourceNotFoundException',
    );
    assert.equal(error.message, 'Event bus ballast-notify does not exist.');
  });

  it('puts none of the entries of a request naming another bus on the bus, not even those for the default', async () => {
    const bus = busFrom();
    await rejectsWith(eb.send(new PutEventsCommand({ Entries: toOtherBus() })), 'ResourceNotFoundException');
    assert.equal(bus().length, 0);
  });

  it('lists the events it accepted, oldest first', async () => {
    const start = service.events().length;
    await eb.send(new PutEventsCommand({ Entries: [rollback({ n: 1 }), { ...rollback({ n: 2 }), Source: 'other' }] }));
    assert.deepEqual(
      service
        .events()
        .slice(start)
        .map((e) => [e.source, e.detail]),
      [
        ['ballast', { n: 1 }],
        ['other', { n: 2 }],
      ],
    );
  });

  it('lists only the events of one source when given one', async () => {
    await eb.send(new PutEventsCommand({ Entries: [{ ...rollback(), Source: 'only-this' }, rollback()] }));
    const listed = service.events('only-this');
    assert.ok(listed.length > 0);
    assert.ok(
      listed.every((e) => e.source === 'only-this'),
      JSON.stringify(listed),
    );
  });

  it('answers an injected throttle with ThrottlingException', async () => {
    target.faults.add({ service: 'events', operation: 'PutEvents', kind: 'throttle', times: 1 });
    await rejectsWith(eb.send(new PutEventsCommand({ Entries: [rollback()] })), 'ThrottlingException');
  });
});

describe('EventBridge in the full sandbox', () => {
  let sandbox: Sandbox;
  let eb: EventBridgeClient;
  let id: string | undefined;
  before(async () => {
    sandbox = await startSandbox({ timeScale: 600 });
    eb = new EventBridgeClient(clientConfig(sandbox.url));
    id = (await eb.send(new PutEventsCommand({ Entries: [rollback({ endpoint: 'chat' })] }))).Entries?.[0]?.EventId;
  });
  after(async () => {
    eb.destroy();
    await sandbox.stop();
  });

  it('serves PutEvents on the sandbox URL, read in process as sandbox.eventbridge', () => {
    assert.deepEqual(
      sandbox.eventbridge.events('ballast').map((e) => e.id),
      [id],
    );
  });

  it('lists the accepted events on GET /_ballast/events, with the events the other services emit', async () => {
    const listed = (await (await fetch(`${sandbox.url}/_ballast/events`)).json()) as { events: EventBridgeEvent[] };
    assert.deepEqual(
      listed.events.filter((e) => e.source === 'ballast').map((e) => [e.id, e.detail]),
      [[id, { endpoint: 'chat' }]],
    );
  });
});
