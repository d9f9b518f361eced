/**
 * Buckets live in a region, run against the sandbox and moto: CreateBucket's LocationConstraint (which
 * the SDK fills in for a client outside us-east-1), GetBucketLocation, HeadBucket's BucketRegion
 * (x-amz-bucket-region), and a client in one region reading a bucket in another with the SDK's
 * `followRegionRedirects`, which Register relies on for source buckets in other regions.
 * See test/support/aws-targets.ts for the harness; test/sandbox/s3-regions.test.ts has the wire details.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import {
  CreateBucketCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createS3Service } from '../../sandbox/services/s3.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  knownDifference,
  rejectsWithS3,
  uniqueName,
} from '../support/aws-targets.ts';

/** moto serves every bucket to a request signed for any region. */
const MOTO_IGNORES_REGIONS =
  'moto 5.2.1 answers a request signed for another region than the bucket\'s; S3 answers 301 PermanentRedirect with x-amz-bucket-region (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList, "PermanentRedirect")';

describeConformance(
  'S3 bucket regions',
  (ctx) => [createS3Service(ctx)],
  (target: () => AwsTarget, name) => {
    const clients: S3Client[] = [];
    const client = (region: string, options: { followRegionRedirects?: boolean } = {}) => {
      const created = new S3Client({ ...clientConfig(target().endpoint), region, ...options });
      clients.push(created);
      return created;
    };
    after(() => {
      for (const c of clients.splice(0)) c.destroy();
    });
    const euBucket = async (): Promise<string> => {
      const bucket = uniqueName('ballast-eu');
      await client('eu-west-1').send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    };

    it('creates a bucket in the region of a client outside us-east-1 (the SDK sends the LocationConstraint)', async () => {
      const bucket = await euBucket();
      const location = await client('us-east-1').send(new GetBucketLocationCommand({ Bucket: bucket }));
      assert.equal(location.LocationConstraint, 'eu-west-1');
    });

    it('reports no LocationConstraint for a bucket created in us-east-1', async () => {
      const bucket = uniqueName('ballast-us');
      await client('us-east-1').send(new CreateBucketCommand({ Bucket: bucket }));
      const location = await client('us-east-1').send(new GetBucketLocationCommand({ Bucket: bucket }));
      assert.equal(location.LocationConstraint, undefined);
    });

    it('creates a bucket in the LocationConstraint it is given', async () => {
      const bucket = uniqueName('ballast-ap');
      await client('ap-southeast-2').send(
        new CreateBucketCommand({
          Bucket: bucket,
          CreateBucketConfiguration: { LocationConstraint: 'ap-southeast-2' },
        }),
      );
      const location = await client('us-east-1').send(new GetBucketLocationCommand({ Bucket: bucket }));
      assert.equal(location.LocationConstraint, 'ap-southeast-2');
    });

    it("reports the bucket's region in HeadBucket (x-amz-bucket-region)", async () => {
      const bucket = await euBucket();
      const head = await client('eu-west-1').send(new HeadBucketCommand({ Bucket: bucket }));
      assert.equal(head.BucketRegion, 'eu-west-1');
    });

    it('reads an object of a bucket in eu-west-1 with a client configured for us-east-1 and followRegionRedirects', async () => {
      const bucket = await euBucket();
      await client('eu-west-1').send(new PutObjectCommand({ Bucket: bucket, Key: 'model.tar.gz', Body: 'weights' }));
      const got = await client('us-east-1', { followRegionRedirects: true }).send(
        new GetObjectCommand({ Bucket: bucket, Key: 'model.tar.gz' }),
      );
      assert.equal(await got.Body?.transformToString(), 'weights');
    });

    it(
      'answers a request signed for another region with 301 PermanentRedirect when the client does not follow redirects',
      knownDifference(name, { moto: MOTO_IGNORES_REGIONS }),
      async () => {
        const bucket = await euBucket();
        await client('eu-west-1').send(new PutObjectCommand({ Bucket: bucket, Key: 'model.tar.gz', Body: 'weights' }));
        await rejectsWithS3(
          client('us-east-1').send(new GetObjectCommand({ Bucket: bucket, Key: 'model.tar.gz' })),
          'PermanentRedirect',
          301,
        );
      },
    );

    it(
      "names the bucket's region in the redirect (x-amz-bucket-region)",
      knownDifference(name, { moto: MOTO_IGNORES_REGIONS }),
      async () => {
        const bucket = await euBucket();
        const error = await rejectsWithS3(
          client('us-east-1').send(new GetObjectCommand({ Bucket: bucket, Key: 'absent' })),
          'PermanentRedirect',
          301,
        );
        assert.equal(error.$response?.headers['x-amz-bucket-region'], 'eu-west-1');
      },
    );

    it('answers HeadBucket for a bucket in another region with followRegionRedirects', async () => {
      const bucket = await euBucket();
      const head = await client('us-east-1', { followRegionRedirects: true }).send(
        new HeadBucketCommand({ Bucket: bucket }),
      );
      assert.equal(head.BucketRegion, 'eu-west-1');
    });

    it('answers GetBucketLocation from any region', async () => {
      const bucket = await euBucket();
      const location = await client('ap-southeast-2').send(new GetBucketLocationCommand({ Bucket: bucket }));
      assert.equal(location.LocationConstraint, 'eu-west-1');
    });
  },
);
