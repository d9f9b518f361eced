/**
 * Reads what a SageMaker endpoint runs next to what Ballast deployed to it, for the reconciler and
 * `ballast diff`. Read-only; the decisions are lambdas/state/drift.ts's.
 *
 * Calls per endpoint are constant, whatever its history: DescribeEndpoint, DescribeEndpointConfig
 * and DescribeModel for what runs, ListTags on the endpoint, and, only when the endpoint runs
 * another configuration than Ballast's, DescribeEndpointConfig and DescribeModel for Ballast's.
 * (SageMaker API Reference: DescribeEndpoint, DescribeEndpointConfig, DescribeModel, ListTags.)
 */
import {
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  type DescribeEndpointConfigCommandOutput,
  DescribeModelCommand,
  type DescribeModelCommandOutput,
  ListTagsCommand,
  type SageMakerClient,
  type Tag,
} from '@aws-sdk/client-sagemaker';
import { classify } from '../aws/errors.ts';
import { actualView, type Drift, type DriftView, desiredDrift, diffViews, expectedView } from '../state/drift.ts';
import type { EndpointState } from '../state/endpoint-state.ts';
import { sagemakerNames } from './sagemaker.ts';
import { isNotFound } from './sagemaker-cleanup.ts';

type Sender = Pick<SageMakerClient, 'send'>;

/** Endpoint statuses in which SageMaker is changing the endpoint: compared again at the next run. */
const TRANSITIONAL = new Set(['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting']);

export interface Inspection {
  readonly endpointName: string;
  /** The variant Ballast deploys, for Application Auto Scaling's ResourceId. */
  readonly variantName?: string;
  /** The differences before ignore rules (empty: in sync). */
  readonly drift: readonly Drift[];
  /** Set when SageMaker itself is changing the endpoint (not a Ballast rollout): look again later. */
  readonly transitional?: string;
  readonly expected?: DriftView;
  readonly actual?: DriftView;
  /** Set when the endpoint does not exist (deleted out of band): a heal creates it again. */
  readonly missing?: true;
}

/**
 * Compares the endpoint with the version Ballast verified live (state.live). A desired version
 * that is not live yet shows as `/digest`; the resources are compared with the live one's, which
 * is what the endpoint should run until the desired version deploys.
 */
export async function inspectEndpoint(sagemaker: Sender, prefix: string, state: EndpointState): Promise<Inspection> {
  const desired = desiredDrift(state);
  const live = state.live;
  const names = sagemakerNames(prefix, state.environment, state.endpoint, (live ?? state.desired)?.digest ?? '');
  if (!live) return { endpointName: names.endpointName, drift: desired ? [desired] : [] };
  const redact = live.redact ? new Set(live.redact) : undefined;
  const endpoint = await orMissing(() =>
    sagemaker.send(new DescribeEndpointCommand({ EndpointName: names.endpointName })),
  );
  if (!endpoint) {
    const drift: Drift[] = [{ path: '/status', expected: 'InService', actual: null }];
    return { endpointName: names.endpointName, drift: desired ? [desired, ...drift] : drift, missing: true };
  }
  const status = endpoint.EndpointStatus ?? 'Unknown';
  if (TRANSITIONAL.has(status)) return { endpointName: names.endpointName, drift: [], transitional: status };
  const runningName = endpoint.EndpointConfigName ?? '';
  const running = runningName ? await describeConfig(sagemaker, runningName) : undefined;
  const runningModel = await describeModel(sagemaker, running?.ProductionVariants?.[0]?.ModelName);
  const ours =
    runningName === live.endpointConfigName ? running : await describeConfig(sagemaker, live.endpointConfigName);
  const oursModel =
    ours === running
      ? runningModel
      : await describeModel(sagemaker, ours?.ProductionVariants?.[0]?.ModelName ?? names.modelName);
  const tags = endpoint.EndpointArn ? await listTags(sagemaker, endpoint.EndpointArn) : [];
  const actual = actualView(endpoint, running, runningModel, tags, redact);
  const variantName = ours?.ProductionVariants?.[0]?.VariantName;
  if (!ours) {
    // Ballast's own configuration was deleted: nothing to compare the fields with, but the
    // endpoint does not run what Git says. A heal creates the configuration again and updates.
    const drift: Drift[] = [
      { path: '/target/sagemaker/endpointConfigName', expected: live.endpointConfigName, actual: runningName || null },
    ];
    return { endpointName: names.endpointName, drift: desired ? [desired, ...drift] : drift, actual };
  }
  const expected = expectedView(ours, oursModel, redact);
  const drift = diffViews(expected, actual);
  return {
    endpointName: names.endpointName,
    ...(variantName ? { variantName } : {}),
    drift: desired ? [desired, ...drift] : drift,
    expected,
    actual,
  };
}

async function orMissing<T>(send: () => Promise<T>): Promise<T | undefined> {
  try {
    return await send();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    return classify(error, 'describing a SageMaker resource');
  }
}

function describeConfig(sagemaker: Sender, name: string): Promise<DescribeEndpointConfigCommandOutput | undefined> {
  return orMissing(() => sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name })));
}

async function describeModel(
  sagemaker: Sender,
  name: string | undefined,
): Promise<DescribeModelCommandOutput | undefined> {
  return name ? orMissing(() => sagemaker.send(new DescribeModelCommand({ ModelName: name }))) : undefined;
}

/** The endpoint's tags (Ballast's are on the first page: an endpoint has at most 50 tags). */
async function listTags(sagemaker: Sender, arn: string): Promise<Tag[]> {
  const page = await orMissing(() => sagemaker.send(new ListTagsCommand({ ResourceArn: arn, MaxResults: 100 })));
  return page?.Tags ?? [];
}
