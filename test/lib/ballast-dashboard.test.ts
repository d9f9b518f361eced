import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { publishMetrics } from '../../lambdas/handlers/record.ts';
import { type EmfDocument, metrics } from '../../lambdas/runtime/powertools.ts';
import { BallastDashboard, DASHBOARD_METRICS, METRICS_NAMESPACE } from '../../lib/ballast-dashboard.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import { ballastStack, flat, testStack } from './fixtures/stacks.ts';

interface Widget {
  readonly type: string;
  readonly width: number;
  readonly properties: {
    readonly title?: string;
    readonly metrics?: unknown[][];
    readonly alarms?: string[];
    readonly period?: number;
  };
}

/** The dashboard body with its references flattened (they sit inside JSON strings, so it stays JSON). */
function body(template: Template): { start: string; widgets: Widget[] } {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  assert.equal(dashboards.length, 1, 'one dashboard');
  return JSON.parse(flat(dashboards[0]?.Properties.DashboardBody));
}

function widget(widgets: Widget[], title: string): Widget {
  const found = widgets.find((w) => w.properties.title === title);
  assert.ok(found, `a widget titled ${title}: ${widgets.map((w) => w.properties.title).join(', ')}`);
  return found;
}

/** The SEARCH expressions of a graph widget. */
function expressions(w: Widget): string[] {
  return (w.properties.metrics ?? []).flatMap((row) =>
    row.flatMap((item) =>
      typeof item === 'object' && item !== null && 'expression' in item ? [String(item.expression)] : [],
    ),
  );
}

describe('BallastDashboard', () => {
  const { stack, template } = ballastStack();
  const { widgets, start } = body(template);

  it('is named after the stack and its region (dashboard names are per account), opening on the last day', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    assert.equal(dashboard?.Properties.DashboardName, 'Ballast-us-east-1');
    assert.equal(start, '-P1D');
    assert.deepEqual(template.findOutputs('DashboardName').DashboardName?.Value, {
      Ref: stack.getLogicalId(stack.dashboard.dashboard.node.defaultChild as never),
    });
  });

  it('graphs deployments by outcome and rollback decisions by action, every environment in one widget', () => {
    assert.deepEqual(expressions(widget(widgets, 'Deployments by outcome')), [
      `SEARCH('{Ballast,Environment,Outcome,service} MetricName="Deployments"', 'Sum', 300)`,
    ]);
    assert.deepEqual(expressions(widget(widgets, 'Rollback decisions by action (act: rolled back)')), [
      `SEARCH('{Ballast,Action,Environment,service} MetricName="Rollbacks"', 'SampleCount', 300)`,
    ]);
  });

  it('searches Deployments by exactly the dimensions Record publishes it with (a SEARCH schema matches exactly)', () => {
    const documents: EmfDocument[] = [];
    metrics.sendEmfTo((document) => documents.push(document));
    try {
      publishMetrics('prod', 'deployed', 60);
    } finally {
      metrics.sendEmfTo(undefined);
    }
    const deployments = documents
      .map((d) => d._aws.CloudWatchMetrics[0])
      .find((directive) => directive?.Metrics[0]?.Name === 'Deployments');
    assert.equal(deployments?.Namespace, METRICS_NAMESPACE);
    assert.deepEqual(
      [...(deployments?.Dimensions[0] ?? [])].sort(),
      [...DASHBOARD_METRICS.Deployments, 'service'].sort(),
    );
  });

  it('graphs drift by environment from the one metric the reconciler publishes, and its runs and duration from the state machine', () => {
    assert.deepEqual(expressions(widget(widgets, 'Drifted endpoints (per run)')), [
      `SEARCH('{Ballast,Environment,service} MetricName="DriftedEndpoints"', 'Maximum', 300)`,
    ]);
    const named = (title: string) =>
      (widget(widgets, title).properties.metrics ?? []).map((row) => row.filter((item) => typeof item === 'string'));
    const runs = named('Reconcile runs');
    assert.deepEqual(
      runs.map((row) => row.slice(0, 2)),
      [
        ['AWS/States', 'ExecutionsSucceeded'],
        ['AWS/States', 'ExecutionsFailed'],
      ],
    );
    assert.deepEqual(
      named('Reconcile duration (ms, longest run)').map((row) => row.slice(0, 2)),
      [['AWS/States', 'ExecutionTime']],
    );
  });

  it('graphs the failed and timed-out executions of the deploy, rollback and reconcile workflows', () => {
    const metrics = widget(widgets, 'Workflow executions failed or timed out').properties.metrics ?? [];
    const machines = [stack.deployWorkflow, stack.rollbackWorkflow, stack.reconcileWorkflow].map(
      (w) => `<${stack.getLogicalId(w.stateMachine.node.defaultChild as never)}>`,
    );
    assert.deepEqual(
      metrics.map((row) => row.slice(0, 4)),
      machines.flatMap((arn) => [
        ['AWS/States', 'ExecutionsFailed', 'StateMachineArn', arn],
        ['AWS/States', 'ExecutionsTimedOut', 'StateMachineArn', arn],
      ]),
    );
  });

  it('shows the state of every alarm of the stack', () => {
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).map((id) => `<${id}.Arn>`);
    assert.ok(alarms.length > 0);
    assert.deepEqual([...(widget(widgets, 'Alarms').properties.alarms ?? [])].sort(), alarms.sort());
  });

  it('lays out full rows of the 24-column grid', () => {
    const graphs = widgets.filter((w) => w.type === 'metric');
    assert.equal(graphs.length, 6);
    assert.equal(widgets.reduce((sum, w) => sum + w.width, 0) % 24, 0, 'the widths add up to whole rows');
    for (const w of graphs) assert.equal(w.properties.period, 300, `${w.properties.title}: 5-minute points`);
  });

  it('takes a name, a period and an interval, and leaves out the alarm row without alarms', () => {
    const s = testStack();
    const machine = (id: string) =>
      new sfn.StateMachine(s, id, { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(s, `${id}Pass`)) });
    new BallastDashboard(s, 'Dashboard', {
      deployStateMachine: machine('Deploy'),
      rollbackStateMachine: machine('Rollback'),
      reconcileStateMachine: machine('Reconcile'),
      dashboardName: 'ml-platform',
      period: Duration.minutes(1),
      defaultInterval: Duration.hours(3),
    });
    const t = Template.fromStack(s);
    const [dashboard] = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
    assert.equal(dashboard?.Properties.DashboardName, 'ml-platform');
    const custom = body(t);
    assert.equal(custom.start, '-PT3H');
    assert.equal(custom.widgets.filter((w) => w.type === 'alarm').length, 0);
    assert.deepEqual(expressions(widget(custom.widgets, 'Drifted endpoints (per run)')), [
      `SEARCH('{Ballast,Environment,service} MetricName="DriftedEndpoints"', 'Maximum', 60)`,
    ]);
  });

  it('adds no cdk-nag finding', () => {
    assert.deepEqual(
      awsSolutionsFindings(stack).filter((f) => f.path.includes('Dashboard')),
      [],
    );
  });
});
