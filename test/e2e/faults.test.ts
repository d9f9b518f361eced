/**
 * End to end: APIs that throttle or fail with 5xx, as AWS APIs do. The SDK's retries (adaptive
 * mode: backoff and client-side rate limiting, in wall-clock time) absorb short bursts; longer
 * ones surface as TransientError and the workflow's Retry runs the step again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SUMMARIZER, withArtifact, world } from './harness.ts';

test('throttled and failing APIs: the deploy still succeeds, and the request log shows the retries', async () => {
  const w = await world();
  try {
    w.sandbox.faults.add({ service: 'sagemaker', operation: 'CreateEndpointConfig', kind: 'throttle', times: 3 });
    w.sandbox.faults.add({ service: 's3', operation: 'PutObject', kind: 'server-error', times: 1 });
    const mark = w.sandbox.requests.all().length;
    const commit = await w.deploy(w.files, 'initial');

    const [execution] = w.executions(commit);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, commit);
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, state?.live?.endpointConfigName);
    assert.deepEqual(
      (await w.ledger('summarizer')).map((e) => e.outcome),
      ['deployed'],
    );

    const requests = w.requestsSince(mark);
    const configCalls = requests.filter((r) => r.service === 'sagemaker' && r.operation === 'CreateEndpointConfig');
    assert.deepEqual(
      configCalls.map((r) => [r.status, r.fault ?? 'ok']),
      [
        [400, 'throttle'],
        [400, 'throttle'],
        [400, 'throttle'],
        [200, 'ok'],
      ],
      'three throttled attempts, then the one that went through',
    );
    const faultedPuts = requests.filter((r) => r.service === 's3' && r.operation === 'PutObject' && r.fault);
    assert.equal(faultedPuts.length, 1);
    assert.ok((faultedPuts[0]?.status ?? 0) >= 500);
    assert.equal(w.sandbox.sagemaker.endpoints().length, 1, 'the retries created one endpoint, not several');
  } finally {
    await w.stop();
  }
});

test('failures beyond the SDK retries: Step Functions retries the step on TransientError', async () => {
  const w = await world();
  try {
    // More failures than the SDK's five attempts: Deploy gives up with TransientError once, and
    // the workflow's Retry runs it again (idempotent: the model already exists). 5xx rather than
    // throttling, whose client-side rate limiting would cost seconds of wall time.
    w.sandbox.faults.add({ service: 'sagemaker', operation: 'CreateEndpointConfig', kind: 'server-error', times: 6 });
    const mark = w.sandbox.requests.all().length;
    const commit = await w.deploy(w.files, 'initial');

    const [execution] = w.executions(commit);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    assert.equal(
      execution.states.filter((s) => s === 'Deploy').length,
      1,
      'one Deploy state, retried inside it (a retry re-enters no state)',
    );
    assert.equal((await w.state('summarizer'))?.live?.commit, commit);
    const requests = w.requestsSince(mark);
    const counts = (operation: string) =>
      requests.filter((r) => r.service === 'sagemaker' && r.operation === operation).length;
    assert.equal(counts('CreateEndpointConfig'), 7, 'six failed, then one success');
    assert.equal(counts('CreateModel'), 2, 'the retried step asked again and found the model already there');
    assert.equal(counts('CreateEndpoint'), 1);
    assert.deepEqual(
      (await w.ledger('summarizer')).map((e) => e.outcome),
      ['deployed'],
    );
  } finally {
    await w.stop();
  }
});

test('lost responses: the work went through, the caller saw a 500, and the retry finds it instead of doing it twice', async () => {
  const w = await world();
  try {
    const first = await w.deploy(w.files, 'initial');
    const firstConfig = (await w.state('summarizer'))?.live?.endpointConfigName;
    const artifact = await w.uploadArtifact('models/lost/model.tar.gz', Buffer.from('weights whose answers get lost'));
    // The UpdateEndpoint call starts the rollout but its answer is lost; so are the answers of the
    // first S3 writes (the commit snapshot's write-once put and the lease's compare-and-swap).
    w.sandbox.faults.add({ service: 'sagemaker', operation: 'UpdateEndpoint', kind: 'lost-response', times: 1 });
    w.sandbox.faults.add({ service: 's3', operation: 'PutObject', kind: 'lost-response', times: 2 });
    const mark = w.sandbox.requests.all().length;
    const second = await w.deploy(withArtifact(w.files, artifact), 'new weights');

    const [execution] = w.executions(second);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, second);
    assert.notEqual(state?.live?.endpointConfigName, firstConfig);
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, state?.live?.endpointConfigName);
    const updates = w.requestsSince(mark).filter((r) => r.service === 'sagemaker' && r.operation === 'UpdateEndpoint');
    assert.equal(updates[0]?.fault, 'lost-response');
    assert.equal(w.requestsSince(mark).filter((r) => r.service === 's3' && r.fault === 'lost-response').length, 2);
    assert.ok(
      updates.slice(1).every((r) => r.status >= 400),
      'a repeated UpdateEndpoint is refused by SageMaker (the endpoint is already updating), never a second rollout',
    );
    assert.deepEqual(
      (await w.ledger('summarizer')).map((e) => [e.commit, e.outcome]),
      [
        [first, 'deployed'],
        [second, 'deployed'],
      ],
    );
  } finally {
    await w.stop();
  }
});
