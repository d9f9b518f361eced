import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { executionMetrics } from './workflow-alarms.ts';

/**
 * The namespace of every metric the handlers emit as EMF (lambdas/runtime/powertools.ts). Powertools
 * adds its service name (`service: ballast`) to every metric as a default dimension, so each
 * metric's dimension set is its own dimensions plus `service`.
 */
export const METRICS_NAMESPACE = 'Ballast';

/**
 * The metrics the dashboard graphs, by the dimensions each is published with (besides `service`).
 * Record publishes Deployments; the rollback workflow's Finish publishes Rollbacks (1 when it rolled
 * back, 0 for any other decision); the reconcile workflow's Check and Finish publish the rest.
 */
export const DASHBOARD_METRICS = {
  Deployments: ['Environment', 'Outcome'],
  Rollbacks: ['Action', 'Environment'],
  DriftedEndpoints: ['Environment'],
} as const satisfies Record<string, readonly string[]>;

type DashboardMetric = keyof typeof DASHBOARD_METRICS;

export interface BallastDashboardProps {
  readonly deployStateMachine: sfn.StateMachine;
  readonly rollbackStateMachine: sfn.StateMachine;
  readonly reconcileStateMachine: sfn.StateMachine;
  /**
   * The dashboard's name. Dashboards are named per account, not per region, so the default
   * includes the region: two Ballast stacks of one name in two regions get two dashboards.
   * @default `<stack name>-<region>`
   */
  readonly dashboardName?: string;
  /**
   * The period each data point sums (or takes the maximum of).
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
  /**
   * The time range the dashboard opens with.
   * @default Duration.days(1)
   */
  readonly defaultInterval?: Duration;
  /**
   * Alarms whose states the dashboard shows in one row.
   * @default - no alarm row
   */
  readonly alarms?: readonly cloudwatch.IAlarm[];
}

/**
 * One CloudWatch dashboard for a Ballast stack: deployments by outcome and rollback decisions, drift
 * and heals, the reconciler's duration and errors, and the failed and timed-out executions of the
 * deploy, rollback and reconcile workflows.
 *
 * Environments are declared in Git, not known at deploy time, so each widget is a SEARCH
 * expression over the metric's dimension set: one line per environment (and outcome), whatever
 * environments exist, without redeploying the stack. A dashboard costs $3 a month beyond the
 * account's first three (Amazon CloudWatch pricing).
 */
export class BallastDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: BallastDashboardProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const period = props.period ?? Duration.minutes(5);
    const search = (metric: DashboardMetric, statistic: string) => searchExpression(metric, statistic, period);
    const graph = (title: string, metrics: cloudwatch.IMetric[], options: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left: metrics, width: 8, height: 6, period, ...options });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${stack.stackName}-${stack.region}`,
      defaultInterval: props.defaultInterval ?? Duration.days(1),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `# Ballast: ${stack.stackName}\n` +
          `Deployments, rollbacks and drift, one line per environment, from the metrics the workflows publish ` +
          `(namespace \`${METRICS_NAMESPACE}\`), each point ${period.toHumanString()}; below them the three workflows' ` +
          'failed and timed-out executions.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Deployments by outcome', [search('Deployments', 'Sum')], { width: 12, stacked: true }),
      // SampleCount: one data point per decision, so every action counts (Sum would count only `act`).
      graph('Rollback decisions by action (act: rolled back)', [search('Rollbacks', 'SampleCount')], {
        width: 12,
        stacked: true,
      }),
    );
    const machines: Array<[string, sfn.StateMachine]> = [
      ['deploy', props.deployStateMachine],
      ['rollback', props.rollbackStateMachine],
      ['reconcile', props.reconcileStateMachine],
    ];
    // The reconciler publishes one custom metric (DriftedEndpoints, $0.30 a month per environment);
    // its duration and errors are the EXPRESS state machine's own metrics, which cost nothing
    // (a run with an endpoint it could not check fails: lambdas/handlers/reconcile-finish.ts).
    const reconcile = executionMetrics(props.reconcileStateMachine, period);
    this.dashboard.addWidgets(
      graph('Drifted endpoints (per run)', [search('DriftedEndpoints', 'Maximum')]),
      graph('Reconcile runs', [
        props.reconcileStateMachine.metricSucceeded({ period, statistic: 'Sum', label: 'succeeded' }),
        reconcile.failed.with({ label: 'failed (an endpoint not checked, or a step failed)' }),
      ]),
      graph('Reconcile duration (ms, longest run)', [
        props.reconcileStateMachine.metricTime({ period, statistic: 'Maximum', label: 'ExecutionTime' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph(
        'Workflow executions failed or timed out',
        machines.flatMap(([name, machine]) => {
          const executions = executionMetrics(machine, period);
          return [
            executions.failed.with({ label: `${name} failed` }),
            executions.timedOut.with({ label: `${name} timed out` }),
          ];
        }),
        { width: 24 },
      ),
    );
    if (props.alarms && props.alarms.length > 0) {
      this.dashboard.addWidgets(
        new cloudwatch.AlarmStatusWidget({
          title: 'Alarms',
          alarms: [...props.alarms],
          width: 24,
          height: 4,
          sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        }),
      );
    }
  }
}

/**
 * A SEARCH expression for every time series of `metric` with exactly its dimension set (and
 * Powertools' `service`): one line per combination of dimension values, e.g. per environment.
 */
export function searchExpression(
  metric: DashboardMetric,
  statistic: string,
  period: Duration,
): cloudwatch.SearchExpression {
  const schema = [METRICS_NAMESPACE, ...DASHBOARD_METRICS[metric], 'service'].join(',');
  return new cloudwatch.SearchExpression({
    expression: `SEARCH('{${schema}} MetricName="${metric}"', '${statistic}', ${period.toSeconds()})`,
    period,
    // No prefix: each line is labelled by its dimension values (the environment, the outcome).
    label: '',
  });
}
