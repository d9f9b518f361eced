import type { ResolvedTarget } from '../spec/resolve.ts';
import type { ConfigSpec, Environment, ModelSpec, PromptSpec, Rollout as RolloutSpec } from '../spec/schema.ts';

/**
 * The data the deploy workflow passes between its states. Step Functions payloads are limited
 * (256 KiB per state input or output), so states pass references (S3 keys, names), never
 * repository contents: the plan's items are endpoint names only, so that a push that changes
 * 2,000 endpoints still fits, and each endpoint's work is read from its release document in S3.
 */

/** Where a push came from, normalised from a CodeCommit event or a GitHub webhook. */
export interface Push {
  readonly source: 'codecommit' | 'github';
  /** CodeCommit repository name, or GitHub `owner/name`. */
  readonly repository: string;
  readonly branch: string;
  /** The pushed commit: the workflow reads the repository at this commit, never at the branch head. */
  readonly commit: string;
  /** The branch head before the push, when the source says so. */
  readonly previousCommit?: string;
  /** Who pushed (IAM ARN on CodeCommit, login on GitHub). */
  readonly pushedBy: string;
  /** When the source saw the push (ISO 8601). Orders pushes: the newer push wins an endpoint's lease. */
  readonly pushedAt: string;
  /** The source's delivery id (EventBridge event id, GitHub delivery GUID), for the ledger. */
  readonly deliveryId: string;
}

/**
 * A re-deployment of an endpoint's desired commit, recorded with who asked. `retry` (or absent): a
 * deliberate `ballast retry`, which lifts the quarantine of the content. `heal`: the reconciler
 * found the live endpoint drifted from that content; a heal lifts no quarantine, takes no lease
 * another execution holds, and heals what `paths` name on an endpoint that runs the release's
 * configuration already (lambdas/sources/heal.ts).
 */
export interface Retry {
  readonly endpoint: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly reason?: string;
  readonly kind?: 'retry' | 'heal';
  /** For a heal: the drift report's JSON pointers (`/target/sagemaker/instanceCount`, ...). */
  readonly paths?: readonly string[];
}

/** Output of Resolve. */
export interface Resolved {
  readonly push: Push;
  /** The environment the branch maps to in ballast.yaml at this commit, when it maps to one. */
  readonly environment?: string;
  /** Why the push needs no deployment (branch not watched, environment in another account, a heal a push overtook). */
  readonly ignored?: string;
  /** S3 key of the commit's snapshot (the Ballast files at the commit), when not ignored. */
  readonly snapshotKey?: string;
  /** Set when the execution is a `ballast retry` or a heal, not a push; null otherwise (the ASL always passes it on). */
  readonly retry?: Retry | null;
}

/** An endpoint the commit changes, as the plan document lists it. */
export interface PlannedEndpoint {
  readonly name: string;
  readonly target: 'sagemaker' | 'eks';
  readonly digest: string;
  /** What differs from the previous commit: `initial`, `endpoint`, `model:NAME`, `prompt:NAME`, `config:NAME`. */
  readonly changes: readonly string[];
}

export interface PlanIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** Output of Validate: small enough for any repository, the details are in the plan document. */
export interface Plan {
  readonly valid: boolean;
  /** The first issues, for the ledger and the commit comment; the full list is in S3. */
  readonly issues?: readonly PlanIssue[];
  readonly issueCount?: number;
  /**
   * The endpoints to roll out, by name: the items of the workflow's Map. Once the Map has run, the
   * same field holds the endpoints' results ({@link EndpointResult}): they replace the names, since
   * both side by side would not fit one 256 KiB state payload for 2,000 endpoints.
   */
  readonly items: readonly string[];
  /** S3 key of the {@link PlanDocument}. */
  readonly planKey?: string;
  readonly counts: { readonly changed: number; readonly unchanged: number; readonly deferred: number };
}

/** The full plan of one push for one environment, stored next to the commit's snapshot. */
export interface PlanDocument {
  readonly commit: string;
  readonly environment: string;
  /** The commit the plan compared with (the environment's previous head), if any. */
  readonly comparedWith?: string;
  readonly endpoints: readonly PlannedEndpoint[];
  /** Endpoints whose effective content is the same as at the compared commit. */
  readonly unchanged: readonly string[];
  /** Endpoints on targets this deploy workflow does not roll out yet (EKS), with the reason. */
  readonly deferred: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
  /** Endpoints the compared commit declared and this one does not (reported; never deleted here). */
  readonly removed: readonly string[];
}

/** Where a resource (or one of its fields) is declared: `file:line:column` for error messages. */
export interface Declared {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * What one commit deploys to one endpoint: everything the per-endpoint steps need, resolved and
 * validated once by Validate and stored write-once at `commits/<commit>/<env>/<execution>/<name>.json`.
 * The steps after Validate read this document instead of the snapshot, so none of them parses YAML
 * or validates a repository (their memory and bundle stay small, whatever the repository's size).
 */
export interface Release {
  readonly commit: string;
  readonly name: string;
  readonly environment: Environment;
  readonly digest: string;
  readonly changes: readonly string[];
  /** Digest per component (`endpoint`, `model:NAME`, `prompt:NAME`, `config:NAME`). */
  readonly components: Readonly<Record<string, string>>;
  readonly target: ResolvedTarget;
  readonly rollout: RolloutSpec;
  readonly alarms: readonly string[];
  readonly declaredAt: Declared;
  readonly model: {
    readonly name: string;
    readonly spec: ModelSpec;
    readonly declaredAt: Declared;
    /** Where `spec.artifact` is declared: artifact errors point here. */
    readonly artifactAt: Declared;
    /** The artifact as Register pins it: every file, with a manifest already read and checked. */
    readonly artifact: ReleaseArtifact;
    /** The secrets the container gets, resolved to their ARNs (never their values). */
    readonly secrets: readonly ReleaseSecret[];
  };
  readonly prompts: ReadonlyArray<{ readonly name: string; readonly spec: PromptSpec; readonly declaredAt: Declared }>;
  readonly configs: ReadonlyArray<{ readonly name: string; readonly spec: ConfigSpec; readonly declaredAt: Declared }>;
  /** ballast.yaml's writeBack, when enabled: how a rollback of this release is written back to Git. */
  readonly writeBack?: { readonly mode?: 'revert-commit' | 'pull-request' };
}

/**
 * A release as the plan makes it, from the repository alone: what Validate's remote checks
 * (lambdas/workflow/preflight.ts: a manifest read from S3, each secret looked up) complete into a
 * {@link Release}. Carries where the artifact's files and the secrets are declared, for their errors.
 */
export type PlannedRelease = Omit<Release, 'model'> & {
  readonly model: Omit<Release['model'], 'artifact' | 'secrets'> & {
    readonly declarations: {
      /** Per inline file of a directory artifact, where it is declared. */
      readonly files: readonly Declared[];
      readonly manifest?: Declared;
      /** Per secret the Model names (`spec.secrets.NAME`). */
      readonly secrets: Readonly<Record<string, Declared>>;
    };
  };
};

/** One file Register verifies and pins. */
export interface ReleaseFile {
  /** Relative path in the model directory (for an archive, its file name). */
  readonly path: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  /** Where the file is declared, when inline in the Model (a manifest's files are named by index). */
  readonly at?: Declared;
}

/**
 * A Model's artifact, resolved by Validate: (a) one gzip-compressed tar archive, SageMaker's
 * ModelDataUrl form; (b) an uncompressed directory under a prefix, SageMaker's
 * ModelDataSource.S3DataSource (S3Prefix, CompressionType None) form, with every file pinned.
 */
export type ReleaseArtifact =
  | {
      readonly form: 'archive';
      readonly uri: string;
      readonly source: { readonly bucket: string; readonly key: string };
      readonly file: ReleaseFile;
    }
  | {
      readonly form: 'directory';
      /** The source prefix, `s3://bucket/prefix/`. */
      readonly uri: string;
      readonly source: { readonly bucket: string; readonly prefix: string };
      /** sha256 of the canonical file list: names the pinned directory (artifacts/directories/<digest>/). */
      readonly digest: string;
      readonly files: readonly ReleaseFile[];
      /** Set when the files come from a manifest file in S3 (which Validate read and checked). */
      readonly manifest?: { readonly uri: string; readonly sha256: string };
    };

/** A secret a Model declares, as the container receives it. */
export interface ReleaseSecret {
  /** The variable the Model names (`HF_TOKEN`). */
  readonly name: string;
  /** The variable the container gets: `HF_TOKEN_SECRET_ARN` (reference) or `HF_TOKEN` (environment). */
  readonly env: string;
  readonly secretArn: string;
  readonly delivery: 'reference' | 'environment';
  readonly at: Declared;
}

/** Input of every per-endpoint state (the Map's item selector builds it). */
export interface EndpointWork {
  readonly push: Push;
  readonly environment: string;
  /** The endpoint's name; its release document is at keys.release(commit, environment, execution, endpoint). */
  readonly endpoint: string;
  /** The parent Step Functions execution's name: the lease holder's identity. */
  readonly execution: string;
  readonly retry?: Retry;
}

export interface Lease {
  readonly acquired: boolean;
  /** Why not: a newer push holds or held the endpoint, the content is already live, or it is quarantined. */
  readonly reason?: 'superseded' | 'already-live' | 'quarantined';
  readonly digest: string;
  /** The release, when small enough to travel with the lease (the steps after Lease then read none). */
  readonly release?: Release;
}

/** What Register (the first half) hands to the files Map: the batches to verify, by index. */
export interface FilePlan {
  /** One item per batch of files (their indexes in {@link ReleaseArtifact}); see lambdas/registry/batches.ts. */
  readonly batches: readonly number[];
  readonly files: number;
  readonly bytes: number;
}

/** Where the pinned model data is, in the form SageMaker takes it. */
export type PinnedModel =
  | { readonly form: 'archive'; readonly modelDataUrl: string }
  | { readonly form: 'directory'; readonly s3Prefix: string };

export interface Registration {
  /** S3 key of the version pointer written for (environment, endpoint, commit). */
  readonly pointerKey: string;
  /** The pinned, content-addressed copies Deploy hands to SageMaker (`s3://` URIs). */
  readonly pinned: {
    readonly model: PinnedModel;
    readonly prompts: Readonly<Record<string, string>>;
    readonly configs: Readonly<Record<string, string>>;
  };
}

export interface Rollout {
  /** `started` a deployment; `waiting` for another rollout to finish first; `live` already runs it. */
  readonly status: 'started' | 'waiting' | 'live';
  /**
   * CreateEndpoint (the first deployment), UpdateEndpoint (a blue/green rollout), or
   * UpdateEndpointWeightsAndCapacities (a heal of the live configuration's counts or weights).
   */
  readonly operation: 'create' | 'update' | 'weights';
  readonly endpointName: string;
  readonly endpointConfigName: string;
  readonly previousEndpointConfigName?: string;
  readonly startedAt: string;
  /**
   * The endpoint's rollout and rollback alarms, carried along so that the polling step
   * (CheckRollout) need not read the release document again on every wake-up.
   */
  readonly plan: { readonly rollout: RolloutSpec; readonly alarms: readonly string[] };
  /** Seconds the Wait state sleeps before the next check: sized from the rollout's known phases. */
  readonly nextCheckSeconds: number;
  readonly checks: number;
  /** Set by CheckRollout once the rollout has settled: what the endpoint really runs. */
  readonly verification?: Verification;
  /** Progress while the rollout runs (for narration): share of traffic on the new fleet, phase. */
  readonly trafficToNew?: number;
  readonly phase?: string;
}

export type Outcome =
  | 'deployed'
  | 'rolled-back'
  | 'failed'
  | 'superseded'
  | 'rejected'
  | 'unchanged'
  | 'quarantined'
  | 'deferred'
  /** The reconciler found the live endpoint differing from Git (lambdas/state/drift.ts). */
  | 'drifted'
  /** The endpoint's declaration was removed from Git; the endpoint keeps running (prune off). */
  | 'removed'
  /** The endpoint's declaration was removed and ballast.yaml says prune: the reconciler deleted it. */
  | 'pruned';

export interface Verification {
  /**
   * `replaced`: another update of the endpoint took over before this rollout settled (a newer push
   * when this execution lost its lease, else someone else's UpdateEndpoint).
   */
  readonly outcome: 'deployed' | 'rolled-back' | 'failed' | 'replaced';
  readonly reason?: string;
  readonly liveEndpointConfigName?: string;
}

/**
 * What a per-endpoint iteration returns to the Map: the name and the outcome only (the reason is in
 * the ledger), so that the results of 2,000 endpoints fit one state payload with the plan's names.
 */
export interface EndpointResult {
  readonly endpoint: string;
  readonly outcome: Outcome | 'unrecorded';
  /** Set for `unrecorded`: the error Record failed with (its name). */
  readonly error?: string;
}
