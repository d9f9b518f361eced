import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import {
  ArtifactIntegrityError,
  InvalidInputError,
  LeaseLostError,
  TransientError,
} from '../../../lambdas/aws/errors.ts';
import type { EmfDocument } from '../../../lambdas/runtime/powertools.ts';
import { localLambdaContext } from '../../../sandbox/runner.ts';

// Lambda sets this for an on-demand environment; Powertools counts a cold start only then, and
// reads it when the utilities are constructed, hence the imports after it.
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
const { lambdaHandler, rawLambdaHandler } = await import('../../../lambdas/runtime/handler.ts');
const { logger, metrics } = await import('../../../lambdas/runtime/powertools.ts');

const schema = z.object({ commit: z.string(), endpoint: z.object({ name: z.string() }), percent: z.number() });

const context = (name = 'Test') =>
  localLambdaContext(name, `req-${Math.random().toString(36).slice(2)}`, Date.now() + 60_000);

/** Every log line the Logger writes during `run`, parsed. */
async function logLines(run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  // The Logger writes through its own Console on process.stdout (not the global console).
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  return lines
    .flatMap((l) => l.split('\n'))
    .flatMap((l) => (l.trim() ? [JSON.parse(l) as Record<string, unknown>] : []));
}

describe('lambdaHandler', () => {
  let emf: EmfDocument[];
  beforeEach(() => {
    emf = [];
    metrics.sendEmfTo((document) => emf.push(document));
    logger.setLogLevel('SILENT');
  });
  afterEach(() => metrics.sendEmfTo(undefined));

  // First in this file on purpose: the cold start is the first invocation in the process.
  it('emits the ColdStart metric as EMF once, on the first invocation, with the function name', async () => {
    const handler = lambdaHandler(schema, async () => undefined);
    await handler({ commit: 'abc', endpoint: { name: 'e' }, percent: 1 }, context('Lease'));
    await handler({ commit: 'abc', endpoint: { name: 'e' }, percent: 1 }, context('Lease'));
    const coldStarts = emf.filter((d) => 'ColdStart' in d);
    assert.equal(coldStarts.length, 1, 'one ColdStart document in two invocations');
    assert.deepEqual([coldStarts[0]?.ColdStart, coldStarts[0]?.function_name], [1, 'ballast-local-Lease']);
  });

  it('hands the parsed input to the function', async () => {
    const handler = lambdaHandler(schema, async (input) => `${input.commit}:${input.endpoint.name}`);
    assert.equal(
      await handler({ commit: 'abc', endpoint: { name: 'summarizer' }, percent: 10 }, context()),
      'abc:summarizer',
    );
  });

  it('rejects a bad input with an InvalidInputError naming the field and what was expected', async () => {
    let called = false;
    const handler = lambdaHandler(schema, async () => {
      called = true;
    });
    await assert.rejects(
      handler({ commit: 'abc', endpoint: { name: 7 }, percent: 10 }, context()),
      (error: Error) =>
        error instanceof InvalidInputError &&
        error.name === 'InvalidInputError' &&
        /\$\.endpoint\.name: expected string/.test(error.message),
    );
    assert.equal(called, false, 'the function never sees input that does not parse');
  });

  it('says a missing field is missing', async () => {
    const handler = lambdaHandler(schema, async () => undefined);
    await assert.rejects(
      handler({ endpoint: { name: 'x' }, percent: 1 }, context()),
      /\$\.commit: missing; expected string/,
    );
  });

  it('lists at most ten issues, one line each, and counts the rest', async () => {
    const many = z.object(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, z.string()])));
    const handler = lambdaHandler(many, async () => undefined);
    const error = await handler({}, context()).then(
      () => assert.fail('resolved'),
      (e: Error) => e,
    );
    const lines = error.message.split('\n').slice(1);
    assert.deepEqual([lines.length, lines.at(-1)], [11, '  … and 2 more']);
  });

  for (const ErrorClass of [TransientError, InvalidInputError, LeaseLostError, ArtifactIntegrityError]) {
    it(`lets a ${ErrorClass.name} through with its name (Step Functions matches on it)`, async () => {
      const thrown = new ErrorClass('boom');
      const handler = lambdaHandler(schema, async () => {
        throw thrown;
      });
      await assert.rejects(
        handler({ commit: 'abc', endpoint: { name: 'e' }, percent: 1 }, context()),
        (error: Error) => error === thrown && error.name === thrown.name,
      );
    });
  }

  it('adds the keys to every log line of the invocation, and drops them after it', async () => {
    logger.setLogLevel('INFO');
    const handler = lambdaHandler(
      schema,
      async (input) => {
        logger.info('working', { percent: input.percent });
      },
      { keys: (input) => ({ commit: input.commit, endpoint: input.endpoint.name, environment: undefined }) },
    );
    const during = await logLines(() =>
      handler({ commit: 'c0ffee', endpoint: { name: 'summarizer' }, percent: 10 }, context()),
    );
    const working = during.find((line) => line.message === 'working');
    assert.ok(working, 'the handler logged');
    assert.deepEqual(
      [working.commit, working.endpoint, 'environment' in working, working.function_name],
      ['c0ffee', 'summarizer', false, 'ballast-local-Test'],
    );
    const afterwards = await logLines(async () => logger.info('later'));
    assert.equal(
      afterwards.find((line) => line.message === 'later')?.commit,
      undefined,
      'no stale commit after the invocation',
    );
  });

  it('keeps a log level chosen with setLogLevel across invocations (the local pipeline runs SILENT)', async () => {
    logger.setLogLevel('SILENT');
    const handler = lambdaHandler(schema, async () => {
      logger.warn('should not show');
    });
    const input = { commit: 'abc', endpoint: { name: 'e' }, percent: 1 };
    const lines = await logLines(async () => {
      for (let i = 0; i < 3; i++) await handler(input, context());
    });
    assert.deepEqual(lines, [], 'no log line from the second or third (warm) invocation either');
  });

  it('flushes a metric the function adds as EMF exactly once per invocation', async () => {
    const handler = lambdaHandler(schema, async () => {
      metrics.addMetric('LeaseTaken', MetricUnit.Count, 1);
    });
    await handler({ commit: 'abc', endpoint: { name: 'e' }, percent: 1 }, context());
    await handler({ commit: 'abc', endpoint: { name: 'e' }, percent: 1 }, context());
    const withMetric = emf.filter((d) => 'LeaseTaken' in d);
    assert.equal(withMetric.length, 2, 'one EMF document per invocation');
    assert.deepEqual(withMetric[0]?._aws.CloudWatchMetrics[0]?.Namespace, 'Ballast');
  });

  it('flushes the metrics of a failed invocation too', async () => {
    const handler = lambdaHandler(schema, async () => {
      metrics.addMetric('Attempted', MetricUnit.Count, 1);
      throw new TransientError('later');
    });
    await assert.rejects(handler({ commit: 'abc', endpoint: { name: 'e' }, percent: 1 }, context()), TransientError);
    assert.equal(emf.filter((d) => 'Attempted' in d).length, 1);
  });
});

describe('rawLambdaHandler', () => {
  it('hands the event over untouched', async () => {
    const event = { body: '{"a":1}', isBase64Encoded: false };
    const handler = rawLambdaHandler(async (received: unknown) => received);
    assert.equal(await handler(event, context()), event);
  });
});
