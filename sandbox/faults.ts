/**
 * What an injected fault does to a matching request. `lost-response` carries the request out and
 * then answers 500, as when a response is lost on the way back: retries must find their own work.
 */
export type FaultKind = 'throttle' | 'server-error' | 'latency' | 'lost-response';

export interface FaultRule {
  /** Signing name of the service (`s3`, `sagemaker`, `monitoring`, `codecommit`), or `*`. */
  readonly service: string;
  /** Operation name as AWS spells it (`UpdateEndpoint`, `PutObject`), or `*`. */
  readonly operation: string;
  readonly kind: FaultKind;
  /** How many matching requests to affect; afterwards the rule is spent. Default: unlimited. */
  readonly times?: number;
  /** For `latency`: wall-clock delay before the request is handled. */
  readonly latencyMs?: number;
}

export interface FaultDecision {
  readonly kind: FaultKind;
  readonly latencyMs: number;
}

/**
 * Per-API fault injection, so tests can prove that handlers retry throttling and 5xx answers the
 * way the AWS SDK's retry strategy and the workflows' Retry blocks promise.
 */
export class FaultInjector {
  private rules: Array<{ rule: FaultRule; remaining: number }> = [];

  add(rule: FaultRule): void {
    if (rule.kind === 'latency' && !(rule.latencyMs !== undefined && rule.latencyMs >= 0)) {
      throw new RangeError('a latency fault needs latencyMs >= 0');
    }
    this.rules.push({ rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.rules = [];
  }

  /** Decides (and consumes) the fault for one request, or returns undefined to handle it normally. */
  take(service: string, operation: string): FaultDecision | undefined {
    for (const entry of this.rules) {
      const { rule } = entry;
      if (entry.remaining <= 0) continue;
      if (rule.service !== '*' && rule.service !== service) continue;
      if (rule.operation !== '*' && rule.operation !== operation) continue;
      entry.remaining -= 1;
      return { kind: rule.kind, latencyMs: rule.latencyMs ?? 0 };
    }
    return undefined;
  }
}
