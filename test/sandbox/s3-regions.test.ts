/**
 * Sandbox-only wire details of S3 bucket regions (moto does not redirect, so these are not conformance
 * tests): the PermanentRedirect document and headers a request signed for another region gets, for the
 * Authorization header and for a presigned URL's X-Amz-Credential, HEAD without a body, unsigned
 * requests left alone, and the retry the SDK's `followRegionRedirects` makes. The behaviour shared with
 * moto is in test/conformance/s3-regions.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createS3Service, type S3Sandbox } from '../../sandbox/services/s3.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget, uniqueName } from '../support/aws-targets.ts';

/** A SigV4 Authorization header whose credential scope names `region` (the sandbox does not check signatures). */
function signedFor(region: string): Record<string, string> {
  return {
    authorization: `AWS4-HMAC-SHA256 Credential=AKIDSANDBOX/20260301/${region}/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
    'x-amz-date': '20260301T120000Z',
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
  };
}

describe('S3 sandbox: bucket regions on the wire', () => {
  let target: SandboxTarget;
  let s3: S3Sandbox;
  let eu: S3Client;
  let bucket: string;
  const url = (path: string) => `${target.endpoint}/${bucket}/${path}`;

  before(async () => {
    target = await startSandboxTarget((ctx) => [createS3Service(ctx)]);
    s3 = target.services[0] as S3Sandbox;
    eu = new S3Client({ ...clientConfig(target.endpoint), region: 'eu-west-1' });
    bucket = uniqueName('ballast-eu');
    await eu.send(new CreateBucketCommand({ Bucket: bucket }));
    await eu.send(new PutObjectCommand({ Bucket: bucket, Key: 'model.tar.gz', Body: 'weights' }));
  });

  after(async () => {
    eu.destroy();
    await target.stop();
  });

  it('answers a GET signed for us-east-1 with 301 and the bucket region header', async () => {
    const response = await fetch(url('model.tar.gz'), { headers: signedFor('us-east-1') });
    await response.arrayBuffer();
    assert.deepEqual([response.status, response.headers.get('x-amz-bucket-region')], [301, 'eu-west-1']);
  });

  it('writes the PermanentRedirect error document with the Endpoint (the host asked) and the Bucket', async () => {
    const response = await fetch(url('model.tar.gz'), { headers: signedFor('us-east-1') });
    const body = await response.text();
    assert.match(
      body,
      new RegExp(
        `^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>${new URL(target.endpoint).host}</Endpoint><Bucket>${bucket}</Bucket><RequestId>`,
      ),
    );
  });

  it('answers a HEAD signed for another region with 301, the header and no body', async () => {
    const response = await fetch(`${target.endpoint}/${bucket}`, { method: 'HEAD', headers: signedFor('us-west-2') });
    assert.deepEqual(
      [response.status, response.headers.get('x-amz-bucket-region'), (await response.arrayBuffer()).byteLength],
      [301, 'eu-west-1', 0],
    );
  });

  it("redirects a presigned URL whose X-Amz-Credential names another region than the bucket's", async () => {
    const query = new URLSearchParams({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDSANDBOX/20260301/us-east-1/s3/aws4_request',
      'X-Amz-Date': '20260301T120000Z',
      'X-Amz-Expires': '900',
      'X-Amz-SignedHeaders': 'host',
      'X-Amz-Signature': '0'.repeat(64),
    });
    const response = await fetch(`${url('model.tar.gz')}?${query}`);
    await response.arrayBuffer();
    assert.equal(response.status, 301);
  });

  it('serves a request signed for the bucket region', async () => {
    const response = await fetch(url('model.tar.gz'), { headers: signedFor('eu-west-1') });
    assert.equal(await response.text(), 'weights');
  });

  it('serves unsigned requests whatever the bucket region', async () => {
    const response = await fetch(url('model.tar.gz'));
    assert.equal(await response.text(), 'weights');
  });

  it('stores nothing for a write signed for another region', async () => {
    const response = await fetch(url('other.bin'), { method: 'PUT', headers: signedFor('us-east-1'), body: 'x' });
    await response.arrayBuffer();
    assert.equal(s3.object(bucket, 'other.bin'), undefined);
  });

  it('refuses a CreateBucket without LocationConstraint signed outside us-east-1 as an unspecified constraint', async () => {
    const response = await fetch(`${target.endpoint}/${uniqueName('ballast-none')}`, {
      method: 'PUT',
      headers: signedFor('eu-west-1'),
    });
    assert.match(
      await response.text(),
      /<Code>IllegalLocationConstraintException<\/Code><Message>The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.<\/Message>/,
    );
  });

  it('is retried by followRegionRedirects in the bucket region: a 301, then a 200', async () => {
    target.requests.clear();
    const us = new S3Client({ ...clientConfig(target.endpoint), region: 'us-east-1', followRegionRedirects: true });
    try {
      const got = await us.send(new GetObjectCommand({ Bucket: bucket, Key: 'model.tar.gz' }));
      await got.Body?.transformToString();
    } finally {
      us.destroy();
    }
    assert.deepEqual(
      target.requests.all().map((r) => `${r.operation} ${r.status}`),
      ['GetObject 301', 'GetObject 200'],
    );
  });
});
