// The objects Ballast applies for an EKS Endpoint: built from the example's embeddings endpoint,
// checked field by field, and (opt-in, BALLAST_TEST_KUBECONFIG) accepted by a real API server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { memorySource, resolveEndpoints, validateRepository } from '../../../lambdas/spec/index.ts';
import {
  blueprint,
  deploymentManifest,
  type EksBlueprint,
  type EksNames,
  eksNames,
  GPU_RESOURCE,
  kubeName,
  LABELS,
  routeManifest,
  serviceManifest,
} from '../../../lambdas/targets/eks.ts';
import type { Release } from '../../../lambdas/workflow/types.ts';
import { EXAMPLE_REPO_DIR, readTree } from '../../../sandbox/example-world.ts';

const COMMIT = 'c'.repeat(40);
const PINNED = {
  model: { form: 'archive', modelDataUrl: 's3://ballast-state/artifacts/sha256/abc.tar.gz' },
  prompts: {},
  configs: { retrieval: 's3://ballast-state/artifacts/sha256/def' },
} as const;

let plan: EksBlueprint;
let names: EksNames;
let release: Release;

before(async () => {
  const files = await readTree(EXAMPLE_REPO_DIR);
  const validated = await validateRepository(memorySource(files));
  assert.equal(validated.ok, true);
  assert.ok(validated.repository);
  const embeddings = resolveEndpoints(validated.repository, 'prod').find((e) => e.name === 'embeddings');
  assert.ok(embeddings, 'the example declares the embeddings endpoint');
  // The parts of a release the EKS objects are made of (the rest is the workflow's bookkeeping).
  release = {
    commit: COMMIT,
    name: embeddings.name,
    environment: embeddings.environment,
    digest: embeddings.digest,
    target: embeddings.target,
    rollout: embeddings.rollout,
    alarms: embeddings.alarms,
    model: { name: embeddings.model.name, spec: embeddings.model.spec, secrets: [] },
  } as unknown as Release;
  plan = blueprint(release, PINNED);
  assert.equal(embeddings.target.kind, 'eks');
  if (embeddings.target.kind === 'eks') names = eksNames('prod', 'embeddings', embeddings.target, embeddings.digest);
});

describe('EKS objects', () => {
  it('names each track after the endpoint and environment, within 63 characters', () => {
    assert.equal(names.deployments.stable, 'embeddings-prod-stable');
    assert.equal(names.services.canary, 'embeddings-prod-canary');
    assert.equal(names.endpointName, 'ml-inference/serving/embeddings-prod');
    assert.equal(names.revision, `embeddings-prod-${release.digest.slice(0, 12)}`);
    const long = kubeName('x'.repeat(70), 'prod', 'stable');
    assert.equal(long.length, 63);
    assert.match(long, /^x+-[0-9a-f]{8}$/);
  });

  it('asks for the GPUs in requests and limits, on the GPU nodes, with the toleration', () => {
    const deployment = deploymentManifest(names, 'canary', plan, 1);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.resources.limits[GPU_RESOURCE], '1');
    assert.equal(container.resources.requests[GPU_RESOURCE], '1');
    assert.equal(container.resources.requests.cpu, '2');
    assert.equal(container.resources.limits.memory, '12Gi');
    assert.deepEqual(pod.nodeSelector, { 'node.kubernetes.io/instance-type': 'g5.xlarge' });
    assert.deepEqual(pod.tolerations, [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }]);
    assert.equal(container.readinessProbe.httpGet.path, '/ping');
  });

  it('gives the container the same environment as on SageMaker and the model data at /opt/ml/model', () => {
    const pod = deploymentManifest(names, 'stable', plan, 2).spec.template.spec;
    const env = new Map<string, string>(
      pod.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    assert.equal(env.get('BALLAST_DIGEST'), release.digest);
    assert.equal(env.get('BALLAST_COMMIT'), COMMIT);
    assert.equal(env.get('BALLAST_CONFIG_RETRIEVAL'), PINNED.configs.retrieval);
    assert.equal(env.get('MODEL_ID'), '/opt/ml/model');
    assert.match(pod.initContainers[0].command[2], /aws s3 cp 's3:\/\/ballast-state\/artifacts\/sha256\/abc\.tar\.gz'/);
  });

  it('selects pods by endpoint, environment and track, and labels them with the version', () => {
    const deployment = deploymentManifest(names, 'canary', plan, 0);
    assert.deepEqual(deployment.spec.selector.matchLabels, {
      [LABELS.endpoint]: 'embeddings',
      [LABELS.environment]: 'prod',
      [LABELS.track]: 'canary',
    });
    assert.equal(deployment.spec.template.metadata.labels[LABELS.revision], names.revision);
    assert.equal(deployment.metadata.annotations?.['ballast.dev/digest'], release.digest);
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  });

  it('leaves replicas out when an autoscaler owns them', () => {
    assert.equal('replicas' in deploymentManifest(names, 'stable', plan, undefined).spec, false);
    assert.equal(deploymentManifest(names, 'stable', plan, 3).spec.replicas, 3);
  });

  it('sends the whole rules list with both Services and the split', () => {
    const target = plan.target;
    const route = routeManifest(
      names,
      target,
      { stable: 80, canary: 20 },
      'prod',
      'embeddings',
      COMMIT,
      release.digest,
    );
    assert.equal(route.spec.rules.length, 1);
    assert.deepEqual(
      route.spec.rules[0].backendRefs.map((b: { name: string; weight: number }) => [b.name, b.weight]),
      [
        ['embeddings-prod-stable', 80],
        ['embeddings-prod-canary', 20],
      ],
    );
    assert.deepEqual(route.spec.parentRefs, [
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'inference-gateway', namespace: 'gateways' },
    ]);
    assert.deepEqual(route.spec.hostnames, ['embeddings.ml.example.com']);
  });
});

const kubeconfig = process.env.BALLAST_TEST_KUBECONFIG;
describe('EKS objects on a real API server (BALLAST_TEST_KUBECONFIG)', {
  skip: kubeconfig ? false : 'BALLAST_TEST_KUBECONFIG is not set (README: "Tests")',
}, () => {
  it('are accepted by server-side apply (dry run) as Ballast builds them', () => {
    const kubectl = (args: string[], input?: string) =>
      execFileSync('kubectl', args, { env: { ...process.env, KUBECONFIG: kubeconfig }, input, encoding: 'utf8' });
    for (const namespace of ['serving', 'gateways']) {
      kubectl(['apply', '-f', '-'], kubectl(['create', 'namespace', namespace, '--dry-run=client', '-o', 'yaml']));
    }
    const objects = [
      deploymentManifest(names, 'stable', plan, 2),
      deploymentManifest(names, 'canary', plan, 0),
      serviceManifest(names, 'stable', 'prod', 'embeddings'),
      serviceManifest(names, 'canary', 'prod', 'embeddings'),
      routeManifest(names, plan.target, { stable: 100, canary: 0 }, 'prod', 'embeddings', COMMIT, release.digest),
    ];
    assert.ok(objects.length > 0);
    for (const object of objects) {
      const out = kubectl(
        [
          'apply',
          '--server-side',
          '--field-manager=ballast',
          '--dry-run=server',
          '--show-managed-fields',
          '-o',
          'json',
          '-f',
          '-',
        ],
        JSON.stringify(object),
      );
      const applied = JSON.parse(out) as { kind: string; metadata: { managedFields: Array<{ manager: string }> } };
      assert.equal(applied.kind, object.kind);
      assert.equal(applied.metadata.managedFields[0]?.manager, 'ballast');
    }
  });
});
