/**
 * A fleet of SageMaker endpoints for the reconciler's scale test and `npm run bench`: the example's
 * summarizer copied N times ({@link fleetRepository}), and a fast way to stand N of them up in a
 * sandbox as if the deploy workflow had deployed them ({@link seedFleet}).
 *
 * Why not through the deploy workflow: measured on the development machine (2 shared cores), its
 * first deployment of 100 endpoints takes about 20 s of wall time (`npm run bench -- --only=fleet
 * --fleet=100`: 1,307 transitions, 3,235 API calls), so 1,000 would take well over three minutes;
 * and 1,000 endpoint files next to ballast.yaml, a Model and a Prompt are more than the 1,000 YAML
 * files Ballast reads (the push is rejected), so a big fleet puts several Endpoints in one file.
 *
 * What seedFleet runs for real: the commit (CodeCommit CreateCommit), the deploy workflow's Resolve
 * and Validate (the snapshot, the releases, the plan, the environment head with ballast.yaml's
 * reconcile settings, the seen push), and per endpoint its Lease (the state document's lease, by
 * compare-and-swap) and Pin (the version pointer); Register and RegisterFiles run once per content,
 * since the pinned copies are content-addressed (what one endpoint pinned, every endpoint with the
 * same Model and Prompts finds pinned). What it plays instead of the per-endpoint rollout: the Model,
 * EndpointConfig and Endpoint are created with the deploy workflow's own inputs and names
 * (modelInput, endpointConfigInput, sagemakerNames in lambdas/targets/sagemaker.ts; CreateEndpoint
 * with the `ballast:managed` tag, as Deploy calls it), the clock moves on until SageMaker has created
 * them, and Record's state document and ledger entry come from its rules (decideRecord, ledgerEntry)
 * with the verification CheckRollout makes of DescribeEndpoint (readEndpoint). Left out: the commit
 * comments, the alarm markers the rollback workflow looks endpoints up by, the EMF metrics, and
 * cleanup (a first deployment has nothing to clean up).
 *
 * test/sandbox/fleet.test.ts holds the seeded documents and resources against the ones a real
 * deployment of the same repository writes.
 */
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DescribeEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { lease } from '../lambdas/handlers/lease.ts';
import { pin } from '../lambdas/handlers/pin.ts';
import { register } from '../lambdas/handlers/register.ts';
import { registerFiles } from '../lambdas/handlers/register-files.ts';
import { resolve } from '../lambdas/handlers/resolve.ts';
import { nowIso, readRelease, resourcePrefix, setting, stateStore } from '../lambdas/handlers/runtime.ts';
import { validate } from '../lambdas/handlers/validate.ts';
import { mapPool } from '../lambdas/runtime/pool.ts';
import type { EndpointState } from '../lambdas/state/endpoint-state.ts';
import { keys } from '../lambdas/state/keys.ts';
import { appendLedger, ledgerEntry } from '../lambdas/state/ledger.ts';
import { changesSinceLive, decideRecord, liveFacts, type RecordRequest } from '../lambdas/state/outcome.ts';
import {
  endpointConfigInput,
  modelInput,
  PROVISIONING_SECONDS,
  readEndpoint,
  sagemakerNames,
} from '../lambdas/targets/sagemaker.ts';
import type { Release } from '../lambdas/workflow/types.ts';
import { commitFiles, EXAMPLE_REPO_DIR, pushEventOf, readTree, sandboxClients } from './example-world.ts';
import { CODECOMMIT_PUSH_PATTERN, type LocalPipeline } from './pipeline.ts';
import type { Sandbox } from './sandbox.ts';

/** `summarizer-0007`: zero-padded so the names sort and have one length. */
export function fleetName(i: number, size: number): string {
  return `summarizer-${String(i).padStart(String(size).length, '0')}`;
}

export interface FleetRepositoryOptions {
  /**
   * Endpoints per YAML file (documents separated by `---`). Ballast reads at most 1,000 YAML files,
   * so a fleet of 1,000 needs more than one a file. @default 1
   */
  readonly perFile?: number;
  /** The first endpoint's number, to add endpoints to a fleet (`fleetName(first, size)` on). @default 1 */
  readonly first?: number;
  /** The last endpoint's number. @default size */
  readonly last?: number;
}

/**
 * The example repository cut down to its SageMaker endpoint, copied `size` times: every copy
 * serves the same Model and Prompt and names its own two alarms (which seedExampleAccount creates,
 * with the copy's endpoint as the dimension). The EKS endpoint and its model and config are left
 * out, so that every endpoint in the repository is one the workflow rolls out.
 */
export async function fleetRepository(
  size: number,
  options: FleetRepositoryOptions = {},
): Promise<Record<string, string>> {
  const example = await readTree(EXAMPLE_REPO_DIR);
  const template = example['endpoints/summarizer.yaml'];
  if (!template?.includes('name: summarizer\n') || !template.includes('- summarizer-5xx')) {
    throw new Error("the example's endpoints/summarizer.yaml no longer has the expected name and alarms");
  }
  const files: Record<string, string> = {};
  for (const path of ['ballast.yaml', 'models/summarizer-llm.yaml', 'prompts/summarize.yaml']) {
    const text = example[path];
    if (text === undefined) throw new Error(`the example repository has no ${path}`);
    files[path] = text;
  }
  const perFile = options.perFile ?? 1;
  const first = options.first ?? 1;
  const last = options.last ?? size;
  for (let start = first; start <= last; start += perFile) {
    const documents: string[] = [];
    for (let i = start; i < start + perFile && i <= last; i++) {
      const name = fleetName(i, size);
      documents.push(
        template
          .replace('name: summarizer\n', `name: ${name}\n`)
          .replace('- summarizer-5xx', `- ${name}-5xx`)
          .replace('- summarizer-p99-latency', `- ${name}-p99-latency`),
      );
    }
    const file = perFile === 1 ? fleetName(start, size) : `${fleetName(start, size)}-and-next-${documents.length - 1}`;
    files[`endpoints/${file}.yaml`] = documents.join('---\n');
  }
  return files;
}

export interface SeedOptions {
  /** @default 'model-repo' */
  readonly repository?: string;
  /** @default 'main' (the example's prod) */
  readonly branch?: string;
  /** @default 'seeded fleet' */
  readonly message?: string;
  /** Endpoints seeded at once. @default 16 */
  readonly concurrency?: number;
}

export interface SeededFleet {
  readonly commit: string;
  readonly environment: string;
  /** The endpoints the commit deployed (its plan's items), by their names in Git. */
  readonly endpoints: readonly string[];
  /** Their SageMaker endpoint names, in the same order. */
  readonly endpointNames: readonly string[];
}

/**
 * Commits `files` on the branch and deploys the endpoints the commit adds, as described at the top
 * of this file. The files must be what the repository holds after the commit (a first commit, or a
 * commit that adds endpoints): an endpoint that exists already is refused, since updating one is a
 * rollout, which is the deploy workflow's to run. The artifacts, secrets and alarms the repository
 * names must exist (seedExampleAccount); the pipeline must be started (the handlers' settings).
 */
export async function seedFleet(
  sandbox: Sandbox,
  pipeline: LocalPipeline,
  files: Record<string, string | null>,
  options: SeedOptions = {},
): Promise<SeededFleet> {
  await pipeline.idle();
  // The seeder plays the deploy workflow for this push: its event must not start the real one.
  sandbox.events.loseDeliveries(CODECOMMIT_PUSH_PATTERN);
  const commit = await commitFiles(
    sandbox,
    options.repository ?? 'model-repo',
    options.branch ?? 'main',
    files,
    options.message ?? 'seeded fleet',
  );
  const event = pushEventOf(sandbox, commit);
  if (!event) throw new Error(`CodeCommit sent no event for ${commit}`);
  const execution = `seed-${commit.slice(0, 12)}`;
  // The deploy workflow's Resolve and Validate, with the inputs its ASL gives them.
  const resolved = await resolve({ event, execution });
  const { environment, snapshotKey } = resolved;
  if (!environment || !snapshotKey) throw new Error(`the push was ignored: ${resolved.ignored ?? 'no environment'}`);
  // The ASL passes Resolve's `retry: null`; the steps' input parsing makes it undefined.
  const work = { push: resolved.push, environment, execution, retry: undefined };
  const plan = await validate({ ...work, snapshotKey });
  if (!plan.valid) {
    throw new Error(
      `the commit is invalid: ${plan.issues?.map((i) => `${i.file}:${i.line}: ${i.message}`).join('; ')}`,
    );
  }
  const store = stateStore();
  const { sagemaker } = sandboxClients(sandbox);
  try {
    const pinned = new Map<string, Promise<void>>();
    const created = await mapPool(plan.items, options.concurrency ?? 16, async (endpoint) => {
      const item = { ...work, endpoint };
      const leased = await lease(item);
      if (!leased.acquired) throw new Error(`${endpoint}: no lease (${leased.reason})`);
      const withLease = { ...item, lease: leased };
      const release = await readRelease(store, withLease);
      const content = JSON.stringify([release.model.artifact, release.prompts, release.configs]);
      if (!pinned.has(content)) pinned.set(content, registerContent(withLease));
      await pinned.get(content);
      const registration = await pin(withLease);
      const names = sagemakerNames(resourcePrefix(), environment, endpoint, release.digest);
      const roleArn = setting('BALLAST_SAGEMAKER_ROLE_ARN');
      await sagemaker.send(new CreateModelCommand(modelInput(release, names, registration.pinned, commit, roleArn)));
      await sagemaker.send(new CreateEndpointConfigCommand(endpointConfigInput(release, names, commit)));
      await sagemaker
        .send(
          new CreateEndpointCommand({
            EndpointName: names.endpointName,
            EndpointConfigName: names.endpointConfigName,
            Tags: [{ Key: 'ballast:managed', Value: 'true' }],
          }),
        )
        .catch((error: unknown) => {
          if (error instanceof Error && /in use|already exists/i.test(error.message)) {
            throw new Error(`${endpoint}: ${names.endpointName} exists; seedFleet only adds endpoints`);
          }
          throw error;
        });
      return { endpoint, release, names, pointerKey: registration.pointerKey };
    });
    // SageMaker creates the endpoints while simulated time passes (the sandbox: six minutes).
    sandbox.clock.advance(PROVISIONING_SECONDS * 1000);
    await pipeline.idle();
    await mapPool(created, options.concurrency ?? 16, async ({ endpoint, release, names, pointerKey }) => {
      const described = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: names.endpointName }));
      const reading = readEndpoint(described, names.endpointConfigName);
      if (!reading.settled || reading.outcome !== 'deployed') {
        throw new Error(`${names.endpointName} did not come up: ${JSON.stringify(reading)}`);
      }
      await recordDeployed(store, { ...work, endpoint }, release, {
        kind: 'rollout',
        verification: {
          outcome: 'deployed',
          ...(reading.liveEndpointConfigName ? { liveEndpointConfigName: reading.liveEndpointConfigName } : {}),
        },
        endpointConfigName: names.endpointConfigName,
        pointerKey,
      });
    });
    return {
      commit,
      environment,
      endpoints: created.map((c) => c.endpoint),
      endpointNames: created.map((c) => c.names.endpointName),
    };
  } finally {
    sagemaker.destroy();
  }
}

type EndpointWork = Parameters<typeof lease>[0];
type LeasedWork = Parameters<typeof pin>[0];

/** Register, then each batch of its files Map: the content's pinned copies. */
async function registerContent(work: LeasedWork): Promise<void> {
  const files = await register(work);
  for (const batch of files.batches) await registerFiles({ ...work, batch });
}

/**
 * What Record writes for a verified rollout: the ledger entry (write-once), then the state by
 * compare-and-swap, both from its rules. The deployed content is live, so the environment head
 * stays as Validate wrote it (headAfterRecord changes nothing).
 */
async function recordDeployed(
  store: ReturnType<typeof stateStore>,
  work: EndpointWork,
  release: Release,
  event: Extract<Parameters<typeof decideRecord>[2], { kind: 'rollout' }>,
): Promise<void> {
  const key = keys.state(work.environment, work.endpoint);
  const before = await store.get<EndpointState>(key);
  const request: RecordRequest = {
    execution: work.execution,
    commit: work.push.commit,
    digest: release.digest,
    components: release.components,
    rollback: liveFacts(work.push, release),
  };
  const now = nowIso();
  const decision = decideRecord(before?.value, request, event, now);
  if (decision.outcome !== 'deployed' || !decision.state) {
    throw new Error(`${work.endpoint}: Record would answer ${decision.outcome}: ${decision.reason ?? ''}`);
  }
  const state = decision.state;
  await appendLedger(
    store,
    ledgerEntry(work, work.endpoint, 'deployed', now, {
      changes: changesSinceLive(before?.value, release),
      digest: release.digest,
      endpointConfigName: event.endpointConfigName,
    }),
  );
  await store.update<EndpointState>(key, () => state, undefined, before ?? null);
}
