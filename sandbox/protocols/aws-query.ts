import { randomUUID } from 'node:crypto';
import type { SandboxRequest, SandboxResponse, SandboxService } from '../service.ts';
import { AwsServiceError } from '../service.ts';
import { el, elAttrs, renderXml, type XmlChild } from './rest-xml.ts';

/*
 * The awsQuery wire protocol (SNS, and the older AWS APIs): a form-encoded POST to `/` whose
 * `Action` names the operation and `Version` the API version; structured members are flattened into
 * dotted keys (`Tags.member.1.Key`, `Attributes.entry.1.key`, `MessageAttributes.entry.1.Value.DataType`).
 * Answers are XML documents `<ActionResponse xmlns=…><ActionResult>…</ActionResult><ResponseMetadata>…`
 * and errors are `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>…`,
 * whose Code the SDK maps to its modelled exception (the `awsQueryError` trait: `NotFound` →
 * NotFoundException).
 */

/**
 * An operation handler: takes the decoded parameters, returns the children of `<ActionResult>`, or
 * undefined for operations whose answer has no result element (DeleteTopic).
 */
export type QueryOperation = (params: URLSearchParams) => XmlChild | Promise<XmlChild>;

export interface AwsQueryServiceOptions {
  readonly signingName: string;
  /** The namespace of the answer documents (`http://sns.amazonaws.com/doc/2010-03-31/`). */
  readonly xmlns: string;
  readonly operations: Readonly<Record<string, QueryOperation>>;
  /** This service's throttling error: SNS answers `Throttled` with HTTP 429. */
  readonly throttling: { readonly code: string; readonly status: number };
  /** This service's internal error code (`InternalError` for SNS). */
  readonly internalErrorCode: string;
  readonly tick?: () => void;
}

/** The request's parameters: the form body of a POST, or the query string of a GET. */
export function queryParams(request: SandboxRequest): URLSearchParams {
  if (request.method === 'GET') return request.query;
  return new URLSearchParams(request.body.toString('utf8'));
}

export function awsQueryService(options: AwsQueryServiceOptions): SandboxService {
  const error = (err: AwsServiceError): SandboxResponse => {
    const requestId = randomUUID();
    const root = elAttrs(
      'ErrorResponse',
      { xmlns: options.xmlns },
      el('Error', el('Type', err.fault), el('Code', err.code), el('Message', err.message)),
      el('RequestId', requestId),
    );
    return {
      status: err.status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: renderXml(root),
    };
  };

  return {
    signingName: options.signingName,
    operationOf(request) {
      return queryParams(request).get('Action') ?? '';
    },
    async handle(request, operation) {
      if (request.method !== 'POST' && request.method !== 'GET') {
        return error(new AwsServiceError('InvalidAction', `${request.method} is not supported`, 400));
      }
      const handler = options.operations[operation];
      if (!handler) {
        return error(
          new AwsServiceError(
            'InvalidAction',
            `The action ${operation || '(none)'} is not valid for this web service (the Ballast sandbox does not implement it).`,
          ),
        );
      }
      try {
        const result = await handler(queryParams(request));
        const requestId = randomUUID();
        const root = elAttrs(
          `${operation}Response`,
          { xmlns: options.xmlns },
          result === undefined ? undefined : el(`${operation}Result`, result),
          el('ResponseMetadata', el('RequestId', requestId)),
        );
        return {
          status: 200,
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
          body: renderXml(root),
        };
      } catch (err) {
        if (err instanceof AwsServiceError) return error(err);
        throw err;
      }
    },
    faultResponse(kind) {
      return kind === 'throttle'
        ? error(
            new AwsServiceError(
              options.throttling.code,
              'Rate exceeded (injected by the Ballast sandbox)',
              options.throttling.status,
            ),
          )
        : error(new AwsServiceError(options.internalErrorCode, 'Injected server error (Ballast sandbox)', 500));
    },
    ...(options.tick ? { tick: options.tick } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Reading flattened members
// ---------------------------------------------------------------------------------------------

/**
 * The members of a flattened list or map, in index order: for `Tags.member.1.Key=a&Tags.member.1.Value=b`,
 * `queryMembers(params, 'Tags.member')` is `[{ Key: 'a', Value: 'b' }]`; the rest of each key after the
 * index is kept dotted (`Value.DataType`), and a scalar member (`Names.member.1=x`) is under `''`.
 */
export function queryMembers(params: URLSearchParams, prefix: string): Array<Record<string, string>> {
  const members = new Map<number, Record<string, string>>();
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)(?:\\.(.+))?$`);
  for (const [key, value] of params) {
    const match = pattern.exec(key);
    if (!match?.[1]) continue;
    const index = Number.parseInt(match[1], 10);
    const member = members.get(index) ?? {};
    member[match[2] ?? ''] = value;
    members.set(index, member);
  }
  return [...members.entries()].sort(([a], [b]) => a - b).map(([, member]) => member);
}

/** A flattened `map<string, string>` (`Attributes.entry.N.key` / `.value`), in request order. */
export function queryStringMap(params: URLSearchParams, name: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of queryMembers(params, `${name}.entry`)) {
    if (entry.key !== undefined) map.set(entry.key, entry.value ?? '');
  }
  return map;
}

/** The XML of a `map<string, string>` as awsQuery answers carry it: `<entry><key>…</key><value>…</value></entry>`. */
export function xmlStringMap(name: string, map: ReadonlyMap<string, string> | Readonly<Record<string, string>>) {
  const entries = map instanceof Map ? [...map.entries()] : Object.entries(map);
  return el(
    name,
    entries.map(([key, value]) => el('entry', el('key', key), el('value', value))),
  );
}
