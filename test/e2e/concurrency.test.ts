/**
 * End to end: pushes that race each other. One execution per push, one rollout per endpoint at a
 * time; the newest push wins the endpoint, an older one never overtakes it, and the ledger keeps
 * every push. Every interleaving is chosen by the test with `around` hooks (they run at the
 * simulated instant the real Lambda returns, and simulated time moves only when a Wait state is
 * entered), so each scenario has exactly one right outcome and asserts it.
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
  sagemakerWrites,
  signal,
  updateEndpointCalls,
  type World,
  withArtifact,
  within,
  world,
} from './harness.ts';

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

function summaryLength(w: World, words: string): Record<string, string> {
  return { [PROMPT_FILE]: editYaml(requireFile(w.files, PROMPT_FILE), [[['spec', 'variables', 1, 'default'], words]]) };
}

function shorterSummaries(w: World): Record<string, string> {
  return summaryLength(w, '80');
}

async function outcomes(w: World, commit: string): Promise<string[]> {
  return (await w.ledger('summarizer')).filter((e) => e.commit === commit).map((e) => e.outcome);
}

test('two quick pushes, the newer one leased first: the older is superseded at its Lease, only the newer rolls out', async () => {
  const commits = { a: '', b: '' };
  let holding = false;
  // Set once both commits are pushed: the hooks only compare commit ids after that.
  const pushed = signal();
  const leasedByB = signal();
  const w: World = await world({
    around: {
      // A's Lease runs only after B holds the endpoint: B's push is the newer one (its parent is A).
      Lease: async (input: EndpointWork, next) => {
        if (!holding) return next(input);
        await within(pushed.promise, 'both pushes');
        if (input.push.commit === commits.a) await within(leasedByB.promise, 'B to take the lease');
        const lease = await next(input);
        if (input.push.commit === commits.b) leasedByB.resolve();
        return lease;
      },
    },
  });
  try {
    const base = await w.deploy(w.files, 'initial');
    const baseConfig = (await w.state('summarizer'))?.live?.endpointConfigName;
    const eventsBefore = w.sandbox.events.events().length;
    const mark = w.sandbox.requests.all().length;
    holding = true;

    // A changes the model; B, pushed right after without waiting, changes the prompt too.
    commits.a = await w.push(await newModel(w, '2025-02-01'), 'A: summarizer-llm 2025-02-01');
    commits.b = await w.push(shorterSummaries(w), 'B: shorter summaries');
    pushed.resolve();
    await w.settle();
    const { a, b } = commits;

    for (const commit of [a, b]) {
      const [execution, ...more] = w.executions(commit);
      assert.equal(more.length, 0, 'one execution per push');
      assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    }
    const [execA] = w.executions(a);
    assert.ok(execA?.states.includes('RecordSkipped'), execA?.states.join(','));
    assert.ok(!execA?.states.includes('Register'), 'A registered nothing');

    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, b, 'B is live');
    assert.equal(state?.desired?.commit, b);
    assert.equal(state?.lease, undefined);
    assert.deepEqual(state?.quarantined, []);
    const configB = state?.live?.endpointConfigName;
    assert.ok(configB);
    assert.notEqual(configB, baseConfig);
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, configB);
    assert.equal(state?.live?.pointerKey, `pointers/prod/summarizer/${b}.json`);

    const ledger = await w.ledger('summarizer');
    assert.equal(ledger[0]?.commit, base, 'the history before is intact');
    assert.deepEqual(await outcomes(w, b), ['deployed']);
    assert.deepEqual(await outcomes(w, a), ['superseded']);
    assert.deepEqual(updateTargets(w, eventsBefore), [configB], 'one rollout, of B');
    assert.equal(updateEndpointCalls(w, mark).length, 1);
  } finally {
    await w.stop();
  }
});

test("two pushes, the older one's rollout done before the newer one leases: both deploy, in order", async () => {
  const commits = { a: '', b: '' };
  let holding = false;
  const pushed = signal();
  const recordedA = signal();
  const w: World = await world({
    around: {
      Lease: async (input: EndpointWork, next) => {
        if (!holding) return next(input);
        await within(pushed.promise, 'both pushes');
        if (input.push.commit === commits.b) await within(recordedA.promise, "A's Record");
        return next(input);
      },
      Record: async (input: EndpointWork, next) => {
        const result = await next(input);
        if (holding && input.push.commit === commits.a) recordedA.resolve();
        return result;
      },
    },
  });
  try {
    await w.deploy(w.files, 'initial');
    const eventsBefore = w.sandbox.events.events().length;
    const mark = w.sandbox.requests.all().length;
    holding = true;
    commits.a = await w.push(await newModel(w, '2025-02-01'), 'A: summarizer-llm 2025-02-01');
    commits.b = await w.push(shorterSummaries(w), 'B: shorter summaries');
    pushed.resolve();
    await w.settle();
    const { a, b } = commits;

    assert.deepEqual(await outcomes(w, a), ['deployed']);
    assert.deepEqual(await outcomes(w, b), ['deployed']);
    const entryA = (await w.ledger('summarizer')).find((e) => e.commit === a);
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, b);
    const configB = state?.live?.endpointConfigName;
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, configB);
    assert.deepEqual(updateTargets(w, eventsBefore), [entryA?.endpointConfigName, configB], 'A, then B');
    assert.equal(updateEndpointCalls(w, mark).length, 2);
    assert.deepEqual(
      (await w.ledger('summarizer')).find((e) => e.commit === b)?.changes,
      ['prompt:summarize'],
      'B is compared with A, which was live when B was planned',
    );
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
    assert.equal(entryA?.reason, `a newer push (${b.slice(0, 12)}) took the endpoint over`);
    assert.equal(await w.json(`pointers/prod/summarizer/${a}.json`), undefined, 'A registered nothing');

    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, b);
    const configB = state?.live?.endpointConfigName;
    assert.deepEqual(updateTargets(w, eventsBefore), [configB], 'one rollout, of B');
    assert.equal(updateEndpointCalls(w, mark).length, 1);
  } finally {
    await w.stop();
  }
});

test("the ledger says what a push changed on the endpoint, not what it changed since a superseded push's plan", async () => {
  const commits = { a: '', b: '' };
  let holding = false;
  const pushed = signal();
  const validatedA = signal();
  const leasedByB = signal();
  const w: World = await world({
    around: {
      // A is planned first (the head becomes A), then B takes the endpoint before A's Lease.
      Validate: async (input: EndpointWork, next) => {
        if (!holding) return next(input);
        await within(pushed.promise, 'both pushes');
        if (input.push.commit === commits.b) await within(validatedA.promise, "A's Validate");
        const plan = await next(input);
        if (input.push.commit === commits.a) validatedA.resolve();
        return plan;
      },
      Lease: async (input: EndpointWork, next) => {
        if (!holding) return next(input);
        if (input.push.commit === commits.a) await within(leasedByB.promise, 'B to take the lease');
        const lease = await next(input);
        if (input.push.commit === commits.b) leasedByB.resolve();
        return lease;
      },
    },
  });
  try {
    await w.deploy(w.files, 'initial');
    holding = true;
    commits.a = await w.push(await newModel(w, '2025-02-01'), 'A: summarizer-llm 2025-02-01');
    commits.b = await w.push(shorterSummaries(w), 'B: shorter summaries');
    pushed.resolve();
    await w.settle();
    assert.deepEqual(await outcomes(w, commits.a), ['superseded']);
    assert.deepEqual(await outcomes(w, commits.b), ['deployed']);
    // A never reached the endpoint: going from the initial commit to B changes the model and the prompt.
    assert.deepEqual((await w.ledger('summarizer')).find((e) => e.commit === commits.b)?.changes, [
      'model:summarizer-llm',
      'prompt:summarize',
    ]);
  } finally {
    await w.stop();
  }
});

/**
 * A rolls out; at the instant A's Deploy has started the update (the endpoint is Updating), B is
 * pushed. B takes the lease and its Deploy finds the endpoint busy and waits; only then does A's
 * execution go on to its first Wait. `thenB` is B's change, on top of A's files.
 */
async function pushDuringRollout(thenB: (w: World, filesA: Record<string, string>) => Record<string, string>) {
  const commits = { a: '', b: '' };
  let filesA: Record<string, string> = {};
  let pushedB = false;
  const bWaiting = signal();
  const w: World = await world({
    around: {
      Deploy: async (input: EndpointWork, next) => {
        const rollout = (await next(input)) as Rollout;
        if (input.push.commit === commits.b && rollout.status === 'waiting') bWaiting.resolve();
        if (input.push.commit === commits.a && rollout.status === 'started' && !pushedB) {
          pushedB = true;
          assert.equal(w.sandbox.sagemaker.endpoint(SUMMARIZER)?.status, 'Updating', "A's rollout started");
          commits.b = await w.push({ ...filesA, ...thenB(w, filesA) }, 'B: on top of A');
          // Keep A's rollout in progress (the clock moves only on Waits) until B waits for it.
          await within(bWaiting.promise, "B's Deploy to find the endpoint busy");
        }
        return rollout;
      },
    },
  });
  const base = await w.deploy(w.files, 'initial');
  const eventsBefore = w.sandbox.events.events().length;
  const mark = w.sandbox.requests.all().length;
  filesA = await newModel(w, '2025-02-01');
  commits.a = await w.push(filesA, 'A: summarizer-llm 2025-02-01');
  await w.settle();
  // B's execution starts from its push event, delivered after A's hook pushed it.
  await w.settle();
  assert.ok(pushedB, 'B was pushed during A');
  return { w, base, ...commits, eventsBefore, mark };
}

test('a newer push takes the lease while the older rollout is Updating: the older is superseded, the newer deployed', async () => {
  const { w, a, b, eventsBefore, mark } = await pushDuringRollout(shorterSummaries);
  try {
    const [execA] = w.executions(a);
    const [execB] = w.executions(b);
    assert.equal(execA?.status, 'SUCCEEDED', JSON.stringify(execA?.error));
    assert.equal(execB?.status, 'SUCCEEDED', JSON.stringify(execB?.error));
    assert.ok(execB.states.includes('WaitForIdleEndpoint'), 'B waited for the endpoint');

    // A: superseded, never rolled-back, nothing quarantined.
    assert.deepEqual(await outcomes(w, a), ['superseded']);
    const commentsA = await w.comments(a);
    assert.equal(commentsA.length, 1, JSON.stringify(commentsA));
    assert.match(commentsA[0] ?? '', /^Ballast prod\/summarizer: superseded — /);
    const allComments = [...commentsA, ...(await w.comments(b))];
    assert.ok(allComments.length > 0);
    assert.ok(!allComments.some((c) => c.includes('rolled-back')), JSON.stringify(allComments));

    // B: deployed and live.
    assert.deepEqual(await outcomes(w, b), ['deployed']);
    const state = await w.state('summarizer');
    assert.deepEqual(state?.quarantined, []);
    assert.equal(state?.live?.commit, b);
    assert.equal(state?.lastGood?.commit, b);
    assert.equal(state?.lease, undefined);
    const configB = state?.live?.endpointConfigName;
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, configB);
    const targets = updateTargets(w, eventsBefore);
    assert.equal(targets.length, 2, `A's rollout, then B's: ${JSON.stringify(targets)}`);
    assert.equal(targets[1], configB);
    assert.equal(updateEndpointCalls(w, mark).length, 2);
    assert.ok((await w.ledger('summarizer')).find((e) => e.commit === b)?.changes?.includes('prompt:summarize'));
  } finally {
    await w.stop();
  }
});

test('after a superseded rollout completed, the state says what the endpoint really runs', async () => {
  // B = A's model with a container that never starts: SageMaker rolls B back to A's fleet.
  const { w, a, b } = await pushDuringRollout((_, filesA) => ({
    [MODEL_FILE]: editYaml(requireFile(filesA, MODEL_FILE), [[['spec', 'environment', 'SANDBOX_FAIL'], 'startup']]),
  }));
  try {
    const endpoint = await w.describe(SUMMARIZER);
    const state = await w.state('summarizer');
    assert.deepEqual(await outcomes(w, b), ['rolled-back']);
    assert.deepEqual(await outcomes(w, a), ['superseded']);
    assert.equal(state?.live?.endpointConfigName, endpoint.EndpointConfigName, 'state.live is what runs');
    assert.equal(state?.live?.commit, a);
  } finally {
    await w.stop();
  }
});

test('10 pushes within one second: at most 2 UpdateEndpoint calls, the last push ends live', async () => {
  const PUSHES = 10;
  const commits: string[] = [];
  let holding = false;
  const leased = new Set<string>();
  const allLeased = signal();
  const w: World = await world({
    around: {
      Lease: async (input: EndpointWork, next) => {
        const lease = await next(input);
        if (holding) {
          leased.add(input.push.commit);
          if (leased.size === PUSHES) allLeased.resolve();
        }
        return lease;
      },
      // "Within one second": no simulated time passes (no Wait is entered) until every push has
      // asked for the endpoint. Deploy may start one rollout before that; nothing else may.
      Deploy: async (input: EndpointWork, next) => {
        const rollout = await next(input);
        if (holding) await within(allLeased.promise, 'every push to reach Lease');
        return rollout;
      },
    },
  });
  try {
    await w.deploy(w.files, 'initial');
    const mark = w.sandbox.requests.all().length;
    holding = true;
    // Each commit changes the model or the prompt, so every push has its own content; the
    // artifacts are uploaded first so that the 10 commits go out back to back.
    const changes: Array<Record<string, string>> = [];
    for (let i = 0; i < PUSHES; i++) {
      changes.push(
        i % 2 === 0 ? await newModel(w, `2025-03-${String(i + 1).padStart(2, '0')}`) : summaryLength(w, String(60 + i)),
      );
    }
    for (const [i, change] of changes.entries()) commits.push(await w.push(change, `push ${i + 1}`));
    await w.settle();
    const last = commits.at(-1) ?? '';
    assert.equal(commits.length, PUSHES);

    for (const commit of commits) {
      const [execution, ...more] = w.executions(commit);
      assert.equal(more.length, 0);
      assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    }
    const updates = updateEndpointCalls(w, mark);
    assert.ok(updates.length > 0, 'the endpoint was updated');
    assert.ok(updates.length <= 2, `${updates.length} UpdateEndpoint calls`);
    assert.ok(
      sagemakerWrites(w.requestsSince(mark)).every((r) => r.operation !== 'CreateEndpoint'),
      'the endpoint is updated, not created',
    );

    assert.deepEqual(await outcomes(w, last), ['deployed']);
    for (const commit of commits.slice(0, -1)) {
      assert.deepEqual(await outcomes(w, commit), ['superseded'], `push ${commits.indexOf(commit) + 1}`);
    }
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, last);
    assert.equal(state?.lease, undefined);
    assert.deepEqual(state?.quarantined, []);
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, state?.live?.endpointConfigName);
  } finally {
    await w.stop();
  }
});
