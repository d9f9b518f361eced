/**
 * What pinning a model directory costs: Register -> RegisterFiles (the files Map) -> Pin, for a
 * 30-file model, pushed through the local pipeline (the real deploy ASL, the real handlers, the
 * sandbox's S3). Three pushes, each measured from Register's start to Pin's end:
 *
 * - the first deployment: every file read once (GetObject, hashed) and copied once (CopyObject);
 * - a push that changes only the endpoint: the files are pinned already, one HEAD each;
 * - a push with one shard changed: that shard read and copied, the others copied server-side from
 *   the index of verified files (nothing re-hashed).
 *
 * The shards are small (the sandbox holds them in memory): the API calls are what a 140 GB model
 * costs too; the wall time is not. The batch plan for the real sizes is printed beside them.
 */
import { createHash } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { BatchResult } from '../lambdas/handlers/register-files.ts';
import { planBatches } from '../lambdas/registry/batches.ts';
import { EXAMPLE_REPO_DIR, readTree, sandboxClients, seedExampleAccount } from '../sandbox/example-world.ts';
import { DEPLOY_FUNCTIONS, LocalPipeline } from '../sandbox/pipeline.ts';
import type { LambdaHandler } from '../sandbox/runner.ts';
import { type Sandbox, startSandbox } from '../sandbox/sandbox.ts';
import { type BenchTable, fmt } from './bench-table.ts';
import { pushAndWait } from './bench-workflow.ts';

const BUCKET = 'acme-ml-artifacts-111122223333';
const FILES = 30;
const SHARD_BYTES = 4 * 1024 * 1024;
/** The model of the issue: 140 GB in 30 shards. */
const REAL_SHARD_BYTES = Math.round(140e9 / FILES);
/** The workflow's Map runs this many batches at once (stepfunctions/deploy.asl.json, RegisterFiles). */
const MAP_CONCURRENCY = 16;

export interface RegisterCost {
  readonly label: string;
  readonly wallMs: number;
  readonly batches: number;
  /** Files by what RegisterFiles did: read and hashed, copied from a verified copy, already pinned. */
  readonly pinned: Readonly<Record<'verified' | 'copied' | 'existing', number>>;
  /** `service:Operation` -> calls made between Register's start and Pin's end. */
  readonly calls: Readonly<Record<string, number>>;
  readonly apiCalls: number;
}

interface Shard {
  readonly path: string;
  readonly bytes: Buffer;
}

/** A model directory in the shape of a sharded LLM: 27 safetensors shards and three small files. */
function shards(changed?: number): Shard[] {
  const files: Shard[] = [
    { path: 'config.json', bytes: Buffer.from('{"architectures":["LlamaForCausalLM"]}') },
    { path: 'tokenizer.json', bytes: Buffer.from('{"version":"1.0"}') },
    { path: 'model.safetensors.index.json', bytes: Buffer.from('{"weight_map":{}}') },
  ];
  for (let i = 1; files.length < FILES; i++) {
    const bytes = Buffer.alloc(SHARD_BYTES, i);
    // The changed shard differs in its first byte: a new digest, the same size.
    if (i === changed) bytes[0] = 0xff;
    files.push({ path: `model-${String(i).padStart(5, '0')}-of-00027.safetensors`, bytes });
  }
  return files;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function modelYaml(prefix: string, files: readonly Shard[]): string {
  const listed = files
    .map((f) => `      - path: ${f.path}\n        sha256: ${sha256(f.bytes)}\n        sizeBytes: ${f.bytes.length}\n`)
    .join('');
  return `apiVersion: ballast.dev/v1
kind: Model
metadata:
  name: bench-llm
spec:
  image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124
  artifact:
    prefix: s3://${BUCKET}/${prefix}
    files:
${listed}`;
}

function endpointYaml(instanceCount: number): string {
  return `apiVersion: ballast.dev/v1
kind: Endpoint
metadata:
  name: assistant
spec:
  model: bench-llm
  target:
    sagemaker:
      instanceType: ml.g5.2xlarge
      instanceCount: ${instanceCount}
      gpus: 1
  alarms:
    - assistant-5xx
`;
}

async function upload(sandbox: Sandbox, prefix: string, files: readonly Shard[]): Promise<void> {
  const { s3 } = sandboxClients(sandbox);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((error: unknown) => {
      if (!(error instanceof Error && error.name === 'BucketAlreadyOwnedByYou')) throw error;
    });
    for (const file of files) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}${file.path}`, Body: file.bytes }));
    }
  } finally {
    s3.destroy();
  }
}

/** Register's phase of one push: from its first handler's start to Pin's end. */
class Phase {
  private startedAt = 0;
  private endedAt = 0;
  private first = 0;
  private last = 0;
  batches = 0;
  pinned = { verified: 0, copied: 0, existing: 0 };

  constructor(private readonly sandbox: Sandbox) {}

  /** The real handlers, with Register, RegisterFiles and Pin timed. */
  functions(): Record<string, LambdaHandler> {
    const timed = (name: string, handler: LambdaHandler): LambdaHandler =>
      (async (event: never, context) => {
        if (name === 'Register') {
          this.startedAt = performance.now();
          this.first = this.sandbox.requests.all().length;
          this.batches = 0;
          this.pinned = { verified: 0, copied: 0, existing: 0 };
        }
        const result = await handler(event, context);
        if (name === 'RegisterFiles') {
          this.batches++;
          const { pinned } = result as BatchResult;
          for (const status of ['verified', 'copied', 'existing'] as const) this.pinned[status] += pinned[status];
        }
        if (name === 'Pin') {
          this.endedAt = performance.now();
          this.last = this.sandbox.requests.all().length;
        }
        return result;
      }) as LambdaHandler;
    return Object.fromEntries(Object.entries(DEPLOY_FUNCTIONS).map(([name, handler]) => [name, timed(name, handler)]));
  }

  cost(label: string): RegisterCost {
    if (this.endedAt === 0) throw new Error(`${label}: Register and Pin did not run`);
    const calls: Record<string, number> = {};
    for (const { service, operation } of this.sandbox.requests.all().slice(this.first, this.last)) {
      const key = `${service}:${operation}`;
      calls[key] = (calls[key] ?? 0) + 1;
    }
    const cost = {
      label,
      wallMs: this.endedAt - this.startedAt,
      batches: this.batches,
      pinned: this.pinned,
      calls,
      apiCalls: Object.values(calls).reduce((a, b) => a + b, 0),
    };
    this.endedAt = 0;
    return cost;
  }
}

export async function benchRegister(log: (line: string) => void = (l) => console.error(l)): Promise<RegisterCost[]> {
  const example = await readTree(EXAMPLE_REPO_DIR);
  const ballastYaml = example['ballast.yaml'];
  if (ballastYaml === undefined) throw new Error('the example repository has no ballast.yaml');
  const sandbox = await startSandbox({ start: new Date('2026-03-01T09:00:00Z'), timeScale: 1e-9 });
  try {
    // The alarm the endpoint names (seedExampleAccount creates an Endpoint's alarms).
    await seedExampleAccount(sandbox, { 'ballast.yaml': ballastYaml, 'endpoints/assistant.yaml': endpointYaml(1) });
    const v1 = shards();
    const v2 = shards(7);
    await upload(sandbox, 'models/bench-llm/v1/', v1);
    await upload(sandbox, 'models/bench-llm/v2/', v2);
    const phase = new Phase(sandbox);
    const pipeline = await LocalPipeline.start({ sandbox, functions: phase.functions() });
    const costs: RegisterCost[] = [];
    try {
      const push = async (files: Record<string, string>, message: string, label: string) => {
        const executions = await pushAndWait(sandbox, pipeline, files, message, label);
        const failed = executions.filter((e) => e.status !== 'SUCCEEDED');
        if (failed.length > 0) throw new Error(`${label}: ${JSON.stringify(failed.map((e) => e.error))}`);
        const cost = phase.cost(label);
        log(`${label}: ${fmt(cost.wallMs)} ms, ${fmt(cost.apiCalls)} API calls`);
        costs.push(cost);
      };
      await push(
        {
          'ballast.yaml': ballastYaml,
          'endpoints/assistant.yaml': endpointYaml(1),
          'models/bench-llm.yaml': modelYaml('models/bench-llm/v1/', v1),
        },
        'initial',
        'first deployment: 30 files, none pinned',
      );
      await push(
        { 'endpoints/assistant.yaml': endpointYaml(2) },
        'scale out',
        'endpoint changed: 30 files already pinned',
      );
      await push(
        { 'models/bench-llm.yaml': modelYaml('models/bench-llm/v2/', v2) },
        'new shard',
        'one shard changed, the rest moved prefix',
      );
    } finally {
      pipeline.stop();
      await pipeline.idle();
    }
    return costs;
  } finally {
    await sandbox.stop();
  }
}

function count(cost: RegisterCost, operation: string): string {
  return fmt(cost.calls[operation] ?? 0);
}

export function registerTables(costs: readonly RegisterCost[]): BenchTable[] {
  const realBatches = planBatches(Array.from({ length: FILES }, () => ({ sizeBytes: REAL_SHARD_BYTES }))).length;
  return [
    {
      title: `Register: a ${FILES}-file model directory (Register -> RegisterFiles Map -> Pin)`,
      columns: [
        'push',
        'wall ms',
        'batches',
        'files hashed',
        'copied from verified',
        'already pinned',
        'API calls',
        'GetObject',
        'HeadObject',
        'CopyObject',
        'PutObject',
      ],
      rows: costs.map((c) => [
        c.label,
        fmt(c.wallMs),
        fmt(c.batches),
        fmt(c.pinned.verified),
        fmt(c.pinned.copied),
        fmt(c.pinned.existing),
        fmt(c.apiCalls),
        count(c, 's3:GetObject'),
        count(c, 's3:HeadObject'),
        count(c, 's3:CopyObject'),
        count(c, 's3:PutObject'),
      ]),
      notes: [
        `Measured from Register's start to Pin's end. The shards are ${SHARD_BYTES / 1024 / 1024} MiB (the sandbox keeps them in memory), so the wall time is this machine's; the API calls are what any size costs. A file not yet pinned costs a HEAD of its pinned key, a GET of the index of verified files (artifacts/index/<sha256>.json), then either a GET of its bytes (hashed), a CopyObject and a PUT of its index entry, or, when another directory holds a verified copy, a HEAD of that copy and a server-side CopyObject. Register and Pin add a GET of the release and a PUT of the version pointer.`,
        `At real size (140 GB in ${FILES} shards of ${fmt(REAL_SHARD_BYTES / 1e9, 1)} GB) the plan is ${realBatches} batches, one shard each, ${MAP_CONCURRENCY} at a time: each RegisterFiles Lambda (900-second timeout) hashes one shard, and a re-run makes one HEAD per file.`,
      ],
    },
  ];
}
