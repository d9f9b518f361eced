// `ballast validate`, run in-process through the CLI entry with a capturing io.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../bin/cli.ts';
import { captureIo } from '../support/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const capture = (cwd = ROOT) => captureIo({ cwd });

describe('ballast validate', () => {
  let scratch = '';
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ballast-cli-'));
    await writeFile(join(scratch, 'not-a-dir.yaml'), 'a: 1\n');
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('exits 0 on the example and says what it holds', async () => {
    const io = capture();
    assert.equal(await main(['validate', 'examples/model-repo'], io), 0);
    assert.equal(io.out(), '✓ examples/model-repo is valid: 3 models, 3 endpoints, 1 prompt, 1 config\n');
    assert.equal(io.err(), '');
  });

  it('defaults DIR to the current directory', async () => {
    const io = capture(join(ROOT, 'examples', 'model-repo'));
    assert.equal(await main(['validate'], io), 0);
    assert.equal(io.out(), '✓ . is valid: 3 models, 3 endpoints, 1 prompt, 1 config\n');
  });

  it('exits 1 with one line per issue, paths relative to where it runs, and a summary', async () => {
    const io = capture();
    assert.equal(await main(['validate', 'test/fixtures/spec/environments'], io), 1);
    const lines = io.out().trimEnd().split('\n');
    assert.equal(lines.length, 9);
    assert.equal(
      lines[0],
      'test/fixtures/spec/environments/ballast.yaml:9:16: error: account is the number 111122223333 (at $.spec.environments[0].account); expected: a 12-digit AWS account ID in quotes, e.g. "111122223333"',
    );
    assert.equal(
      lines[4],
      "test/fixtures/spec/environments/ballast.yaml:14:15: error: region 'us-east-one' is not valid (at $.spec.environments[1].region); expected: an AWS region such as us-east-1 or eu-west-2",
    );
    assert.equal(lines[8], '8 errors, 0 warnings in 1 file');
  });

  it('prints repository-level issues against the directory', async () => {
    const io = capture();
    assert.equal(await main(['validate', 'test/fixtures/spec/no-repository'], io), 1);
    const [first] = io.out().split('\n');
    assert.match(first ?? '', /^test\/fixtures\/spec\/no-repository: error: no ballast\.yaml: /);
  });

  it('--json prints { valid, issues, summary }', async () => {
    const io = capture();
    assert.equal(await main(['validate', '--json', 'test/fixtures/spec/alarms'], io), 1);
    const output = JSON.parse(io.out()) as {
      valid: boolean;
      issues: Array<Record<string, unknown>>;
      summary: Record<string, unknown>;
    };
    assert.equal(output.valid, false);
    assert.deepEqual(output.summary, { directory: 'test/fixtures/spec/alarms', errors: 4, warnings: 2, files: 3 });
    assert.deepEqual(output.issues[0], {
      severity: 'error',
      file: 'ballast.yaml',
      line: 20,
      column: 23,
      path: '$.spec.defaults.rollout.timeoutSeconds',
      message:
        "timeoutSeconds 600 is not longer than the rollout's waits (bakeSeconds after the canary + bakeSeconds after the full shift = 1800)",
      code: 'rollout-timeout',
      expected:
        'more than 1800 seconds (SageMaker requires the timeout to exceed the wait interval plus the termination wait)',
    });

    const valid = capture();
    assert.equal(await main(['validate', 'examples/model-repo', '--json'], valid), 0);
    assert.deepEqual(JSON.parse(valid.out()), {
      valid: true,
      issues: [],
      summary: {
        directory: 'examples/model-repo',
        errors: 0,
        warnings: 0,
        files: 9,
        resources: { models: 3, endpoints: 3, prompts: 1, configs: 1 },
      },
    });
  });

  it('exits 2 on usage and I/O errors', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['validate', join(scratch, 'missing')], /missing: no such directory/],
      [['validate', join(scratch, 'not-a-dir.yaml')], /not-a-dir\.yaml: not a directory/],
      [['validate', '--bogus'], /unknown option '--bogus'/],
      [['validate', 'a', 'b'], /expected at most one DIR, got 2: a b/],
    ];
    for (const [args, message] of cases) {
      const io = capture();
      assert.equal(await main(args, io), 2, args.join(' '));
      assert.match(io.err(), message);
      assert.match(io.err(), /Usage: ballast validate \[DIR\] \[--json\]/);
      assert.equal(io.out(), '');
    }
  });

  it('--help prints the usage', async () => {
    const io = capture();
    assert.equal(await main(['validate', '--help'], io), 0);
    assert.match(io.out(), /^Usage: ballast validate \[DIR\] \[--json\]/);
    assert.match(io.out(), /Exit codes: 0 valid \(warnings allowed\), 1 invalid, 2 usage or I\/O error\./);
  });
});
