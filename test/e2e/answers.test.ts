/**
 * Every push gets an answer (a ledger entry and a comment on the commit), and a failure that comes
 * from what the user wrote names the file and line. Driven as users drive Ballast: commits through
 * the sandbox's CodeCommit, the real workflow and handlers, the AWS SDK to look.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REPOSITORY_LEDGER } from '../../lambdas/state/keys.ts';
import {
  ENDPOINT_FILE,
  editYaml,
  lineOf,
  MODEL_FILE,
  requireFile,
  SUMMARIZER,
  sagemakerWrites,
  withArtifact,
  world,
} from './harness.ts';

const EKS_FILE = 'endpoints/embeddings.yaml';

test('an artifact whose bytes do not match its sha256 fails with the Model file:line, touches nothing live, and is held back', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const liveBefore = (await w.describe(SUMMARIZER)).EndpointConfigName;
    const artifact = await w.uploadArtifact('models/summarizer-llm/bad/model.tar.gz', Buffer.from('real bytes\n'));
    const files = withArtifact(w.files, { ...artifact, sha256: 'f'.repeat(64) });
    const mark = w.sandbox.requests.all().length;
    const commit = await w.deploy(files, 'summarizer-llm: weights with a wrong digest');

    const entry = (await w.ledger('summarizer')).at(-1);
    assert.equal(entry?.commit, commit);
    assert.equal(entry?.outcome, 'failed');
    const line = lineOf(requireFile(files, MODEL_FILE), 'artifact:');
    assert.match(
      entry?.reason ?? '',
      new RegExp(`^ArtifactIntegrityError: ${MODEL_FILE}:${line + 1}:\\d+: Model summarizer-llm: `),
      'the reason points at spec.artifact in the Model file',
    );
    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), [], 'no SageMaker resource was created or updated');
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, liveBefore);
    const state = await w.state('summarizer');
    assert.equal(state?.desired?.commit, commit);
    assert.deepEqual(
      state?.quarantined.map((q) => [q.commit, q.digest]),
      [[commit, state?.desired?.digest]],
      'the content is quarantined: nothing re-deploys it until a commit changes it or `ballast retry`',
    );
    const comments = await w.comments(commit);
    assert.equal(comments.length, 1);
    assert.match(
      comments[0] ?? '',
      new RegExp(`^Ballast prod/summarizer: failed — ArtifactIntegrityError: ${MODEL_FILE}:`),
    );
  } finally {
    await w.stop();
  }
});

test('a commit that changes no endpoint is answered: an unchanged entry under the repository and a comment', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const ledgerBefore = await w.ledger('summarizer');
    // A label is not part of any endpoint's digest (moving or relabelling a resource deploys nothing).
    const relabelled = editYaml(requireFile(w.files, MODEL_FILE), [[['metadata', 'labels', 'owner'], 'nlp-platform']]);
    const commit = await w.deploy({ [MODEL_FILE]: relabelled }, 'summarizer-llm: owner label');

    assert.deepEqual(await w.ledger('summarizer'), ledgerBefore, 'no endpoint entry: nothing was rolled out');
    const entries = (await w.ledger(REPOSITORY_LEDGER)).filter((e) => e.commit === commit);
    assert.deepEqual(
      entries.map((e) => [e.outcome, e.endpoints?.unchanged]),
      [['unchanged', ['embeddings', 'summarizer']]],
    );
    const comments = await w.comments(commit);
    assert.equal(comments.length, 1);
    assert.match(
      comments[0] ?? '',
      /^Ballast prod\/repository: unchanged — no endpoint to roll out: 2 endpoint\(s\) unchanged/,
    );
  } finally {
    await w.stop();
  }
});

test('a commit that only changes an EKS endpoint is answered as deferred', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const eks = editYaml(requireFile(w.files, EKS_FILE), [[['spec', 'target', 'eks', 'replicas'], 3]]);
    const mark = w.sandbox.requests.all().length;
    const commit = await w.deploy({ [EKS_FILE]: eks }, 'embeddings: three replicas');

    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), []);
    const entries = (await w.ledger(REPOSITORY_LEDGER)).filter((e) => e.commit === commit);
    assert.deepEqual(
      entries.map((e) => [e.outcome, e.endpoints?.deferred]),
      [['deferred', ['embeddings']]],
    );
    const comments = await w.comments(commit);
    assert.equal(comments.length, 1);
    assert.match(comments[0] ?? '', /^Ballast prod\/repository: deferred — .*\n- embeddings: deferred — EKS targets/);
  } finally {
    await w.stop();
  }
});

for (const step of ['Resolve', 'Validate'] as const) {
  test(`a push whose ${step} fails for good is still answered, and the execution fails (its alarm fires)`, async () => {
    const w = await world({
      around: {
        [step]: async () => {
          throw Object.assign(new Error(`${step} could not finish`), { name: 'SourceUnavailableError' });
        },
      },
    });
    try {
      const commit = await w.push(w.files, 'initial');
      await w.settle();
      const [execution, ...others] = w.executions(commit);
      assert.equal(others.length, 0);
      assert.equal(execution?.status, 'FAILED');
      assert.equal(execution?.error?.name, 'PushFailed');
      // Before Resolve has read ballast.yaml, the environment is not known: the entry is filed under
      // the branch (branch-main), as a push whose ballast.yaml cannot be read is.
      const environment = step === 'Resolve' ? 'branch-main' : 'prod';
      const entries = (await w.ledger(REPOSITORY_LEDGER, environment)).filter((e) => e.commit === commit);
      assert.deepEqual(
        entries.map((e) => [e.outcome, e.reason]),
        [['failed', `SourceUnavailableError: ${step} could not finish`]],
      );
      const comments = await w.comments(commit);
      assert.equal(comments.length, 1);
      assert.match(
        comments[0] ?? '',
        new RegExp(`^Ballast ${environment}/repository: failed — SourceUnavailableError`),
      );
    } finally {
      await w.stop();
    }
  });
}

test('an Endpoint whose rollback alarm does not exist fails with the Endpoint file:line', async () => {
  const w = await world();
  try {
    const endpoint = editYaml(requireFile(w.files, ENDPOINT_FILE), [[['spec', 'alarms'], ['no-such-alarm']]]);
    const commit = await w.deploy({ ...w.files, [ENDPOINT_FILE]: endpoint }, 'initial, with a missing alarm');
    const entry = (await w.ledger('summarizer')).at(-1);
    assert.equal(entry?.commit, commit);
    assert.equal(entry?.outcome, 'failed');
    assert.match(
      entry?.reason ?? '',
      new RegExp(
        `^InvalidInputError: ${ENDPOINT_FILE}:\\d+:\\d+: Endpoint summarizer declares rollback alarms that do not exist in CloudWatch: no-such-alarm`,
      ),
    );
  } finally {
    await w.stop();
  }
});

test('a Record retried after it had done its work answers the same outcome again, not superseded', async () => {
  let failed = false;
  const w = await world({
    around: {
      // The first attempt does everything, then its response is lost: Step Functions retries it.
      Record: async (input, next) => {
        const result = await next(input);
        if (!failed && input.kind === 'rollout') {
          failed = true;
          throw Object.assign(new Error('the response was lost'), { name: 'TransientError' });
        }
        return result;
      },
    },
  });
  try {
    const commit = await w.deploy(w.files, 'initial');
    assert.equal(failed, true, 'the first Record attempt was made to fail');
    assert.deepEqual(
      (await w.ledger('summarizer')).map((e) => [e.commit, e.outcome]),
      [[commit, 'deployed']],
    );
    const comments = await w.comments(commit);
    assert.equal(comments.length, 1, JSON.stringify(comments));
    assert.match(comments[0] ?? '', /^Ballast prod\/summarizer: deployed/);
    assert.equal((await w.state('summarizer'))?.live?.commit, commit);
  } finally {
    await w.stop();
  }
});

test('a Validate retried after it had moved the head plans what its first attempt planned', async () => {
  let failed = false;
  const w = await world({
    around: {
      // The first attempt plans and moves the environment head, then its response is lost.
      Validate: async (input, next) => {
        const result = await next(input);
        if (!failed) {
          failed = true;
          throw Object.assign(new Error('the response was lost'), { name: 'TransientError' });
        }
        return result;
      },
    },
  });
  try {
    const commit = await w.deploy(w.files, 'initial');
    assert.equal(failed, true, 'the first Validate attempt was made to fail');
    assert.deepEqual(
      (await w.ledger('summarizer')).map((e) => [e.commit, e.outcome]),
      [[commit, 'deployed']],
      'the retry rolled summarizer out, not "unchanged" against its own head',
    );
  } finally {
    await w.stop();
  }
});
