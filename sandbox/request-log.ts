/** One API call the sandbox answered. */
export interface LoggedRequest {
  readonly service: string;
  readonly operation: string;
  readonly status: number;
  /** Simulated time of the call. */
  readonly at: string;
  /** Set when an injected fault answered instead of the service. */
  readonly fault?: string;
}

/**
 * Counts API calls by service and operation. Benchmarks read it to report how many AWS calls a
 * deployment costs; tests read it to prove that retries happened (or that nothing was called).
 */
export class RequestLog {
  private readonly entries: LoggedRequest[] = [];

  record(entry: LoggedRequest): void {
    this.entries.push(entry);
  }

  all(): readonly LoggedRequest[] {
    return this.entries;
  }

  /** Counts keyed `service:Operation`, e.g. `sagemaker:UpdateEndpoint`. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const { service, operation } of this.entries) {
      const key = `${service}:${operation}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  count(service: string, operation?: string): number {
    return this.entries.filter((e) => e.service === service && (operation === undefined || e.operation === operation))
      .length;
  }

  clear(): void {
    this.entries.length = 0;
  }
}
