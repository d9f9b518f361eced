/**
 * Canonical JSON and content digests: how Ballast names content (endpoint digests, pinned prompts
 * and configs). Small and dependency-free, so the handlers that pin content need not bundle the
 * repository format.
 */
import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, as RFC 8785), no whitespace,
 * undefined properties left out. Throws on values JSON cannot represent (non-finite numbers,
 * functions, bigint, cycles).
 */
export function canonicalJson(value: unknown): string {
  const seen = new Set<object>();
  const encode = (v: unknown): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: ${v} is not representable in JSON`);
        return JSON.stringify(Object.is(v, -0) ? 0 : v);
      case 'object': {
        if (seen.has(v)) throw new TypeError('canonicalJson: cyclic value');
        seen.add(v);
        try {
          if (Array.isArray(v)) return `[${v.map((item) => (item === undefined ? 'null' : encode(item))).join(',')}]`;
          const entries = Object.entries(v as Record<string, unknown>)
            .filter(([, item]) => item !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${encode(item)}`).join(',')}}`;
        } finally {
          seen.delete(v);
        }
      }
      default:
        throw new TypeError(`canonicalJson: a ${typeof v} is not representable in JSON`);
    }
  };
  return encode(value);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256Hex(canonicalJson(value)). */
export function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
