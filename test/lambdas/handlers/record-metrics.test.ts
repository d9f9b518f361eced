import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { publishMetrics } from '../../../lambdas/handlers/record.ts';
import { type EmfDocument, metrics } from '../../../lambdas/runtime/powertools.ts';

after(() => metrics.sendEmfTo(undefined));

it("publishes each outcome metric with its own dimensions, so the stack's DeploymentsFailed alarm query sees rollbacks", () => {
  const documents: EmfDocument[] = [];
  metrics.sendEmfTo((document) => documents.push(document));
  publishMetrics('prod', 'rolled-back', 720);
  assert.equal(documents.length, 3);
  const byMetric = new Map(
    documents.map((d) => {
      const [directive] = d._aws.CloudWatchMetrics;
      return [directive?.Metrics[0]?.Name, { dimensions: directive?.Dimensions[0], document: d }] as const;
    }),
  );
  // DEPLOYMENTS_FAILED_QUERY (lib/deploy-workflow.ts) reads SCHEMA("Ballast", Environment, service).
  const failed = byMetric.get('DeploymentsFailed');
  assert.deepEqual([...(failed?.dimensions ?? [])].sort(), ['Environment', 'service']);
  assert.equal((failed?.document as Record<string, unknown> | undefined)?.DeploymentsFailed, 1);
  assert.equal((failed?.document as Record<string, unknown> | undefined)?.Environment, 'prod');
  assert.deepEqual([...(byMetric.get('Deployments')?.dimensions ?? [])].sort(), ['Environment', 'Outcome', 'service']);
  assert.deepEqual([...(byMetric.get('RolloutDuration')?.dimensions ?? [])].sort(), ['Environment', 'service']);
});
