/**
 * Drift, as pure rules: what an endpoint should look like and what it looks like, both as flat
 * views keyed by JSON pointers into the endpoint's effective spec (its Model inlined under
 * `/model`), the differences between them, which of those the ignore rules explain, and what the
 * reconciler does about the rest. The reconcile Check handler and `ballast diff` only read AWS
 * and apply these decisions.
 *
 * Both sides are read from AWS: the expected view from the Model and EndpointConfig Ballast
 * created for the live version (content-named, so nothing else has them), the actual view from
 * what the endpoint runs. A hand-made UpdateEndpoint shows as the fields in which the two
 * configurations differ; UpdateEndpointWeightsAndCapacities as the endpoint's own counts and
 * weights differing from its configuration's.
 */
import { createHash } from 'node:crypto';
import type { EndpointState } from './endpoint-state.ts';

/** One JSON pointer and its two values (null: absent). */
export interface Drift {
  readonly path: string;
  readonly expected: string | null;
  readonly actual: string | null;
}

export interface IgnoredDrift extends Drift {
  readonly reason: string;
}

/** A `drift.ignore` rule of ballast.yaml. */
export interface DriftIgnoreRule {
  readonly endpoint: string;
  readonly path: string;
  readonly reason?: string;
}

/** A flat view: JSON pointer → value. */
export type DriftView = Readonly<Record<string, string | null>>;

/** The SageMaker shapes the views read (a subset of the SDK's Describe* outputs). */
export interface ConfigShape {
  readonly EndpointConfigName?: string;
  readonly ProductionVariants?: ReadonlyArray<{
    readonly VariantName?: string;
    readonly ModelName?: string;
    readonly InstanceType?: string;
    readonly InitialInstanceCount?: number;
    readonly InitialVariantWeight?: number;
  }>;
  readonly DataCaptureConfig?: { readonly EnableCapture?: boolean; readonly DestinationS3Uri?: string };
}

export interface ModelShape {
  readonly ModelName?: string;
  readonly ExecutionRoleArn?: string;
  readonly PrimaryContainer?: {
    readonly Image?: string;
    readonly ModelDataUrl?: string;
    readonly ModelDataSource?: { readonly S3DataSource?: { readonly S3Uri?: string } };
    readonly Environment?: Readonly<Record<string, string>>;
  };
}

export interface EndpointShape {
  readonly EndpointStatus?: string;
  readonly EndpointConfigName?: string;
  readonly ProductionVariants?: ReadonlyArray<{
    readonly VariantName?: string;
    readonly CurrentWeight?: number;
    readonly DesiredWeight?: number;
    readonly CurrentInstanceCount?: number;
    readonly DesiredInstanceCount?: number;
  }>;
}

/** The tags the reconciler owns on an endpoint: Ballast's, not the user's. */
export const OWNED_TAG_PREFIX = 'ballast:';

const SAGEMAKER = '/target/sagemaker';

/** RFC 6901: `~` and `/` in a segment are written `~0` and `~1`. */
export function pointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * What an environment variable's value may show. Values of variables a Model has injected from
 * Secrets Manager are never shown (nor written to state or the ledger): a short hash tells two
 * values apart without revealing either. `redact` absent (state written before Ballast knew)
 * hashes every value but Ballast's own.
 */
function shownValue(name: string, value: string, redact: ReadonlySet<string> | undefined): string {
  const secret = redact ? redact.has(name) : !name.startsWith('BALLAST_');
  return secret ? `(secret sha256:${createHash('sha256').update(value).digest('hex').slice(0, 12)})` : value;
}

/**
 * The view of an EndpointConfig and its Model (the first variant's: Ballast deploys one variant;
 * more than one is itself drift, reported as `/target/sagemaker/variants`).
 */
export function resourceView(
  config: ConfigShape | undefined,
  model: ModelShape | undefined,
  redact?: ReadonlySet<string>,
): Record<string, string | null> {
  const view: Record<string, string | null> = {};
  if (config) {
    const variants = config.ProductionVariants ?? [];
    const variant = variants[0];
    view[`${SAGEMAKER}/endpointConfigName`] = config.EndpointConfigName ?? null;
    view[`${SAGEMAKER}/variants`] = String(variants.length);
    view[`${SAGEMAKER}/variantName`] = variant?.VariantName ?? null;
    view[`${SAGEMAKER}/instanceType`] = variant?.InstanceType ?? null;
    view[`${SAGEMAKER}/instanceCount`] = numberText(variant?.InitialInstanceCount);
    view[`${SAGEMAKER}/variantWeight`] = numberText(variant?.InitialVariantWeight);
    const capture = config.DataCaptureConfig;
    view[`${SAGEMAKER}/dataCapture`] =
      capture && capture.EnableCapture !== false
        ? `enabled to ${capture.DestinationS3Uri ?? '(no destination)'}`
        : null;
  }
  if (model) {
    const container = model.PrimaryContainer;
    view['/model/image'] = container?.Image ?? null;
    view['/model/artifact'] = container?.ModelDataUrl ?? container?.ModelDataSource?.S3DataSource?.S3Uri ?? null;
    view['/model/executionRole'] = model.ExecutionRoleArn ?? null;
    for (const [name, value] of Object.entries(container?.Environment ?? {})) {
      view[`/model/environment/${pointerSegment(name)}`] = shownValue(name, value, redact);
    }
  }
  return view;
}

/**
 * The actual view: the configuration and Model the endpoint runs, with the counts and weights the
 * endpoint itself reports (UpdateEndpointWeightsAndCapacities and Application Auto Scaling change
 * those without a new configuration), its status, and Ballast's tags on it.
 */
export function actualView(
  endpoint: EndpointShape,
  config: ConfigShape | undefined,
  model: ModelShape | undefined,
  tags: ReadonlyArray<{ readonly Key?: string; readonly Value?: string }>,
  redact?: ReadonlySet<string>,
): DriftView {
  const view = resourceView(config, model, redact);
  view['/status'] = endpoint.EndpointStatus ?? null;
  const name = view[`${SAGEMAKER}/variantName`];
  const variant = endpoint.ProductionVariants?.find((v) => v.VariantName === name) ?? endpoint.ProductionVariants?.[0];
  if (variant) {
    const count = variant.DesiredInstanceCount ?? variant.CurrentInstanceCount;
    if (count !== undefined) view[`${SAGEMAKER}/instanceCount`] = numberText(count);
    const weight = variant.DesiredWeight ?? variant.CurrentWeight;
    if (weight !== undefined) view[`${SAGEMAKER}/variantWeight`] = numberText(weight);
  }
  for (const tag of tags) {
    if (tag.Key?.startsWith(OWNED_TAG_PREFIX)) view[`/tags/${pointerSegment(tag.Key)}`] = tag.Value ?? '';
  }
  // An owned tag the endpoint lacks shows as null against the expected view's value.
  if (!(`/tags/${pointerSegment('ballast:managed')}` in view))
    view[`/tags/${pointerSegment('ballast:managed')}`] = null;
  return view;
}

/** The expected view: Ballast's own configuration and Model, InService, with its tag. */
export function expectedView(
  config: ConfigShape,
  model: ModelShape | undefined,
  redact?: ReadonlySet<string>,
): DriftView {
  return {
    ...resourceView(config, model, redact),
    '/status': 'InService',
    [`/tags/${pointerSegment('ballast:managed')}`]: 'true',
  };
}

/**
 * The differences, sorted by path. Only pointers the expected view names are compared, plus the
 * actual view's extra environment variables and variants (what a hand-made Model or configuration
 * adds); tags the user adds, and fields Ballast does not manage, are not drift.
 */
export function diffViews(expected: DriftView, actual: DriftView): Drift[] {
  const paths = new Set(Object.keys(expected));
  for (const path of Object.keys(actual)) if (path.startsWith('/model/environment/')) paths.add(path);
  const drift: Drift[] = [];
  for (const path of [...paths].sort()) {
    const want = expected[path] ?? null;
    const have = actual[path] ?? null;
    if (want !== have) drift.push({ path, expected: want, actual: have });
  }
  return drift;
}

/** `*` and `?` in an endpoint glob (the schema allows nothing else special). */
export function globMatches(glob: string, name: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(name);
}

/**
 * A rule's path matches a drift's path when each of its segments matches (`*` matches any one
 * segment) and the drift's path has at least as many: a rule on `/model/environment` ignores every
 * variable under it, as users would read it.
 */
export function pointerMatches(rule: string, path: string): boolean {
  const want = rule.split('/').slice(1);
  const have = path.split('/').slice(1);
  if (want.length > have.length) return false;
  return want.every((segment, i) => segment === '*' || segment === have[i]);
}

/** Why a variant's counts and weights are not drift when Application Auto Scaling manages them. */
export const AUTOSCALED_REASON =
  'built in: the variant is autoscaled (Application Auto Scaling sets its instance count)';
const AUTOSCALED_PATHS = [`${SAGEMAKER}/instanceCount`, `${SAGEMAKER}/variantWeight`];

/**
 * Splits drift into what counts and what is explained: ballast.yaml's rules for this endpoint,
 * then the built-in rule for autoscaled variants.
 */
export function applyIgnores(
  endpoint: string,
  drift: readonly Drift[],
  rules: readonly DriftIgnoreRule[],
  autoscaled: boolean,
): { drift: Drift[]; ignored: IgnoredDrift[] } {
  const kept: Drift[] = [];
  const ignored: IgnoredDrift[] = [];
  for (const d of drift) {
    const rule = rules.find((r) => globMatches(r.endpoint, endpoint) && pointerMatches(r.path, d.path));
    if (rule) {
      ignored.push({ ...d, reason: `ballast.yaml drift.ignore ${rule.path}${rule.reason ? `: ${rule.reason}` : ''}` });
    } else if (autoscaled && AUTOSCALED_PATHS.includes(d.path)) {
      ignored.push({ ...d, reason: AUTOSCALED_REASON });
    } else {
      kept.push(d);
    }
  }
  return { drift: kept, ignored };
}

/** A stable fingerprint of a drift list: a new fingerprint is a new detection (ledger, event). */
export function fingerprint(drift: readonly Drift[]): string {
  return createHash('sha256')
    .update(JSON.stringify(drift.map((d) => [d.path, d.expected, d.actual])))
    .digest('hex')
    .slice(0, 16);
}

/** What the reconciler last found on an endpoint, kept in its state (lambdas/state/endpoint-state.ts). */
export interface DriftMark {
  /** When the drift with this fingerprint was first seen. */
  readonly since: string;
  readonly fingerprint: string;
  readonly drift: readonly Drift[];
  /** Heals started for this fingerprint (the reconciler gives up after {@link MAX_HEALS}). */
  readonly heals: number;
  readonly lastHealAt?: string;
  /** What the reconciler did about it: see {@link ReconcileAction}. */
  readonly action: ReconcileAction['action'];
  readonly reason?: string;
}

/**
 * Endpoint statuses no deployment gets an endpoint out of: UpdateEndpoint needs InService, and
 * SageMaker leaves these to a person (Failed is different: Deploy deletes and creates it again).
 */
const NEEDS_A_PERSON = new Set(['OutOfService', 'UpdateRollbackFailed']);

/** Heals of one drift before the reconciler only reports it: a heal that keeps failing needs a person. */
export const MAX_HEALS = 3;

export interface ReconcileSettings {
  readonly selfHeal: boolean;
  readonly prune: boolean;
}

export type ReconcileAction =
  /** Live matches desired (up to ignored drift). */
  | { readonly action: 'in-sync' }
  /** A rollout or rollback holds the endpoint: never fight a deployment. */
  | { readonly action: 'skip'; readonly reason: string }
  /** Drift, reported only (self-heal off, quarantined content, heals exhausted). */
  | { readonly action: 'report'; readonly reason: string }
  /** Drift, healed through the deploy workflow. */
  | { readonly action: 'heal'; readonly attempt: number }
  /** The declaration is gone from Git; the endpoint keeps running (prune off). */
  | { readonly action: 'removed' }
  /** The declaration is gone and ballast.yaml says prune: delete the endpoint and its resources. */
  | { readonly action: 'prune' };

/** Before reading AWS: is the endpoint Ballast's to check now? */
export function precheck(
  state: EndpointState,
  declared: boolean,
  settings: ReconcileSettings,
): ReconcileAction | undefined {
  if (state.lease) {
    return {
      action: 'skip',
      reason: `a ${state.rollback?.execution === state.lease.execution ? 'rollback' : 'rollout'} of ${state.lease.commit.slice(0, 12)} is in progress (${state.lease.execution})`,
    };
  }
  if (state.pruned && !state.live && !state.desired) return { action: 'skip', reason: `pruned at ${state.pruned}` };
  if (!declared) return settings.prune ? { action: 'prune' } : { action: 'removed' };
  return undefined;
}

/**
 * The decision once the drift is known. Healing re-deploys the desired content through the deploy
 * workflow; it never deploys quarantined content (only `ballast retry` does), and it stops after
 * {@link MAX_HEALS} attempts at the same drift, reporting it instead, so a heal that cannot work
 * does not re-deploy every few minutes forever.
 */
export function decideReconcile(
  state: EndpointState,
  drift: readonly Drift[],
  settings: ReconcileSettings,
): ReconcileAction {
  if (drift.length === 0) return { action: 'in-sync' };
  const status = drift.find((d) => d.path === '/status')?.actual;
  if (status && NEEDS_A_PERSON.has(status)) {
    return {
      action: 'report',
      reason: `SageMaker reports the endpoint ${status}: no deployment can change that; see its FailureReason (DescribeEndpoint)`,
    };
  }
  const desired = state.desired ?? state.live;
  if (desired && state.quarantined.some((q) => q.digest === desired.digest)) {
    return {
      action: 'report',
      reason: `the desired content ${desired.digest.slice(0, 12)} is quarantined: only \`ballast retry\` deploys it`,
    };
  }
  if (!settings.selfHeal) return { action: 'report', reason: 'reconcile.selfHeal is off in ballast.yaml' };
  const mark = state.drift;
  const heals = mark && mark.fingerprint === fingerprint(drift) ? mark.heals : 0;
  if (heals >= MAX_HEALS) {
    return {
      action: 'report',
      reason: `${heals} heals did not remove this drift; push a fix or run \`ballast retry\``,
    };
  }
  return { action: 'heal', attempt: heals + 1 };
}

/**
 * The drift the desired content alone shows: a desired version that is not live, with nothing in
 * flight (a rollout that failed without quarantining its content, or a push that never reached its
 * rollout). Compared as digests, not fields: the desired version has no resources in AWS yet.
 */
export function desiredDrift(state: EndpointState): Drift | undefined {
  const desired = state.desired;
  if (!desired) return undefined;
  if (state.live?.digest === desired.digest) return undefined;
  return { path: '/digest', expected: desired.digest, actual: state.live?.digest ?? null };
}

/** The state's drift mark after a check: undefined clears it. Pure; Check writes it by compare-and-swap. */
export function nextDriftMark(
  previous: DriftMark | undefined,
  drift: readonly Drift[],
  action: ReconcileAction,
  now: string,
): DriftMark | undefined {
  if (drift.length === 0) return undefined;
  const print = fingerprint(drift);
  const same = previous?.fingerprint === print;
  const heals = (same ? previous.heals : 0) + (action.action === 'heal' ? 1 : 0);
  return {
    since: same ? previous.since : now,
    fingerprint: print,
    drift: drift.slice(0, 50).map(truncated),
    heals,
    ...(action.action === 'heal'
      ? { lastHealAt: now }
      : same && previous.lastHealAt
        ? { lastHealAt: previous.lastHealAt }
        : {}),
    action: action.action,
    ...('reason' in action ? { reason: action.reason } : {}),
  };
}

/** Values as long as an ARN or an S3 URI fit; anything longer is cut, so a mark stays small. */
function truncated(d: Drift): Drift {
  const cut = (v: string | null) => (v !== null && v.length > 512 ? `${v.slice(0, 509)}...` : v);
  return { path: d.path, expected: cut(d.expected), actual: cut(d.actual) };
}

function numberText(value: number | undefined): string | null {
  return value === undefined ? null : String(value);
}
