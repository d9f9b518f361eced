/**
 * How fast an alarm rolls a bad version back: the example's summarizer goes live with a model that
 * fails under load, the load rises, its 5XX alarm fires from SageMaker's metrics, and the rollback
 * workflow (the real ASL and handlers, on the sandbox) restores the previous version. Measured in
 * wall time from the moment the alarm's "CloudWatch Alarm State Change" event is on the bus to the
 * moment the rollback's UpdateEndpoint has been answered (Triage and Apply, nothing simulated in
 * between), over a few fresh worlds; and what the whole rollback costs in state transitions and API
 * calls (write-back and notifications included).
 */
import { performance } from 'node:perf_hooks';
import {
  EXAMPLE_REPO_DIR,
  EXAMPLE_SECRET_PREFIX,
  readTree,
  seedExampleAccount,
  withContainerEnvironment,
} from '../sandbox/example-world.ts';
import { DEPLOY_FUNCTIONS, LocalPipeline, ROLLBACK_FUNCTIONS } from '../sandbox/pipeline.ts';
import type { LambdaHandler } from '../sandbox/runner.ts';
import { startSandbox } from '../sandbox/sandbox.ts';
import { type BenchTable, fmt } from './bench-table.ts';
import { pushAndWait } from './bench-workflow.ts';

const ENDPOINT = 'ballast-prod-summarizer';
const MODEL_FILE = 'models/summarizer-llm.yaml';
const RUNS = 5;

export interface RollbackRun {
  /** Alarm event on the bus → the rollback's UpdateEndpoint answered. */
  readonly alarmToUpdateMs: number;
  readonly transitions: number;
  readonly calls: Readonly<Record<string, number>>;
}

async function once(): Promise<RollbackRun> {
  const sandbox = await startSandbox({ start: new Date('2026-03-01T09:00:00Z') });
  let pipeline: LocalPipeline | undefined;
  try {
    const files = await readTree(EXAMPLE_REPO_DIR);
    for (const path of ['endpoints/assistant.yaml', 'models/assistant-llm.yaml']) delete files[path];
    await seedExampleAccount(sandbox, files);
    let alarmAt = 0;
    let updatedAt = 0;
    const apply = ROLLBACK_FUNCTIONS.Apply as LambdaHandler;
    pipeline = await LocalPipeline.start({
      sandbox,
      secretPrefix: EXAMPLE_SECRET_PREFIX,
      functions: DEPLOY_FUNCTIONS,
      rollbackFunctions: {
        ...ROLLBACK_FUNCTIONS,
        Apply: async (input, context) => {
          const result = await apply(input, context);
          updatedAt ||= performance.now();
          return result;
        },
      },
    });
    sandbox.events.subscribe(
      {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { state: { value: ['ALARM'] } },
      },
      () => {
        alarmAt ||= performance.now();
      },
    );
    await pushAndWait(sandbox, pipeline, files, 'initial', 'initial');
    sandbox.sagemaker.setLoad(ENDPOINT, 60);
    // A model that serves 60 requests a minute and fails above 90 (the sandbox's rehearsal settings).
    const model = withContainerEnvironment(files[MODEL_FILE] ?? '', { SANDBOX_ERRORS_ABOVE_RPM: '90' });
    await pushAndWait(sandbox, pipeline, { [MODEL_FILE]: model }, 'fails under load', 'bad version');
    const mark = sandbox.requests.all().length;
    const before = pipeline.runner.executions('rollback').length;
    sandbox.sagemaker.setLoad(ENDPOINT, 150);
    for (let minute = 0; minute < 3 && pipeline.runner.executions('rollback').length === before; minute++) {
      sandbox.clock.advance(60_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pipeline.idle();
    const rollback = pipeline.runner.executions('rollback').slice(before)[0];
    if (rollback?.status !== 'SUCCEEDED' || !updatedAt || !alarmAt) {
      throw new Error(
        `the alarm did not roll the endpoint back: ${JSON.stringify(rollback?.error ?? rollback?.status)}`,
      );
    }
    const calls: Record<string, number> = {};
    for (const { service, operation } of sandbox.requests.all().slice(mark)) {
      // The benchmark's own traffic and the platform's metrics are not Ballast's calls.
      if (operation === 'InvokeEndpoint') continue;
      const key = `${service}:${operation}`;
      calls[key] = (calls[key] ?? 0) + 1;
    }
    // The revert commit's deploy execution (write-back) is counted with the rollback.
    const transitions = pipeline.runner
      .executions()
      .slice(pipeline.runner.executions().indexOf(rollback))
      .reduce((sum, e) => sum + e.states.length, 0);
    return { alarmToUpdateMs: updatedAt - alarmAt, transitions, calls };
  } finally {
    pipeline?.stop();
    await pipeline?.idle();
    await sandbox.stop();
  }
}

export async function benchRollback(runs = RUNS): Promise<RollbackRun[]> {
  const results: RollbackRun[] = [];
  for (let i = 0; i < runs; i++) results.push(await once());
  for (const run of results) {
    const total = Object.values(run.calls).reduce((a, b) => a + b, 0);
    console.log(
      `rollback: alarm → UpdateEndpoint ${fmt(run.alarmToUpdateMs, 1)} ms, ${run.transitions} transitions, ${total} API calls`,
    );
  }
  return results;
}

export function rollbackTables(runs: readonly RollbackRun[]): BenchTable[] {
  const times = runs.map((r) => r.alarmToUpdateMs).sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;
  const first = runs[0];
  const calls = first ? Object.entries(first.calls).sort(([a], [b]) => a.localeCompare(b)) : [];
  return [
    {
      title: 'Rollback: an alarm after the rollout, to the previous version live again',
      columns: ['runs', 'alarm → UpdateEndpoint, median ms', 'max ms', 'transitions', 'API calls'],
      numeric: [0, 1, 2, 3, 4],
      rows: [
        [
          String(runs.length),
          fmt(median, 1),
          fmt(times.at(-1) ?? 0, 1),
          String(first?.transitions ?? 0),
          String(calls.reduce((sum, [, n]) => sum + n, 0)),
        ],
      ],
      notes: [
        "Wall time on the sandbox from the alarm's EventBridge event to the rollback's UpdateEndpoint answered (Triage, Apply). Transitions and calls: the rollback execution (Triage → Apply → wait/check → Restore → WriteBack → Finish) and the deploy execution of its revert commit, whose Lease finds its content live (unchanged).",
      ],
    },
    {
      title: 'API calls by operation: one rollback',
      columns: ['service:Operation', 'calls'],
      rows: calls.map(([key, n]) => [key, String(n)]),
    },
  ];
}
