import { randomBytes } from 'node:crypto';
import type { SandboxResponse } from '../service.ts';
import { AwsServiceError } from '../service.ts';

/**
 * The restXml wire protocol as S3 speaks it: operations are chosen by method, path and query,
 * inputs travel in headers, query and (for a few operations) an XML body, outputs are headers plus
 * an XML document, and errors are `<Error><Code>…</Code><Message>…</Message>…</Error>` documents.
 *
 * fast-xml-parser is deliberately not a dependency: S3's request documents are small and flat
 * (Delete, VersioningConfiguration, CreateBucketConfiguration, Tagging, encryption), so a tag
 * extractor is enough to read them, and a tiny builder writes the answers.
 */

/** The namespace S3 puts on its response documents. */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A child of an XML element: text, a nested element, or a list of either (nulls are skipped). */
export type XmlChild = string | number | boolean | Date | XmlElement | null | undefined | readonly XmlChild[];

export interface XmlElement {
  readonly name: string;
  readonly attributes?: Readonly<Record<string, string>>;
  readonly children: readonly XmlChild[];
}

/** Builds an element. Text children are escaped when rendered; Dates render as ISO 8601 with milliseconds. */
export function el(name: string, ...children: XmlChild[]): XmlElement {
  return { name, children };
}

/** Builds an element with attributes (used for `xmlns`). */
export function elAttrs(
  name: string,
  attributes: Readonly<Record<string, string>>,
  ...children: XmlChild[]
): XmlElement {
  return { name, attributes, children };
}

/** An element only when `value` is present: S3 omits optional members instead of sending them empty. */
export function optional(
  name: string,
  value: string | number | boolean | Date | null | undefined,
): XmlElement | undefined {
  return value === undefined || value === null ? undefined : el(name, value);
}

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;');
}

function renderChild(child: XmlChild, out: string[]): void {
  if (child === null || child === undefined) return;
  if (Array.isArray(child)) {
    for (const c of child as readonly XmlChild[]) renderChild(c, out);
    return;
  }
  if (child instanceof Date) {
    out.push(child.toISOString());
    return;
  }
  if (typeof child === 'object') {
    renderElement(child as XmlElement, out);
    return;
  }
  out.push(escapeXml(String(child)));
}

function renderElement(element: XmlElement, out: string[]): void {
  const attributes = Object.entries(element.attributes ?? {})
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  out.push(`<${element.name}${attributes}>`);
  for (const child of element.children) renderChild(child, out);
  out.push(`</${element.name}>`);
}

/** Renders a document with the XML declaration S3 sends. */
export function renderXml(root: XmlElement): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  renderElement(root, out);
  return out.join('');
}

/** An XML 200 answer. */
export function xmlResponse(
  root: XmlElement,
  headers: Readonly<Record<string, string>> = {},
  status = 200,
): SandboxResponse {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: renderXml(root) };
}

// ---------------------------------------------------------------------------------------------
// Reading request documents
// ---------------------------------------------------------------------------------------------

export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_match, entity: string) => {
    switch (entity) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(
          entity.startsWith('#x') ? Number.parseInt(entity.slice(2), 16) : Number.parseInt(entity.slice(1), 10),
        );
    }
  });
}

/**
 * The inner XML of every `<tag>…</tag>` (namespace prefixes and attributes allowed), in document
 * order. Not a general parser: it assumes the tag does not nest inside itself, which holds for every
 * S3 request document the sandbox reads.
 */
export function xmlBlocks(xml: string, tag: string): string[] {
  const pattern = new RegExp(
    `<(?:[A-Za-z0-9_-]+:)?${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</(?:[A-Za-z0-9_-]+:)?${tag}>)`,
    'g',
  );
  const blocks: string[] = [];
  for (const match of xml.matchAll(pattern)) blocks.push(match[1] ?? '');
  return blocks;
}

/** The unescaped text of the first `<tag>`, or undefined when absent. */
export function xmlText(xml: string, tag: string): string | undefined {
  const block = xmlBlocks(xml, tag)[0];
  return block === undefined ? undefined : unescapeXml(block.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1'));
}

/** Rejects bodies that are not a single well-formed-looking document with the expected root. */
export function requireRoot(xml: string, root: string): string {
  const body = xmlBlocks(xml, root)[0];
  if (body === undefined) throw malformedXml();
  return body;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * An S3 error: AWS's code and message, the HTTP status, and the extra members S3 puts in the error
 * document (`Key`, `BucketName`, `Condition`, `ArgumentName`…) and headers (`x-amz-delete-marker`).
 */
export class S3Error extends AwsServiceError {
  constructor(
    code: string,
    message: string,
    status: number,
    readonly details: Readonly<Record<string, string>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message, status);
  }
}

export function malformedXml(): S3Error {
  return new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
    400,
  );
}

/** A request id in S3's style (16 upper-case hex characters) and the matching extended id. */
export function newRequestIds(): { requestId: string; hostId: string } {
  return { requestId: randomBytes(8).toString('hex').toUpperCase(), hostId: randomBytes(48).toString('base64') };
}

/**
 * The error answer. HEAD answers carry no body (the SDK then names the error after the status:
 * `NotFound`, `Forbidden`…), exactly as S3 does.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#RESTErrorResponses
 */
export function errorResponse(error: AwsServiceError, method: string): SandboxResponse {
  const { requestId, hostId } = newRequestIds();
  const details = error instanceof S3Error ? error.details : {};
  const extraHeaders = error instanceof S3Error ? error.headers : {};
  const headers = { 'x-amz-request-id': requestId, 'x-amz-id-2': hostId, ...extraHeaders };
  if (method === 'HEAD' || error.status === 304) {
    return { status: error.status, headers: { ...headers, 'content-length': '0' } };
  }
  const root = el(
    'Error',
    el('Code', error.code),
    el('Message', error.message),
    Object.entries(details).map(([name, value]) => el(name, value)),
    el('RequestId', requestId),
    el('HostId', hostId),
  );
  return { status: error.status, headers: { 'content-type': 'application/xml', ...headers }, body: renderXml(root) };
}
