/**
 * End to end: pushes that race each other. One execution per push, one rollout per endpoint at a
 * time; the newest push wins the endpoint, an older one never overtakes it, and the ledger keeps
 * every push. The `around` hooks hold an execution at a chosen step so that each interleaving is
 * tested on purpose, not by luck.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EndpointWork, Rollout } from '../../lambdas/workflow/types.ts';
import {
  editYaml,
  MODEL_FILE,
  PROMPT_FILE,
  requireFile,
  SUMMARIZER,
  type World,
  withArtifact,
  world,
} from './harness.ts';

/** A promise with its resolve function, for handing a moment from one execution to another. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Waits (in wall time, bounded) for a step of another execution; a held execution must never hang the suite. */
async function within<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The configs SageMaker was asked to move the endpoint to, in order (its deployment events name them). */
function updateTargets(w: World, fromEvent: number): string[] {
  const targets: string[] = [];
  for (const event of w.sandbox.events.events().slice(fromEvent)) {
    if (event['detail-type'] !== 'SageMaker Endpoint Deployment State Change') continue;
    const name = (event.detail as { PendingDeploymentSummary?: { EndpointConfigName?: string } })
      .PendingDeploymentSummary?.EndpointConfigName;
    if (name && targets.at(-1) !== name) targets.push(name);
  }
  return targets;
}

async function newModel(w: World, version: string): Promise<Record<string, string>> {
  const artifact = await w.uploadArtifact(
    `models/summarizer-llm/${version}/model.tar.gz`,
    Buffer.from(`summarizer-llm weights ${version}\n`),
  );
  return withArtifact(w.files, artifact);
}

function shorterSummaries(w: World): Record<string, string> {
  return { [PROMPT_FILE]: editYaml(requireFile(w.files, PROMPT_FILE), [[['spec', 'variables', 1, 'default'], '80']]) };
}

test('two quick pushes: the newer commit ends live, the older one never overtakes it, the ledger has both', async () => {
  const w = await world();
  try {
    const base = await w.deploy(w.files, 'initial');
    const baseConfig = (await w.state('summarizer'))?.live?.endpointConfigName;
    const eventsBefore = w.sandbox.events.events().length;

    // A changes the model; B, pushed right after without waiting, changes the prompt too.
    const a = await w.push(await newModel(w, '2025-02-01'), 'A: summarizer-llm 2025-02-01');
    const b = await w.push(shorterSummaries(w), 'B: shorter summaries');
    await w.settle();

    for (const commit of [a, b]) {
      const [execution, ...more] = w.executions(commit);
      assert.equal(more.length, 0);
      assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    }
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, b, 'B is live');
    assert.equal(state?.desired?.commit, b);
    assert.equal(state?.lease, undefined);
    const configB = state?.live?.endpointConfigName;
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, configB);
    assert.equal((await w.json<{ commit: string }>('pointers/prod/summarizer/live.json'))?.commit, b);

    const ledger = await w.ledger('summarizer');
    assert.equal(ledger[0]?.commit, base, 'the history before is intact');
    const outcomes = (commit: string) => ledger.filter((e) => e.commit === commit).map((e) => e.outcome);
    assert.deepEqual(outcomes(b), ['deployed']);
    const [outcomeA, ...moreA] = outcomes(a);
    assert.equal(moreA.length, 0, 'one entry for A');
    assert.ok(outcomeA === 'superseded' || outcomeA === 'deployed', `A ended ${outcomeA}`);

    const targets = updateTargets(w, eventsBefore);
    assert.equal(targets.at(-1), configB, `the last update was to B: ${JSON.stringify(targets)}`);
    assert.equal(targets.indexOf(configB ?? ''), targets.length - 1, 'nothing after B started');
    assert.ok(!targets.includes(baseConfig ?? ''));
    assert.ok(targets.length <= 2, 'at most one rollout of A, then B');
    if (outcomeA === 'superseded') assert.deepEqual(targets, [configB], 'a superseded A never reached the endpoint');
  } finally {
    await w.stop();
  }
});

test('a newer push that takes the endpoint before the older one registers: the older stops, superseded', async () => {
  let b = '';
  let holdOlder = false;
  const leasedByB = signal();
  const w: World = await world({
    around: {
      // Hold A just before Register, until B holds the endpoint's lease.
      Register: async (input: EndpointWork, next) => {
        if (holdOlder && input.push.commit !== b) await within(leasedByB.promise, 'B to take the lease');
        return next(input);
      },
      Lease: async (input: EndpointWork, next) => {
        const lease = await next(input);
        if (input.push.commit === b) leasedByB.resolve();
        return lease;
      },
    },
  });
  try {
    await w.deploy(w.files, 'initial');
    holdOlder = true;
    const mark = w.sandbox.requests.all().length;
    const eventsBefore = w.sandbox.events.events().length;
    const filesA = await newModel(w, '2025-02-01');
    // B's commit id is only known once pushed; A's Register waits for B anyway.
    const a = await w.push(filesA, 'A: summarizer-llm 2025-02-01');
    b = await w.push(shorterSummaries(w), 'B: shorter summaries');
    await w.settle();

    const [execA] = w.executions(a);
    assert.equal(execA?.status, 'SUCCEEDED', JSON.stringify(execA?.error));
    assert.ok(execA.states.includes('RecordFailure'), execA.states.join(','));
    assert.ok(!execA.states.includes('Deploy'), 'A never reached Deploy');
    const entryA = (await w.ledger('summarizer')).find((e) => e.commit === a);
    assert.equal(entryA?.outcome, 'superseded');
    assert.match(entryA?.reason ?? '', /LeaseLostError: a newer push/);
    assert.equal(await w.json(`pointers/prod/summarizer/${a}.json`), undefined, 'A registered nothing');

    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, b);
    const configB = state?.live?.endpointConfigName;
    assert.deepEqual(updateTargets(w, eventsBefore), [configB], 'one rollout, of B');
    const updates = w.requestsSince(mark).filter((r) => r.service === 'sagemaker' && r.operation === 'UpdateEndpoint');
    assert.equal(updates.length, 1);
    assert.deepEqual(
      (await w.ledger('summarizer')).find((e) => e.commit === b)?.changes,
      ['model:summarizer-llm', 'prompt:summarize'],
      'B is compared with what is live, not with A',
    );
  } finally {
    await w.stop();
  }
});

/**
 * A rolls out; B arrives during A's rollout and takes the lease; B's Deploy finds the endpoint
 * busy and waits. `thenB` is B's change.
 */
async function pushDuringRollout(thenB: (w: World, filesA: Record<string, string>) => Record<string, string>) {
  const commits = { a: '', b: '' };
  const bWaiting = signal();
  const w: World = await world({
    around: {
      Deploy: async (input: EndpointWork, next) => {
        const rollout = (await next(input)) as Rollout;
        if (input.push.commit === commits.b && rollout.status === 'waiting') bWaiting.resolve();
        // Keep A's rollout in progress (the clock moves only on Waits) until B waits for it.
        if (input.push.commit === commits.a && rollout.status === 'started') {
          await within(bWaiting.promise, "B's Deploy to find the endpoint busy");
        }
        return rollout;
      },
    },
  });
  const base = await w.deploy(w.files, 'initial');
  const eventsBefore = w.sandbox.events.events().length;
  const filesA = await newModel(w, '2025-02-01');
  commits.a = await w.push(filesA, 'A: summarizer-llm 2025-02-01');
  // B is pushed once A's rollout is under way.
  for (let i = 0; i < 500 && w.sandbox.sagemaker.endpoint(SUMMARIZER)?.status !== 'Updating'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(w.sandbox.sagemaker.endpoint(SUMMARIZER)?.status, 'Updating', "A's rollout started");
  commits.b = await w.push({ ...filesA, ...thenB(w, filesA) }, 'B: on top of A');
  await w.settle();
  return { w, base, ...commits, eventsBefore };
}

test('a push during a rollout waits for it, then rolls out; the endpoint ends on the newer commit', async () => {
  const { w, a, b, eventsBefore } = await pushDuringRollout(shorterSummaries);
  try {
    const [execA] = w.executions(a);
    const [execB] = w.executions(b);
    assert.equal(execA?.status, 'SUCCEEDED', JSON.stringify(execA?.error));
    assert.equal(execB?.status, 'SUCCEEDED', JSON.stringify(execB?.error));
    assert.ok(execB.states.includes('WaitForIdleEndpoint'), 'B waited for the endpoint');

    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, b);
    assert.equal(state?.lease, undefined);
    const configB = state?.live?.endpointConfigName;
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, configB);
    const targets = updateTargets(w, eventsBefore);
    assert.equal(targets.length, 2, `A's rollout, then B's: ${JSON.stringify(targets)}`);
    assert.equal(targets[1], configB);

    const ledger = await w.ledger('summarizer');
    assert.deepEqual(
      ledger.filter((e) => e.commit === b).map((e) => e.outcome),
      ['deployed'],
    );
    assert.equal(ledger.filter((e) => e.commit === a).length, 1, 'A is in the ledger');
    assert.ok(ledger.find((e) => e.commit === b)?.changes?.includes('prompt:summarize'));
  } finally {
    await w.stop();
  }
});

test('after a superseded rollout completed, the state says what the endpoint really runs', async () => {
  // B = A's model with a container that never starts: SageMaker rolls B back to A's fleet.
  const { w, a, b } = await pushDuringRollout((_, filesA) => ({
    [MODEL_FILE]: editYaml(requireFile(filesA, MODEL_FILE), [
      [['spec', 'environment', 'BALLAST_SANDBOX_FAIL'], 'startup'],
    ]),
  }));
  try {
    const endpoint = await w.describe(SUMMARIZER);
    const state = await w.state('summarizer');
    assert.equal((await w.ledger('summarizer')).find((e) => e.commit === b)?.outcome, 'rolled-back');
    assert.equal(state?.live?.endpointConfigName, endpoint.EndpointConfigName, 'state.live is what runs');
    assert.equal(state?.live?.commit, a);
  } finally {
    await w.stop();
  }
});
