import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { awsJsonService, type JsonOperation } from '../protocols/aws-json.ts';
import type {
  AlarmStateReader,
  MetricSink,
  SandboxRequest,
  SandboxResponse,
  SandboxService,
  ServiceContext,
} from '../service.ts';
import { AwsServiceError } from '../service.ts';

/*
 * Amazon CloudWatch (alarms and metrics) over awsJson 1.0 with the `GraniteServiceVersion20100801`
 * target prefix and awsQueryCompatible errors, which is what @aws-sdk/client-cloudwatch 3.x speaks
 * (AwsJson1_0Protocol with `awsQueryCompatible: true`): the query error code travels in the
 * `x-amzn-query-error` header, the modelled shape name in `__type`.
 *
 * Alarm state lives in simulated time (the sandbox's VirtualClock) with a full transition history,
 * which the SageMaker sandbox reads through AlarmStateReader for AutoRollbackConfiguration.
 *
 * Alarms change state through SetAlarmState, or by evaluating data sent with PutMetricData, or data
 * the sandbox's own services publish for AWS (SageMaker's `AWS/SageMaker` invocation metrics, through
 * MetricSink: those alarms are evaluated at the end of each period of simulated time, in order, so a
 * clock jump over a bake still records the instant an alarm fired). An alarm
 * whose metric has never received a datapoint is left under manual control: AWS would move a
 * manually set alarm back to INSUFFICIENT_DATA at its next evaluation (about a minute later), but the
 * local demo drives alarms by hand and must keep the state it set. Composite alarms, anomaly
 * detection and metric math are not evaluated.
 */

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** One state transition of an alarm, in simulated epoch milliseconds. */
export interface AlarmStateTransition {
  readonly value: AlarmStateValue;
  readonly atMs: number;
  readonly reason: string;
}

export interface CloudWatchSandbox extends SandboxService, AlarmStateReader, MetricSink {
  /** Names of the existing alarms, sorted. */
  alarmNames(): string[];
  /** The current state of an alarm, or undefined when it does not exist. */
  alarmState(alarmName: string): AlarmStateValue | undefined;
  /** Every state the alarm has been in since it was (last) created, oldest first. */
  stateHistory(alarmName: string): readonly AlarmStateTransition[];
  /**
   * SetAlarmState from inside the sandbox process, taking effect at the current simulated instant.
   * Scenario drivers (the demo, tests) call it from an event listener, which runs before the
   * workflow's next Wait moves the clock: a request over the wire could arrive after the bake.
   */
  setAlarmState(alarmName: string, value: AlarmStateValue, reason: string): void;
  /**
   * PutMetricData from inside the sandbox process, with the same validation and alarm evaluation
   * as over the wire (`input` as the awsJson body: Timestamp in epoch seconds). The local runner
   * feeds it the handlers' EMF (sandbox/emf.ts), as CloudWatch Logs does on AWS.
   */
  putMetricData(input: Record<string, unknown>): void;
}

const STATE_VALUES: readonly AlarmStateValue[] = ['INSUFFICIENT_DATA', 'ALARM', 'OK'];
const COMPARISON_OPERATORS = [
  'GreaterThanOrEqualToThreshold',
  'GreaterThanThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
  'LessThanLowerOrGreaterThanUpperThreshold',
  'LessThanLowerThreshold',
  'GreaterThanUpperThreshold',
] as const;
const ANOMALY_OPERATORS = new Set<string>([
  'LessThanLowerOrGreaterThanUpperThreshold',
  'LessThanLowerThreshold',
  'GreaterThanUpperThreshold',
]);
const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'] as const;
const UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;
const TREAT_MISSING_DATA = ['breaching', 'notBreaching', 'ignore', 'missing'] as const;
/** Percentile statistics as ExtendedStatistic spells them (`p99`, `p99.9`). */
const PERCENTILE = /^p(\d{1,2}(\.\d{0,10})?|100(\.0{0,10})?)$/;

/**
 * The modelled error shape for each query error code (from @aws-sdk/client-cloudwatch's schema): the
 * real service names the shape in `__type` and the query code in `x-amzn-query-error`.
 */
const ERROR_SHAPES: Readonly<Record<string, string>> = {
  ValidationError: 'ValidationException',
  InvalidParameterValue: 'InvalidParameterValueException',
  InvalidParameterCombination: 'InvalidParameterCombinationException',
  MissingParameter: 'MissingRequiredParameterException',
  ResourceNotFound: 'ResourceNotFound',
  ResourceNotFoundException: 'ResourceNotFoundException',
  InvalidNextToken: 'InvalidNextToken',
  InvalidFormat: 'InvalidFormatFault',
  LimitExceeded: 'LimitExceededFault',
  InternalServiceError: 'InternalServiceFault',
};

interface Dimension {
  readonly Name: string;
  readonly Value: string;
}

interface Alarm {
  readonly name: string;
  readonly arn: string;
  config: Record<string, unknown>;
  configurationUpdatedMs: number;
  state: {
    value: AlarmStateValue;
    reason: string;
    reasonData?: string;
    updatedMs: number;
    transitionedMs: number;
  };
  actionsEnabled: boolean;
  readonly tags: Map<string, string>;
}

interface HistoryItem {
  readonly alarmName: string;
  readonly atMs: number;
  readonly type: 'ConfigurationUpdate' | 'StateUpdate' | 'Action';
  readonly summary: string;
  readonly data: string;
}

/** Aggregated samples of one PutMetricData entry. */
interface Sample {
  readonly atMs: number;
  readonly unit?: string;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** Raw values with their counts, when known (needed for percentiles). */
  readonly values?: ReadonlyArray<readonly [number, number]>;
}

interface Series {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: readonly Dimension[];
  readonly samples: Sample[];
}

interface MetricSpec {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: readonly Dimension[];
  readonly periodSeconds: number;
  readonly stat: string;
  readonly unit?: string;
}

// ---------------------------------------------------------------------------------------------
// Input helpers (AWS's own validation wording: "1 validation error detected: Value … at '…' …")
// ---------------------------------------------------------------------------------------------

const lowerFirst = (field: string) => field.charAt(0).toLowerCase() + field.slice(1);

class Violations {
  private readonly messages: string[] = [];

  add(message: string): void {
    this.messages.push(message);
  }

  required(input: Record<string, unknown>, field: string): void {
    if (input[field] === undefined || input[field] === null) {
      this.add(`Value null at '${lowerFirst(field)}' failed to satisfy constraint: Member must not be null`);
    }
  }

  length(input: Record<string, unknown>, field: string, min: number, max: number): void {
    const value = input[field];
    if (typeof value === 'string' && (value.length < min || value.length > max)) {
      this.add(
        `Value '${value}' at '${lowerFirst(field)}' failed to satisfy constraint: Member must have length ${
          value.length < min ? `greater than or equal to ${min}` : `less than or equal to ${max}`
        }`,
      );
    }
  }

  atLeast(input: Record<string, unknown>, field: string, min: number): void {
    const value = input[field];
    if (typeof value === 'number' && value < min) {
      this.add(
        `Value '${value}' at '${lowerFirst(field)}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`,
      );
    }
  }

  oneOf(input: Record<string, unknown>, field: string, values: readonly string[]): void {
    const value = input[field];
    if (value !== undefined && !values.includes(String(value))) {
      this.add(
        `Value '${String(value)}' at '${lowerFirst(field)}' failed to satisfy constraint: Member must satisfy enum value set: [${values.join(', ')}]`,
      );
    }
  }

  maxItems(input: Record<string, unknown>, field: string, max: number): void {
    const value = input[field];
    if (Array.isArray(value) && value.length > max) {
      this.add(
        `Value '[${value.join(', ')}]' at '${lowerFirst(field)}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
      );
    }
  }

  throwIfAny(): void {
    const n = this.messages.length;
    if (n > 0) {
      throw new AwsServiceError(
        'ValidationError',
        `${n} validation error${n === 1 ? '' : 's'} detected: ${this.messages.join('; ')}`,
      );
    }
  }
}

function validation(message: string): AwsServiceError {
  return new AwsServiceError('ValidationError', message);
}

function invalidValue(message: string): AwsServiceError {
  return new AwsServiceError('InvalidParameterValue', message);
}

function str(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  return typeof value === 'string' ? value : undefined;
}

function num(input: Record<string, unknown>, field: string): number | undefined {
  const value = input[field];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function strings(input: Record<string, unknown>, field: string): string[] {
  const value = input[field];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
    : [];
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** awsJson timestamps arrive as epoch seconds (the SDK's default); ISO strings are accepted too. */
function timestampMs(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  throw invalidValue(`The parameter ${field} must be a timestamp.`);
}

function dimensionsOf(value: unknown): Dimension[] {
  return records(value).map((d) => ({ Name: String(d.Name ?? ''), Value: String(d.Value ?? '') }));
}

function dimensionKey(dimensions: readonly Dimension[]): string {
  return JSON.stringify([...dimensions].map((d) => [d.Name, d.Value]).sort());
}

function seriesKey(namespace: string, metricName: string, dimensions: readonly Dimension[]): string {
  return JSON.stringify([namespace, metricName, dimensionKey(dimensions)]);
}

/** CloudWatch's timestamp style in events and reason data: `2019-10-02T17:04:40.989+0000`. */
function cwTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/** Java-style doubles as CloudWatch prints them in reasons (`50.0`, `0.0666851903306472`). */
function formatDouble(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

/** `dd/MM/yy HH:mm:ss`, the datapoint time format of alarm reasons. */
function reasonTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(
    d.getUTCMinutes(),
  )}:${two(d.getUTCSeconds())}`;
}

function encodeToken(value: string): string {
  return Buffer.from(JSON.stringify({ after: value })).toString('base64');
}

function decodeToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // fall through
  }
  throw new AwsServiceError('InvalidNextToken', 'The service couldn\u2019t process the NextToken: it is invalid.');
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

interface Aggregate {
  readonly SampleCount: number;
  readonly Sum: number;
  readonly Minimum: number;
  readonly Maximum: number;
  readonly Average: number;
  readonly values: ReadonlyArray<readonly [number, number]> | undefined;
}

function aggregate(samples: readonly Sample[]): Aggregate | undefined {
  if (samples.length === 0) return undefined;
  let count = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let values: Array<readonly [number, number]> | undefined = [];
  for (const s of samples) {
    count += s.count;
    sum += s.sum;
    min = Math.min(min, s.min);
    max = Math.max(max, s.max);
    if (s.values && values) values.push(...s.values);
    else values = undefined;
  }
  return { SampleCount: count, Sum: sum, Minimum: min, Maximum: max, Average: count > 0 ? sum / count : 0, values };
}

/** Nearest-rank percentile over the raw values; undefined when only pre-aggregated data exists. */
function percentile(agg: Aggregate, p: number): number | undefined {
  if (!agg.values || agg.values.length === 0) return undefined;
  const sorted = [...agg.values].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [value, count] of sorted) {
    seen += count;
    if (seen >= rank) return value;
  }
  return sorted[sorted.length - 1]?.[0];
}

function statisticValue(agg: Aggregate, stat: string): number | undefined {
  switch (stat) {
    case 'SampleCount':
    case 'Sum':
    case 'Minimum':
    case 'Maximum':
    case 'Average':
      return agg[stat];
    default: {
      const match = /^p(\d+(?:\.\d+)?)$/.exec(stat);
      return match ? percentile(agg, Number(match[1])) : undefined;
    }
  }
}

function breaches(operator: string, value: number, threshold: number): boolean {
  switch (operator) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
    default:
      return false;
  }
}

const OPERATOR_WORDS: Readonly<Record<string, string>> = {
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  GreaterThanThreshold: 'greater than',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

export function createCloudWatchService(ctx: ServiceContext): CloudWatchSandbox {
  const alarms = new Map<string, Alarm>();
  const transitions = new Map<string, AlarmStateTransition[]>();
  const history: HistoryItem[] = [];
  const series = new Map<string, Series>();
  const nowMs = () => ctx.clock.nowMs();
  const arnOf = (name: string) => `arn:aws:cloudwatch:${ctx.region}:${ctx.account}:alarm:${name}`;

  function requireAlarm(name: string): Alarm {
    const alarm = alarms.get(name);
    if (!alarm) throw new AwsServiceError('ResourceNotFound', `Alarm ${name} not found`, 404);
    return alarm;
  }

  /** The single metric an alarm watches (MetricName form, or a Metrics list with one returned MetricStat). */
  function metricSpecOf(config: Record<string, unknown>): MetricSpec | undefined {
    const metricName = str(config, 'MetricName');
    if (metricName !== undefined) {
      const stat = str(config, 'Statistic') ?? str(config, 'ExtendedStatistic');
      const periodSeconds = num(config, 'Period');
      if (!stat || periodSeconds === undefined) return undefined;
      const unit = str(config, 'Unit');
      return {
        namespace: str(config, 'Namespace') ?? '',
        metricName,
        dimensions: dimensionsOf(config.Dimensions),
        periodSeconds,
        stat,
        ...(unit ? { unit } : {}),
      };
    }
    const queries = records(config.Metrics);
    if (queries.length !== 1) return undefined;
    const stat = record(queries[0]?.MetricStat);
    const metric = record(stat?.Metric);
    if (!stat || !metric || typeof metric.MetricName !== 'string') return undefined;
    const periodSeconds = num(stat, 'Period');
    const statName = str(stat, 'Stat');
    if (periodSeconds === undefined || !statName) return undefined;
    const unit = str(stat, 'Unit');
    return {
      namespace: str(metric, 'Namespace') ?? '',
      metricName: metric.MetricName,
      dimensions: dimensionsOf(metric.Dimensions),
      periodSeconds,
      stat: statName,
      ...(unit ? { unit } : {}),
    };
  }

  /** The `configuration` block of alarm events: the watched metrics in EventBridge's camelCase shape. */
  function eventConfiguration(alarm: Alarm): Record<string, unknown> {
    const config = alarm.config;
    const metricStat = (stat: Record<string, unknown>) => {
      const metric = record(stat.Metric) ?? {};
      return {
        metric: {
          dimensions: Object.fromEntries(dimensionsOf(metric.Dimensions).map((d) => [d.Name, d.Value])),
          name: metric.MetricName,
          namespace: metric.Namespace,
        },
        period: stat.Period,
        stat: stat.Stat,
        ...(stat.Unit ? { unit: stat.Unit } : {}),
      };
    };
    const id = createHash('md5').update(alarm.arn).digest('hex');
    const metrics =
      str(config, 'MetricName') !== undefined
        ? [
            {
              id: `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`,
              metricStat: metricStat({
                Metric: { Namespace: config.Namespace, MetricName: config.MetricName, Dimensions: config.Dimensions },
                Period: config.Period,
                Stat: config.Statistic ?? config.ExtendedStatistic,
                Unit: config.Unit,
              }),
              returnData: true,
            },
          ]
        : records(config.Metrics).map((q) => {
            const stat = record(q.MetricStat);
            return {
              id: q.Id,
              ...(stat ? { metricStat: metricStat(stat) } : {}),
              ...(q.Expression ? { expression: q.Expression } : {}),
              ...(q.Label ? { label: q.Label } : {}),
              returnData: q.ReturnData ?? true,
            };
          });
    return { ...(config.AlarmDescription ? { description: config.AlarmDescription } : {}), metrics };
  }

  /**
   * Moves an alarm to a new state: records the history item and the transition, and emits the
   * EventBridge "CloudWatch Alarm State Change" event. Nothing happens when the value is unchanged
   * (AWS only notifies on transitions) apart from refreshing the reason.
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
   */
  function changeState(
    alarm: Alarm,
    value: AlarmStateValue,
    reason: string,
    reasonData: string | undefined,
    atMs = nowMs(),
  ): void {
    // An evaluation as of a past period end (MetricSink.evaluateAlarmsAt) never goes behind the
    // alarm's last update, so the state history stays in time order.
    const at = Math.max(atMs, alarm.state.updatedMs);
    const previous = { ...alarm.state };
    alarm.state = {
      value,
      reason,
      ...(reasonData !== undefined ? { reasonData } : {}),
      updatedMs: at,
      transitionedMs: value === previous.value ? previous.transitionedMs : at,
    };
    if (value === previous.value) return;
    transitions.get(alarm.name)?.push({ value, atMs: at, reason });
    const state = (s: typeof previous) => ({
      value: s.value,
      reason: s.reason,
      ...(s.reasonData !== undefined ? { reasonData: s.reasonData } : {}),
      timestamp: cwTimestamp(s.updatedMs),
    });
    history.push({
      alarmName: alarm.name,
      atMs: at,
      type: 'StateUpdate',
      summary: `Alarm updated from ${previous.value} to ${value}`,
      data: JSON.stringify({
        version: '1.0',
        oldState: {
          stateValue: previous.value,
          stateReason: previous.reason,
          ...(previous.reasonData ? { stateReasonData: safeJson(previous.reasonData) } : {}),
        },
        newState: {
          stateValue: value,
          stateReason: reason,
          ...(reasonData ? { stateReasonData: safeJson(reasonData) } : {}),
        },
      }),
    });
    ctx.events.put({
      source: 'aws.cloudwatch',
      detailType: 'CloudWatch Alarm State Change',
      resources: [alarm.arn],
      detail: {
        alarmName: alarm.name,
        state: state(alarm.state),
        previousState: state(previous),
        configuration: eventConfiguration(alarm),
      },
    });
  }

  function configurationEvent(alarm: Alarm, operation: 'create' | 'update' | 'delete'): void {
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
    ctx.events.put({
      source: 'aws.cloudwatch',
      detailType: 'CloudWatch Alarm Configuration Change',
      resources: [alarm.arn],
      detail: {
        alarmName: alarm.name,
        operation,
        state: { value: alarm.state.value, timestamp: cwTimestamp(alarm.state.updatedMs) },
        configuration: eventConfiguration(alarm),
      },
    });
  }

  // ---- evaluation -----------------------------------------------------------------------------

  /**
   * The metric an alarm watches and its series key, computed once per configuration: the periodic
   * evaluation runs for every alarm at every period end of a clock jump, and most alarms have no data.
   */
  const watched = new WeakMap<Record<string, unknown>, { spec: MetricSpec; key: string } | null>();
  function watchedMetric(alarm: Alarm): { spec: MetricSpec; key: string } | undefined {
    let entry = watched.get(alarm.config);
    if (entry === undefined) {
      const spec = metricSpecOf(alarm.config);
      entry = spec ? { spec, key: seriesKey(spec.namespace, spec.metricName, spec.dimensions) } : null;
      watched.set(alarm.config, entry);
    }
    return entry ?? undefined;
  }

  function samplesIn(spec: MetricSpec, fromMs: number, toMs: number): Sample[] {
    const s = series.get(seriesKey(spec.namespace, spec.metricName, spec.dimensions));
    if (!s) return [];
    return s.samples.filter((x) => x.atMs >= fromMs && x.atMs < toMs && (!spec.unit || x.unit === spec.unit));
  }

  /**
   * Evaluates a metric alarm against the stored datapoints, the way CloudWatch evaluates "M out of N"
   * alarms with its TreatMissingData rules. The newest period counts only once it has data (CloudWatch
   * evaluates with a delay, so a period that has just begun is not yet "missing").
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html
   *
   * `now` is the instant of the evaluation: the current simulated time, or the end of a period that a
   * clock jump passed over (MetricSink.evaluateAlarmsAt), which is also when a transition is recorded.
   */
  function evaluate(alarm: Alarm, now = nowMs()): void {
    const config = alarm.config;
    const metric = watchedMetric(alarm);
    if (!metric || !series.has(metric.key)) return;
    const spec = metric.spec;
    const threshold = num(config, 'Threshold');
    const operator = str(config, 'ComparisonOperator') ?? '';
    if (threshold === undefined || ANOMALY_OPERATORS.has(operator)) return;
    const periodMs = spec.periodSeconds * 1000;
    let newest = Math.floor(now / periodMs) * periodMs;
    if (samplesIn(spec, newest, newest + periodMs).length === 0) newest -= periodMs;
    const n = num(config, 'EvaluationPeriods') ?? 1;
    const m = num(config, 'DatapointsToAlarm') ?? n;
    const treat = str(config, 'TreatMissingData') ?? 'missing';
    const periods: Array<{ startMs: number; value: number | undefined; count: number }> = [];
    for (let i = 0; i < n; i++) {
      const startMs = newest - i * periodMs;
      const agg = aggregate(samplesIn(spec, startMs, startMs + periodMs));
      periods.push({ startMs, value: agg ? statisticValue(agg, spec.stat) : undefined, count: agg?.SampleCount ?? 0 });
    }
    const present = periods.filter((p) => p.value !== undefined);
    const missing = n - present.length;
    const breaching =
      present.filter((p) => breaches(operator, p.value as number, threshold)).length +
      (treat === 'breaching' ? missing : 0);
    const considered = present.length + (treat === 'breaching' || treat === 'notBreaching' ? missing : 0);
    let next: AlarmStateValue;
    if (breaching >= m) next = 'ALARM';
    else if (considered === 0) {
      if (treat === 'ignore') return;
      next = 'INSUFFICIENT_DATA';
    } else next = 'OK';
    if (next === alarm.state.value) return;

    const reasonData = JSON.stringify({
      version: '1.0',
      queryDate: cwTimestamp(now),
      startDate: cwTimestamp(newest - (n - 1) * periodMs),
      ...(STATISTICS.includes(spec.stat as (typeof STATISTICS)[number])
        ? { statistic: spec.stat }
        : { extendedStatistic: spec.stat }),
      ...(spec.unit ? { unit: spec.unit } : {}),
      period: spec.periodSeconds,
      recentDatapoints: present.map((p) => p.value),
      threshold,
      evaluatedDatapoints: periods.map((p) => ({
        timestamp: cwTimestamp(p.startMs),
        ...(p.value !== undefined ? { sampleCount: p.count, value: p.value } : {}),
      })),
    });
    let reason: string;
    if (next === 'INSUFFICIENT_DATA') {
      reason = `Insufficient Data: ${n} datapoint${n === 1 ? ' was' : 's were'} unknown.`;
    } else {
      const listed = present.map((p) => `${formatDouble(p.value as number)} (${reasonTime(p.startMs)})`).join(', ');
      const count = next === 'ALARM' ? breaching : present.length;
      const verb = next === 'ALARM' ? '' : 'not ';
      const need = next === 'ALARM' ? m : 1;
      reason =
        `Threshold Crossed: ${count} out of the last ${n} datapoints [${listed}] was ${verb}` +
        `${OPERATOR_WORDS[operator] ?? operator} the threshold (${formatDouble(threshold)}) ` +
        `(minimum ${need} datapoint${need === 1 ? '' : 's'} for ${alarm.state.value} -> ${next} transition).`;
    }
    changeState(alarm, next, reason, reasonData, now);
  }

  function evaluateAll(atMs = nowMs()): void {
    for (const alarm of alarms.values()) evaluate(alarm, atMs);
  }

  // ---- validation of PutMetricAlarm -----------------------------------------------------------

  /** https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html */
  function validateAlarm(input: Record<string, unknown>): void {
    const v = new Violations();
    v.required(input, 'AlarmName');
    v.required(input, 'EvaluationPeriods');
    v.required(input, 'ComparisonOperator');
    v.length(input, 'AlarmName', 1, 255);
    v.length(input, 'AlarmDescription', 0, 1024);
    v.length(input, 'MetricName', 1, 255);
    v.length(input, 'Namespace', 1, 255);
    v.atLeast(input, 'EvaluationPeriods', 1);
    v.atLeast(input, 'DatapointsToAlarm', 1);
    v.atLeast(input, 'Period', 1);
    v.oneOf(input, 'ComparisonOperator', COMPARISON_OPERATORS);
    v.oneOf(input, 'Statistic', STATISTICS);
    v.oneOf(input, 'Unit', UNITS);
    v.maxItems(input, 'AlarmActions', 5);
    v.maxItems(input, 'OKActions', 5);
    v.maxItems(input, 'InsufficientDataActions', 5);
    v.maxItems(input, 'Dimensions', 30);
    v.length(input, 'TreatMissingData', 1, 255);
    v.length(input, 'EvaluateLowSampleCountPercentile', 1, 255);
    v.throwIfAny();

    const metricName = str(input, 'MetricName');
    const metrics = records(input.Metrics);
    const statistic = str(input, 'Statistic');
    const extended = str(input, 'ExtendedStatistic');
    const period = num(input, 'Period');
    const evaluationPeriods = num(input, 'EvaluationPeriods') ?? 1;
    const operator = str(input, 'ComparisonOperator') ?? '';
    const thresholdMetricId = str(input, 'ThresholdMetricId');

    if (metricName !== undefined && metrics.length > 0) {
      throw new AwsServiceError(
        'InvalidParameterCombination',
        'The parameters MetricName and Metrics are mutually exclusive and you have specified both.',
      );
    }
    if (metricName === undefined && metrics.length === 0) {
      throw validation('Either MetricName or Metrics must be specified.');
    }
    if (metricName !== undefined) {
      if (statistic !== undefined && extended !== undefined) {
        throw new AwsServiceError(
          'InvalidParameterCombination',
          'The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.',
        );
      }
      if (statistic === undefined && extended === undefined) {
        throw new AwsServiceError('MissingParameter', 'Either Statistic or ExtendedStatistic must be specified.');
      }
      if (extended !== undefined && !PERCENTILE.test(extended)) {
        throw invalidValue(`The value ${extended} for parameter ExtendedStatistic is not supported.`);
      }
      if (period === undefined) throw validation('Period must not be null.');
      if (str(input, 'Namespace') === undefined) {
        throw new AwsServiceError('MissingParameter', 'The parameter Namespace is required.');
      }
      for (const d of records(input.Dimensions)) {
        if (typeof d.Name !== 'string' || typeof d.Value !== 'string' || !d.Name || !d.Value) {
          throw new AwsServiceError('MissingParameter', 'Dimensions must each have a Name and a Value.');
        }
      }
    } else {
      const returned = metrics.filter((q) => q.ReturnData !== false);
      if (returned.length !== 1) {
        throw validation('Exactly one element of the metrics list should return data.');
      }
      for (const q of metrics) {
        if (typeof q.Id !== 'string' || !/^[a-z][a-zA-Z0-9_]*$/.test(q.Id)) {
          throw validation(`Invalid metrics list: the Id ${String(q.Id)} must start with a lower-case letter.`);
        }
        if ((q.MetricStat === undefined) === (q.Expression === undefined)) {
          throw validation('Each element of the metrics list must have exactly one of MetricStat or Expression.');
        }
        const stat = record(q.MetricStat);
        if (stat) {
          const p = num(stat, 'Period');
          if (p === undefined || !(p === 1 || p === 5 || p === 10 || p === 20 || p === 30 || p % 60 === 0)) {
            throw validation('The Period of a MetricStat must be 1, 5, 10, 20, 30 or a multiple of 60.');
          }
        }
      }
    }
    // "Valid values are 10, 20, 30, and any multiple of 60" and the evaluation range limits.
    if (period !== undefined) {
      if (!(period === 10 || period === 20 || period === 30 || period % 60 === 0)) {
        throw validation('Period must be 10, 20, 30 or a multiple of 60');
      }
      const total = period * evaluationPeriods;
      if (total > 604_800) {
        throw validation('The evaluation period (Period multiplied by EvaluationPeriods) cannot exceed 7 days.');
      }
      if (period < 3600 && total > 86_400) {
        throw validation(
          'The evaluation period (Period multiplied by EvaluationPeriods) cannot exceed 1 day for alarms with a period of less than one hour.',
        );
      }
    }
    const datapointsToAlarm = num(input, 'DatapointsToAlarm');
    if (datapointsToAlarm !== undefined && datapointsToAlarm > evaluationPeriods) {
      throw validation('DatapointsToAlarm must be less than or equal to EvaluationPeriods.');
    }
    if (ANOMALY_OPERATORS.has(operator) !== (thresholdMetricId !== undefined)) {
      throw validation(
        'ThresholdMetricId is required, and only allowed, with the LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold and GreaterThanUpperThreshold comparison operators.',
      );
    }
    if (thresholdMetricId === undefined && num(input, 'Threshold') === undefined) {
      throw validation('Threshold is required for an alarm based on a static threshold.');
    }
    const treat = str(input, 'TreatMissingData');
    if (treat !== undefined && !TREAT_MISSING_DATA.includes(treat as (typeof TREAT_MISSING_DATA)[number])) {
      throw validation(`TreatMissingData must be one of: ${TREAT_MISSING_DATA.join(', ')}.`);
    }
    const lowSample = str(input, 'EvaluateLowSampleCountPercentile');
    if (lowSample !== undefined && lowSample !== 'evaluate' && lowSample !== 'ignore') {
      throw validation('EvaluateLowSampleCountPercentile must be evaluate or ignore.');
    }
  }

  // ---- outputs --------------------------------------------------------------------------------

  const CONFIG_FIELDS = [
    'AlarmDescription',
    'OKActions',
    'AlarmActions',
    'InsufficientDataActions',
    'MetricName',
    'Namespace',
    'Statistic',
    'ExtendedStatistic',
    'Dimensions',
    'Period',
    'Unit',
    'EvaluationPeriods',
    'DatapointsToAlarm',
    'Threshold',
    'ComparisonOperator',
    'TreatMissingData',
    'EvaluateLowSampleCountPercentile',
    'Metrics',
    'ThresholdMetricId',
  ] as const;

  function describe(alarm: Alarm): Record<string, unknown> {
    const out: Record<string, unknown> = {
      AlarmName: alarm.name,
      AlarmArn: alarm.arn,
      AlarmConfigurationUpdatedTimestamp: alarm.configurationUpdatedMs / 1000,
      ActionsEnabled: alarm.actionsEnabled,
      OKActions: [],
      AlarmActions: [],
      InsufficientDataActions: [],
      Dimensions: [],
    };
    for (const field of CONFIG_FIELDS) {
      if (alarm.config[field] !== undefined) out[field] = alarm.config[field];
    }
    out.StateValue = alarm.state.value;
    out.StateReason = alarm.state.reason;
    if (alarm.state.reasonData !== undefined) out.StateReasonData = alarm.state.reasonData;
    out.StateUpdatedTimestamp = alarm.state.updatedMs / 1000;
    out.StateTransitionedTimestamp = alarm.state.transitionedMs / 1000;
    return out;
  }

  function page<T>(items: readonly T[], keyOf: (item: T) => string, input: Record<string, unknown>, max: number) {
    const after = decodeToken(str(input, 'NextToken'));
    const rest = after === undefined ? [...items] : items.filter((i) => keyOf(i) > after);
    const pageItems = rest.slice(0, max);
    const last = pageItems[pageItems.length - 1];
    return {
      items: pageItems,
      ...(rest.length > pageItems.length && last !== undefined ? { NextToken: encodeToken(keyOf(last)) } : {}),
    };
  }

  function maxRecords(input: Record<string, unknown>, max: number, fallback: number): number {
    const value = num(input, 'MaxRecords');
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw validation(
        `1 validation error detected: Value '${value}' at 'maxRecords' failed to satisfy constraint: Member must have value ${
          value < 1 ? 'greater than or equal to 1' : `less than or equal to ${max}`
        }`,
      );
    }
    return value;
  }

  // ---- metrics --------------------------------------------------------------------------------

  /**
   * PutMetricData. `service` is set for the metrics an AWS service publishes itself (MetricSink): they
   * may use an `AWS/` namespace, and the publisher has the alarms evaluated at the end of each period.
   */
  function putMetricData(input: Record<string, unknown>, service = false): void {
    const v = new Violations();
    v.required(input, 'Namespace');
    v.required(input, 'MetricData');
    v.length(input, 'Namespace', 1, 255);
    v.maxItems(input, 'MetricData', 1000);
    v.throwIfAny();
    const namespace = str(input, 'Namespace') ?? '';
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
    if (namespace.startsWith('AWS/') && !service) {
      throw invalidValue(`The value ${namespace} for parameter Namespace is invalid.`);
    }
    const data = records(input.MetricData);
    const parsed: Array<{ key: string; series: Omit<Series, 'samples'>; sample: Sample }> = [];
    data.forEach((datum, index) => {
      const i = index + 1;
      const metricName = str(datum, 'MetricName');
      if (!metricName) {
        throw new AwsServiceError('MissingParameter', `The parameter MetricData.member.${i}.MetricName is required.`);
      }
      const unit = str(datum, 'Unit');
      if (unit !== undefined && !UNITS.includes(unit as (typeof UNITS)[number])) {
        throw validation(
          `1 validation error detected: Value '${unit}' at 'metricData.${i}.member.unit' failed to satisfy constraint: Member must satisfy enum value set: [${UNITS.join(', ')}]`,
        );
      }
      const dimensions = dimensionsOf(datum.Dimensions);
      if (dimensions.length > 30)
        throw invalidValue(`The collection MetricData.member.${i}.Dimensions must not have a size greater than 30.`);
      const value = num(datum, 'Value');
      const values = Array.isArray(datum.Values) ? (datum.Values as unknown[]).map(Number) : undefined;
      const counts = Array.isArray(datum.Counts) ? (datum.Counts as unknown[]).map(Number) : undefined;
      const stats = record(datum.StatisticValues);
      if (value !== undefined && stats) {
        throw new AwsServiceError(
          'InvalidParameterCombination',
          `The parameters MetricData.member.${i}.Value and MetricData.member.${i}.StatisticValues are mutually exclusive and you have specified both.`,
        );
      }
      if (value !== undefined && values && values.length > 0) {
        throw invalidValue(
          `The parameters MetricData.member.${i}.Value and MetricData.member.${i}.Values are mutually exclusive and you have specified both.`,
        );
      }
      if (counts && values && counts.length !== values.length) {
        throw invalidValue(
          `The parameters MetricData.member.${i}.Values and MetricData.member.${i}.Counts must be of the same size.`,
        );
      }
      const atMs = timestampMs(datum.Timestamp, `MetricData.member.${i}.Timestamp`) ?? nowMs();
      let sample: Sample;
      if (stats) {
        for (const name of ['SampleCount', 'Sum', 'Minimum', 'Maximum']) {
          if (num(stats, name) === undefined) {
            throw invalidValue(`Missing required parameter in MetricData[${i}].StatisticValues: "${name}"`);
          }
        }
        sample = {
          atMs,
          ...(unit ? { unit } : {}),
          count: num(stats, 'SampleCount') as number,
          sum: num(stats, 'Sum') as number,
          min: num(stats, 'Minimum') as number,
          max: num(stats, 'Maximum') as number,
        };
      } else {
        const pairs: Array<readonly [number, number]> =
          values && values.length > 0
            ? values.map((x, j) => [x, counts?.[j] ?? 1] as const)
            : value !== undefined
              ? [[value, 1]]
              : [];
        if (pairs.length === 0) {
          throw new AwsServiceError(
            'MissingParameter',
            `One of Value, Values or StatisticValues must be specified for MetricData.member.${i}.`,
          );
        }
        if (pairs.some(([x, c]) => !Number.isFinite(x) || !Number.isFinite(c))) {
          throw invalidValue(`The value for parameter MetricData.member.${i}.Value is invalid.`);
        }
        sample = {
          atMs,
          ...(unit ? { unit } : {}),
          count: pairs.reduce((n, [, c]) => n + c, 0),
          sum: pairs.reduce((n, [x, c]) => n + x * c, 0),
          min: Math.min(...pairs.map(([x]) => x)),
          max: Math.max(...pairs.map(([x]) => x)),
          values: pairs,
        };
      }
      parsed.push({
        key: seriesKey(namespace, metricName, dimensions),
        series: { namespace, metricName, dimensions },
        sample,
      });
    });
    // All entries are validated before any is stored: a bad request stores nothing.
    for (const { key, series: s, sample } of parsed) {
      const existing = series.get(key) ?? { ...s, samples: [] };
      existing.samples.push(sample);
      series.set(key, existing);
    }
    if (!service) evaluateAll();
  }

  /**
   * Aggregates a metric into periods that start at the (rounded) StartTime; each datapoint carries the
   * start of its period. https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html
   */
  function metricStatistics(
    spec: Omit<MetricSpec, 'stat'>,
    startMs: number,
    endMs: number,
  ): Array<{ startMs: number; agg: Aggregate }> {
    const periodMs = spec.periodSeconds * 1000;
    const buckets = new Map<number, Sample[]>();
    for (const sample of samplesIn({ ...spec, stat: 'Sum' }, startMs, endMs)) {
      const bucket = startMs + Math.floor((sample.atMs - startMs) / periodMs) * periodMs;
      const list = buckets.get(bucket) ?? [];
      list.push(sample);
      buckets.set(bucket, list);
    }
    return [...buckets.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([bucketStart, samples]) => {
        const agg = aggregate(samples);
        return agg ? [{ startMs: bucketStart, agg }] : [];
      });
  }

  function timeRange(input: Record<string, unknown>, periodSeconds: number): [number, number] {
    const start = timestampMs(input.StartTime, 'StartTime');
    const end = timestampMs(input.EndTime, 'EndTime');
    if (start === undefined || end === undefined) {
      throw validation(
        `1 validation error detected: Value null at '${start === undefined ? 'startTime' : 'endTime'}' failed to satisfy constraint: Member must not be null`,
      );
    }
    if (start >= end) throw invalidValue('The parameter StartTime must be less than the parameter EndTime.');
    if (!Number.isInteger(periodSeconds) || periodSeconds < 1) {
      throw invalidValue('The parameter Period must be a positive integer.');
    }
    // StartTime is rounded down: to the period for 1-30 s periods, else by its age to the minute,
    // 5 minutes or the hour. https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html
    const ageMs = nowMs() - start;
    const day = 86_400_000;
    const unitMs =
      periodSeconds < 60 ? periodSeconds * 1000 : ageMs > 63 * day ? 3_600_000 : ageMs > 15 * day ? 300_000 : 60_000;
    return [Math.floor(start / unitMs) * unitMs, end];
  }

  function getMetricStatistics(input: Record<string, unknown>): unknown {
    const v = new Violations();
    v.required(input, 'Namespace');
    v.required(input, 'MetricName');
    v.required(input, 'StartTime');
    v.required(input, 'EndTime');
    v.required(input, 'Period');
    v.oneOf(input, 'Unit', UNITS);
    v.throwIfAny();
    const statistics = strings(input, 'Statistics');
    const extended = strings(input, 'ExtendedStatistics');
    // "You must specify either Statistics or ExtendedStatistics, but not both."
    if (statistics.length === 0 && extended.length === 0) {
      throw new AwsServiceError('MissingParameter', 'Must specify either Statistics or ExtendedStatistics.');
    }
    if (statistics.length > 0 && extended.length > 0) {
      throw new AwsServiceError(
        'InvalidParameterCombination',
        'The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.',
      );
    }
    for (const s of statistics) {
      if (!STATISTICS.includes(s as (typeof STATISTICS)[number])) {
        throw validation(
          `1 validation error detected: Value '[${statistics.join(', ')}]' at 'statistics' failed to satisfy constraint: Member must satisfy enum value set: [${STATISTICS.join(', ')}]`,
        );
      }
    }
    for (const e of extended) {
      if (!PERCENTILE.test(e)) throw invalidValue(`The value ${e} for parameter ExtendedStatistics is not supported.`);
    }
    const periodSeconds = num(input, 'Period') ?? 60;
    const [start, end] = timeRange(input, periodSeconds);
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html
    const requested = Math.ceil((end - start) / (periodSeconds * 1000));
    if (requested > 1440) {
      throw new AwsServiceError(
        'InvalidParameterCombination',
        `You have requested up to ${requested} datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.`,
      );
    }
    const unit = str(input, 'Unit');
    const metricName = str(input, 'MetricName') as string;
    const buckets = metricStatistics(
      {
        namespace: str(input, 'Namespace') as string,
        metricName,
        dimensions: dimensionsOf(input.Dimensions),
        periodSeconds,
        ...(unit ? { unit } : {}),
      },
      start,
      end,
    );
    return {
      Label: metricName,
      Datapoints: buckets.map(({ startMs, agg }) => {
        const point: Record<string, unknown> = { Timestamp: startMs / 1000, Unit: unit ?? 'None' };
        for (const s of statistics) point[s] = statisticValue(agg, s);
        if (extended.length > 0) {
          point.ExtendedStatistics = Object.fromEntries(
            extended.flatMap((e) => {
              const value = statisticValue(agg, e);
              return value === undefined ? [] : [[e, value]];
            }),
          );
        }
        return point;
      }),
    };
  }

  function getMetricData(input: Record<string, unknown>): unknown {
    const queries = records(input.MetricDataQueries);
    if (queries.length === 0 || queries.length > 500) {
      throw validation('The MetricDataQueries list must contain between 1 and 500 queries.');
    }
    const ids = new Set<string>();
    const results: unknown[] = [];
    const scanBy = str(input, 'ScanBy') ?? 'TimestampDescending';
    for (const q of queries) {
      const id = str(q, 'Id');
      if (!id || !/^[a-z][a-zA-Z0-9_]*$/.test(id)) {
        throw validation(`Invalid metric data query Id: ${String(q.Id)}. It must start with a lower-case letter.`);
      }
      if (ids.has(id)) throw validation(`The metric data query Id ${id} is used more than once.`);
      ids.add(id);
      if (q.Expression !== undefined) {
        throw invalidValue('The Ballast sandbox does not evaluate metric math expressions (Expression).');
      }
      const stat = record(q.MetricStat);
      const metric = record(stat?.Metric);
      if (!stat || !metric || typeof metric.MetricName !== 'string') {
        throw validation(`The metric data query ${id} must have a MetricStat with a Metric.`);
      }
      const periodSeconds = num(stat, 'Period') ?? 60;
      const statName = str(stat, 'Stat') ?? 'Average';
      const [start, end] = timeRange(input, periodSeconds);
      if (q.ReturnData === false) continue;
      const unit = str(stat, 'Unit');
      const buckets = metricStatistics(
        {
          namespace: str(metric, 'Namespace') ?? '',
          metricName: metric.MetricName,
          dimensions: dimensionsOf(metric.Dimensions),
          periodSeconds,
          ...(unit ? { unit } : {}),
        },
        start,
        end,
      ).flatMap(({ startMs, agg }) => {
        const value = statisticValue(agg, statName);
        return value === undefined ? [] : [{ startMs, value }];
      });
      if (scanBy === 'TimestampDescending') buckets.reverse();
      results.push({
        Id: id,
        Label: str(q, 'Label') ?? metric.MetricName,
        Timestamps: buckets.map((b) => b.startMs / 1000),
        Values: buckets.map((b) => b.value),
        StatusCode: 'Complete',
      });
    }
    return { MetricDataResults: results, Messages: [] };
  }

  function listMetrics(input: Record<string, unknown>): unknown {
    const namespace = str(input, 'Namespace');
    const metricName = str(input, 'MetricName');
    const filters = records(input.Dimensions);
    const matching = [...series.values()]
      .filter(
        (s) =>
          (namespace === undefined || s.namespace === namespace) &&
          (metricName === undefined || s.metricName === metricName),
      )
      .filter((s) =>
        filters.every((f) =>
          s.dimensions.some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value)),
        ),
      )
      .map((s) => ({ key: seriesKey(s.namespace, s.metricName, s.dimensions), s }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const { items, ...rest } = page(matching, (m) => m.key, input, 500);
    return {
      Metrics: items.map(({ s }) => ({ Namespace: s.namespace, MetricName: s.metricName, Dimensions: s.dimensions })),
      ...rest,
    };
  }

  // ---- operations -----------------------------------------------------------------------------

  const operations: Record<string, JsonOperation> = {
    PutMetricAlarm(input) {
      validateAlarm(input);
      const name = str(input, 'AlarmName') as string;
      const at = nowMs();
      const config: Record<string, unknown> = {};
      for (const field of CONFIG_FIELDS) if (input[field] !== undefined) config[field] = input[field];
      const existing = alarms.get(name);
      const actionsEnabled = typeof input.ActionsEnabled === 'boolean' ? input.ActionsEnabled : true;
      if (existing) {
        // "When you update an existing alarm, its state is left unchanged, but the update completely
        // overwrites the previous configuration of the alarm."
        existing.config = config;
        existing.configurationUpdatedMs = at;
        existing.actionsEnabled = actionsEnabled;
        history.push({
          alarmName: name,
          atMs: at,
          type: 'ConfigurationUpdate',
          summary: `Alarm "${name}" updated`,
          data: JSON.stringify({ version: '1.0', type: 'Update', updatedAlarm: describe(existing) }),
        });
        configurationEvent(existing, 'update');
        evaluate(existing);
        return {};
      }
      // "When this operation creates an alarm, the alarm state is immediately set to INSUFFICIENT_DATA."
      // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
      const alarm: Alarm = {
        name,
        arn: arnOf(name),
        config,
        configurationUpdatedMs: at,
        state: {
          value: 'INSUFFICIENT_DATA',
          reason: 'Unchecked: Initial alarm creation',
          updatedMs: at,
          transitionedMs: at,
        },
        actionsEnabled,
        tags: new Map(records(input.Tags).map((t) => [String(t.Key), String(t.Value ?? '')])),
      };
      alarms.set(name, alarm);
      transitions.set(name, [{ value: 'INSUFFICIENT_DATA', atMs: at, reason: alarm.state.reason }]);
      history.push({
        alarmName: name,
        atMs: at,
        type: 'ConfigurationUpdate',
        summary: `Alarm "${name}" created`,
        data: JSON.stringify({ version: '1.0', type: 'Create', createdAlarm: describe(alarm) }),
      });
      configurationEvent(alarm, 'create');
      evaluate(alarm);
      return {};
    },

    DescribeAlarms(input) {
      const names = strings(input, 'AlarmNames');
      const prefix = str(input, 'AlarmNamePrefix');
      const v = new Violations();
      v.maxItems(input, 'AlarmNames', 100);
      v.oneOf(input, 'StateValue', STATE_VALUES);
      v.throwIfAny();
      if (names.length > 0 && prefix !== undefined) {
        throw new AwsServiceError(
          'InvalidParameterCombination',
          'The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have specified both.',
        );
      }
      const state = str(input, 'StateValue');
      const actionPrefix = str(input, 'ActionPrefix');
      const types = strings(input, 'AlarmTypes');
      const wantMetric = types.length === 0 || types.includes('MetricAlarm');
      const matching = (wantMetric ? [...alarms.values()] : [])
        .filter((a) => names.length === 0 || names.includes(a.name))
        .filter((a) => prefix === undefined || a.name.startsWith(prefix))
        .filter((a) => state === undefined || a.state.value === state)
        .filter(
          (a) =>
            actionPrefix === undefined ||
            (['AlarmActions', 'OKActions', 'InsufficientDataActions'] as const).some((field) =>
              strings(a.config, field).some((action) => action.startsWith(actionPrefix)),
            ),
        )
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const { items, ...rest } = page(matching, (a) => a.name, input, maxRecords(input, 100, 50));
      return { MetricAlarms: items.map(describe), CompositeAlarms: [], ...rest };
    },

    DescribeAlarmsForMetric(input) {
      const v = new Violations();
      v.required(input, 'MetricName');
      v.required(input, 'Namespace');
      v.throwIfAny();
      const dimensions = input.Dimensions === undefined ? undefined : dimensionKey(dimensionsOf(input.Dimensions));
      const filters: Array<[string, unknown]> = (['Statistic', 'ExtendedStatistic', 'Period', 'Unit'] as const).flatMap(
        (field) => (input[field] === undefined ? [] : [[field, input[field]] as [string, unknown]]),
      );
      const matching = [...alarms.values()]
        .filter((a) => a.config.MetricName === input.MetricName && a.config.Namespace === input.Namespace)
        .filter((a) => dimensions === undefined || dimensionKey(dimensionsOf(a.config.Dimensions)) === dimensions)
        .filter((a) => filters.every(([field, value]) => a.config[field] === value))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
      return { MetricAlarms: matching.map(describe) };
    },

    DeleteAlarms(input) {
      const v = new Violations();
      v.required(input, 'AlarmNames');
      v.maxItems(input, 'AlarmNames', 100);
      v.throwIfAny();
      // Names that do not exist are ignored, as CloudWatch does.
      for (const name of strings(input, 'AlarmNames')) {
        const alarm = alarms.get(name);
        if (!alarm) continue;
        alarms.delete(name);
        history.push({
          alarmName: name,
          atMs: nowMs(),
          type: 'ConfigurationUpdate',
          summary: `Alarm "${name}" deleted`,
          data: JSON.stringify({ version: '1.0', type: 'Delete', deletedAlarm: describe(alarm) }),
        });
        configurationEvent(alarm, 'delete');
      }
      return {};
    },

    SetAlarmState(input) {
      const v = new Violations();
      v.required(input, 'AlarmName');
      v.required(input, 'StateValue');
      v.required(input, 'StateReason');
      v.length(input, 'AlarmName', 1, 255);
      v.oneOf(input, 'StateValue', STATE_VALUES);
      v.length(input, 'StateReason', 0, 1023);
      v.length(input, 'StateReasonData', 0, 4000);
      v.throwIfAny();
      const alarm = requireAlarm(str(input, 'AlarmName') as string);
      const reasonData = str(input, 'StateReasonData');
      if (reasonData !== undefined) {
        try {
          JSON.parse(reasonData);
        } catch {
          throw new AwsServiceError('InvalidFormat', 'The StateReasonData is not valid JSON.');
        }
      }
      changeState(alarm, str(input, 'StateValue') as AlarmStateValue, str(input, 'StateReason') as string, reasonData);
      return {};
    },

    DescribeAlarmHistory(input) {
      const name = str(input, 'AlarmName');
      const type = str(input, 'HistoryItemType');
      const v = new Violations();
      v.oneOf(input, 'HistoryItemType', [
        'ConfigurationUpdate',
        'StateUpdate',
        'Action',
        'AlarmContributorStateUpdate',
        'AlarmContributorAction',
      ]);
      v.oneOf(input, 'ScanBy', ['TimestampDescending', 'TimestampAscending']);
      v.throwIfAny();
      const start = timestampMs(input.StartDate, 'StartDate');
      const end = timestampMs(input.EndDate, 'EndDate');
      const ascending = str(input, 'ScanBy') === 'TimestampAscending';
      const indexed = history
        .map((item, index) => ({ item, index }))
        .filter(({ item }) => name === undefined || item.alarmName === name)
        .filter(({ item }) => type === undefined || item.type === type)
        .filter(({ item }) => (start === undefined || item.atMs >= start) && (end === undefined || item.atMs <= end));
      if (!ascending) indexed.reverse();
      // Page keys must grow in scan order and stay stable while new items are appended.
      const key = (entry: { index: number }) => String(ascending ? entry.index : 1e12 - entry.index).padStart(13, '0');
      const { items, ...rest } = page(indexed, key, input, maxRecords(input, 100, 100));
      return {
        AlarmHistoryItems: items.map(({ item }) => ({
          AlarmName: item.alarmName,
          AlarmType: 'MetricAlarm',
          Timestamp: item.atMs / 1000,
          HistoryItemType: item.type,
          HistorySummary: item.summary,
          HistoryData: item.data,
        })),
        ...rest,
      };
    },

    EnableAlarmActions(input) {
      for (const name of strings(input, 'AlarmNames')) {
        const alarm = alarms.get(name);
        if (alarm) alarm.actionsEnabled = true;
      }
      return {};
    },

    DisableAlarmActions(input) {
      for (const name of strings(input, 'AlarmNames')) {
        const alarm = alarms.get(name);
        if (alarm) alarm.actionsEnabled = false;
      }
      return {};
    },

    PutMetricData(input) {
      putMetricData(input);
      return {};
    },

    GetMetricStatistics: getMetricStatistics,
    GetMetricData: getMetricData,
    ListMetrics: listMetrics,

    TagResource(input) {
      const alarm = alarmByArn(str(input, 'ResourceARN'));
      for (const tag of records(input.Tags)) alarm.tags.set(String(tag.Key), String(tag.Value ?? ''));
      return {};
    },

    UntagResource(input) {
      const alarm = alarmByArn(str(input, 'ResourceARN'));
      for (const key of strings(input, 'TagKeys')) alarm.tags.delete(key);
      return {};
    },

    ListTagsForResource(input) {
      const alarm = alarmByArn(str(input, 'ResourceARN'));
      return { Tags: [...alarm.tags.entries()].map(([Key, Value]) => ({ Key, Value })) };
    },
  };

  function alarmByArn(arn: string | undefined): Alarm {
    const alarm = [...alarms.values()].find((a) => a.arn === arn);
    if (!alarm) {
      throw new AwsServiceError('ResourceNotFoundException', `Resource ${arn ?? ''} not found`, 404);
    }
    return alarm;
  }

  const base = awsJsonService({
    signingName: 'monitoring',
    targetPrefix: 'GraniteServiceVersion20100801',
    version: '1.0',
    queryCompatible: true,
    // CloudWatch throttles with the query code `Throttling` (HTTP 400), which the SDK retries.
    throttlingCode: 'Throttling',
    operations,
    tick: () => evaluateAll(),
  });

  return {
    ...base,
    async handle(request, operation) {
      return withShapeErrorType(await base.handle(decompress(request), operation));
    },
    faultResponse(kind, operation) {
      return withShapeErrorType(base.faultResponse(kind, operation));
    },
    exists(alarmName) {
      return alarms.has(alarmName);
    },
    wasInAlarm(alarmName, fromMs, toMs) {
      if (!alarms.has(alarmName)) return false;
      const list = transitions.get(alarmName) ?? [];
      return list.some((t, i) => {
        const endMs = list[i + 1]?.atMs ?? Number.POSITIVE_INFINITY;
        // Closed intervals: an alarm that went into ALARM and out again within one instant still counts.
        return t.value === 'ALARM' && t.atMs <= toMs && endMs >= fromMs;
      });
    },
    alarmNames() {
      return [...alarms.keys()].sort();
    },
    alarmState(alarmName) {
      return alarms.get(alarmName)?.state.value;
    },
    stateHistory(alarmName) {
      return alarms.has(alarmName) ? [...(transitions.get(alarmName) ?? [])] : [];
    },
    setAlarmState(alarmName, value, reason) {
      changeState(requireAlarm(alarmName), value, reason, undefined);
    },
    putMetricData: (input) => putMetricData(input),
    putServiceMetricData: (input) => putMetricData(input, true),
    evaluateAlarmsAt(atMs) {
      evaluateAll(Math.min(atMs, nowMs()));
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** PutMetricData bodies are gzip-compressed by the SDK above 10 KiB (the `requestCompression` trait). */
function decompress(request: SandboxRequest): SandboxRequest {
  const encoding = request.headers['content-encoding']?.toLowerCase() ?? '';
  if (!encoding.split(',').some((e) => e.trim() === 'gzip')) return request;
  try {
    return { ...request, body: gunzipSync(request.body) };
  } catch {
    return request;
  }
}

/** Puts the modelled shape id in `__type`, as the real query-compatible service does. */
function withShapeErrorType(response: SandboxResponse): SandboxResponse {
  if (response.status < 300 || response.body === undefined) return response;
  try {
    const body = JSON.parse(response.body.toString()) as Record<string, unknown>;
    const code = typeof body.__type === 'string' ? body.__type : undefined;
    const shape = code === undefined ? undefined : ERROR_SHAPES[code];
    if (!shape) return response;
    return { ...response, body: JSON.stringify({ ...body, __type: `com.amazonaws.cloudwatch#${shape}` }) };
  } catch {
    return response;
  }
}
