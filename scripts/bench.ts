/**
 * `npm run bench`: what Ballast costs, in numbers. Reports; it never fails on a slow machine, only
 * when a scenario does not deploy at all.
 *
 *   npm run bench                           every section, console tables then Markdown
 *   npm run bench -- --format=markdown      only the Markdown (to paste into the README)
 *   npm run bench -- --only=strategies      a section: bundles, strategies, fleet, register, rollback, reconcile
 *   npm run bench -- --fleet=10,100,1000    fleet sizes (default 1,10,100)
 *   npm run bench -- --reconcile=10,100     the reconciler's fleet sizes (default 10,100,1000)
 *
 * Sections are independent: each returns BenchTable[] (scripts/bench-table.ts) and main() prints
 * them all, so further sections (bundle sizes) chain in below the workflow's.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchBundles, bundleTable } from './bench-bundles.ts';
import { benchReconcile } from './bench-reconcile.ts';
import { benchRegister, registerTables } from './bench-register.ts';
import { benchRollback, rollbackTables } from './bench-rollback.ts';
import { type BenchTable, consoleTable, markdownTable } from './bench-table.ts';
import { benchWorkflow } from './bench-workflow.ts';

const SECTIONS = ['bundles', 'strategies', 'fleet', 'register', 'rollback', 'reconcile'] as const;
type Section = (typeof SECTIONS)[number];

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<BenchTable[]> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      format: { type: 'string', default: 'both' },
      only: { type: 'string' },
      fleet: { type: 'string', default: '1,10,100' },
      reconcile: { type: 'string', default: '10,100,1000' },
    },
  });
  const format = values.format;
  if (format !== 'both' && format !== 'console' && format !== 'markdown') {
    throw new Error(`--format takes console, markdown or both, not ${format}`);
  }
  const only = values.only?.split(',').map((s) => s.trim()) ?? [...SECTIONS];
  for (const s of only) if (!SECTIONS.includes(s as Section)) throw new Error(`--only takes ${SECTIONS.join(', ')}`);
  const sizes = (option: string, text: string) => {
    const list = text.split(',').map((n) => Number(n.trim()));
    if (list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${option} takes positive integers`);
    return list;
  };
  const fleetSizes = sizes('fleet', values.fleet);
  const reconcileSizes = sizes('reconcile', values.reconcile);

  const tables: BenchTable[] = [];

  // --- Workflow: the deploy workflow on the sandbox (scripts/bench-workflow.ts) ---
  const workflowSections = only.filter((s) => s === 'strategies' || s === 'fleet');
  if (workflowSections.length > 0) {
    const workflow = await benchWorkflow({ sections: workflowSections, fleetSizes });
    tables.push(...workflow.tables);
  }

  // --- Register: pinning a 30-file model directory (scripts/bench-register.ts) ---
  if (only.includes('register')) tables.push(...registerTables(await benchRegister()));

  // --- Rollback: an alarm after the rollout, to the previous version (scripts/bench-rollback.ts) ---
  if (only.includes('rollback')) tables.push(...rollbackTables(await benchRollback()));

  // --- Reconcile: one run over N endpoints, its idle cost, a lost push (scripts/bench-reconcile.ts) ---
  if (only.includes('reconcile')) tables.push(...(await benchReconcile({ sizes: reconcileSizes })).tables);

  // --- Further sections chain in here, each pushing its BenchTable[] ---
  if (only.includes('bundles')) {
    // Every handler bundled with the stack's own esbuild settings (scripts/bench-bundles.ts).
    const figures = await benchBundles();
    console.log(`\nHandler bundles (the stack's esbuild settings; load = median of fresh Node processes)`);
    console.log(bundleTable(figures));
  }

  if (format !== 'markdown') console.log(`\n${tables.map(consoleTable).join('\n\n')}`);
  if (format !== 'console') console.log(`\n${tables.map(markdownTable).join('\n\n')}`);
  return tables;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
