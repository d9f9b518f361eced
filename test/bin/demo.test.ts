// `npm start` is `ballast demo`: the acceptance check that it runs the whole flow, tells it, exits 0
// and leaves nothing running.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { exited, spawnBallast } from '../support/cli.ts';

it('narrates the first deploy, a canary, a rejected commit and an alarm rollback, then exits 0', {
  timeout: 180_000,
}, async () => {
  const run = spawnBallast(['demo']);
  const { code, signal } = await exited(run.child);
  const out = run.stdout();
  assert.equal(signal, null);
  assert.equal(code, 0, run.stderr());
  assert.match(out, /1\) First deployment[\s\S]*?summarizer: deployed/);
  assert.match(out, /Baking +new fleet serving 1 instance\(s\), old 10 -> ~9% of traffic on the new version/);
  assert.match(out, /3\) A commit with a bad config[\s\S]*?endpoints\/summarizer\.yaml:\d+:\d+: canary\.percent is 80/);
  assert.match(
    out,
    /summarizer: rolled-back \(SageMaker rolled back to ballast-prod-summarizer-[0-9a-f]{12}: summarizer-5xx went into ALARM/,
  );
  assert.match(out, /quarantined [0-9a-f]{7}/);
  assert.equal(run.child.exitCode, 0, 'the process ended on its own: no server or timer kept it alive');
});
