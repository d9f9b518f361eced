// What every command's usage tests check, shared by test/bin/*.test.ts.
import assert from 'node:assert/strict';
import { main } from '../../bin/cli.ts';
import { captureIo } from '../support/cli.ts';

/**
 * Runs `ballast COMMAND ARGS` in-process for each case: exit 2, the case's message and the
 * command's usage text on stderr, nothing on stdout.
 */
export async function assertUsageErrors(
  command: string,
  cases: ReadonlyArray<readonly [readonly string[], RegExp]>,
): Promise<void> {
  assert.ok(cases.length > 0);
  for (const [args, message] of cases) {
    const io = captureIo();
    const what = args.join(' ');
    assert.equal(await main([command, ...args], io), 2, what);
    assert.match(io.err(), message, what);
    assert.match(io.err(), new RegExp(`Usage: ballast ${command} ENDPOINT`), what);
    assert.equal(io.out(), '', what);
  }
}

/**
 * The argument errors `ballast retry` and `ballast rollback` share (bin/commands/workflow-request.ts),
 * none of which may reach `url`.
 */
export function requestUsageCases(url: string): Array<[string[], RegExp]> {
  return [
    [['--endpoint-url', url], /which endpoint\? \(ENDPOINT is required\)/],
    [['a', 'b', '--endpoint-url', url], /expected one ENDPOINT, got a b/],
    [['no_such/name', '--endpoint-url', url], /'no_such\/name' is not an endpoint name/],
    [['e', '--environment', 'a b', '--endpoint-url', url], /--environment 'a b' is not an environment name/],
    [['e', '--timeout', '60', '--endpoint-url', url], /--timeout only applies with --wait/],
    [
      ['e', '--wait', '--timeout', '0', '--endpoint-url', url],
      /--timeout must be a whole number of seconds from 1 to 86400/,
    ],
    [['e', '--reason', ' ', '--endpoint-url', url], /--reason must be 1 to 1024 characters/],
    [['e', '--requested-by', '', '--endpoint-url', url], /--requested-by must be 1 to 256 characters/],
    [['e'], /say where Ballast keeps its state/],
    [['e', '--endpoint-url', url, '--force'], /unknown option '--force'/],
  ];
}
