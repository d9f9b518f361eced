import type { Rollout as RolloutSpec } from '../spec/schema.ts';

/**
 * The data the deploy workflow passes between its states. Step Functions payloads are limited
 * (256 KiB), so states pass references (S3 keys, digests), never repository contents.
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

/** Output of Resolve. */
export interface Resolved {
  readonly push: Push;
  /** The environment the branch maps to in ballast.yaml at this commit, when it maps to one. */
  readonly environment?: string;
  /** Why the push needs no deployment (branch not watched, environment in another account). */
  readonly ignored?: string;
  /** S3 key of the commit's snapshot (the Ballast files at the commit), when not ignored. */
  readonly snapshotKey?: string;
}

/** One endpoint whose effective spec changed and must be rolled out. */
export interface PlannedEndpoint {
  readonly name: string;
  readonly target: 'sagemaker' | 'eks';
  /** Digest of everything that affects the deployment (see lambdas/spec resolveEndpoints). */
  readonly digest: string;
  /** What differs from the live version: `initial`, `endpoint`, `model:NAME`, `prompt:NAME`, `config:NAME`. */
  readonly changes: readonly string[];
}

/** Output of Validate (the plan). */
export interface Plan {
  readonly valid: boolean;
  /** The first issues, for the ledger and the commit comment; the full list is in S3. */
  readonly issues?: ReadonlyArray<{ file: string; line: number; column: number; message: string }>;
  readonly issueCount?: number;
  readonly endpoints: readonly PlannedEndpoint[];
  /** Endpoints the commit does not change (same effective digest as what is live). */
  readonly unchanged: readonly string[];
  /** Endpoints on targets this deploy workflow does not roll out yet (EKS), with the reason. */
  readonly deferred?: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
}

/** Input of every per-endpoint state (the Map's item selector builds it). */
export interface EndpointWork {
  readonly push: Push;
  readonly environment: string;
  readonly snapshotKey: string;
  readonly endpoint: PlannedEndpoint;
  /** The Step Functions execution name: the lease holder's identity. */
  readonly execution: string;
}

export interface Lease {
  readonly acquired: boolean;
  /** Why not: a newer push holds or held the endpoint, the commit is already live, or it is quarantined. */
  readonly reason?: 'superseded' | 'already-live' | 'quarantined';
}

export interface Registration {
  /** S3 key of the version pointer written for (environment, endpoint, commit). */
  readonly pointerKey: string;
  readonly modelArtifactKey: string;
}

export interface Rollout {
  /** `started` a deployment; `waiting` for another rollout to finish first. */
  readonly status: 'started' | 'waiting';
  /** CreateEndpoint (the first deployment) or UpdateEndpoint (a blue/green rollout). */
  readonly operation: 'create' | 'update';
  readonly endpointName: string;
  readonly endpointConfigName: string;
  readonly previousEndpointConfigName?: string;
  readonly startedAt: string;
  /**
   * The endpoint's rollout and rollback alarms, carried along so that the polling steps
   * (CheckRollout, Verify) need not read and validate the commit's snapshot again on every wake-up.
   */
  readonly plan: { readonly rollout: RolloutSpec; readonly alarms: readonly string[] };
  /** Seconds the Wait state sleeps before the next check: sized from the rollout's known phases. */
  readonly nextCheckSeconds: number;
  readonly checks: number;
}

export interface RolloutCheck extends Rollout {
  readonly settled: boolean;
}

export type Outcome = 'deployed' | 'rolled-back' | 'failed' | 'superseded' | 'rejected' | 'unchanged';

export interface Verification {
  readonly outcome: Extract<Outcome, 'deployed' | 'rolled-back' | 'failed'>;
  readonly reason?: string;
  readonly liveEndpointConfigName?: string;
}
