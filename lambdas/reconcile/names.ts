/** Execution names of what the reconciler starts: derived from what is started, so it starts once. */

/** Step Functions execution names: at most 80 of [A-Za-z0-9_-]. */
function executionName(...parts: string[]): string {
  return parts
    .join('-')
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 80);
}

export function missedPushExecutionName(environment: string, commit: string): string {
  // The commit last: 40 hex characters must survive the cut, so the environment gives way.
  return executionName(`missed-${environment}`.slice(0, 80 - 41), commit);
}

export function healExecutionName(environment: string, endpoint: string, digest: string, attempt: number): string {
  const tail = `${digest.slice(0, 12)}-${attempt}`;
  return executionName(`heal-${environment}-${endpoint}`.slice(0, 80 - tail.length - 1), tail);
}
