/**
 * `ballast diff [ENDPOINT]`: what the reconciler would find and do if it ran now, without doing
 * any of it. Per endpoint with state, the reconcile Check's own read-only half
 * (lambdas/reconcile/check.ts: `inspectOrSkip`, then `assess`, with Application Auto Scaling's
 * autoscaled variants) under the environment head's reconcile settings; never `act`. Only Describe,
 * List and Get calls: nothing is written, healed, reported or pruned.
 */
import { parseArgs } from 'node:util';
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { autoscaledVariants, variantResourceId } from '../../lambdas/aws/application-autoscaling.ts';
import { assess, type CheckSettings, DEFAULT_SETTINGS, inspectOrSkip } from '../../lambdas/reconcile/check.ts';
import { mapPool } from '../../lambdas/runtime/pool.ts';
import { type Drift, type IgnoredDrift, MAX_HEALS, type ReconcileAction } from '../../lambdas/state/drift.ts';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { sagemakerNames } from '../../lambdas/targets/sagemaker.ts';
import type { Inspection } from '../../lambdas/targets/sagemaker-inspect.ts';
import type { EnvironmentHead } from '../../lambdas/workflow/plan.ts';
import {
  cliClientConfig,
  connect,
  connectionOptions,
  connectionUsage,
  driftLines,
  explainError,
  noSuchEndpoint,
  parseOrUsage,
  readEndpointStates,
  type StateConnection,
  StateReadError,
  serviceEndpoint,
  short,
} from './state-reader.ts';
import { type CliIo, type Command, ExitCode, UsageError } from './types.ts';

/** The resource prefix of a stack that sets none (bin/context.ts, `ballast:resourcePrefix`). */
const DEFAULT_RESOURCE_PREFIX = 'ballast';
/** Endpoints described at once: four Describe calls each, well under SageMaker's rates. */
const CONCURRENCY = 5;

const usage = `Usage: ballast diff [ENDPOINT] [--environment ENV] [--json] (--endpoint-url URL | --bucket B | --stack NAME) [--region R]

Shows what the reconciler would report and do if it ran now, without doing any of it: for every
endpoint with state (or ENDPOINT), the reconcile workflow's own comparison of the live SageMaker
endpoint with what Ballast deployed (DescribeEndpoint, DescribeEndpointConfig, DescribeModel,
ListTags, Application Auto Scaling DescribeScalableTargets), with the environment head's reconcile
settings (ballast.yaml's reconcile.selfHeal, reconcile.prune and drift.ignore at the newest
commit; the defaults selfHeal on, prune off, no rules before a push wrote them). It looks whether
or not the environment is due. Each endpoint's line says:
  in sync                     nothing differs (up to ignored differences)
  drift: would heal           the reconciler would deploy the desired commit again (attempt N of ${MAX_HEALS})
  drift: would report: WHY    it would only report (selfHeal off, quarantined content, heals used up)
  skipped: WHY                it would not look (a rollout or rollback holds the endpoint, or
                              SageMaker is updating it)
  removed                     Git no longer declares it; it would report that and leave it running
  would prune                 Git no longer declares it and reconcile.prune is on: it would delete it
  error: WHY                  it could not be compared
then each difference as a JSON pointer into the endpoint's spec, with the value Ballast deployed
and the live one (\`/target/sagemaker/instanceType  ml.g5.2xlarge -> ml.g5.12xlarge\`), and the
differences an ignore rule explains, marked \`ignored:\` with the rule (ballast.yaml drift.ignore,
or built in: an autoscaled variant's count and weight).

Arguments:
  ENDPOINT            only this Endpoint (its metadata.name)

Options:
  --environment ENV   only this environment
  --json              print { bucket, environments: [{ environment, commit, settings }],
                      endpoints: [{ environment, endpoint, endpointName, action, reason, attempt,
                      drift, ignored, autoscaled, missing }], summary }; action is the
                      reconciler's: in-sync, heal, report, skip, removed, prune, or error;
                      drift and ignored are [{ path, expected, actual }] (ignored with reason),
                      values as strings or null (absent)
  -h, --help          show this help

${connectionUsage}

SageMaker and Application Auto Scaling are called at the same endpoint (--endpoint-url, else
$AWS_ENDPOINT_URL_SAGEMAKER / $AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING, else $AWS_ENDPOINT_URL)
and in the bucket's region. SageMaker names come from the stack's resource prefix, read from the
live EndpointConfig's name (else $BALLAST_RESOURCE_PREFIX, else ${DEFAULT_RESOURCE_PREFIX}).

Needs s3:GetObject and s3:ListBucket on the state bucket, sagemaker:DescribeEndpoint,
DescribeEndpointConfig, DescribeModel and ListTags, application-autoscaling:DescribeScalableTargets.

Exit codes: 0 every endpoint in sync (or skipped), 1 drift, a removed declaration or one to prune,
2 usage error, unknown endpoint, or the state or AWS could not be read.
`;

/** What `ballast diff` found for one endpoint: the `--json` element. */
export interface DiffEntry {
  readonly environment: string;
  readonly endpoint: string;
  /** The SageMaker endpoint compared. */
  readonly endpointName: string;
  /** What the reconciler would do (lambdas/state/drift.ts ReconcileAction), or `error`. */
  readonly action: ReconcileAction['action'] | 'error';
  /** Why it would skip or only report, what removed and prune mean, or what failed. */
  readonly reason: string | null;
  /** For `heal`: which heal of this drift it would be (1 to MAX_HEALS). */
  readonly attempt: number | null;
  readonly drift: readonly Drift[];
  readonly ignored: readonly IgnoredDrift[];
  /** The variant is registered with Application Auto Scaling (its count and weight are not drift). */
  readonly autoscaled: boolean;
  /** The SageMaker endpoint does not exist. */
  readonly missing: boolean;
}

export interface DiffEnvironment {
  readonly environment: string;
  /** The environment head's commit (null: no head, so no settings). */
  readonly commit: string | null;
  readonly settings: CheckSettings;
}

export interface DiffReport {
  readonly bucket: string;
  readonly environments: readonly DiffEnvironment[];
  readonly endpoints: readonly DiffEntry[];
  readonly summary: Readonly<
    Record<'endpoints' | 'inSync' | 'drifted' | 'removed' | 'prune' | 'skipped' | 'errors', number>
  >;
}

export const diffCommand: Command = {
  name: 'diff',
  summary:
    'Show what the reconciler would report and do now: live drift field by field, ignored drift, removed endpoints',
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOrUsage(() =>
      parseArgs({
        args: [...args],
        options: { ...connectionOptions, environment: { type: 'string' }, json: { type: 'boolean' } },
        strict: true,
        allowPositionals: true,
      }),
    );
    if (positionals.length > 1) throw new UsageError(`expected at most one ENDPOINT, got ${positionals.join(' ')}`);
    const endpoint = positionals[0];
    if (endpoint !== undefined && !/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(endpoint)) {
      throw new UsageError(`'${endpoint}' is not an endpoint name`);
    }
    if (values.environment !== undefined && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(values.environment)) {
      throw new UsageError(`--environment '${values.environment}' is not an environment name`);
    }
    let conn: StateConnection | undefined;
    let report: DiffReport;
    try {
      conn = await connect(values, io);
      const states = (await readEndpointStates(conn, values.environment)).filter(
        (s) => endpoint === undefined || s.endpoint === endpoint,
      );
      if (endpoint !== undefined && states.length === 0) {
        io.stderr(`ballast diff: ${await noSuchEndpoint(conn, endpoint, values.environment)}\n`);
        return ExitCode.Usage;
      }
      report = await diff(conn, states, values['endpoint-url'], io);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      io.stderr(`ballast diff: ${explainError(error, conn)}\n`);
      return ExitCode.Usage;
    } finally {
      conn?.close();
    }
    io.stdout(
      values.json
        ? `${JSON.stringify(report, null, 2)}\n`
        : `${renderDiff(conn.where, report, values.environment).join('\n')}\n`,
    );
    return exitCode(report);
  },
};

/** 2 when an endpoint could not be compared, 1 when the reconciler would report or act, else 0. */
export function exitCode(report: Pick<DiffReport, 'summary'>): number {
  const { errors, drifted, removed, prune } = report.summary;
  if (errors > 0) return ExitCode.Usage;
  return drifted + removed + prune > 0 ? ExitCode.Invalid : ExitCode.Ok;
}

/** Reads AWS for these endpoints the way the reconcile Check does, and decides as it would. */
async function diff(
  conn: StateConnection,
  states: readonly EndpointState[],
  endpointUrl: string | undefined,
  io: CliIo,
): Promise<DiffReport> {
  const sagemakerAt = serviceEndpoint(io, 'SAGEMAKER', endpointUrl);
  const scalingAt = serviceEndpoint(io, 'APPLICATION_AUTO_SCALING', endpointUrl);
  const sagemaker = new SageMakerClient(cliClientConfig(io, sagemakerAt, conn.region));
  const scaling = new ApplicationAutoScalingClient(cliClientConfig(io, scalingAt, conn.region));
  try {
    const environments = await Promise.all(
      [...new Set(states.map((s) => s.environment))].map((environment) => environmentOf(conn, environment)),
    );
    const read = await mapPool(states, CONCURRENCY, async (state) => {
      const env = environments.find((e) => e.environment === state.environment);
      const settings = env?.settings ?? DEFAULT_SETTINGS;
      const prefix = resourcePrefixOf(state, io.env.BALLAST_RESOURCE_PREFIX || DEFAULT_RESOURCE_PREFIX);
      const endpointName = sagemakerNames(prefix, state.environment, state.endpoint, '').endpointName;
      if (!env?.head) {
        // Scan reads an environment's endpoints from its head: without one, nothing is checked.
        const reason = `no environment head (${keys.head(state.environment)}): the reconciler does not check ${state.environment}`;
        const pre: ReconcileAction = { action: 'skip', reason };
        return { state, endpointName, settings, result: { pre } };
      }
      const declared = env.head.endpoints[state.endpoint] !== undefined;
      try {
        return {
          state,
          endpointName,
          settings,
          result: await inspectOrSkip(sagemaker, prefix, state, declared, settings),
        };
      } catch (error) {
        return { state, endpointName, settings, result: { error: explainAwsError(error, 'SageMaker', sagemakerAt) } };
      }
    });
    const resourceIds = read.flatMap(({ result }) => {
      const inspection = 'inspection' in result ? result.inspection : undefined;
      return inspection?.variantName ? [variantResourceId(inspection.endpointName, inspection.variantName)] : [];
    });
    const autoscaled =
      resourceIds.length > 0
        ? await autoscaledVariants(scaling, resourceIds).catch((error: unknown) => {
            throw new StateReadError(explainAwsError(error, 'Application Auto Scaling', scalingAt));
          })
        : new Set<string>();
    const endpoints = read.map(({ state, endpointName, settings, result }): DiffEntry => {
      const base = { environment: state.environment, endpoint: state.endpoint, endpointName };
      if ('error' in result) return entry(base, 'error', result.error);
      if ('pre' in result) return fromAction(base, result.pre, [], [], false, false);
      const scaled = isAutoscaled(result.inspection, autoscaled);
      const assessment = assess(state, result.inspection, settings, scaled);
      return fromAction(
        { ...base, endpointName: assessment.endpointName },
        assessment.action,
        assessment.drift,
        assessment.ignored,
        scaled,
        assessment.missing === true,
      );
    });
    const count = (action: DiffEntry['action']) => endpoints.filter((e) => e.action === action).length;
    return {
      bucket: conn.bucket,
      environments: environments.map(({ head: _head, ...rest }) => rest),
      endpoints,
      summary: {
        endpoints: endpoints.length,
        inSync: count('in-sync'),
        drifted: count('heal') + count('report'),
        removed: count('removed'),
        prune: count('prune'),
        skipped: count('skip'),
        errors: count('error'),
      },
    };
  } finally {
    sagemaker.destroy();
    scaling.destroy();
  }
}

/** The environment's head and the reconcile settings it carries (the reconcile Check reads the same). */
async function environmentOf(
  conn: StateConnection,
  environment: string,
): Promise<DiffEnvironment & { readonly head: EnvironmentHead | undefined }> {
  const head = (await conn.store.get<EnvironmentHead>(keys.head(environment)))?.value;
  const stored = head?.settings;
  const settings: CheckSettings = stored
    ? { selfHeal: stored.selfHeal, prune: stored.prune, driftIgnore: stored.driftIgnore }
    : DEFAULT_SETTINGS;
  return { environment, commit: head?.commit ?? null, settings, head };
}

function isAutoscaled(inspection: Inspection, autoscaled: ReadonlySet<string>): boolean {
  return (
    inspection.variantName !== undefined &&
    autoscaled.has(variantResourceId(inspection.endpointName, inspection.variantName))
  );
}

type EntryBase = Pick<DiffEntry, 'environment' | 'endpoint' | 'endpointName'>;

function entry(base: EntryBase, action: DiffEntry['action'], reason: string | null): DiffEntry {
  return { ...base, action, reason, attempt: null, drift: [], ignored: [], autoscaled: false, missing: false };
}

function fromAction(
  base: EntryBase,
  action: ReconcileAction,
  drift: readonly Drift[],
  ignored: readonly IgnoredDrift[],
  autoscaled: boolean,
  missing: boolean,
): DiffEntry {
  const reason =
    action.action === 'skip' || action.action === 'report'
      ? action.reason
      : action.action === 'removed'
        ? 'no longer declared in Git: the reconciler reports it once and leaves it running (reconcile.prune is off)'
        : action.action === 'prune'
          ? `no longer declared in Git and reconcile.prune is on: the reconciler deletes ${base.endpointName}, then its Models and EndpointConfigs`
          : null;
  return {
    ...entry(base, action.action, reason),
    attempt: action.action === 'heal' ? action.attempt : null,
    drift,
    ignored,
    autoscaled,
    missing,
  };
}

/**
 * The stack's resource prefix, from the name of the EndpointConfig Ballast verified live
 * (`<prefix>-<environment>-<endpoint>-<digest12>`, lambdas/targets/sagemaker.ts); `fallback` when
 * nothing went live or the name was shortened (over 63 characters).
 */
export function resourcePrefixOf(state: EndpointState, fallback: string): string {
  const ref = state.live ?? state.lastGood;
  if (!ref) return fallback;
  const tail = sagemakerNames('', state.environment, state.endpoint, ref.digest).endpointConfigName;
  const name = ref.endpointConfigName;
  if (!name.endsWith(tail)) return fallback;
  const prefix = name.slice(0, -tail.length);
  return prefix.length > 0 &&
    sagemakerNames(prefix, state.environment, state.endpoint, ref.digest).endpointConfigName === name
    ? prefix
    : fallback;
}

/** One line for an AWS failure of the comparison: what to check, not a stack trace. */
function explainAwsError(error: unknown, service: string, endpoint: string | undefined): string {
  const e = error as Error;
  if (/AccessDenied|UnauthorizedOperation|not authorized/i.test(`${e?.name ?? ''} ${e?.message ?? ''}`)) {
    return `${service}: access denied (${e.name}: ${e.message}); diff needs sagemaker:DescribeEndpoint, DescribeEndpointConfig, DescribeModel, ListTags and application-autoscaling:DescribeScalableTargets`;
  }
  return explainError(error, { where: service, endpoint, service });
}

/** The verdict after an endpoint's name. */
export function verdict(e: DiffEntry): string {
  switch (e.action) {
    case 'in-sync':
      return 'in sync';
    case 'heal':
      return `drift: would heal (attempt ${e.attempt ?? 1} of ${MAX_HEALS})`;
    case 'report':
      return `drift: would report: ${e.reason ?? ''}`;
    case 'skip':
      return `skipped: ${e.reason ?? ''}`;
    case 'removed':
      return `removed: ${e.reason ?? ''}`;
    case 'prune':
      return `would prune: ${e.reason ?? ''}`;
    case 'error':
      return `error: ${e.reason ?? ''}`;
  }
}

export function renderDiff(where: string, report: DiffReport, environment?: string): string[] {
  if (report.endpoints.length === 0) {
    return [
      `${where}: no endpoint state${environment ? ` in ${environment}` : ''} yet (nothing has been deployed${environment ? ' there' : ''})`,
    ];
  }
  const lines = [where];
  for (const env of report.environments) {
    const s = env.settings;
    const rules = s.driftIgnore.length;
    lines.push(
      `${env.environment}: ${env.commit ? `head ${short(env.commit)}` : 'no head'}, selfHeal ${s.selfHeal ? 'on' : 'off'}, prune ${s.prune ? 'on' : 'off'}, ${rules} drift.ignore rule${rules === 1 ? '' : 's'}`,
    );
  }
  for (const e of report.endpoints) {
    lines.push('', `${e.environment}/${e.endpoint} (${e.endpointName}): ${verdict(e)}`);
    lines.push(...driftLines(e.drift, { ignored: e.ignored }));
  }
  const { summary } = report;
  const counts = [
    [summary.inSync, 'in sync'],
    [summary.drifted, 'drifted'],
    [summary.removed, 'removed'],
    [summary.prune, 'to prune'],
    [summary.skipped, 'skipped'],
    [summary.errors, summary.errors === 1 ? 'error' : 'errors'],
  ] as const;
  lines.push(
    '',
    `${summary.endpoints} endpoint${summary.endpoints === 1 ? '' : 's'}: ${counts
      .filter(([n]) => n > 0)
      .map(([n, what]) => `${n} ${what}`)
      .join(', ')}`,
  );
  return lines;
}
