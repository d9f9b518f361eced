import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetCommitCommand } from '@aws-sdk/client-codecommit';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateEndpointConfigCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  UpdateEndpointCommand,
  UpdateEndpointWeightsAndCapacitiesCommand,
} from '@aws-sdk/client-sagemaker';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { keys, REPOSITORY_LEDGER } from '../../lambdas/state/keys.ts';
import { readLedger } from '../../lambdas/state/ledger.ts';
import type { PlanDocument } from '../../lambdas/workflow/types.ts';
import type { EventBridgeEvent } from '../../sandbox/events.ts';
import {
  commitFiles,
  EXAMPLE_ARTIFACTS_DIR,
  EXAMPLE_REPO_DIR,
  EXAMPLE_SECRET_PREFIX,
  readTree,
  sandboxClients,
  seedExampleAccount,
  withContainerEnvironment,
} from '../../sandbox/example-world.ts';
import { endpointResults, LocalPipeline } from '../../sandbox/pipeline.ts';
import type { LocalExecution } from '../../sandbox/runner.ts';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.ts';
import { diffCommand } from './diff.ts';
import { statusCommand } from './status.ts';
import type { CliIo, Command } from './types.ts';
import { ExitCode, UsageError } from './types.ts';

const REPO = 'model-repo';
const BRANCH = 'main';
const ENVIRONMENT = 'prod';
const ENDPOINT = 'summarizer';
const MODEL_FILE = 'models/summarizer-llm.yaml';
const ENDPOINT_FILE = 'endpoints/summarizer.yaml';
const EKS_ENDPOINT_FILE = 'endpoints/embeddings.yaml';
const ALARM = 'summarizer-5xx';
const SAGEMAKER_ENDPOINT = 'ballast-prod-summarizer';
/** The demo's steady traffic, what the fragile model survives, and the peak that breaks it. */
const LOAD_RPM = 60;
const FAILS_ABOVE_RPM = 90;
const PEAK_RPM = 150;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Run the whole GitOps flow locally on the sandbox and narrate it (what `npm start` runs)',
  usage: `Usage: ballast demo [--verbose]

Starts the Ballast sandbox and the local pipeline (the deploy workflow's real ASL, run by
aws-local-stepfunctions with the real Lambda handlers), pushes the example repository and then:
  1. the first deployment of the SageMaker endpoint,
  2. a model update rolled out as a canary, with the traffic shift shown,
  3. a commit with a bad config, rejected with file:line errors, its revert (unchanged) and an
     EKS-only change (deferred): every push gets an answer,
  4. traffic on the endpoint, and a model setting that makes the canary's requests fail: the alarm
     fires from SageMaker's metrics, SageMaker rolls back silently, Ballast notices and quarantines,
  5. \`ballast status\`: the endpoint is held back, with the quarantine's reason,
  6. a model that passes its canary and goes live, then fails under load: its alarm fires, the
     rollback workflow restores the previous version, quarantines the bad one and writes a revert
     commit (the example's writeBack), whose push deploys nothing,
  7. the reconciler: an instance count changed by hand (a field ballast.yaml ignores) is left
     alone; a hand-made configuration on another instance type is found at the next reconcile,
     reported field by field and healed through the deploy workflow.
Needs no AWS account and leaves nothing running. Simulated time runs fast: an hour of rollouts
takes seconds.

Options:
  --verbose   also print the Lambda handlers' structured logs
`,
  run: async (args, io) => {
    let verbose = false;
    try {
      verbose =
        parseArgs({ args: [...args], options: { verbose: { type: 'boolean' } }, strict: true }).values.verbose === true;
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    if (verbose) process.env.BALLAST_LOG_LEVEL = 'INFO';
    return runDemo(io);
  },
};

async function runDemo(io: CliIo): Promise<number> {
  const say = (line = '') => io.stdout(`${line}\n`);
  const sandbox = await startSandbox();
  let pipeline: LocalPipeline | undefined;
  try {
    say('Ballast demo: GitOps for AI, run locally on the Ballast sandbox (no AWS account needed)');
    say(
      `  sandbox ${sandbox.url} (S3, SageMaker, CloudWatch, CodeCommit, Secrets Manager, Step Functions, SNS, EventBridge, Application Auto Scaling), simulated time x${sandbox.clock.timeScale}`,
    );
    const files = await readTree(EXAMPLE_REPO_DIR);
    await seedExampleAccount(sandbox, files);
    pipeline = await LocalPipeline.start({ sandbox, secretPrefix: EXAMPLE_SECRET_PREFIX });
    const store = new JsonStore(sandboxClients(sandbox).s3, pipeline.stateBucket);
    say('  seeded: model artifacts in S3, the rollback alarms in CloudWatch, CodeCommit repository model-repo');
    const follow = narrateRollouts(sandbox, say);

    say();
    say('1) First deployment: push examples/model-repo to main (ballast.yaml maps main -> environment prod):');
    say('   summarizer (2 ml.g5.2xlarge, a model archive, its Hugging Face token by reference to Secrets Manager)');
    say('   and assistant (an LLM as an uncompressed directory pinned by a manifest, verified file by file)');
    let commit = await commitFiles(
      sandbox,
      REPO,
      BRANCH,
      files,
      'Add the summarizer, assistant and embeddings endpoints',
    );
    await settle(pipeline, store, commit, say);
    await showModels(sandbox, say);
    await showState(store, say);

    say();
    say('2) A new model version, rolled out as a canary (one instance of two first, 10-minute bake, alarms watched)');
    const v2 = Buffer.concat([
      await readFile(join(EXAMPLE_ARTIFACTS_DIR, 'summarizer-llm.tar.gz')),
      Buffer.from('\nv2 weights\n'),
    ]);
    const v2Sha = createHash('sha256').update(v2).digest('hex');
    const v2Uri = 's3://acme-ml-artifacts-111122223333/models/summarizer-llm/2025-02-01/model.tar.gz';
    await sandboxClients(sandbox).s3.send(
      new PutObjectCommand({
        Bucket: 'acme-ml-artifacts-111122223333',
        Key: 'models/summarizer-llm/2025-02-01/model.tar.gz',
        Body: v2,
      }),
    );
    const modelV2 = (files[MODEL_FILE] ?? '')
      .replace(/uri: s3:\/\/\S+/, `uri: ${v2Uri}`)
      .replace(/sha256: [0-9a-f]{64}/, `sha256: ${v2Sha}`)
      .replace(/sizeBytes: \d+/, `sizeBytes: ${v2.length}`);
    commit = await commitFiles(sandbox, REPO, BRANCH, { [MODEL_FILE]: modelV2 }, 'summarizer-llm: February weights');
    await settle(pipeline, store, commit, say);
    await showState(store, say);

    say();
    say('3) A commit with a bad config: canary percent 80 (SageMaker allows at most 50)');
    const badEndpoint = (files[ENDPOINT_FILE] ?? '').replace(/percent: \d+/, 'percent: 80');
    commit = await commitFiles(sandbox, REPO, BRANCH, { [ENDPOINT_FILE]: badEndpoint }, 'summarizer: faster canary');
    await settle(pipeline, store, commit, say);
    say('   nothing live changed: the endpoint still runs the model from step 2');
    say('   its revert puts back what is live, so no endpoint has anything to do:');
    commit = await commitFiles(
      sandbox,
      REPO,
      BRANCH,
      { [ENDPOINT_FILE]: files[ENDPOINT_FILE] ?? '' },
      'Revert "summarizer: faster canary"',
    );
    await settle(pipeline, store, commit, say);
    say('   a change to the EKS endpoint only (embeddings: 3 replicas), which this version does not roll out:');
    const eksEndpoint = (files[EKS_ENDPOINT_FILE] ?? '').replace(/replicas: \d+/, 'replicas: 3');
    commit = await commitFiles(sandbox, REPO, BRANCH, { [EKS_ENDPOINT_FILE]: eksEndpoint }, 'embeddings: 3 replicas');
    await settle(pipeline, store, commit, say);
    say(
      `   RecordPush answered each of these three pushes: a comment on its commit and an entry in \`ballast history ${REPOSITORY_LEDGER}\``,
    );

    say();
    say(`4) Traffic: the endpoint serves ${LOAD_RPM} requests a minute from here on (the sandbox's background load).`);
    say(`   A model setting that breaks the container: the canary's requests fail, and ${ALARM} fires from the`);
    say('   Invocation5XXErrors SageMaker publishes for them (nothing sets the alarm by hand)');
    sandbox.sagemaker.setLoad(SAGEMAKER_ENDPOINT, LOAD_RPM);
    const broken = withContainerEnvironment(modelV2, { SANDBOX_ERROR_RATE: '1' });
    commit = await commitFiles(sandbox, REPO, BRANCH, { [MODEL_FILE]: broken }, 'summarizer-llm: new runtime settings');
    await settle(pipeline, store, commit, say);
    await showState(store, say);

    say();
    say('5) The endpoint is held back: no push or re-delivery deploys quarantined content');
    await runCli(statusCommand, ['--environment', ENVIRONMENT, '--endpoint-url', sandbox.url], say);

    say();
    say(
      `6) A model that passes its canary and goes live, then fails under load (above ${FAILS_ABOVE_RPM} requests a minute)`,
    );
    const fragile = withContainerEnvironment(modelV2, { SANDBOX_ERRORS_ABOVE_RPM: String(FAILS_ABOVE_RPM) });
    commit = await commitFiles(sandbox, REPO, BRANCH, { [MODEL_FILE]: fragile }, 'summarizer-llm: larger batches');
    await settle(pipeline, store, commit, say);
    const bad = commit;
    say(`   traffic grows to ${PEAK_RPM} requests a minute: requests fail, ${ALARM} goes to ALARM after a minute`);
    await rollBackFromMetrics(sandbox, pipeline, store, bad, say);
    await runCli(statusCommand, ['--environment', ENVIRONMENT, '--endpoint-url', sandbox.url], say);

    say();
    say('7) The reconciler compares every endpoint with Git every 5 minutes (ballast.yaml: reconcile, drift.ignore).');
    say(
      '   On AWS its schedule runs from `cdk deploy` on; the demo starts it here, so the steps above read the same every time.',
    );
    pipeline.scheduleReconcile();
    await reconcileDemo(sandbox, pipeline, store, say);

    say();
    say(`History of ${ENVIRONMENT}/${ENDPOINT} (ballast history ${ENDPOINT}):`);
    for (const entry of await readLedger(store, ENVIRONMENT, ENDPOINT)) {
      const asked = entry.retry
        ? entry.retry.kind === 'heal'
          ? `  (heal, started by ${entry.retry.requestedBy})`
          : `  (ballast retry, asked for by ${entry.retry.requestedBy})`
        : '';
      say(
        `   ${entry.finishedAt.slice(11, 16)}  ${entry.commit.slice(0, 7)}  ${entry.outcome.padEnd(11)} ${(entry.changes ?? []).join(', ')}${entry.reason ? `  (${entry.reason})` : ''}${asked}`,
      );
    }
    follow();
    say();
    say('Done. Every step above ran the real deploy and rollback workflows (stepfunctions/*.asl.json) and the real');
    say('Lambda handlers against the sandbox, through the AWS SDK. Next: `npx ballast local --repo PATH` on');
    say('your own repository, or `npx cdk deploy` (see the README).');
    return ExitCode.Ok;
  } finally {
    pipeline?.stop();
    await pipeline?.idle();
    await sandbox.stop();
  }
}

/**
 * Two out-of-band changes made with the AWS SDK, as someone with console access would: an instance
 * count (ballast.yaml ignores it: `ballast diff` says so and the reconciler leaves it), and a
 * hand-made EndpointConfig on another instance type, which the next reconcile reports field by
 * field and heals through the deploy workflow with the endpoint's own canary.
 */
async function reconcileDemo(
  sandbox: Sandbox,
  pipeline: LocalPipeline,
  store: JsonStore,
  say: (line?: string) => void,
): Promise<void> {
  const { sagemaker } = sandboxClients(sandbox);
  const diff = [ENDPOINT, '--environment', ENVIRONMENT, '--endpoint-url', sandbox.url];
  say('   someone scales the endpoint to 3 instances by hand (UpdateEndpointWeightsAndCapacities):');
  await sagemaker.send(
    new UpdateEndpointWeightsAndCapacitiesCommand({
      EndpointName: SAGEMAKER_ENDPOINT,
      DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 3 }],
    }),
  );
  await untilInService(sagemaker);
  await runCli(diffCommand, diff, say);
  say('   and then moves it to a hand-made configuration on ml.g5.12xlarge (CreateEndpointConfig, UpdateEndpoint):');
  const live = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: SAGEMAKER_ENDPOINT }));
  const ours = await sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: live.EndpointConfigName }));
  const variant = ours.ProductionVariants?.[0];
  await sagemaker.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: 'summarizer-bigger-by-hand',
      ProductionVariants: variant ? [{ ...variant, InstanceType: 'ml.g5.12xlarge' }] : [],
    }),
  );
  const drifts = async () =>
    (await readLedger(store, ENVIRONMENT, ENDPOINT)).filter((e) => e.outcome === 'drifted').length;
  const before = await drifts();
  const heals = pipeline.runner.executions('deploy').length;
  await sagemaker.send(
    new UpdateEndpointCommand({ EndpointName: SAGEMAKER_ENDPOINT, EndpointConfigName: 'summarizer-bigger-by-hand' }),
  );
  await untilInService(sagemaker);
  await runCli(diffCommand, diff, say, ExitCode.Invalid);
  // The schedule runs by itself in simulated time: wait, bounded, for the reconcile that finds it.
  for (let i = 0; i < 1000 && (await drifts()) === before; i++) await new Promise((r) => setTimeout(r, 10));
  const entry = (await readLedger(store, ENVIRONMENT, ENDPOINT)).filter((e) => e.outcome === 'drifted').at(-1);
  if (!entry || (await drifts()) === before) throw new Error('the reconciler did not report the drift');
  say(`   [${entry.finishedAt.slice(11, 16)}] the reconciler found it (ledger: drifted), field by field:`);
  for (const d of entry.drift ?? []) say(`     ${d.path}  ${d.expected ?? '(absent)'} -> ${d.actual ?? '(absent)'}`);
  await pipeline.idle();
  const heal = pipeline.runner
    .executions('deploy')
    .slice(heals)
    .find((e) => e.name.startsWith('heal-'));
  if (!heal) throw new Error('the reconciler started no heal');
  say(`   and healed it through the deploy workflow (${heal.name}: ${unique(heal.states).join(' -> ')})`);
  const after = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: SAGEMAKER_ENDPOINT }));
  say(`   the endpoint runs ${after.EndpointConfigName} again (Ballast's, from the commit on main)`);
  await runCli(statusCommand, ['--environment', ENVIRONMENT, '--endpoint-url', sandbox.url], say);
  sagemaker.destroy();
}

/** Waits (bounded, in wall time: the sandbox's clock runs by itself) until SageMaker is done with the endpoint. */
async function untilInService(sagemaker: ReturnType<typeof sandboxClients>['sagemaker']): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const endpoint = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: SAGEMAKER_ENDPOINT }));
    if (endpoint.EndpointStatus === 'InService') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${SAGEMAKER_ENDPOINT} did not return to InService`);
}

/**
 * Raises the load past what the live model survives, lets the sandbox's clock run until the alarm
 * has started the rollback workflow and everything has finished, and narrates what it did: the
 * alarm, the rollback's steps and how long it took, the restored configuration, the revert commit
 * in the repository and its deployment (which has nothing to do).
 */
async function rollBackFromMetrics(
  sandbox: Sandbox,
  pipeline: LocalPipeline,
  store: JsonStore,
  bad: string,
  say: (line?: string) => void,
): Promise<void> {
  const before = pipeline.runner.executions('rollback').length;
  sandbox.sagemaker.setLoad(SAGEMAKER_ENDPOINT, PEAK_RPM);
  // The sandbox's clock runs by itself (fast): wait, in wall time and bounded, for the alarm's rollback.
  for (let i = 0; i < 600 && pipeline.runner.executions('rollback').length === before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await pipeline.idle();
  sandbox.sagemaker.setLoad(SAGEMAKER_ENDPOINT, LOAD_RPM);
  const rollback = pipeline.runner.executions('rollback').at(before);
  if (!rollback) throw new Error(`${ALARM} did not start the rollback workflow`);
  say(`   ${ALARM} went to ALARM: the rollback workflow ran (${unique(rollback.states).join(' -> ')})`);
  const entry = (await readLedger(store, ENVIRONMENT, ENDPOINT)).find((e) => e.execution === rollback.name);
  if (entry?.outcome !== 'rolled-back') throw new Error(`the rollback did not restore the endpoint: ${entry?.reason}`);
  const update = sandbox.requests
    .all()
    .find(
      (r) =>
        r.service === 'sagemaker' &&
        r.operation === 'UpdateEndpoint' &&
        Date.parse(r.at) >= Date.parse(entry.startedAt),
    );
  say(`   ${entry.commit.slice(0, 7)}: rolled-back (${entry.reason})`);
  const after = update
    ? Math.max(0, Math.round((Date.parse(update.at) - Date.parse(entry.startedAt)) / 1000))
    : undefined;
  say(
    `   quarantined ${bad.slice(0, 7)}'s content; UpdateEndpoint back to ${entry.rollback?.to?.endpointConfigName}, all at once, instance counts kept${after === undefined ? '' : ` (${after} s of simulated time after the alarm)`}`,
  );
  const writeBack = entry.rollback?.writeBack;
  if (writeBack?.kind === 'committed' && writeBack.commit) {
    const revert = await sandboxClients(sandbox).codecommit.send(
      new GetCommitCommand({ repositoryName: REPO, commitId: writeBack.commit }),
    );
    say(
      `   written back to Git (writeBack: revert-commit): commit ${writeBack.commit.slice(0, 7)} on ${BRANCH}, "${revert.commit?.message?.split('\n')[0]}"`,
    );
    say(
      '   its push has nothing to roll out (the endpoint runs that content already); Git and the endpoint agree again:',
    );
    await settle(pipeline, store, writeBack.commit, say);
  } else if (writeBack) {
    say(`   write-back: ${writeBack.kind}${writeBack.reason ? ` (${writeBack.reason})` : ''}`);
  }
}

/**
 * Waits for the execution started by `commit` and prints its outcome per endpoint, then the push's
 * own answer (RecordPush's), which every push gets: in the ledger and as a comment on the commit.
 */
async function settle(
  pipeline: LocalPipeline,
  store: JsonStore,
  commit: string,
  say: (line?: string) => void,
): Promise<void> {
  // The push event is delivered asynchronously, as EventBridge does.
  let execution: LocalExecution | undefined;
  for (let i = 0; i < 200 && !execution; i++) {
    execution = pipeline.runner.executions().find((e) => JSON.stringify(e.input).includes(commit));
    if (!execution) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!execution) throw new Error(`no deployment started for ${commit}`);
  await pipeline.idle();
  const output = execution.output as
    | {
        plan?: {
          valid: boolean;
          issues?: Array<{ file: string; line: number; column: number; message: string }>;
          planKey?: string;
        };
        /** RecordPush's answer for the push as a whole (lambdas/state/push-outcome.ts). */
        record?: { outcome: string; reason: string; ledger: boolean; details?: string[] };
      }
    | undefined;
  say(`   commit ${commit.slice(0, 7)}: ${execution.status.toLowerCase()} (${unique(execution.states).join(' -> ')})`);
  const results = endpointResults(output);
  for (const result of results) {
    // The reason is in the endpoint's ledger entry (the workflow's payload carries outcomes only).
    const entry = (await readLedger(store, ENVIRONMENT, result.endpoint)).find((e) => e.execution === execution.name);
    say(`   ${result.endpoint}: ${result.outcome}${entry?.reason ? ` (${entry.reason})` : ''}`);
  }
  // Endpoints the plan defers (EKS) next to ones that rolled out: the push's answer counts only the latter.
  if (results.length > 0 && output?.plan?.planKey) {
    const plan = (await store.get<PlanDocument>(output.plan.planKey))?.value;
    for (const deferred of plan?.deferred ?? []) say(`   ${deferred.name}: deferred (${deferred.reason})`);
  }
  // A push whose endpoints rolled out is answered by each endpoint's Record (the lines above); one
  // that reached no endpoint (rejected, unchanged, deferred) is answered by RecordPush itself.
  const record = output?.record;
  if (!record?.ledger) return;
  say(`   the push's answer: ${record.outcome} (${record.reason})`);
  for (const detail of record.details ?? []) say(`     ${detail}`);
  for (const issue of output?.plan?.issues ?? [])
    say(`     ${issue.file}:${issue.line}:${issue.column}: ${issue.message}`);
}

/**
 * Runs a CLI command's own module against the sandbox, as `npx ballast ...` would, its output
 * indented under the command line. The io forwards each write at once, so what the command prints
 * while it waits comes in order with the rollout's events. A command that fails stops the demo.
 */
async function runCli(
  command: Command,
  args: readonly string[],
  say: (line?: string) => void,
  expected: number = ExitCode.Ok,
): Promise<void> {
  const shown = args.map((a) => (a.startsWith('http') ? '<sandbox>' : a)).join(' ');
  say(`   $ ballast ${command.name} ${shown}`);
  const forward = (text: string) => {
    for (const line of text.replace(/\n$/, '').split('\n')) say(line ? `     ${line}` : '');
  };
  // No AWS_* variables: what a newcomer's shell has. --endpoint-url says where the sandbox is.
  const code = await command.run(args, { stdout: forward, stderr: forward, cwd: process.cwd(), env: {} });
  // The demo tells a story that only holds if each step did what it says.
  if (code !== expected) throw new Error(`ballast ${command.name} exited ${code}, not ${expected}`);
  if (code !== ExitCode.Ok) say(`     (exit ${code})`);
}

function unique(states: readonly string[]): string[] {
  const shown = [
    'Resolve',
    'Validate',
    'Lease',
    'Register',
    'RegisterFiles',
    'Pin',
    'Deploy',
    'WaitForRollout',
    'CheckRollout',
    'Record',
    'RecordSkipped',
    'RecordFailure',
    'RecordRejected',
    'RecordPush',
    'Ignored',
    // The rollback workflow's.
    'Triage',
    'Apply',
    'CheckRollback',
    'Restore',
    'WriteBack',
    'Finish',
  ];
  return shown.filter((s) => states.includes(s));
}

/** What each live SageMaker model was given: its model data and its secret, by reference only. */
async function showModels(sandbox: Sandbox, say: (line?: string) => void): Promise<void> {
  const { sagemaker } = sandboxClients(sandbox);
  for (const endpoint of ['summarizer', 'assistant']) {
    const name = `ballast-${ENVIRONMENT}-${endpoint}`;
    const described = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: name }));
    const config = await sagemaker.send(
      new DescribeEndpointConfigCommand({ EndpointConfigName: described.EndpointConfigName }),
    );
    const model = await sagemaker.send(
      new DescribeModelCommand({ ModelName: config.ProductionVariants?.[0]?.ModelName }),
    );
    const container = model.PrimaryContainer;
    const data = container?.ModelDataSource?.S3DataSource
      ? `ModelDataSource ${container.ModelDataSource.S3DataSource.S3DataType} ${container.ModelDataSource.S3DataSource.S3Uri}`
      : `ModelDataUrl ${container?.ModelDataUrl ?? '?'}`;
    say(`   ${name}: ${data}`);
    for (const [key, value] of Object.entries(container?.Environment ?? {})) {
      if (key.endsWith('_SECRET_ARN')) say(`     ${key}=${value} (the container reads the value; Ballast never does)`);
    }
  }
  sagemaker.destroy();
}

/** Prints SageMaker's own deployment events: the blue/green phases and how many instances serve. */
function narrateRollouts(sandbox: Sandbox, say: (line?: string) => void): () => void {
  return sandbox.events.subscribe(
    { source: ['aws.sagemaker'], 'detail-type': ['SageMaker Endpoint Deployment State Change'] },
    (event: EventBridgeEvent) => {
      const detail = event.detail as {
        ProductionVariants?: Array<{ CurrentInstanceCount?: number }>;
        PendingDeploymentSummary?: {
          ProductionVariants?: Array<{
            CurrentInstanceCount?: number;
            DesiredInstanceCount?: number;
            VariantStatus?: Array<{ Status: string; StatusMessage?: string }>;
          }>;
        };
      };
      const green = detail.PendingDeploymentSummary?.ProductionVariants?.[0];
      const status = green?.VariantStatus?.[0];
      if (!status) return;
      const blue = (detail.ProductionVariants ?? []).reduce((n, v) => n + (v.CurrentInstanceCount ?? 0), 0);
      const serving = green?.CurrentInstanceCount ?? 0;
      // Traffic follows serving capacity while the fleets share it; once the whole new fleet is
      // serving, all traffic is on it and the old fleet only waits, for a rollback, until the bake ends.
      const desired = green?.DesiredInstanceCount ?? 0;
      const share =
        status.Status === 'Deleting'
          ? 0 // the new fleet is being torn down: a rollback sent all traffic back
          : desired > 0 && serving >= desired
            ? 100
            : serving + blue > 0
              ? Math.round((serving / (serving + blue)) * 100)
              : 0;
      say(
        `     [${event.time.slice(11, 16)}] ${status.Status.padEnd(17)} new fleet serving ${serving} instance(s), old ${blue} -> ${share === 100 || share === 0 ? '' : '~'}${share}% of traffic on the new version`,
      );
    },
  );
}

async function showState(store: JsonStore, say: (line?: string) => void): Promise<void> {
  const state = (await store.get<EndpointState>(keys.state(ENVIRONMENT, ENDPOINT)))?.value;
  if (!state) return;
  const short = (c?: { commit: string }) => c?.commit.slice(0, 7) ?? '-';
  say(
    `   state of ${ENVIRONMENT}/${ENDPOINT}: desired ${short(state.desired)}, live ${short(state.live)}, last good ${short(state.lastGood)}${
      state.quarantined.length ? `, quarantined ${state.quarantined.map((q) => q.commit.slice(0, 7)).join(', ')}` : ''
    }`,
  );
}
