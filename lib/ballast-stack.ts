import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ArtifactStore, type ArtifactStoreProps } from './artifact-store.ts';
import type { SourceConfig } from './source-config.ts';

export interface BallastStackProps extends StackProps {
  /** The model repository Ballast watches. */
  readonly source: SourceConfig;
  /**
   * Prefix of every AWS resource Ballast creates on the user's behalf (SageMaker models, endpoint
   * configs, endpoints). IAM permissions are scoped to it, so Ballast cannot touch anything else.
   * @default 'ballast'
   */
  readonly resourcePrefix?: string;
  /**
   * Settings for the system-of-record bucket.
   * @default - see {@link ArtifactStoreProps}
   */
  readonly artifactStore?: ArtifactStoreProps;
}

/**
 * The Ballast stack: one per AWS account and region that Ballast deploys into. It owns the
 * artifact/state store and (as later capabilities land) the sources, workflows and alarms.
 */
export class BallastStack extends Stack {
  public readonly store: ArtifactStore;
  public readonly source: SourceConfig;
  public readonly resourcePrefix: string;

  constructor(scope: Construct, id: string, props: BallastStackProps) {
    super(scope, id, props);
    this.source = props.source;
    this.resourcePrefix = props.resourcePrefix ?? 'ballast';
    this.store = new ArtifactStore(this, 'ArtifactStore', props.artifactStore);
  }
}
