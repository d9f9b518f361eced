/**
 * `npm run bench` (first part): what each handler costs at cold start. Every file in
 * lambdas/handlers/*.ts is bundled with the stack's own esbuild settings (`bundlingOptions()` from
 * lib/ballast-function.ts, translated flag for flag the way aws-lambda-nodejs passes them to
 * esbuild), then imported in fresh Node processes (this Node, i.e. 22) with a Lambda-like
 * environment, so the Tracer is on as it is on AWS. It reports the minified size, the module load
 * time and the RSS after loading (medians of 5 runs) and the packages that weigh most. It reports;
 * it never fails on a slow machine.
 *
 *   node --import tsx scripts/bench-bundles.ts [handler-name ...]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { bundlingOptions, projectPath } from '../lib/ballast-function.ts';

const run = promisify(execFile);
const RUNS = 5;
/** The budget the handlers are held to (a handler with one or two SDK clients). */
const GOAL = { kB: 250, loadMs: 60, clients: 2 };

/** The BundlingOptions keys this translation understands; anything else must be added here first. */
const TRANSLATED = new Set([
  'format',
  'target',
  'minify',
  'sourceMap',
  'sourceMapMode',
  'sourcesContent',
  'mainFields',
  'banner',
  'footer',
  'externalModules',
  'define',
  'loader',
  'keepNames',
  'inject',
  'metafile',
  'logLevel',
  // Only decide where esbuild runs (local here, as in the stack), not what it produces.
  'forceDockerBundling',
]);

/**
 * The esbuild options aws-lambda-nodejs derives from `bundling` (its buildEsbuildArgs: --bundle,
 * --platform=node, --target, --format, --minify, --sourcemap, --external, --main-fields, --banner:js…).
 */
export function esbuildOptionsFor(bundling: BundlingOptions, entry: string, outdir: string): BuildOptions {
  const unknown = Object.keys(bundling).filter((key) => !TRANSLATED.has(key));
  if (unknown.length > 0) throw new Error(`bench-bundles does not translate bundling option(s) ${unknown.join(', ')}`);
  const esm = bundling.format === 'esm';
  const sourcemap = bundling.sourceMapMode ?? bundling.sourceMap;
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: bundling.target ?? 'node22',
    ...(bundling.format ? { format: bundling.format } : {}),
    outfile: join(outdir, esm ? 'index.mjs' : 'index.js'),
    minify: bundling.minify ?? false,
    ...(sourcemap ? { sourcemap: sourcemap === true || sourcemap === 'default' ? true : sourcemap } : {}),
    ...(bundling.sourcesContent === false ? { sourcesContent: false } : {}),
    external: bundling.externalModules ?? ['@aws-sdk/*'],
    ...(bundling.loader ? { loader: bundling.loader as BuildOptions['loader'] } : {}),
    ...(bundling.define ? { define: bundling.define } : {}),
    ...(bundling.keepNames ? { keepNames: true } : {}),
    ...(bundling.banner ? { banner: { js: bundling.banner } } : {}),
    ...(bundling.footer ? { footer: { js: bundling.footer } } : {}),
    ...(bundling.mainFields ? { mainFields: bundling.mainFields } : {}),
    ...(bundling.inject ? { inject: bundling.inject } : {}),
    absWorkingDir: projectPath('.'),
    // The bench reads the metafile from memory; the shipped asset has none.
    metafile: true,
    logLevel: 'silent',
  };
}

export interface BundleFigures {
  readonly handler: string;
  readonly kB: number;
  readonly loadMs: number;
  readonly rssMB: number;
  /** The heaviest packages in the bundle (bytes of output), heaviest first. */
  readonly heaviest: ReadonlyArray<readonly [string, number]>;
  /** The AWS SDK clients in the bundle (`s3`, `sagemaker`, …): the goal is for one or two. */
  readonly clients: readonly string[];
}

/** What Lambda's environment tells the Powertools utilities at init (the Tracer is on there). */
function lambdaLikeEnv(handler: string, dir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: `ballast-bench-${handler}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: 'us-east-1',
    LAMBDA_TASK_ROOT: dir,
    POWERTOOLS_SERVICE_NAME: 'ballast',
  };
}

async function loadOnce(file: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; rss: number }> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(JSON.stringify({ ms: performance.now() - t, rss: process.memoryUsage.rss() }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env });
  const last = stdout.trim().split('\n').at(-1) ?? '{}';
  return JSON.parse(last) as { ms: number; rss: number };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match?.[1] ?? '(ballast)';
}

function packageBytes(metafile: Metafile): Map<string, number> {
  const bytes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(input);
      bytes.set(name, (bytes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return bytes;
}

function heaviestPackages(bytes: ReadonlyMap<string, number>): Array<[string, number]> {
  return [...bytes.entries()].sort(([, a], [, b]) => b - a).slice(0, 3);
}

/** `@aws-sdk/client-s3` → `s3`, for the clients whose code is in the bundle. */
function sdkClients(bytes: ReadonlyMap<string, number>): string[] {
  return [...bytes.entries()]
    .filter(([name, size]) => name.startsWith('@aws-sdk/client-') && size > 0)
    .map(([name]) => name.slice('@aws-sdk/client-'.length))
    .sort();
}

export async function benchHandler(entry: string, workdir: string): Promise<BundleFigures> {
  const handler = basename(entry, '.ts');
  const outdir = join(workdir, handler);
  const result = await build(esbuildOptionsFor(bundlingOptions(), entry, outdir));
  const file = join(outdir, 'index.mjs');
  const size = (await stat(file)).size;
  const bytes = result.metafile ? packageBytes(result.metafile) : new Map<string, number>();
  const env = lambdaLikeEnv(handler, outdir);
  const samples: Array<{ ms: number; rss: number }> = [];
  // Sequential on purpose: parallel processes on a shared machine would measure each other.
  for (let i = 0; i < RUNS; i++) samples.push(await loadOnce(file, env));
  return {
    handler,
    kB: size / 1000,
    loadMs: median(samples.map((s) => s.ms)),
    rssMB: median(samples.map((s) => s.rss)) / 1e6,
    heaviest: heaviestPackages(bytes),
    clients: sdkClients(bytes),
  };
}

/** Whether a handler meets the goal; the goal is set for handlers with at most two SDK clients. */
function withinGoal(f: BundleFigures): string {
  if (f.clients.length > GOAL.clients) return `n/a (${f.clients.length} clients)`;
  return f.kB <= GOAL.kB && f.loadMs <= GOAL.loadMs ? 'yes' : 'no';
}

export function bundleTable(figures: readonly BundleFigures[]): string {
  const rows = [
    ['handler', 'minified kB', 'load ms', 'RSS MB', 'SDK clients', 'within goal', 'heaviest packages (kB)'],
    ...figures.map((f) => [
      f.handler,
      f.kB.toFixed(0),
      f.loadMs.toFixed(0),
      f.rssMB.toFixed(0),
      f.clients.join(', ') || '-',
      withinGoal(f),
      f.heaviest.map(([name, bytes]) => `${name} ${(bytes / 1000).toFixed(0)}`).join(', '),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')).join('\n');
}

export async function benchBundles(only: readonly string[] = []): Promise<BundleFigures[]> {
  const dir = projectPath('lambdas/handlers');
  const files = (await readdir(dir))
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => only.length === 0 || only.includes(basename(f, '.ts')))
    .sort()
    .map((f) => join(dir, f));
  // A Lambda's entry exports `handler`; the shared modules beside them (runtime.ts) are not bundled alone.
  const entries: string[] = [];
  for (const file of files) if (/^export const handler\b/m.test(await readFile(file, 'utf8'))) entries.push(file);
  const workdir = await mkdtemp(join(tmpdir(), 'ballast-bench-bundles-'));
  try {
    const figures: BundleFigures[] = [];
    for (const entry of entries) figures.push(await benchHandler(entry, workdir));
    return figures;
  } finally {
    await rm(workdir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await benchBundles(process.argv.slice(2));
  console.log(
    `Handler bundles (the stack's esbuild settings; load = median of ${RUNS} fresh Node ${process.versions.node} processes; goal <= ${GOAL.kB} kB and <= ${GOAL.loadMs} ms with at most ${GOAL.clients} SDK clients)`,
  );
  console.log(bundleTable(figures));
}
