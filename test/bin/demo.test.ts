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
  /** The content digest `ballast retry` says it lifts the quarantine of. */
  const lifted = () => {
    const digest = /Retrying prod\/summarizer: lifts the quarantine of ([0-9a-f]{12}) /.exec(out)?.[1];
    assert.ok(digest, 'ballast retry names the quarantined content it lifts');
    return digest;
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

  it('rolls the prompt canary back when its alarm fires', () => {
    assert.match(
      out,
      /summarizer: rolled-back \(SageMaker rolled back to ballast-prod-summarizer-[0-9a-f]{12}: summarizer-5xx went into ALARM/,
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

  it('puts the alarm back to OK before the retry', () => {
    assert.match(out, /6\) The outage is over and summarizer-5xx is back to OK/);
  });

  it('runs `ballast retry` on the rolled-back commit, pushing no new one', () => {
    assert.match(
      out,
      new RegExp(
        `\\$ ballast retry summarizer --environment prod --endpoint-url <sandbox> --wait\\n +Retrying prod/summarizer: lifts the quarantine of [0-9a-f]{12} .* and deploys ${rolledBack()} again\\.`,
      ),
    );
  });

  it('deploys the same content again', () => {
    assert.match(out, new RegExp(`live again: ${rolledBack()}, the same content \\(${lifted()}\\) step 4 rolled back`));
  });

  it('shows `ballast status` saying in sync after the retry', () => {
    assert.match(out, new RegExp(`live again:[\\s\\S]*?prod +summarizer +in sync +${rolledBack()} +${rolledBack()} `));
  });

  it("records who asked for the retry in the retry's ledger entry", () => {
    assert.match(out, /retry asked for by \S+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
  });

  it('ends the history with the retry and who asked', () => {
    assert.match(
      out,
      new RegExp(
        `History of prod/summarizer[\\s\\S]*\\n {3}\\d\\d:\\d\\d  ${rolledBack()}  deployed .*\\(ballast retry, asked for by \\S+\\)\\n\\n`,
      ),
    );
  });
});
