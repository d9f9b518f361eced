/**
 * The layout of Ballast's system-of-record bucket. Every key is derived here so that handlers,
 * the CLI and the IAM grants in lib/ agree on one layout.
 *
 *   artifacts/sha256/<hex>                         immutable content-addressed blobs (prompts, configs)
 *   artifacts/sha256/<hex>.tar.gz                  a model archive, content-addressed, with the suffix SageMaker requires
 *   artifacts/directories/<digest>/<path>          a model directory: exactly the files its manifest pins (digest of the manifest)
 *   artifacts/index/<hex>.json                     where a verified copy of a directory file with that sha256 lives
 *   commits/<commit>/snapshot.json                 the Ballast files of a commit, as Resolve read them
 *   commits/<commit>/validation-<environment>.json the full validation report
 *   commits/<commit>/<env>/<execution>/plan.json   an execution's plan: changed, unchanged, deferred, removed endpoints
 *   commits/<commit>/<env>/<execution>/<name>.json a release: what the execution deploys to one endpoint (write-once)
 *   environments/<env>/head.json                   the newest commit planned for the environment and its digests
 *   environments/<env>/seen.json                   the newest push Validate saw for the environment (valid or not)
 *   pointers/<env>/<endpoint>/<commit>.json        version pointer: commit -> artifact digests (write-once)
 *   state/<env>/<endpoint>.json                    desired / live / last good / quarantined, and the lease
 *   ledger/<env>/<endpoint>/<time>--<commit>--<execution>.json   one entry per outcome (write-once)
 *   ledger/<env>/_repository/...                   commits rejected before any endpoint was touched
 *   deliveries/<source>/<id>.json                  webhook deliveries seen (replay protection)
 *   alarms/<alarm>/<env>/<endpoint>.json           an endpoint whose live version declares this rollback alarm (the rollback workflow's lookup)
 *   wake/<endpointName>.json                       the task tokens of the executions waiting for a SageMaker endpoint
 *   reconcile/status.json                          the reconciler's runs per environment, when each is due next, branch heads pending
 *   reconcile/runs/<run>/batch-<n>.json            a run's batches of endpoints, when too many to carry (expire after a day)
 */
export const REPOSITORY_LEDGER = '_repository';

export const keys = {
  artifact: (sha256: string) => `artifacts/sha256/${sha256}`,
  archive: (sha256: string) => `artifacts/sha256/${sha256}.tar.gz`,
  directory: (digest: string) => `artifacts/directories/${digest}/`,
  directoryFile: (digest: string, path: string) => `artifacts/directories/${digest}/${path}`,
  fileIndex: (sha256: string) => `artifacts/index/${sha256}.json`,
  snapshot: (commit: string) => `commits/${commit}/snapshot.json`,
  validation: (commit: string, environment: string) => `commits/${commit}/validation-${environment}.json`,
  pointer: (environment: string, endpoint: string, commit: string) =>
    `pointers/${environment}/${endpoint}/${commit}.json`,
  // Per execution: what changed depends on the environment's head when the execution planned, so a
  // re-delivered push (same commit, later) has its own plan and releases.
  plan: (commit: string, environment: string, execution: string) =>
    `commits/${commit}/${environment}/${execution}/plan.json`,
  release: (commit: string, environment: string, execution: string, endpoint: string) =>
    `commits/${commit}/${environment}/${execution}/${endpoint}.json`,
  head: (environment: string) => `environments/${environment}/head.json`,
  seen: (environment: string) => `environments/${environment}/seen.json`,
  environmentsPrefix: 'environments/',
  reconcileStatus: 'reconcile/status.json',
  reconcileBatch: (run: string, index: number) => `reconcile/runs/${run}/batch-${String(index).padStart(4, '0')}.json`,
  state: (environment: string, endpoint: string) => `state/${environment}/${endpoint}.json`,
  statePrefix: (environment?: string) => (environment ? `state/${environment}/` : 'state/'),
  ledgerPrefix: (environment: string, endpoint: string) => `ledger/${environment}/${endpoint}/`,
  // Alarm names may hold any printable character, `/` included: encoded, one key segment each.
  alarmPrefix: (alarm: string) => `alarms/${encodeURIComponent(alarm)}/`,
  alarmEndpoint: (alarm: string, environment: string, endpoint: string) =>
    `alarms/${encodeURIComponent(alarm)}/${environment}/${endpoint}.json`,
  ledgerEntry: (environment: string, endpoint: string, at: string, commit: string, execution: string) =>
    `ledger/${environment}/${endpoint}/${at.replace(/[:.]/g, '-')}--${commit.slice(0, 12)}--${execution}.json`,
  // By SageMaker endpoint name (unique in the account and region, like the bucket): what SageMaker's
  // events name, so Wake finds the waiting executions with one GetObject.
  wake: (endpointName: string) => `wake/${endpointName}.json`,
} as const;
