/**
 * What the reconciler costs, in numbers (`npm run bench -- --only=reconcile`):
 *
 * - one reconcile run over N sandbox endpoints (seeded as the deploy workflow would have deployed
 *   them, sandbox/fleet.ts): wall time, state transitions (`execution.states`), Lambda
 *   invocations, AWS API calls per endpoint by operation (the sandbox's request log), the largest
 *   state payload; and a tick of the schedule with nothing due;
 * - what that makes a month for 100 endpoints at the default interval, at AWS list prices, computed
 *   from those measured counts and durations ({@link PRICES} lists each price and its page);
 * - how long a push whose EventBridge event was lost takes to go live, in simulated time, with the
 *   pipeline's reconcile schedule on.
 *
 * The reconcile workflow is the ASL the stack ships on the local runner, with the real handlers.
 * Durations are local: the handlers, the sandbox and the interpreter share one process on this
 * machine, with no network between them. They stand in for Lambda and Express durations on AWS,
 * where each SageMaker call takes tens of milliseconds more; the cost table says what ten times
 * the local durations would cost too.
 */
import { performance } from 'node:perf_hooks';
import { logger } from '../lambdas/handlers/runtime.ts';
import { metrics } from '../lambdas/runtime/powertools.ts';
import type { EndpointState } from '../lambdas/state/endpoint-state.ts';
import { JsonStore } from '../lambdas/state/json-store.ts';
import { keys } from '../lambdas/state/keys.ts';
import { MISSED_PUSH_GRACE_MS, type ReconcileStatus, type RunSummary } from '../lambdas/state/reconcile-status.ts';
import { RECONCILE_STEPS } from '../lib/workflow-steps.ts';
import { emfSink, emfToMetricData } from '../sandbox/emf.ts';
import {
  commitFiles,
  EXAMPLE_REPO_DIR,
  EXAMPLE_SECRET_PREFIX,
  readTree,
  sandboxClients,
  seedExampleAccount,
} from '../sandbox/example-world.ts';
import { fleetRepository, seedFleet } from '../sandbox/fleet.ts';
import { CODECOMMIT_PUSH_PATTERN, LocalPipeline, RECONCILE_FUNCTIONS } from '../sandbox/pipeline.ts';
import type { LambdaHandler, LocalExecution, PayloadSize } from '../sandbox/runner.ts';
import { type Sandbox, startSandbox } from '../sandbox/sandbox.ts';
import { type BenchTable, fmt } from './bench-table.ts';
import { pushAndWait } from './bench-workflow.ts';

const START = new Date('2026-03-01T09:00:00Z');
/** Simulated time moves only when the benchmark or a workflow's wait moves it (see bench-workflow.ts). */
const TIME_SCALE = 1e-9;
const ENVIRONMENT = 'prod';
/** ballast.yaml's default reconcile interval, and the schedule's tick (the stack's reconcileTickMinutes). */
const INTERVAL_MINUTES = 5;
const TICK_MINUTES = 1;
/** AWS bills a month as 730 hours (the AWS Pricing Calculator's convention). */
const HOURS_PER_MONTH = 730;
/** The fleet size the cost model is for. */
const COST_ENDPOINTS = 100;

// ---------------------------------------------------------------------------------------------
// Prices

interface Price {
  readonly item: string;
  /** The price as the page quotes it: `amount` dollars per `units` of `per`. */
  readonly amount: number;
  readonly units: number;
  readonly per: string;
  readonly source: string;
}

/** Dollars per one unit of a price. */
const unitPrice = (price: Price) => price.amount / price.units;

/** `$0.20 / 1M requests`, the way the pricing pages put it. */
function quoted(price: Price): string {
  const units = price.units === 1 ? '' : price.units === 1e6 ? '1M ' : `${fmt(price.units)} `;
  const amount = price.amount >= 0.01 ? price.amount.toFixed(2) : String(price.amount);
  return `$${amount} / ${units}${price.per}`;
}

/** The day the prices were read from the pages below. */
export const PRICES_READ = '2026-12-03';

/** AWS list prices, us-east-1, read on {@link PRICES_READ} (free tiers other than Scheduler's left out). */
export const PRICES = {
  lambdaRequests: {
    item: 'Lambda requests',
    amount: 0.2,
    units: 1e6,
    per: 'requests',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  lambdaDuration: {
    item: 'Lambda duration (x86 rate; the stack runs arm64, $0.0000133334)',
    amount: 0.0000166667,
    units: 1,
    per: 'GB-second',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  expressRequests: {
    item: 'Step Functions Express requests',
    amount: 1,
    units: 1e6,
    per: 'requests',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  },
  expressDuration: {
    item: 'Step Functions Express duration (first 1,000 GB-hours; 64 MB, 100 ms units)',
    amount: 0.00001667,
    units: 1,
    per: 'GB-second',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  },
  s3Get: {
    item: 'S3 Standard GET (and HEAD)',
    amount: 0.0004,
    units: 1000,
    per: 'requests',
    source: 'https://aws.amazon.com/s3/pricing/',
  },
  s3Put: {
    item: 'S3 Standard PUT, COPY, LIST',
    amount: 0.005,
    units: 1000,
    per: 'requests',
    source: 'https://aws.amazon.com/s3/pricing/',
  },
  scheduler: {
    item: 'EventBridge Scheduler invocations (after 14 million free a month)',
    amount: 1,
    units: 1e6,
    per: 'invocations',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
  },
  customMetrics: {
    item: 'CloudWatch custom metrics (first 10,000)',
    amount: 0.3,
    units: 1,
    per: 'metric-month',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  logsIngestion: {
    item: 'CloudWatch Logs ingestion (standard)',
    amount: 0.5,
    units: 1,
    per: 'GB',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  eksControlPlane: {
    item: "EKS cluster control plane (what Argo CD's cluster costs before any node)",
    amount: 0.1,
    units: 1,
    per: 'cluster-hour',
    source: 'https://aws.amazon.com/eks/pricing/',
  },
} as const satisfies Record<string, Price>;

const SCHEDULER_FREE_INVOCATIONS = 14e6;
/** Express bills memory in 64 MB steps; a reconcile payload is far below what needs more. */
const EXPRESS_MEMORY_GB = 64 / 1024;
const GOAL_USD_PER_MONTH = 2;

/**
 * Log lines the sandbox cannot measure, estimated: the runtime's START, END and REPORT lines per
 * Lambda invocation (text format, REPORT with its X-Ray trace id). The state machine logs at level
 * ERROR (lib/reconcile-workflow.ts): a run that goes right writes no log event.
 */
const LAMBDA_PLATFORM_BYTES = 360;

// ---------------------------------------------------------------------------------------------
// Measuring one execution

interface Invocation {
  readonly fn: string;
  readonly ms: number;
}

export interface ExecutionCost {
  readonly wallMs: number;
  readonly transitions: number;
  readonly invocations: readonly Invocation[];
  /** `service:Operation` -> calls, from the sandbox's request log. */
  readonly calls: Readonly<Record<string, number>>;
  readonly apiCalls: number;
  readonly largestPayload?: PayloadSize;
  /** Bytes of the EMF documents the handlers wrote (log lines on AWS). */
  readonly emfBytes: number;
  /** Each metric the EMF defines: namespace, name and dimensions. */
  readonly metrics: readonly string[];
  /** Bytes of the handlers' own log lines at Lambda's default level (INFO). */
  readonly logBytes: number;
}

/**
 * Times each reconcile handler's invocations, counts the EMF and log lines they write, while a
 * measurement is on. One per sandbox; its functions go to LocalPipeline.start.
 */
class Meter {
  private invocations: Invocation[] = [];
  private emfBytes = 0;
  private readonly metricIds = new Set<string>();
  private logBytes = 0;
  private on = false;

  readonly functions: Readonly<Record<string, LambdaHandler>> = Object.fromEntries(
    Object.entries(RECONCILE_FUNCTIONS).map(([fn, handler]) => [
      fn,
      (async (input: never, context) => {
        const started = performance.now();
        try {
          return await handler(input, context);
        } finally {
          if (this.on) this.invocations.push({ fn, ms: performance.now() - started });
        }
      }) as LambdaHandler,
    ]),
  );

  /** Counts what goes to the sandbox's CloudWatch (the pipeline's own sink) while on. */
  listen(sandbox: Sandbox): void {
    const forward = emfSink(sandbox.cloudwatch);
    metrics.sendEmfTo((document) => {
      if (this.on) {
        this.emfBytes += Buffer.byteLength(`${JSON.stringify(document)}\n`);
        for (const input of emfToMetricData(document)) {
          for (const datum of input.MetricData) {
            const dimensions = (datum.Dimensions as Array<{ Name: string; Value: string }>)
              .map((d) => `${d.Name}=${d.Value}`)
              .join(',');
            this.metricIds.add(`${input.Namespace}/${String(datum.MetricName)} {${dimensions}}`);
          }
        }
      }
      forward(document);
    });
  }

  async measure(sandbox: Sandbox, pipeline: LocalPipeline, start: () => LocalExecution): Promise<ExecutionCost> {
    await pipeline.idle();
    sandbox.requests.clear();
    this.invocations = [];
    this.emfBytes = 0;
    this.metricIds.clear();
    this.logBytes = 0;
    const restore = this.captureLogs();
    this.on = true;
    const started = performance.now();
    let execution: LocalExecution;
    try {
      execution = start();
      await execution.result.catch(() => undefined);
    } finally {
      this.on = false;
      restore();
    }
    const wallMs = performance.now() - started;
    if (execution.status !== 'SUCCEEDED') {
      throw new Error(`the reconcile run ${execution.status}: ${JSON.stringify(execution.error)}`);
    }
    const calls = sandbox.requests.counts();
    return {
      wallMs,
      transitions: execution.states.length,
      invocations: this.invocations,
      calls,
      apiCalls: Object.values(calls).reduce((a, b) => a + b, 0),
      ...(execution.largestPayload ? { largestPayload: execution.largestPayload } : {}),
      emfBytes: this.emfBytes,
      metrics: [...this.metricIds].sort(),
      logBytes: this.logBytes,
    };
  }

  /** The handlers' Powertools log lines (JSON, stdout and stderr) at INFO, counted and not printed. */
  private captureLogs(): () => void {
    const streams = [process.stdout, process.stderr] as const;
    const writes = streams.map((s) => s.write);
    for (const stream of streams) {
      stream.write = ((chunk: string | Uint8Array) => {
        this.logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        return true;
      }) as typeof stream.write;
    }
    logger.setLogLevel('INFO');
    return () => {
      logger.setLogLevel('SILENT');
      streams.forEach((stream, i) => {
        stream.write = writes[i] as typeof stream.write;
      });
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Section 1: one run over N endpoints, and a tick with nothing due

export interface FleetRun {
  readonly size: number;
  readonly run: ExecutionCost;
  readonly summary: RunSummary;
  readonly idle: ExecutionCost;
  /** Wall time to stand the fleet up (seedFleet), for the record. */
  readonly seedMs: number;
}

async function benchFleet(size: number): Promise<FleetRun> {
  const files = await fleetRepository(size, { perFile: 10 });
  const sandbox = await startSandbox({ start: START, timeScale: TIME_SCALE });
  const meter = new Meter();
  let pipeline: LocalPipeline | undefined;
  try {
    await seedExampleAccount(sandbox, files);
    pipeline = await LocalPipeline.start({
      sandbox,
      secretPrefix: EXAMPLE_SECRET_PREFIX,
      reconcileFunctions: meter.functions,
    });
    meter.listen(sandbox);
    const seeding = performance.now();
    await seedFleet(sandbox, pipeline, files);
    const seedMs = performance.now() - seeding;
    const live = pipeline;
    // A new environment is due at once: the first run checks every endpoint.
    const run = await meter.measure(sandbox, live, () => live.reconcile());
    const summary = await lastRun(sandbox, live);
    if (!summary || summary.checked !== size || summary.inSync !== size) {
      throw new Error(`${size} endpoints: the run checked ${summary?.checked}, in sync ${summary?.inSync}`);
    }
    // The next tick, with the environment not due until its next slot: Scan only (the workflow ends at Idle?).
    let idle = await meter.measure(sandbox, live, () => live.reconcile());
    for (let tries = 0; idle.invocations.some((i) => i.fn === 'Check') && tries < INTERVAL_MINUTES; tries++) {
      // The run ended right at its slot's edge: the next minute is not due.
      sandbox.clock.advance(TICK_MINUTES * 60_000);
      idle = await meter.measure(sandbox, live, () => live.reconcile());
    }
    return { size, run, summary, idle, seedMs };
  } finally {
    pipeline?.stop();
    await pipeline?.idle();
    await sandbox.stop();
  }
}

async function lastRun(sandbox: Sandbox, pipeline: LocalPipeline): Promise<RunSummary | undefined> {
  return (await readJson<ReconcileStatus>(sandbox, pipeline, keys.reconcileStatus))?.environments[ENVIRONMENT]?.lastRun;
}

async function readJson<T>(sandbox: Sandbox, pipeline: LocalPipeline, key: string): Promise<T | undefined> {
  const { s3 } = sandboxClients(sandbox);
  try {
    return (await new JsonStore(s3, pipeline.stateBucket).get<T>(key))?.value;
  } finally {
    s3.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Section 2: the idle cost of 100 endpoints, from the measured counts

const s3Gets = (c: ExecutionCost) => (c.calls['s3:GetObject'] ?? 0) + (c.calls['s3:HeadObject'] ?? 0);
const s3Puts = (c: ExecutionCost) =>
  (c.calls['s3:PutObject'] ?? 0) + (c.calls['s3:CopyObject'] ?? 0) + (c.calls['s3:ListObjectsV2'] ?? 0);

/** Lambda bills each invocation's duration rounded up to the millisecond, at the function's memory. */
function lambdaGbSeconds(cost: ExecutionCost, scale = 1): number {
  return cost.invocations.reduce((sum, { fn, ms }) => {
    const step = Object.values(RECONCILE_STEPS).find((s) => s.placeholder === fn);
    return sum + (Math.ceil(ms * scale) / 1000) * ((step?.memorySize ?? 512) / 1024);
  }, 0);
}

/** Express bills the execution's duration in 100 ms units, at 64 MB. */
function expressGbSeconds(cost: ExecutionCost, scale = 1): number {
  return (Math.ceil((cost.wallMs * scale) / 100) / 10) * EXPRESS_MEMORY_GB;
}

function logBytes(cost: ExecutionCost): number {
  return cost.logBytes + cost.emfBytes + LAMBDA_PLATFORM_BYTES * cost.invocations.length;
}

export interface CostLine {
  readonly item: string;
  readonly perRun: string;
  readonly perIdle: string;
  readonly perMonth: number;
  readonly unit: string;
  readonly price: Price;
  readonly usd: number;
}

export interface CostModel {
  readonly runs: number;
  readonly idleTicks: number;
  readonly lines: readonly CostLine[];
  readonly total: number;
  /** The same with every local duration ten times longer. */
  readonly totalSlow: number;
  readonly metrics: readonly string[];
}

export function costModel(measured: FleetRun): CostModel {
  const ticks = (HOURS_PER_MONTH * 60) / TICK_MINUTES;
  const runs = ticks / (INTERVAL_MINUTES / TICK_MINUTES);
  const idleTicks = ticks - runs;
  const { run, idle } = measured;
  const monthly = (perRun: number, perIdle: number) => runs * perRun + idleTicks * perIdle;
  const metricNames = [...new Set([...run.metrics, ...idle.metrics])].sort();
  const line = (
    price: Price,
    perRun: number,
    perIdle: number,
    unit: string,
    decimals = 0,
    perMonth = monthly(perRun, perIdle),
    billed = perMonth,
  ): CostLine => ({
    item: price.item,
    perRun: fmt(perRun, decimals),
    perIdle: fmt(perIdle, decimals),
    perMonth,
    unit,
    price,
    usd: billed * unitPrice(price),
  });
  const lines = (scale: number): CostLine[] => [
    line(PRICES.lambdaRequests, run.invocations.length, idle.invocations.length, 'requests'),
    line(PRICES.lambdaDuration, lambdaGbSeconds(run, scale), lambdaGbSeconds(idle, scale), 'GB-s', 3),
    line(PRICES.expressRequests, 1, 1, 'requests'),
    line(PRICES.expressDuration, expressGbSeconds(run, scale), expressGbSeconds(idle, scale), 'GB-s', 4),
    line(PRICES.s3Get, s3Gets(run), s3Gets(idle), 'requests'),
    line(PRICES.s3Put, s3Puts(run), s3Puts(idle), 'requests'),
    line(PRICES.scheduler, 1, 1, 'invocations', 0, ticks, Math.max(0, ticks - SCHEDULER_FREE_INVOCATIONS)),
    line(PRICES.customMetrics, metricNames.length, 0, 'metrics', 0, metricNames.length),
    line(PRICES.logsIngestion, logBytes(run) / 1e9, logBytes(idle) / 1e9, 'GB', 6),
  ];
  const now = lines(1);
  const sum = (ls: readonly CostLine[]) => ls.reduce((s, l) => s + l.usd, 0);
  return { runs, idleTicks, lines: now, total: sum(now), totalSlow: sum(lines(10)), metrics: metricNames };
}

// ---------------------------------------------------------------------------------------------
// Section 3: from a lost push to its deployment

export interface MissedPush {
  /** A push whose event arrived: push → verified live (the rollout itself), simulated ms. */
  readonly deliveredToLiveMs?: number;
  /** The lost push: push → the reconciler's `missed-` execution of the deploy workflow started. */
  readonly lostToStartMs?: number;
  /** The lost push: push → verified live, when it went live. */
  readonly lostToLiveMs?: number;
  /** How the missed-push execution ended, when it did not deploy. */
  readonly failure?: string;
  /** Simulated minutes the benchmark waited. */
  readonly waitedMinutes: number;
}

const ENDPOINT_FILE = 'endpoints/summarizer.yaml';
const INSTANCE_TYPE = /instanceType: \S+/;

async function benchMissedPush(): Promise<MissedPush> {
  const sandbox = await startSandbox({ start: START, timeScale: TIME_SCALE });
  let pipeline: LocalPipeline | undefined;
  try {
    const files = await readTree(EXAMPLE_REPO_DIR);
    // The directory model's endpoint is not what this measures (as in bench-rollback.ts).
    for (const path of ['endpoints/assistant.yaml', 'models/assistant-llm.yaml']) delete files[path];
    await seedExampleAccount(sandbox, files);
    pipeline = await LocalPipeline.start({ sandbox, secretPrefix: EXAMPLE_SECRET_PREFIX, reconcile: true });
    const live = pipeline;
    await pushAndWait(sandbox, live, files, 'initial', 'initial deployment');
    const liveCommit = async () =>
      (await readJson<EndpointState>(sandbox, live, keys.state(ENVIRONMENT, 'summarizer')))?.live;
    const withType = (type: string) => ({
      [ENDPOINT_FILE]: (files[ENDPOINT_FILE] ?? '').replace(INSTANCE_TYPE, `instanceType: ${type}`),
    });

    // For comparison: the same kind of change, its event delivered.
    const deliveredAt = sandbox.clock.nowMs();
    await pushAndWait(sandbox, live, withType('ml.g5.4xlarge'), 'bigger instances', 'delivered push');
    const delivered = await liveCommit();
    const deliveredToLiveMs = delivered ? Date.parse(delivered.at) - deliveredAt : undefined;

    // The lost push: its event reaches no rule; the schedule ticks every simulated minute.
    sandbox.events.loseDeliveries(CODECOMMIT_PUSH_PATTERN);
    const lostAt = sandbox.clock.nowMs();
    const lost = await commitFiles(sandbox, 'model-repo', 'main', withType('ml.g5.12xlarge'), 'a push nobody heard');
    const limit = 90;
    let minutes = 0;
    let state = await liveCommit();
    for (; minutes < limit && state?.commit !== lost; minutes++) {
      sandbox.clock.advance(60_000);
      await new Promise((resolve) => setImmediate(resolve));
      await live.idle();
      state = await liveCommit();
    }
    const missed = live.runner.executions('deploy').find((e) => e.name.startsWith('missed-'));
    const wentLive = state?.commit === lost;
    return {
      ...(deliveredToLiveMs !== undefined ? { deliveredToLiveMs } : {}),
      ...(missed ? { lostToStartMs: missed.startedAt.getTime() - lostAt } : {}),
      ...(wentLive && state ? { lostToLiveMs: Date.parse(state.at) - lostAt } : {}),
      ...(!wentLive
        ? {
            failure: missed
              ? `the missed-push execution ${missed.name} ${missed.status}${missed.error ? `: ${missed.error.name}: ${missed.error.message}` : ''}`
              : 'no missed-push execution started',
          }
        : {}),
      waitedMinutes: minutes,
    };
  } finally {
    pipeline?.stop();
    await pipeline?.idle();
    await sandbox.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Tables

const perService = (cost: ExecutionCost, service: string) =>
  Object.entries(cost.calls)
    .filter(([op]) => op.startsWith(`${service}:`))
    .reduce((n, [, c]) => n + c, 0);

const kib = (bytes: number | undefined) => (bytes === undefined ? '·' : fmt(bytes / 1024, 1));

const invocationsOf = (cost: ExecutionCost) =>
  ['Scan', 'Check', 'Finish'].map((fn) => cost.invocations.filter((i) => i.fn === fn).length).join(' / ');

function runTable(fleet: readonly FleetRun[]): BenchTable {
  const rows = fleet.flatMap(({ size, run, summary, idle }) => [
    [
      fmt(size),
      'run (all due)',
      `${fmt(summary.checked)} / ${fmt(summary.inSync)}`,
      fmt(run.wallMs),
      fmt(run.transitions),
      invocationsOf(run),
      fmt(run.apiCalls),
      fmt(perService(run, 'sagemaker') / size, 2),
      fmt(perService(run, 's3') / size, 2),
      fmt(perService(run, 'application-autoscaling')),
      `${kib(run.largestPayload?.bytes)} (${run.largestPayload?.state ?? '·'})`,
    ],
    [
      fmt(size),
      'idle tick (none due)',
      '·',
      fmt(idle.wallMs),
      fmt(idle.transitions),
      invocationsOf(idle),
      fmt(idle.apiCalls),
      '·',
      '·',
      fmt(perService(idle, 'application-autoscaling')),
      `${kib(idle.largestPayload?.bytes)} (${idle.largestPayload?.state ?? '·'})`,
    ],
  ]);
  return {
    title: 'Reconcile: one run over N sandbox endpoints, and a tick with nothing due',
    columns: [
      'endpoints',
      'execution',
      'checked / in sync',
      'wall ms',
      'transitions',
      'Lambda: Scan / Check / Finish',
      'API calls',
      'SageMaker / endpoint',
      'S3 / endpoint',
      'Auto Scaling calls',
      'largest state KiB',
    ],
    numeric: [0, 3, 4, 6, 7, 8, 9],
    rows,
    notes: [
      'Endpoints seeded as the deploy workflow would have deployed them (sandbox/fleet.ts), copies of the example summarizer, ten Endpoints a file. Wall time is the local runner’s on this machine (handlers, sandbox and interpreter in one process). Transitions: states entered, Map iterations included. The largest state: the biggest state input or output of the execution (Step Functions’ limit is 256 KiB); past 1,000 endpoints the batches go to S3 and only their keys travel.',
    ],
  };
}

function operationsTable(fleet: readonly FleetRun[]): BenchTable {
  const columns = [
    ...fleet.map(({ size, run }) => ({ name: `per endpoint, ${fmt(size)}`, cost: run, per: size })),
    ...fleet.slice(-1).map(({ idle }) => ({ name: 'idle tick (calls)', cost: idle, per: 1 })),
  ];
  const operations = [...new Set(columns.flatMap(({ cost }) => Object.keys(cost.calls)))].sort();
  return {
    title: 'API calls by operation: a reconcile run, per endpoint, and an idle tick',
    columns: ['service:Operation', ...columns.map((c) => c.name)],
    rows: operations.map((op) => [
      op,
      ...columns.map(({ cost, per }) => {
        const n = cost.calls[op] ?? 0;
        return n === 0 ? '·' : per === 1 ? fmt(n) : fmt(n / per, 3);
      }),
    ]),
    notes: [
      'Per endpoint in sync: DescribeEndpoint, DescribeEndpointConfig, DescribeModel and ListTags once each (lambdas/targets/sagemaker-inspect.ts) and its state document (S3 GetObject); per batch of 50 one DescribeScalableTargets and one GetObject of the environment head; per run the status (GET and PUT by Scan, by Finish), the listing of state/ and the branch head (CodeCommit GetBranch).',
    ],
  };
}

function usd(value: number): string {
  return value >= 0.01 || value === 0 ? `$${fmt(value, 2)}` : `$${value.toPrecision(2)}`;
}

function costTable(model: CostModel): BenchTable {
  return {
    title: `Idle cost: ${COST_ENDPOINTS} endpoints, reconcile every ${INTERVAL_MINUTES} minutes, a ${TICK_MINUTES}-minute tick (${HOURS_PER_MONTH}-hour month)`,
    columns: ['item', 'per run', 'per idle tick', 'per month', 'price', '$ / month'],
    numeric: [1, 2, 3, 5],
    rows: [
      ...model.lines.map((l) => [
        l.item,
        l.perRun,
        l.perIdle,
        `${fmt(l.perMonth, l.unit === 'GB' || l.unit === 'GB-s' ? 3 : 0)} ${l.unit}`,
        quoted(l.price),
        usd(l.usd),
      ]),
      ['total', '', '', '', '', usd(model.total)],
      ['total with every duration 10× the local one', '', '', '', '', usd(model.totalSlow)],
      [`goal`, '', '', '', '', `< ${usd(GOAL_USD_PER_MONTH)}`],
      [
        "Argo CD's EKS control plane alone",
        '',
        '',
        `${HOURS_PER_MONTH} hours`,
        quoted(PRICES.eksControlPlane),
        usd(HOURS_PER_MONTH * unitPrice(PRICES.eksControlPlane)),
      ],
    ],
    notes: [
      `A month: ${fmt(model.runs)} runs (the environment is due every ${INTERVAL_MINUTES} minutes) and ${fmt(model.idleTicks)} ticks with nothing due. Counts are the sandbox's (the run and the tick measured above, ${COST_ENDPOINTS} endpoints in sync); durations are local wall times standing in for Lambda's and Express's, which on AWS are longer by the SageMaker and S3 latencies (hence the 10× line).`,
      `Custom metrics: what the reconcile handlers' EMF defined (${model.metrics.join('; ')}). The reconcile functions publish no ColdStart metric (coldStartMetric: false in their lambdaHandler options); their duration and errors are the state machine's own free metrics. Not counted: X-Ray traces (about ${fmt((model.runs + model.idleTicks) / 1000)} thousand a month, within the 100,000 free); log storage.`,
      `Logs: the handlers' own lines at INFO and their EMF lines, measured; Lambda's START/END/REPORT lines (~${LAMBDA_PLATFORM_BYTES} bytes an invocation), estimated; the state machine logs errors only (level ERROR, lib/reconcile-workflow.ts). Free: SageMaker Describe/List, Application Auto Scaling Describe, CodeCommit GetBranch (CodeCommit bills active users).`,
    ],
  };
}

function pricesTable(): BenchTable {
  return {
    title: `Prices used (AWS list prices, us-east-1, read ${PRICES_READ})`,
    columns: ['item', 'price', 'page'],
    numeric: [1],
    rows: Object.values(PRICES).map((p: Price) => [p.item, quoted(p), p.source]),
  };
}

function minutes(ms: number | undefined): string {
  return ms === undefined ? '·' : fmt(ms / 60_000, 1);
}

function missedTable(missed: MissedPush): BenchTable {
  return {
    title: 'From a lost push to its deployment: the example summarizer, simulated minutes after the push',
    columns: ['push', 'deployment started', 'live (verified)'],
    numeric: [1, 2],
    rows: [
      ['event delivered (for comparison)', '0.0', minutes(missed.deliveredToLiveMs)],
      [
        'event lost, reconcile schedule on',
        minutes(missed.lostToStartMs),
        missed.lostToLiveMs !== undefined ? minutes(missed.lostToLiveMs) : `not after ${missed.waitedMinutes}`,
      ],
    ],
    notes: [
      `The schedule ticks every ${TICK_MINUTES} minute; every tick compares each environment's branch head with the newest push the deploy workflow saw (not only when the environment is due). The first tick after the push finds the head unseen; it counts as a lost push after a grace of ${MISSED_PUSH_GRACE_MS / 60_000} minutes (MISSED_PUSH_GRACE_MS: an event on its way takes seconds), and the first tick after that starts the deploy workflow with it (execution missed-<env>-<commit>). So the deployment starts at most ${TICK_MINUTES + MISSED_PUSH_GRACE_MS / 60_000 + TICK_MINUTES} minutes after the push, within one ${INTERVAL_MINUTES}-minute interval; it is live one rollout later (the summarizer's canary: provisioning and two 10-minute bakes).`,
      ...(missed.failure
        ? [`Not live after ${missed.waitedMinutes} simulated minutes: ${missed.failure.replace(/\.$/, '')}.`]
        : []),
    ],
  };
}

// ---------------------------------------------------------------------------------------------

export interface ReconcileBenchResult {
  readonly fleet: readonly FleetRun[];
  readonly cost?: CostModel;
  readonly missed: MissedPush;
  readonly tables: readonly BenchTable[];
}

/** Runs the reconcile section of `npm run bench`. */
export async function benchReconcile(
  options: { sizes?: readonly number[]; log?: (line: string) => void } = {},
): Promise<ReconcileBenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const sizes = options.sizes ?? [10, 100, 1000];
  const fleet: FleetRun[] = [];
  for (const size of sizes) {
    const measured = await benchFleet(size);
    log(
      `reconcile ${size} endpoints: ${fmt(measured.run.wallMs)} ms, ${measured.run.transitions} transitions, ${fmt(measured.run.apiCalls)} API calls (seeded in ${fmt(measured.seedMs)} ms); idle tick ${fmt(measured.idle.wallMs)} ms, ${measured.idle.apiCalls} calls`,
    );
    fleet.push(measured);
  }
  const forCost = fleet.find((f) => f.size === COST_ENDPOINTS) ?? (await benchFleet(COST_ENDPOINTS));
  const cost = costModel(forCost);
  const missed = await benchMissedPush();
  log(
    `missed push: started after ${minutes(missed.lostToStartMs)} min, live after ${minutes(missed.lostToLiveMs)} min${missed.failure ? ` (${missed.failure})` : ''}`,
  );
  return {
    fleet,
    cost,
    missed,
    tables: [runTable(fleet), operationsTable(fleet), costTable(cost), pricesTable(), missedTable(missed)],
  };
}
