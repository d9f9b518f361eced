// `npm start` is `ballast demo`: the acceptance check that it runs the whole flow, tells it, exits 0
// and leaves nothing running.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { exited, spawnBallast } from '../support/cli.ts';

describe('ballast demo', { timeout: 180_000 }, () => {
  let out = '';
  let code: number | null = null;
  let signal: NodeJS.Signals | null = null;
  let stderr = '';
  let exitCode: number | null = null;

  before(async () => {
    const run = spawnBallast(['demo']);
    ({ code, signal } = await exited(run.child));
    out = run.stdout();
    stderr = run.stderr();
    exitCode = run.child.exitCode;
  });

  /** The commit step 4 pushed, whose content SageMaker rolled back and Ballast quarantined. */
  const rolledBack = () => {
    const commit = /4\)[\s\S]*?state of prod\/summarizer: desired ([0-9a-f]{7}),.*quarantined ([0-9a-f]{7})/.exec(out);
    assert.ok(commit, 'step 4 shows the state with a quarantined commit');
    assert.equal(commit[1], commit[2], 'the desired commit is the quarantined one');
    return commit[1] ?? '';
  };
  /** The commit step 6 pushed, which went live and was rolled back by the rollback workflow. */
  const wentLive = () => {
    const commit = /6\)[\s\S]*?commit ([0-9a-f]{7}): succeeded[^\n]*\n +summarizer: deployed/.exec(out)?.[1];
    assert.ok(commit, 'step 6 deploys the model that fails under load');
    return commit;
  };

  it('exits 0 on its own', () => {
    assert.equal(signal, null);
    assert.equal(code, 0, stderr);
    assert.equal(exitCode, 0, 'the process ended on its own: no server or timer kept it alive');
  });

  it('deploys the summarizer first', () => {
    assert.match(out, /1\) First deployment[\s\S]*?summarizer: deployed/);
  });

  it('says the EKS endpoint of the first push is deferred', () => {
    assert.match(out, /1\) First deployment[\s\S]*?embeddings: deferred \(EKS targets/);
  });

  it('serves the assistant LLM from its pinned directory', () => {
    assert.match(
      out,
      /ballast-prod-assistant: ModelDataSource S3Prefix s3:\/\/ballast-state\/artifacts\/directories\/[0-9a-f]{64}\//,
    );
  });

  it("passes the summarizer's token by reference, never its value", () => {
    assert.match(
      out,
      /HF_TOKEN_SECRET_ARN=arn:aws:secretsmanager:[^:]+:\d{12}:secret:acme-ml\/huggingface-token-\w{6} /,
    );
    // The value the sandbox seeded (sandbox/example-world.ts) appears nowhere in what the demo prints.
    assert.doesNotMatch(out, /sandbox-secret-/);
  });

  it('shows the canary serving one instance of two', () => {
    assert.match(out, /Baking +new fleet serving 1 instance\(s\), old 2 -> ~33% of traffic on the new version/);
  });

  it('rejects the bad config with file:line', () => {
    assert.match(
      out,
      /3\) A commit with a bad config[\s\S]*?endpoints\/summarizer\.yaml:\d+:\d+: canary\.percent is 80/,
    );
  });

  it("shows RecordPush's answer to the rejected push", () => {
    assert.match(out, /3\) [\s\S]*?the push's answer: rejected \(1 validation error\(s\)\)/);
  });

  it("shows RecordPush's answer to the revert: unchanged", () => {
    assert.match(
      out,
      /its revert puts back what is live[^\n]*\n.*\n {3}the push's answer: unchanged \(no endpoint to roll out: 3 endpoint\(s\) unchanged\)/,
    );
  });

  it("shows RecordPush's answer to an EKS-only change: deferred, with the reason", () => {
    assert.match(
      out,
      /the push's answer: deferred \(no endpoint to roll out: 2 endpoint\(s\) unchanged, 1 deferred\)\n +embeddings: deferred — EKS targets/,
    );
  });

  it('rolls the broken canary back when its alarm fires from the failing requests', () => {
    assert.match(out, /4\) Traffic: the endpoint serves 60 requests a minute/);
    assert.match(
      out,
      /summarizer: rolled-back \(SageMaker rolled back to ballast-prod-summarizer-[0-9a-f]{12}: summarizer-5xx went into ALARM during the rollout/,
    );
  });

  it('quarantines the rolled-back commit', () => {
    assert.match(out, /quarantined [0-9a-f]{7}/);
  });

  it('shows `ballast status` saying held back', () => {
    assert.match(out, new RegExp(`5\\)[\\s\\S]*?prod +summarizer +held back +${rolledBack()} `));
  });

  it('shows the quarantine reason in `ballast status`', () => {
    assert.match(
      out,
      new RegExp(
        `Held back \\(the desired content is quarantined\\):\\n +prod/summarizer ${rolledBack()} \\(content [0-9a-f]{12}\\), quarantined at ${rolledBack()} [^\\n]*Z: SageMaker rolled back to ballast-prod-summarizer-[0-9a-f]{12}: summarizer-5xx went into ALARM`,
      ),
    );
  });

  it('rolls a version that fails under load after its rollout back with the rollback workflow', () => {
    assert.match(
      out,
      /summarizer-5xx went to ALARM: the rollback workflow ran \(Triage -> Apply -> CheckRollback -> Restore -> WriteBack -> Finish\)/,
    );
    assert.match(
      out,
      new RegExp(`${wentLive()}: rolled-back \\(alarm summarizer-5xx went into ALARM after the rollout`),
    );
    assert.match(
      out,
      new RegExp(
        `quarantined ${wentLive()}'s content; UpdateEndpoint back to ballast-prod-summarizer-[0-9a-f]{12}, all at once`,
      ),
    );
  });

  it('writes the rollback back to Git, and its push deploys nothing', () => {
    const revert =
      /written back to Git \(writeBack: revert-commit\): commit ([0-9a-f]{7}) on main, "Roll back prod\/summarizer to [0-9a-f]{12} \(summarizer-5xx\)"/.exec(
        out,
      )?.[1];
    assert.ok(revert, 'a revert commit is written');
    assert.match(
      out,
      new RegExp(
        `commit ${revert}: succeeded \\(Resolve -> Validate -> Lease -> RecordSkipped -> RecordPush\\)\\n +summarizer: unchanged \\(this content is live already`,
      ),
    );
    assert.match(
      out,
      new RegExp(`prod +summarizer +in sync +${revert} `),
      '`ballast status` is in sync on the revert commit',
    );
  });

  it('shows the reconciler leaving an ignored field alone: `ballast diff` says why', () => {
    assert.match(
      out,
      /7\) The reconciler[\s\S]*prod\/summarizer \(ballast-prod-summarizer\): in sync\n {7}\/target\/sagemaker\/instanceCount {2}2 -> 3 {2}ignored: ballast\.yaml drift\.ignore/,
    );
  });

  it('shows the hand-made configuration as drift, field by field, before and when the reconciler finds it', () => {
    assert.match(
      out,
      /drift: would heal \(attempt 1 of 3\)\n {7}\/target\/sagemaker\/endpointConfigName .*-> summarizer-bigger-by-hand\n {7}\/target\/sagemaker\/instanceType +ml\.g5\.2xlarge -> ml\.g5\.12xlarge/,
    );
    assert.match(
      out,
      /the reconciler found it \(ledger: drifted\), field by field:\n {5}\/target\/sagemaker\/endpointConfigName/,
    );
  });

  it('heals it through the deploy workflow, and the history says so', () => {
    assert.match(
      out,
      /healed it through the deploy workflow \(heal-prod-summarizer-[0-9a-f]{12}-1: Resolve -> [^)]*Deploy[^)]*Record/,
    );
    assert.match(out, /the endpoint runs ballast-prod-summarizer-[0-9a-f]{12} again/);
    // Both at the reconcile's instant: the ledger orders the entries of one instant by commit.
    const history = out.slice(out.indexOf('History of prod/summarizer'));
    assert.match(history, /\n {3}\d\d:\d\d {2}[0-9a-f]{7} {2}drifted [^\n]*instanceType[^\n]*healing\)\n/);
    assert.match(history, /\n {3}\d\d:\d\d {2}[0-9a-f]{7} {2}deployed [^\n]*\(heal, started by ballast reconcile\)\n/);
  });

  it("shows the rollback and the revert commit's entry in the history", () => {
    assert.match(
      out,
      new RegExp(
        `History of prod/summarizer[\\s\\S]*\\n {3}\\d\\d:\\d\\d  ${wentLive()}  rolled-back [^\\n]*alarm summarizer-5xx[^\\n]*\\n {3}\\d\\d:\\d\\d  [0-9a-f]{7}  unchanged `,
      ),
    );
  });
});
