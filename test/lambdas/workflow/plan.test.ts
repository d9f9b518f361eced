// planPush: which endpoints a push changes against the environment's head, and what each deploys.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  memorySource,
  type ResolvedEndpoint,
  resolveEndpoints,
  validateRepository,
} from '../../../lambdas/spec/index.ts';
import {
  carryNotLive,
  type EnvironmentHead,
  headAfterRecord,
  type PlanResult,
  planPush,
  where,
} from '../../../lambdas/workflow/plan.ts';
import type { Push } from '../../../lambdas/workflow/types.ts';
import { EXAMPLE_REPO_DIR, readTree } from '../../../sandbox/example-world.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const T0 = '2026-03-01T09:00:00.000Z';
const T1 = '2026-03-01T09:00:01.000Z';
const T2 = '2026-03-01T09:00:02.000Z';

/** A second SageMaker endpoint next to the example's summarizer (SageMaker) and embeddings (EKS). */
const CLASSIFIER = `apiVersion: ballast.dev/v1
kind: Endpoint
metadata:
  name: classifier
spec:
  model: summarizer-llm
  target:
    sagemaker:
      instanceType: ml.g5.xlarge
      instanceCount: 1
  alarms:
    - classifier-5xx
`;

let files: Record<string, string>;

before(async () => {
  files = { ...(await readTree(EXAMPLE_REPO_DIR)), 'endpoints/classifier.yaml': CLASSIFIER };
});

function pushOf(commit: string, pushedAt: string, previousCommit?: string): Push {
  return {
    source: 'codecommit',
    repository: 'acme-ml',
    branch: 'main',
    commit,
    ...(previousCommit ? { previousCommit } : {}),
    pushedBy: 'arn:aws:iam::111122223333:user/dev',
    pushedAt,
    deliveryId: `evt-${commit[0]}`,
  };
}

async function resolve(repository: Record<string, string>, environment = 'prod'): Promise<ResolvedEndpoint[]> {
  const result = await validateRepository(memorySource(repository));
  assert.deepEqual(result.issues, []);
  assert.ok(result.repository);
  return resolveEndpoints(result.repository, environment);
}

function edit(repository: Record<string, string>, path: string, from: string, to: string): Record<string, string> {
  const text = repository[path] ?? '';
  assert.ok(text.includes(from), `${path} contains ${from}`);
  return { ...repository, [path]: text.replace(from, to) };
}

function headOf(result: PlanResult): EnvironmentHead {
  assert.ok(result.head, 'the plan moves the head');
  return result.head;
}

/** The head after a first push of `repository` at commit A. */
async function headAtA(repository: Record<string, string> = files): Promise<EnvironmentHead> {
  return headOf(planPush(pushOf(A, T0), 'prod', await resolve(repository), undefined));
}

const changesByName = (result: PlanResult) =>
  Object.fromEntries(result.document.endpoints.map((e) => [e.name, e.changes]));

describe('planPush: the first push of an environment', () => {
  it("plans every SageMaker endpoint as ['initial'] and defers the EKS one", async () => {
    const result = planPush(pushOf(A, T0), 'prod', await resolve(files), undefined);
    assert.deepEqual(changesByName(result), {
      assistant: ['initial'],
      classifier: ['initial'],
      summarizer: ['initial'],
    });
    assert.deepEqual(
      result.document.endpoints.map((e) => e.target),
      ['sagemaker', 'sagemaker', 'sagemaker'],
    );
    assert.deepEqual(result.document.deferred, [
      { name: 'embeddings', reason: 'EKS targets are validated but not rolled out by this version of Ballast' },
    ]);
    assert.deepEqual(result.document.unchanged, []);
    assert.deepEqual(result.document.removed, []);
    assert.equal(result.document.comparedWith, undefined);
    assert.equal(result.document.commit, A);
    assert.equal(result.document.environment, 'prod');
    assert.deepEqual(
      result.releases.map((r) => r.name),
      ['assistant', 'classifier', 'summarizer'],
    );
  });

  it('stores a head that knows every endpoint, the deferred one too', async () => {
    const resolved = await resolve(files);
    const head = headOf(planPush(pushOf(A, T0, C), 'prod', resolved, undefined));
    assert.equal(head.environment, 'prod');
    assert.equal(head.commit, A);
    assert.equal(head.pushedAt, T0);
    assert.equal(head.previousCommit, C);
    assert.deepEqual(Object.keys(head.endpoints).sort(), ['assistant', 'classifier', 'embeddings', 'summarizer']);
    assert.equal(resolved.length, 4);
    for (const endpoint of resolved) assert.equal(head.endpoints[endpoint.name]?.digest, endpoint.digest);
  });
});

describe('planPush: against the head', () => {
  it('plans nothing for the same content, and lists every endpoint (the EKS one too) as unchanged', async () => {
    const head = await headAtA();
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(files), head);
    assert.deepEqual(result.document.endpoints, []);
    assert.deepEqual(result.document.unchanged, ['assistant', 'classifier', 'embeddings', 'summarizer']);
    assert.deepEqual(result.document.deferred, [], 'an unchanged EKS endpoint is unchanged, not deferred');
    assert.deepEqual(result.document.removed, []);
    assert.equal(result.document.comparedWith, A);
    assert.deepEqual(result.releases, []);
    assert.equal(headOf(result).commit, B, 'a newer push moves the head even when nothing changed');
  });

  it('plans content equal to the head when the head says it did not go live, and carries the mark on', async () => {
    const atA = await headAtA();
    const summarizer = atA.endpoints.summarizer;
    assert.ok(summarizer);
    const head = { ...atA, endpoints: { ...atA.endpoints, summarizer: { ...summarizer, notLive: true as const } } };
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(files), head);
    assert.deepEqual(changesByName(result), { summarizer: [] }, 'planned, so that Lease answers for it');
    assert.deepEqual(result.document.unchanged, ['assistant', 'classifier', 'embeddings']);
    assert.equal(headOf(result).endpoints.summarizer?.notLive, true);
  });

  it('drops the mark when the content changes', async () => {
    const atA = await headAtA();
    const summarizer = atA.endpoints.summarizer;
    assert.ok(summarizer);
    const head = { ...atA, endpoints: { ...atA.endpoints, summarizer: { ...summarizer, notLive: true as const } } };
    const changed = edit(
      files,
      'prompts/summarize.yaml',
      'You are a precise summarizer.',
      'You are a terse summarizer.',
    );
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(changed), head);
    assert.deepEqual(changesByName(result), { summarizer: ['prompt:summarize'] });
    assert.equal(headOf(result).endpoints.summarizer?.notLive, undefined);
  });

  it('names a changed prompt, and only for the endpoint that uses it', async () => {
    const head = await headAtA();
    const changed = edit(
      files,
      'prompts/summarize.yaml',
      'You are a precise summarizer.',
      'You are a terse summarizer.',
    );
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(changed), head);
    assert.deepEqual(changesByName(result), { summarizer: ['prompt:summarize'] });
    assert.deepEqual(result.document.unchanged, ['assistant', 'classifier', 'embeddings']);
  });

  it('names a changed model for every endpoint that serves it', async () => {
    const head = await headAtA();
    const changed = edit(
      files,
      'models/summarizer-llm.yaml',
      'OPTION_MAX_MODEL_LEN: "8192"',
      'OPTION_MAX_MODEL_LEN: "4096"',
    );
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(changed), head);
    assert.deepEqual(changesByName(result), {
      classifier: ['model:summarizer-llm'],
      summarizer: ['model:summarizer-llm'],
    });
    assert.deepEqual(result.document.unchanged, ['assistant', 'embeddings']);
  });

  it('names an added config, then a changed one; a changed EKS endpoint is deferred', async () => {
    const withConfig = edit(
      files,
      'endpoints/classifier.yaml',
      '  model: summarizer-llm\n',
      '  model: summarizer-llm\n  configs: [retrieval]\n',
    );
    const head = await headAtA();
    const added = planPush(pushOf(B, T1, A), 'prod', await resolve(withConfig), head);
    assert.deepEqual(changesByName(added), { classifier: ['config:retrieval'] });

    const changed = edit(withConfig, 'configs/retrieval.yaml', 'topK: 8', 'topK: 10');
    const result = planPush(pushOf(C, T2, B), 'prod', await resolve(changed), headOf(added));
    assert.deepEqual(changesByName(result), { classifier: ['config:retrieval'] });
    assert.deepEqual(
      result.document.deferred.map((d) => d.name),
      ['embeddings'],
    );
    assert.deepEqual(result.document.unchanged, ['assistant', 'summarizer']);
  });

  it("names the endpoint's own settings as 'endpoint'", async () => {
    const head = await headAtA();
    const changed = edit(files, 'endpoints/classifier.yaml', 'instanceCount: 1', 'instanceCount: 2');
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(changed), head);
    assert.deepEqual(changesByName(result), { classifier: ['endpoint'] });
  });

  it('names every changed component of one endpoint, sorted', async () => {
    const head = await headAtA();
    const changed = edit(
      edit(files, 'prompts/summarize.yaml', 'You are a precise summarizer.', 'You are a terse summarizer.'),
      'endpoints/summarizer.yaml',
      'bakeSeconds: 600',
      'bakeSeconds: 900',
    );
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(changed), head);
    assert.deepEqual(changesByName(result), { summarizer: ['endpoint', 'prompt:summarize'] });
  });

  it("plans an endpoint the head does not know as ['initial']", async () => {
    const { 'endpoints/classifier.yaml': _classifier, ...withoutClassifier } = files;
    const head = await headAtA(withoutClassifier);
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(files), head);
    assert.deepEqual(changesByName(result), { classifier: ['initial'] });
  });

  it('reports the endpoints the head declared and this commit does not, sorted, and drops them from the head', async () => {
    const extra = CLASSIFIER.replace('name: classifier', 'name: another');
    const head = await headAtA({ ...files, 'endpoints/another.yaml': extra });
    const { 'endpoints/classifier.yaml': _classifier, ...withoutClassifier } = files;
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(withoutClassifier), head);
    assert.deepEqual(result.document.removed, ['another', 'classifier']);
    assert.deepEqual(result.document.endpoints, [], 'a removal deploys nothing');
    assert.deepEqual(Object.keys(headOf(result).endpoints).sort(), ['assistant', 'embeddings', 'summarizer']);
  });
});

describe('planPush: force (a `ballast retry`)', () => {
  it("plans only that endpoint, even unchanged, as ['retry'], and never moves the head", async () => {
    const head = await headAtA();
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(files), head, 'summarizer');
    assert.deepEqual(changesByName(result), { summarizer: ['retry'] });
    assert.deepEqual(result.document.unchanged, [], 'the other endpoints are not part of a retry');
    assert.deepEqual(result.document.deferred, []);
    assert.deepEqual(
      result.releases.map((r) => [r.name, r.changes]),
      [['summarizer', ['retry']]],
    );
    assert.equal(result.head, undefined);
  });

  it('names the real changes when the retried content differs from the head', async () => {
    const head = await headAtA();
    const changed = edit(files, 'endpoints/classifier.yaml', 'instanceCount: 1', 'instanceCount: 2');
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(changed), head, 'classifier');
    assert.deepEqual(changesByName(result), { classifier: ['endpoint'] });
    assert.equal(result.head, undefined);
  });

  it('reports no removed endpoints', async () => {
    const head = await headAtA();
    const { 'endpoints/classifier.yaml': _classifier, ...withoutClassifier } = files;
    const result = planPush(pushOf(B, T1, A), 'prod', await resolve(withoutClassifier), head, 'summarizer');
    assert.deepEqual(result.document.removed, []);
  });

  it('defers a retried EKS endpoint', async () => {
    const head = await headAtA();
    const result = planPush(pushOf(A, T0), 'prod', await resolve(files), head, 'embeddings');
    assert.deepEqual(result.document.endpoints, []);
    assert.deepEqual(
      result.document.deferred.map((d) => d.name),
      ['embeddings'],
    );
  });
});

describe('planPush: when the head moves', () => {
  it('does not move for a re-delivery of the head commit', async () => {
    const head = await headAtA();
    assert.equal(planPush(pushOf(A, T2), 'prod', await resolve(files), head).head, undefined);
  });

  it('does not move for an older push (a late event), but still plans against it', async () => {
    const head = headOf(planPush(pushOf(B, T1), 'prod', await resolve(files), undefined));
    const changed = edit(files, 'endpoints/classifier.yaml', 'instanceCount: 1', 'instanceCount: 2');
    const result = planPush(pushOf(C, T0), 'prod', await resolve(changed), head);
    assert.equal(result.head, undefined);
    assert.equal(result.document.comparedWith, B);
    assert.deepEqual(changesByName(result), { classifier: ['endpoint'] });
  });

  it('trusts Git ancestry over push time: a push on top of the head moves it, even with an earlier time', async () => {
    const head = headOf(planPush(pushOf(A, T1), 'prod', await resolve(files), undefined));
    assert.equal(headOf(planPush(pushOf(B, T0, A), 'prod', await resolve(files), head)).commit, B);
  });

  it('trusts Git ancestry over push time: the head pushed on top of this commit stays, even with a later time', async () => {
    const head = headOf(planPush(pushOf(B, T0, A), 'prod', await resolve(files), undefined));
    assert.equal(planPush(pushOf(A, T1), 'prod', await resolve(files), head).head, undefined);
  });

  it('falls back to push time, ties broken by commit id', async () => {
    const head = headOf(planPush(pushOf(B, T1), 'prod', await resolve(files), undefined));
    assert.equal(headOf(planPush(pushOf(A, T2), 'prod', await resolve(files), head)).commit, A);
    assert.equal(headOf(planPush(pushOf(C, T1), 'prod', await resolve(files), head)).commit, C);
    assert.equal(planPush(pushOf(A, T1), 'prod', await resolve(files), head).head, undefined);
  });
});

describe('planPush: releases', () => {
  it('carries file:line:column of the endpoint, its model, the artifact, its prompts and configs', async () => {
    const withConfig = edit(
      files,
      'endpoints/summarizer.yaml',
      '  prompts: [summarize]\n',
      '  prompts: [summarize]\n  configs: [retrieval]\n',
    );
    const result = planPush(pushOf(A, T0), 'prod', await resolve(withConfig), undefined);
    const release = result.releases.find((r) => r.name === 'summarizer');
    assert.ok(release);
    const lineOf = (path: string, text: string) => (withConfig[path] ?? '').split('\n').indexOf(text) + 1;
    assert.equal(
      where(release.declaredAt),
      `endpoints/summarizer.yaml:${lineOf('endpoints/summarizer.yaml', 'apiVersion: ballast.dev/v1')}:1`,
    );
    assert.equal(
      where(release.model.declaredAt),
      `models/summarizer-llm.yaml:${lineOf('models/summarizer-llm.yaml', 'apiVersion: ballast.dev/v1')}:1`,
    );
    // spec.artifact's value: the mapping on the line after `artifact:`, where `uri:` starts.
    const artifactKey = lineOf('models/summarizer-llm.yaml', '  artifact:');
    assert.ok(artifactKey > 0);
    assert.deepEqual(release.model.artifactAt, {
      file: 'models/summarizer-llm.yaml',
      line: artifactKey + 1,
      column: 5,
    });
    assert.deepEqual(
      release.prompts.map((p) => where(p.declaredAt)),
      [`prompts/summarize.yaml:${lineOf('prompts/summarize.yaml', 'apiVersion: ballast.dev/v1')}:1`],
    );
    assert.deepEqual(
      release.configs.map((c) => where(c.declaredAt)),
      [`configs/retrieval.yaml:${lineOf('configs/retrieval.yaml', 'apiVersion: ballast.dev/v1')}:1`],
    );
  });

  it('carries what the per-endpoint steps deploy: commit, digest, changes, components, target and rollout', async () => {
    const resolved = await resolve(files);
    const result = planPush(pushOf(A, T0), 'prod', resolved, undefined);
    const summarizer = resolved.find((e) => e.name === 'summarizer');
    const release = result.releases.find((r) => r.name === 'summarizer');
    assert.ok(summarizer);
    assert.ok(release);
    assert.equal(release.commit, A);
    assert.equal(release.environment.name, 'prod');
    assert.equal(release.digest, summarizer.digest);
    assert.deepEqual(release.changes, ['initial']);
    assert.deepEqual(release.components, headOf(result).endpoints.summarizer?.components);
    assert.deepEqual(Object.keys(release.components).sort(), ['endpoint', 'model:summarizer-llm', 'prompt:summarize']);
    assert.deepEqual(release.target, summarizer.target);
    assert.equal(release.rollout.strategy, 'canary');
    assert.deepEqual(release.alarms, ['summarizer-5xx', 'summarizer-p99-latency']);
    assert.equal(release.model.name, 'summarizer-llm');
    assert.deepEqual(release.model.spec.artifact, {
      uri: 's3://acme-ml-artifacts-111122223333/models/summarizer-llm/2025-01-15/model.tar.gz',
      sha256: 'ccc98855247654187a9b4cd8e94d72eac3df6009208d976d28ea7d448d39cd6c',
      sizeBytes: 1744,
    });
  });
});

describe('headAfterRecord and carryNotLive: the head marks content that did not go live', () => {
  it('marks the endpoint when its content is not what runs, clears it once live, and writes nothing otherwise', async () => {
    const head = await headAtA();
    const digest = head.endpoints.summarizer?.digest ?? '';
    assert.ok(digest);
    const marked = headAfterRecord(head, 'summarizer', digest, 'other-digest');
    assert.equal(marked?.endpoints.summarizer?.notLive, true);
    assert.equal(headAfterRecord(marked, 'summarizer', digest, 'other-digest'), undefined, 'already marked');
    assert.equal(headAfterRecord(marked, 'summarizer', digest, digest)?.endpoints.summarizer?.notLive, undefined);
    assert.equal(headAfterRecord(head, 'summarizer', digest, digest), undefined, 'live and unmarked: nothing to write');
    assert.equal(headAfterRecord(head, 'summarizer', 'a-newer-push-moved-on', undefined), undefined);
    assert.equal(headAfterRecord(head, 'unknown', digest, undefined), undefined);
  });

  it('carries a mark from the current head only for an endpoint whose content the new head keeps', async () => {
    const current = await headAtA();
    const summarizer = current.endpoints.summarizer;
    const classifier = current.endpoints.classifier;
    assert.ok(summarizer && classifier);
    const withMarks = {
      ...current,
      endpoints: {
        ...current.endpoints,
        summarizer: { ...summarizer, notLive: true as const },
        classifier: { ...classifier, notLive: true as const },
      },
    };
    const next = {
      ...current,
      commit: B,
      endpoints: { ...current.endpoints, classifier: { ...classifier, digest: 'new' } },
    };
    const carried = carryNotLive(next, withMarks);
    assert.equal(carried.endpoints.summarizer?.notLive, true);
    assert.equal(carried.endpoints.classifier?.notLive, undefined, 'new content: the old mark does not apply');
  });
});
