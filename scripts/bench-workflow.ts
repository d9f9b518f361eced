/**
 * What a deployment costs, in numbers: pushes through the local pipeline (the real deploy ASL on
 * the local runner, the real handlers, the sandbox's AWS APIs), measured per push as
 *
 * - wall time, and simulated time (the sandbox clock, which the waits move forward);
 * - state transitions: states entered, Map iterations included (`execution.states`), which is
 *   what Standard workflows bill (on AWS the Distributed Map's child executions bill theirs);
 * - AWS API calls, in total and by `service:Operation`, from the sandbox's request log.
 *
 * Two sections: the rollout strategies (one endpoint, a new model version), and a fleet of N
 * SageMaker endpoints (the first deployment of all of them, then a push that changes one), to show
 * that a push costs what it changes, not what the repository holds.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  commitFiles,
  EXAMPLE_REPO_DIR,
  EXAMPLE_SECRET_PREFIX,
  readTree,
  sandboxClients,
  seedExampleAccount,
} from '../sandbox/example-world.ts';
import { fleetName, fleetRepository } from '../sandbox/fleet.ts';
import { endpointResults, LocalPipeline } from '../sandbox/pipeline.ts';
import type { LocalExecution } from '../sandbox/runner.ts';
import { type Sandbox, startSandbox } from '../sandbox/sandbox.ts';
import { type BenchTable, fmt } from './bench-table.ts';

const ARTIFACT_BUCKET = 'acme-ml-artifacts-111122223333';
const START = new Date('2026-03-01T09:00:00Z');
/**
 * Simulated time moves only when a wait moves it (the sandbox's default, 600 simulated
 * seconds per wall second, would let a slow machine's wall time change how many polls a rollout
 * takes): the transitions and API calls are then the same on every machine.
 */
const TIME_SCALE = 1e-9;

/** One measured push. */
export interface PushCost {
  readonly label: string;
  readonly wallMs: number;
  readonly simulatedMs: number;
  readonly transitions: number;
  readonly executions: number;
  /** `service:Operation` -> calls. */
  readonly calls: Readonly<Record<string, number>>;
  readonly apiCalls: number;
  /** Endpoints the push planned (changed), and their outcomes. */
  readonly planned: number;
  readonly unchanged: number;
  readonly outcomes: Readonly<Record<string, number>>;
}

export interface WorkflowBenchOptions {
  /** Which sections to run. @default both */
  readonly sections?: ReadonlyArray<'strategies' | 'fleet'>;
  /** Fleet sizes: a repository of N endpoints, deployed once, then a push that changes one. @default [1, 10, 100] */
  readonly fleetSizes?: readonly number[];
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void;
}

export interface WorkflowBenchResult {
  readonly strategies: readonly PushCost[];
  readonly fleet: ReadonlyArray<{ size: number; first: PushCost; one: PushCost }>;
  readonly tables: readonly BenchTable[];
}

// ---------------------------------------------------------------------------------------------
// Section 1: rollout strategies, one endpoint, a new model version

interface Strategy {
  readonly name: string;
  readonly short: string;
  /** The example's summarizer endpoint, rewritten for this strategy (the example is canary 50% of 2 instances, 10-minute bake). */
  readonly endpoint: (yaml: string) => string;
  /** The example as it is: no rewrite to check. */
  readonly asIs?: true;
}

const CANARY = /strategy: canary\n\s+canary:\n(?:\s+#.*\n)*\s+percent: 50/;

export const STRATEGIES: readonly Strategy[] = [
  { name: 'canary 50% (1 of 2 instances), 10-minute bake', short: 'canary 10m', endpoint: (yaml) => yaml, asIs: true },
  {
    name: 'canary 50% (1 of 2 instances), 1-hour bake',
    short: 'canary 1h',
    endpoint: (yaml) =>
      yaml.replace('bakeSeconds: 600', 'bakeSeconds: 3600').replace('timeoutSeconds: 3600', 'timeoutSeconds: 14400'),
  },
  {
    name: 'linear 50% steps (1 instance each), 5-minute intervals',
    short: 'linear 50%/5m',
    endpoint: (yaml) =>
      yaml
        .replace(CANARY, 'strategy: linear\n    linear:\n      stepPercent: 50\n      intervalSeconds: 300')
        .replace('timeoutSeconds: 3600', 'timeoutSeconds: 7200'),
  },
  {
    name: 'allAtOnce, 10-minute bake',
    short: 'allAtOnce',
    endpoint: (yaml) => yaml.replace(CANARY, 'strategy: allAtOnce'),
  },
];

async function benchStrategy(strategy: Strategy): Promise<PushCost> {
  const files = await readTree(EXAMPLE_REPO_DIR);
  const endpoint = strategy.endpoint(files['endpoints/summarizer.yaml'] ?? '');
  if (!strategy.asIs && endpoint === files['endpoints/summarizer.yaml']) {
    throw new Error(`${strategy.name}: the example's endpoints/summarizer.yaml no longer has the expected rollout`);
  }
  files['endpoints/summarizer.yaml'] = endpoint;
  return withPipeline(files, async (sandbox, pipeline) => {
    await push(sandbox, pipeline, files, 'initial', `${strategy.name}: first deployment`);
    // Measure the update (a new model version), not the first creation.
    const bytes = Buffer.from(`bench weights ${strategy.name}`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const { s3 } = sandboxClients(sandbox);
    await s3.send(new PutObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: 'bench/model.tar.gz', Body: bytes }));
    s3.destroy();
    const model = (files['models/summarizer-llm.yaml'] ?? '')
      .replace(/uri: s3:\/\/\S+/, `uri: s3://${ARTIFACT_BUCKET}/bench/model.tar.gz`)
      .replace(/sha256: [0-9a-f]{64}/, `sha256: ${sha}`)
      .replace(/sizeBytes: \d+/, `sizeBytes: ${bytes.length}`);
    return push(sandbox, pipeline, { 'models/summarizer-llm.yaml': model }, 'new model', strategy.name, {
      deployed: 1,
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Section 2: a fleet of N endpoints; the first deployment, then a push that changes one

/** The change of the 1-of-N push: one endpoint's instance count, 2 -> 4 (a new EndpointConfig). */
export function changeOneEndpoint(files: Record<string, string>, name: string): Record<string, string> {
  const path = `endpoints/${name}.yaml`;
  const before = files[path] ?? '';
  const after = before.replace('instanceCount: 2', 'instanceCount: 4');
  if (after === before) throw new Error(`${path} has no instanceCount: 2 to change`);
  return { [path]: after };
}

async function benchFleet(size: number, log: (line: string) => void): Promise<{ first: PushCost; one: PushCost }> {
  const files = await fleetRepository(size);
  return withPipeline(files, async (sandbox, pipeline) => {
    const first = await push(sandbox, pipeline, files, 'initial', `first deployment, ${size} endpoints`, {
      deployed: size,
    });
    log(summary(first));
    const one = await push(
      sandbox,
      pipeline,
      changeOneEndpoint(files, fleetName(size, size)),
      'scale one endpoint',
      `1 of ${size} endpoints changed`,
      { deployed: 1, unchanged: size - 1 },
    );
    return { first, one };
  });
}

// ---------------------------------------------------------------------------------------------
// Measuring a push

async function withPipeline<T>(
  files: Record<string, string>,
  run: (sandbox: Sandbox, pipeline: LocalPipeline) => Promise<T>,
): Promise<T> {
  const sandbox = await startSandbox({ start: START, timeScale: TIME_SCALE });
  try {
    await seedExampleAccount(sandbox, files);
    const pipeline = await LocalPipeline.start({ sandbox, secretPrefix: EXAMPLE_SECRET_PREFIX });
    try {
      return await run(sandbox, pipeline);
    } finally {
      pipeline.stop();
      await pipeline.idle();
    }
  } finally {
    await sandbox.stop();
  }
}

/**
 * Commits `files` and measures from the commit until every execution it started has finished.
 * Throws when the push does not deploy what `expect` says (the one way the benchmark fails).
 */
async function push(
  sandbox: Sandbox,
  pipeline: LocalPipeline,
  files: Record<string, string | null>,
  message: string,
  label: string,
  expect?: { deployed: number; unchanged?: number },
): Promise<PushCost> {
  sandbox.requests.clear();
  const simulatedStart = sandbox.clock.nowMs();
  const wallStart = performance.now();
  const executions = await pushAndWait(sandbox, pipeline, files, message, label);
  const wallMs = performance.now() - wallStart;
  const simulatedMs = sandbox.clock.nowMs() - simulatedStart;
  const calls = ballastCalls(sandbox);
  const cost: PushCost = {
    label,
    wallMs,
    simulatedMs,
    transitions: executions.reduce((n, e) => n + e.states.length, 0),
    executions: executions.length,
    calls,
    apiCalls: Object.values(calls).reduce((a, b) => a + b, 0),
    ...outcomesOf(executions),
  };
  if (expect) {
    const deployed = cost.outcomes.deployed ?? 0;
    const failed = executions.filter((e) => e.status !== 'SUCCEEDED');
    if (
      failed.length > 0 ||
      deployed !== expect.deployed ||
      cost.planned !== expect.deployed ||
      (expect.unchanged !== undefined && cost.unchanged !== expect.unchanged)
    ) {
      throw new Error(
        `${label}: expected ${expect.deployed} endpoint(s) deployed${
          expect.unchanged !== undefined ? ` and ${expect.unchanged} unchanged` : ''
        }, got planned ${cost.planned}, unchanged ${cost.unchanged}, outcomes ${JSON.stringify(cost.outcomes)}${
          failed.length ? `; ${failed.map((e) => `${e.name} ${e.status} ${JSON.stringify(e.error)}`).join('; ')}` : ''
        }`,
      );
    }
  }
  return cost;
}

/**
 * Commits `files` to main, as a `git push` would, and resolves with the executions the push
 * started once they have all ended.
 */
export async function pushAndWait(
  sandbox: Sandbox,
  pipeline: LocalPipeline,
  files: Record<string, string | null>,
  message: string,
  label: string,
): Promise<LocalExecution[]> {
  await pipeline.idle();
  const before = pipeline.runner.executions().length;
  await commitFiles(sandbox, 'model-repo', 'main', files, message);
  // The commit's event starts the execution asynchronously (the EventBridge rule).
  const deadline = Date.now() + 10_000;
  while (pipeline.runner.executions().length === before) {
    if (Date.now() > deadline) throw new Error(`${label}: the push started no execution`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await pipeline.idle();
  return pipeline.runner.executions().slice(before);
}

/**
 * The calls Ballast made: the request log without the benchmark's own `git push` (commitFiles:
 * CreateRepository, GetBranch, CreateCommit), which all come before the commit exists and so
 * before anything of Ballast's runs.
 */
function ballastCalls(sandbox: Sandbox): Record<string, number> {
  const log = sandbox.requests.all();
  const pushed = log.findIndex((r) => r.service === 'codecommit' && r.operation === 'CreateCommit');
  const calls: Record<string, number> = {};
  for (const { service, operation } of log.slice(pushed + 1)) {
    const key = `${service}:${operation}`;
    calls[key] = (calls[key] ?? 0) + 1;
  }
  return calls;
}

function outcomesOf(executions: readonly LocalExecution[]): Pick<PushCost, 'planned' | 'unchanged' | 'outcomes'> {
  const outcomes: Record<string, number> = {};
  let planned = 0;
  let unchanged = 0;
  for (const execution of executions) {
    const output = execution.output as { plan?: { counts?: { changed?: number; unchanged?: number } } } | undefined;
    planned += output?.plan?.counts?.changed ?? 0;
    unchanged += output?.plan?.counts?.unchanged ?? 0;
    for (const result of endpointResults(output)) {
      const outcome = result.outcome;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
  }
  return { planned, unchanged, outcomes };
}

function summary(cost: PushCost): string {
  return `${cost.label}: ${fmt(cost.wallMs)} ms, ${fmt(cost.transitions)} transitions, ${fmt(cost.apiCalls)} API calls`;
}

// ---------------------------------------------------------------------------------------------
// Tables

/** `service:Operation` rows, one column per push, sorted by service then by the busiest first. */
function byOperation(title: string, columns: ReadonlyArray<{ name: string; cost: PushCost }>): BenchTable {
  const operations = [...new Set(columns.flatMap(({ cost }) => Object.keys(cost.calls)))];
  const busiest = (op: string) => Math.max(...columns.map(({ cost }) => cost.calls[op] ?? 0));
  operations.sort((a, b) => {
    const [sa = '', sb = ''] = [a.split(':')[0], b.split(':')[0]];
    return sa !== sb ? sa.localeCompare(sb) : busiest(b) - busiest(a) || a.localeCompare(b);
  });
  return {
    title,
    columns: ['service:Operation', ...columns.map((c) => c.name)],
    rows: [
      ...operations.map((op) => [op, ...columns.map(({ cost }) => (cost.calls[op] ? fmt(cost.calls[op]) : '·'))]),
      ['total', ...columns.map(({ cost }) => fmt(cost.apiCalls))],
    ],
  };
}

function perService(cost: PushCost, service: string): number {
  return Object.entries(cost.calls)
    .filter(([op]) => op.startsWith(`${service}:`))
    .reduce((n, [, c]) => n + c, 0);
}

export function strategyTables(costs: readonly PushCost[]): BenchTable[] {
  return [
    {
      title: 'Rollout strategies: one SageMaker endpoint, a push with a new model version',
      columns: [
        'scenario',
        'wall ms',
        'simulated min',
        'transitions',
        'API calls',
        'SageMaker',
        'S3',
        'CloudWatch',
        'DescribeEndpoint',
      ],
      rows: costs.map((c) => [
        c.label,
        fmt(c.wallMs),
        fmt(c.simulatedMs / 60_000),
        fmt(c.transitions),
        fmt(c.apiCalls),
        fmt(perService(c, 'sagemaker')),
        fmt(perService(c, 's3')),
        fmt(perService(c, 'monitoring')),
        fmt(c.calls['sagemaker:DescribeEndpoint'] ?? 0),
      ]),
      notes: [
        'Transitions: states entered, Map iterations included. API calls: what Ballast calls (the git push itself is not counted). The update is measured, not the first creation. Simulated time runs from the push to the last state.',
      ],
    },
    byOperation(
      'API calls by operation: rollout strategies',
      costs.map((cost, i) => ({ name: STRATEGIES[i]?.short ?? cost.label, cost })),
    ),
  ];
}

export function fleetTables(fleet: WorkflowBenchResult['fleet']): BenchTable[] {
  const rows = fleet.flatMap(({ size, first, one }) => [
    { size, kind: 'first deployment (all new)', cost: first },
    { size, kind: 'push changing 1 endpoint', cost: one },
  ]);
  return [
    {
      title: 'A push costs what it changes: a repository of N SageMaker endpoints',
      columns: [
        'endpoints in repo',
        'push',
        'deployed',
        'unchanged',
        'wall ms',
        'transitions',
        'API calls',
        'SageMaker',
        'S3',
        'transitions / deployed',
        'API calls / deployed',
      ],
      numeric: [0, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      rows: rows.map(({ size, kind, cost }) => {
        const deployed = cost.outcomes.deployed ?? 0;
        return [
          fmt(size),
          kind,
          fmt(deployed),
          fmt(cost.unchanged),
          fmt(cost.wallMs),
          fmt(cost.transitions),
          fmt(cost.apiCalls),
          fmt(perService(cost, 'sagemaker')),
          fmt(perService(cost, 's3')),
          deployed ? fmt(cost.transitions / deployed, 1) : '·',
          deployed ? fmt(cost.apiCalls / deployed, 1) : '·',
        ];
      }),
      notes: [
        'Each endpoint is a copy of the example summarizer (canary 50% of 2 instances, 10-minute bake, its own two alarms), all on one Model and Prompt. The 1-endpoint push changes the last endpoint’s instanceCount from 2 to 4.',
        'Resolve builds the snapshot from the previous one and the diff (GetDifferences, then GetFile for changed files only), so nothing of the 1-endpoint push grows with the repository; a first deployment reads every file (GetFolder, one GetFile each).',
        'Wall time is the sandbox’s, on this machine: its CodeCommit runs git for each call, which is most of Resolve’s time with 100 files. Simulated time is left out: the Map’s iterations share one clock, which their waits move while Lambdas of other iterations run, so it says little about one endpoint’s rollout.',
      ],
    },
    byOperation(
      'API calls by operation: a repository of N endpoints',
      rows.map(({ size, kind, cost }) => ({
        name: kind.startsWith('first') ? `first ×${size}` : `1 of ${size}`,
        cost,
      })),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------

/** Runs the workflow section of `npm run bench` and returns its tables (and the raw costs). */
export async function benchWorkflow(options: WorkflowBenchOptions = {}): Promise<WorkflowBenchResult> {
  const sections = options.sections ?? ['strategies', 'fleet'];
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const strategies: PushCost[] = [];
  const fleet: Array<{ size: number; first: PushCost; one: PushCost }> = [];
  if (sections.includes('strategies')) {
    for (const strategy of STRATEGIES) {
      const cost = await benchStrategy(strategy);
      log(summary(cost));
      strategies.push(cost);
    }
  }
  if (sections.includes('fleet')) {
    for (const size of options.fleetSizes ?? [1, 10, 100]) {
      const { first, one } = await benchFleet(size, log);
      log(summary(one));
      fleet.push({ size, first, one });
    }
  }
  return {
    strategies,
    fleet,
    tables: [...(strategies.length ? strategyTables(strategies) : []), ...(fleet.length ? fleetTables(fleet) : [])],
  };
}
