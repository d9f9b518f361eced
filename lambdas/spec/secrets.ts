/**
 * Secret detection. Two kinds of rules:
 *
 * - Pattern rules find credentials by their shape anywhere in a file's text, comments included
 *   (a secret in a comment is just as leaked): AWS access key IDs, PEM private keys, GitHub,
 *   Slack, Hugging Face and OpenAI/Anthropic tokens, Slack webhook URLs, and AWS secret access
 *   keys written next to a key that names them.
 * - Keyed rules look at a string value by the name of its key: `password:`, `api_key:`,
 *   `client_secret:`… hold a secret whatever the value looks like; `*token:` keys hold one when
 *   the value looks like a credential (16+ characters of token alphabet, so tokenizer settings
 *   such as `eos_token: "</s>"` pass).
 *
 * A value that is a Secrets Manager reference, `{{resolve:secretsmanager:NAME[:...]}}` or a
 * Secrets Manager ARN, is never a secret (in a Model's environment the validator still refuses the
 * first: Ballast does not resolve it; secrets are declared under spec.secrets). Findings carry a masked form only: the secret itself
 * never reaches an issue message, a log line or a terminal.
 */

export interface SecretFinding {
  /** Offsets in the scanned text. */
  readonly start: number;
  readonly end: number;
  /** What it looks like, e.g. "an AWS access key ID". */
  readonly kind: string;
  /** A masked rendering safe to print. */
  readonly masked: string;
}

interface PatternRule {
  readonly kind: string;
  readonly pattern: RegExp;
  /** Index of the capture group that is the secret itself (0: the whole match). */
  readonly group?: number;
}

const PATTERN_RULES: readonly PatternRule[] = [
  { kind: 'an AWS access key ID', pattern: /\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g },
  {
    kind: 'an AWS secret access key',
    pattern: /(?:aws_?)?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    group: 1,
  },
  { kind: 'a PEM private key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g },
  { kind: 'a GitHub token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g },
  { kind: 'a Slack token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,250}/g },
  {
    kind: 'a Slack webhook URL',
    pattern: /https:\/\/hooks\.slack\.com\/services\/T[A-Za-z0-9]+\/B[A-Za-z0-9]+\/[A-Za-z0-9]+/g,
  },
  { kind: 'a Hugging Face token', pattern: /\bhf_[A-Za-z0-9]{34,}\b/g },
  { kind: 'an OpenAI or Anthropic API key', pattern: /\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{32,}/g },
];

/** Finds pattern-rule secrets anywhere in `text`. */
export function scanText(text: string): SecretFinding[] {
  const findings: SecretFinding[] = [];
  for (const rule of PATTERN_RULES) {
    rule.pattern.lastIndex = 0;
    for (const match of text.matchAll(rule.pattern)) {
      const secret = match[rule.group ?? 0] ?? match[0];
      const start = (match.index ?? 0) + match[0].indexOf(secret);
      if (findings.some((f) => start < f.end && f.start < start + secret.length)) continue;
      findings.push({ start, end: start + secret.length, kind: rule.kind, masked: mask(secret, rule.kind) });
    }
  }
  return findings.sort((a, b) => a.start - b.start);
}

/** Keys whose literal value is always a secret (compared lowercased, without separators). */
const ALWAYS_SECRET_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'apikey',
  'secretkey',
  'privatekey',
  'clientsecret',
  'accesskey',
  'secretaccesskey',
  'signingkey',
  'encryptionkey',
];
const ALWAYS_SECRET_EXACT = ['pwd', 'credentials', 'credential'];
const CREDENTIAL_LIKE = /^[A-Za-z0-9_\-./+=:]{16,}$/;

/** A value that points at a secret instead of holding one. */
export function isSecretReference(value: string): boolean {
  return (
    /^\{\{resolve:secretsmanager:[^{}\s]+\}\}$/.test(value.trim()) ||
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+$/.test(value.trim())
  );
}

/** Applies the keyed rules: if the value is a secret, says so (for the start of an issue message). */
export function keyedSecretKind(key: string, value: string): string | undefined {
  if (value.trim() === '' || isSecretReference(value)) return undefined;
  const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (ALWAYS_SECRET_EXACT.includes(normalized) || ALWAYS_SECRET_SUFFIXES.some((s) => normalized.endsWith(s))) {
    return `'${key}' holds a literal secret`;
  }
  if (normalized.endsWith('token') && CREDENTIAL_LIKE.test(value.trim())) return `'${key}' holds a literal token`;
  return undefined;
}

/**
 * A printable stand-in for a secret: its length and, for token formats with a well-known prefix
 * (AKIA, ghp_, xoxb…), those 4 characters so the reader can tell which credential it is.
 */
export function mask(secret: string, kind = ''): string {
  if (kind === 'a PEM private key') return 'the key is not shown';
  const knownPrefix = PATTERN_RULES.some((rule) => rule.kind === kind) && kind !== 'an AWS secret access key';
  return knownPrefix && secret.length >= 16
    ? `${secret.slice(0, 4)}…, ${secret.length} characters`
    : `${secret.length} characters, not shown`;
}

export const SECRET_EXPECTED =
  "no secret in Git: store it in Secrets Manager and declare it under the Model's spec.secrets (NAME: { secretId: SECRET-NAME })";

/** An issue message; `what` is "this looks like a GitHub token" or "'password' holds a literal secret". */
export function secretMessage(what: string, masked: string): string {
  return `${what} (${masked}): secrets belong in Secrets Manager; store it there and declare it under the Model's spec.secrets instead (if it was ever pushed, rotate it)`;
}

// ---------------------------------------------------------------------------------------------
// Secrets a Model declares (spec.secrets)

/**
 * How a declared secret reaches the container:
 * - `reference` (the default): the container gets NAME_SECRET_ARN, the secret's ARN, and reads the
 *   value itself with its execution role. The value never leaves Secrets Manager.
 * - `environment`: the container gets NAME with the value. For containers that cannot call
 *   Secrets Manager; the value is then part of the SageMaker Model, and DescribeModel shows it.
 */
export const SECRET_DELIVERIES = ['reference', 'environment'] as const;
export type SecretDelivery = (typeof SECRET_DELIVERIES)[number];

/** What `reference` delivery appends to the secret's name to name the variable holding the ARN. */
export const SECRET_ARN_SUFFIX = '_SECRET_ARN';

/** The container environment variable a secret declared as `name` produces. */
export function secretEnvName(name: string, delivery: SecretDelivery): string {
  return delivery === 'reference' ? `${name}${SECRET_ARN_SUFFIX}` : name;
}

/**
 * A Secrets Manager secret name: ASCII letters, digits and /_+=.@-, at most 512 characters
 * (Secrets Manager API Reference, CreateSecret: Name).
 */
export const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/**
 * A full secret ARN: arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX. Secrets
 * Manager appends a hyphen and six random characters to the name (CreateSecret: Name), so a
 * secret re-created under the same name gets another ARN.
 */
export const SECRET_ARN =
  /^arn:(aws(?:-[a-z]+)*):secretsmanager:([a-z]{2,4}(?:-[a-z]+)+-\d{1,2}):(\d{12}):secret:([A-Za-z0-9/_+=.@-]{1,512})-([A-Za-z0-9]{6})$/;

/** A secretId Ballast accepts: a secret name, or a full secret ARN. */
export function isSecretId(secretId: string): boolean {
  return SECRET_NAME.test(secretId) || SECRET_ARN.test(secretId);
}

/** The secret's name in a full secret ARN (without the six random characters), or undefined if it is not one. */
export function secretNameOfArn(arn: string): string | undefined {
  return SECRET_ARN.exec(arn)?.[4];
}

const RESOLVE_REFERENCE = /^\{\{resolve:secretsmanager:([^{}\s]+)\}\}$/;

/**
 * The secret a CloudFormation-style `{{resolve:secretsmanager:SECRET-ID[:SecretString:...]}}`
 * reference names (its name or ARN), or undefined if `value` is not one. Ballast does not resolve
 * these; the validator uses this to say what to declare under spec.secrets instead.
 */
export function resolveReferenceSecretId(value: string): string | undefined {
  const inner = RESOLVE_REFERENCE.exec(value.trim())?.[1];
  if (inner === undefined) return undefined;
  // An ARN has 7 colon-separated parts; a name has no colon. What follows selects a JSON key or version.
  const parts = inner.split(':');
  return inner.startsWith('arn:') ? parts.slice(0, 7).join(':') : parts[0];
}
