/**
 * The reconciler's check of one endpoint: read its state and AWS, apply the ignore rules, decide
 * (lambdas/state/drift.ts) and act: report a new drift (ledger entry, event), start a heal through
 * the deploy workflow, report or prune a removed declaration, and keep what was found in the
 * endpoint's state. `ballast diff` runs the same reading without acting ({@link assessEndpoint}).
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteEndpointCommand, DescribeEndpointCommand, type SageMakerClient } from '@aws-sdk/client-sagemaker';
import { classify } from '../aws/errors.ts';
import { eventBridge } from '../aws/eventbridge.ts';
import { healExecutionName } from '../sources/heal.ts';
import {
  applyIgnores,
  type Drift,
  type DriftIgnoreRule,
  decideReconcile,
  fingerprint,
  type IgnoredDrift,
  nextDriftMark,
  precheck,
  type ReconcileAction,
  type ReconcileSettings,
} from '../state/drift.ts';
import type { EndpointState } from '../state/endpoint-state.ts';
import type { JsonStore, Versioned } from '../state/json-store.ts';
import { keys } from '../state/keys.ts';
import { appendLedger, ledgerEntry } from '../state/ledger.ts';
import { sagemakerNames } from '../targets/sagemaker.ts';
import { cleanUpEndpoint, isNotFound } from '../targets/sagemaker-cleanup.ts';
import { type Inspection, inspectEndpoint } from '../targets/sagemaker-inspect.ts';
import type { EnvironmentHead, EnvironmentSeen } from '../workflow/plan.ts';
import type { Outcome, Push } from '../workflow/types.ts';
import { healRequest, RECONCILER } from './requests.ts';
import { startDeploy } from './start-deploy.ts';

export const BALLAST_EVENT_SOURCE = 'ballast';
export const DRIFT_DETAIL_TYPE = 'Ballast Drift Detected';
export const REMOVED_DETAIL_TYPE = 'Ballast Endpoint Removed';
export const PRUNED_DETAIL_TYPE = 'Ballast Endpoint Pruned';

export interface CheckSettings extends ReconcileSettings {
  readonly driftIgnore: readonly DriftIgnoreRule[];
}

export const DEFAULT_SETTINGS: CheckSettings = { selfHeal: true, prune: false, driftIgnore: [] };

/** What the reconciler found and decided for one endpoint (what `ballast diff` prints). */
export interface Assessment {
  readonly environment: string;
  readonly endpoint: string;
  readonly endpointName: string;
  readonly action: ReconcileAction;
  readonly drift: readonly Drift[];
  readonly ignored: readonly IgnoredDrift[];
  /** Set when SageMaker was changing the endpoint: nothing was compared. */
  readonly transitional?: string;
  readonly missing?: boolean;
  /** The variant's Application Auto Scaling ResourceId, when the endpoint has one. */
  readonly resourceId?: string;
}

export type Sender = Pick<SageMakerClient, 'send'>;

/** The first half, read-only: the state's precheck, or the inspection of AWS. */
export async function inspectOrSkip(
  sagemaker: Sender,
  prefix: string,
  state: EndpointState,
  declared: boolean,
  settings: CheckSettings,
): Promise<{ pre: ReconcileAction } | { inspection: Inspection }> {
  const pre = precheck(state, declared, settings);
  if (pre) return { pre };
  return { inspection: await inspectEndpoint(sagemaker, prefix, state) };
}

/** The second half, pure: ignore rules (autoscaled: from Application Auto Scaling) and the decision. */
export function assess(
  state: EndpointState,
  inspection: Inspection,
  settings: CheckSettings,
  autoscaled: boolean,
): Assessment {
  const base = { environment: state.environment, endpoint: state.endpoint, endpointName: inspection.endpointName };
  if (inspection.transitional) {
    return {
      ...base,
      action: { action: 'skip', reason: `SageMaker reports the endpoint ${inspection.transitional}` },
      drift: [],
      ignored: [],
      transitional: inspection.transitional,
    };
  }
  const { drift, ignored } = applyIgnores(state.endpoint, inspection.drift, settings.driftIgnore, autoscaled);
  return {
    ...base,
    action: decideReconcile(state, drift, settings),
    drift,
    ignored,
    ...(inspection.missing ? { missing: true } : {}),
  };
}

export interface ActContext {
  readonly store: JsonStore;
  readonly sagemaker: Sender;
  readonly prefix: string;
  readonly run: string;
  /** When the run started (Scan's clock): the reconciler's ledger entries are keyed by it and the run. */
  readonly runStartedAt: string;
  readonly now: string;
}

export type Counted = 'inSync' | 'drifted' | 'healing' | 'reported' | 'skipped' | 'removed' | 'pruned';

/**
 * Acts on an assessment. Effects in an order that a retry of the whole batch repeats harmlessly:
 * the ledger entry is write-once (keyed by the run), the heal's execution name is derived from the
 * drift's digest and attempt, and the state's mark is written last, by compare-and-swap, and only
 * while no rollout has taken the endpoint since it was read.
 */
export async function act(
  context: ActContext,
  state: Versioned<EndpointState>,
  assessment: Assessment,
): Promise<Counted> {
  const { action, drift } = assessment;
  const current = state.value;
  switch (action.action) {
    case 'skip':
      return 'skipped';
    case 'in-sync':
      if (current.drift) await mark(context, state, undefined);
      return 'inSync';
    case 'removed':
      if (current.drift?.action !== 'removed') {
        await record(
          context,
          current,
          'removed',
          `${current.endpoint} is no longer declared in Git; it keeps running (reconcile.prune is off)`,
        );
        await mark(context, state, { drift: [], action });
      }
      return 'removed';
    case 'prune':
      return prune(context, state);
    case 'report':
    case 'heal': {
      const isNew = current.drift?.fingerprint !== fingerprint(drift);
      if (isNew) {
        await record(context, current, 'drifted', describe(drift, action), { drift });
      }
      // The mark, and for a heal its number, are written before the heal starts: the heal's own
      // Lease may take the endpoint at once, after which the reconciler writes nothing more.
      const written = await mark(context, state, { drift, action });
      if (action.action === 'heal') {
        if (written?.healCount === undefined) return 'skipped';
        const digest = (current.desired ?? current.live)?.digest ?? '';
        // Numbered per endpoint, never reused: Step Functions keeps a closed execution's name for
        // 90 days, so a later drift of the same content needs a name of its own.
        await startDeploy(
          healExecutionName(
            { environment: current.environment, endpoint: current.endpoint, digest },
            written.healCount,
          ),
          healRequest(current.environment, current.endpoint, digest, drift, context.now),
        );
        return 'healing';
      }
      return 'reported';
    }
  }
}

function describe(drift: readonly Drift[], action: ReconcileAction): string {
  // Digests read better as Ballast shows them everywhere else: their first 12 hex digits.
  const shown = (v: string | null) => (v === null ? '(absent)' : /^[0-9a-f]{64}$/.test(v) ? v.slice(0, 12) : v);
  const fields = drift
    .slice(0, 5)
    .map((d) => `${d.path}: ${shown(d.expected)} -> ${shown(d.actual)}`)
    .join('; ');
  const more = drift.length > 5 ? ` (+${drift.length - 5} more)` : '';
  const then = action.action === 'heal' ? 'healing' : 'reason' in action ? `not healed: ${action.reason}` : '';
  return `${fields}${more}; ${then}`.slice(0, 2000);
}

/** Writes the drift mark (undefined clears it), unless a rollout took the endpoint since it was read. */
/**
 * Writes the drift mark (undefined clears it) and, for a heal, counts the endpoint's heals up; the
 * state as written, or undefined when a rollout took the endpoint since it was read (then nothing
 * is written and nothing should start).
 */
async function mark(
  context: ActContext,
  state: Versioned<EndpointState>,
  found: { drift: readonly Drift[]; action: ReconcileAction } | undefined,
): Promise<EndpointState | undefined> {
  let taken = false;
  const result = await context.store.update<EndpointState>(
    keys.state(state.value.environment, state.value.endpoint),
    (latest) => {
      taken = !latest || latest.lease !== undefined;
      if (!latest || latest.lease) return undefined;
      const next =
        found && found.drift.length === 0
          ? {
              since: latest.drift?.since ?? context.now,
              fingerprint: 'removed',
              drift: [],
              heals: 0,
              action: found.action.action,
            }
          : found
            ? nextDriftMark(latest.drift, found.drift, found.action, context.now)
            : undefined;
      const { drift: _old, ...rest } = latest;
      const heal = found?.action.action === 'heal' ? { healCount: (latest.healCount ?? 0) + 1 } : {};
      if (!next && !latest.drift) return undefined;
      return { ...rest, ...heal, ...(next ? { drift: next } : {}), updatedAt: context.now };
    },
    8,
    state,
  );
  return taken ? undefined : result.value;
}

/** The push a reconciler entry is recorded against: the one that brought what is live. */
function pushOf(state: EndpointState, run: string): Push {
  const live = state.live;
  const desired = state.desired;
  const from = live?.push;
  return {
    source: from?.source ?? desired?.source ?? 'codecommit',
    repository: from?.repository ?? desired?.repository ?? 'unknown',
    branch: from?.branch ?? desired?.branch ?? 'unknown',
    commit: live?.commit ?? desired?.commit ?? 'unknown',
    pushedBy: RECONCILER,
    pushedAt: from?.pushedAt ?? desired?.pushedAt ?? state.updatedAt,
    deliveryId: `reconcile-${run}`,
  };
}

async function record(
  context: ActContext,
  state: EndpointState,
  outcome: Outcome,
  reason: string,
  extra: { drift?: readonly Drift[] } = {},
): Promise<void> {
  const entry = ledgerEntry(
    { push: pushOf(state, context.run), environment: state.environment, execution: context.run },
    state.endpoint,
    outcome,
    context.now,
    {
      reason,
      ...(state.live ? { digest: state.live.digest, endpointConfigName: state.live.endpointConfigName } : {}),
      ...(extra.drift ? { drift: extra.drift.slice(0, 50) } : {}),
      // The reconciler's entries happen when it looks, not when the commit was pushed.
      startedAt: context.now,
      durationSeconds: 0,
    },
  );
  await appendLedger(context.store, entry);
  const detailType =
    outcome === 'drifted' ? DRIFT_DETAIL_TYPE : outcome === 'pruned' ? PRUNED_DETAIL_TYPE : REMOVED_DETAIL_TYPE;
  await eventBridge()
    .send(
      new PutEventsCommand({
        Entries: [
          { Source: BALLAST_EVENT_SOURCE, DetailType: detailType, Resources: [], Detail: JSON.stringify(entry) },
        ],
      }),
    )
    .then((response) => {
      const failed = response.Entries?.find((e) => e.ErrorCode);
      if (failed)
        throw new Error(`PutEvents refused the ${outcome} event: ${failed.ErrorCode} ${failed.ErrorMessage ?? ''}`);
    })
    .catch((error: unknown) => classify(error, `PutEvents (${outcome} event)`));
}

/**
 * prune: true and the declaration is gone. First DeleteEndpoint (SageMaker deletes it
 * asynchronously); once the endpoint is gone (a later run), its Models and configurations go
 * with cleanup's ownership proof, and the state forgets what ran, so that declaring the endpoint
 * again deploys it from scratch. Cleanup proves ownership; the endpoint is Ballast's by its name
 * (derived from the environment and endpoint) and its `ballast:managed` tag, checked by Deploy
 * when it created it.
 */
async function prune(context: ActContext, state: Versioned<EndpointState>): Promise<Counted> {
  const current = state.value;
  if (!current.live && !current.desired) return 'skipped';
  const names = sagemakerNames(
    context.prefix,
    current.environment,
    current.endpoint,
    (current.live ?? current.desired)?.digest ?? '',
  );
  const endpoint = await context.sagemaker
    .send(new DescribeEndpointCommand({ EndpointName: names.endpointName }))
    .catch((error: unknown) =>
      isNotFound(error) ? undefined : classify(error, `DescribeEndpoint ${names.endpointName}`),
    );
  if (endpoint) {
    if (endpoint.EndpointStatus !== 'Deleting') {
      // Looked at again right before the one call no revert undoes: a push that declares the
      // endpoint again, or takes its lease, since the batch read the state, stops the prune.
      if (!(await stillPrunable(context, state))) return 'skipped';
      await context.sagemaker
        .send(new DeleteEndpointCommand({ EndpointName: names.endpointName }))
        .catch((error: unknown) =>
          isNotFound(error) ? undefined : classify(error, `DeleteEndpoint ${names.endpointName}`),
        );
      await record(
        context,
        current,
        'pruned',
        `${current.endpoint} is no longer declared in Git and reconcile.prune is on: endpoint ${names.endpointName} deleted`,
      );
    }
    return 'pruned';
  }
  await cleanUpEndpoint(
    context.sagemaker,
    {
      prefix: context.prefix,
      environment: current.environment,
      endpoint: current.endpoint,
      endpointName: names.endpointName,
      keep: [],
      // Nothing a rollout that began after this run started may have created.
      createdBefore: new Date(context.runStartedAt),
    },
    { endpointDeleted: true },
  );
  if (!(await stillPrunable(context, state))) return 'skipped';
  await context.store.update<EndpointState>(
    keys.state(current.environment, current.endpoint),
    (latest) =>
      latest && !latest.lease
        ? {
            environment: latest.environment,
            endpoint: latest.endpoint,
            quarantined: latest.quarantined,
            pruned: context.now,
            updatedAt: context.now,
          }
        : undefined,
    8,
    state,
  );
  return 'pruned';
}

/** The state is as the batch read it (no lease since, no push) and the head still leaves the endpoint out. */
async function stillPrunable(context: ActContext, state: Versioned<EndpointState>): Promise<boolean> {
  const { environment, endpoint } = state.value;
  const [fresh, head, seen] = await Promise.all([
    context.store.get<EndpointState>(keys.state(environment, endpoint)),
    context.store.get<EnvironmentHead>(keys.head(environment)),
    context.store.get<EnvironmentSeen>(keys.seen(environment)),
  ]);
  const undeclared =
    seen?.value.retired !== undefined || (head !== undefined && head.value.endpoints[endpoint] === undefined);
  return fresh?.etag === state.etag && undeclared;
}
