import { randomUUID } from 'node:crypto';

/** An EventBridge event, in the envelope AWS delivers to rules and targets. */
export interface EventBridgeEvent<TDetail = Record<string, unknown>> {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: TDetail;
}

/**
 * The subset of EventBridge event patterns Ballast's rules use: exact-value lists on `source`,
 * `detail-type` and (nested) `detail` fields. A pattern field that is an array matches when the
 * event's value is one of its entries; an entry `{ prefix: 'ballast-' }` matches a string that
 * starts with it (EventBridge's prefix matching); an object recurses.
 */
export interface EventPattern {
  readonly source?: readonly string[];
  readonly 'detail-type'?: readonly string[];
  readonly detail?: Record<string, unknown>;
}

export type EventListener = (event: EventBridgeEvent) => void;

export function matchesPattern(pattern: EventPattern, event: EventBridgeEvent): boolean {
  if (pattern.source && !pattern.source.includes(event.source)) return false;
  if (pattern['detail-type'] && !pattern['detail-type'].includes(event['detail-type'])) return false;
  return pattern.detail === undefined || matchesObject(pattern.detail, event.detail);
}

function matchesObject(pattern: Record<string, unknown>, value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = record[key];
    if (Array.isArray(expected)) {
      const one = (value: unknown) => expected.some((entry) => matchesEntry(entry, value));
      return Array.isArray(actual) ? actual.some(one) : one(actual);
    }
    if (typeof expected === 'object' && expected !== null) {
      return matchesObject(expected as Record<string, unknown>, actual);
    }
    return actual === expected;
  });
}

/** One entry of a pattern's value list: an exact value, or `{ prefix }`. */
function matchesEntry(entry: unknown, value: unknown): boolean {
  if (typeof entry === 'object' && entry !== null && typeof (entry as { prefix?: unknown }).prefix === 'string') {
    return typeof value === 'string' && value.startsWith((entry as { prefix: string }).prefix);
  }
  return entry === value;
}

/**
 * The sandbox's default event bus: services put events here with AWS's shapes, and the local
 * runner subscribes with the same patterns the CDK stack gives its EventBridge rules.
 */
export class EventBus {
  private readonly subscriptions = new Set<{ pattern: EventPattern; listener: EventListener }>();
  private readonly history: EventBridgeEvent[] = [];
  private readonly lost: Array<{ pattern: EventPattern; remaining: number }> = [];

  constructor(
    readonly account: string,
    readonly region: string,
    private readonly now: () => Date,
  ) {}

  put<TDetail extends Record<string, unknown>>(input: {
    source: string;
    detailType: string;
    resources?: readonly string[];
    detail: TDetail;
    /** The event's time (PutEvents entries may set it). @default now */
    time?: Date;
  }): EventBridgeEvent<TDetail> {
    const event: EventBridgeEvent<TDetail> = {
      version: '0',
      id: randomUUID(),
      'detail-type': input.detailType,
      source: input.source,
      account: this.account,
      time: (input.time ?? this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources: input.resources ?? [],
      detail: input.detail,
    };
    this.history.push(event);
    const lose = this.lost.find((l) => l.remaining > 0 && matchesPattern(l.pattern, event));
    if (lose) {
      // The event happened (it is in the history) but reached no target, as when a rule's target
      // keeps failing past its retries and the event goes to the rule's dead-letter queue.
      lose.remaining--;
      return event;
    }
    for (const { pattern, listener } of this.subscriptions) {
      if (matchesPattern(pattern, event)) {
        // Deliver asynchronously, as EventBridge does: a slow or failing target never blocks the
        // API call that produced the event.
        queueMicrotask(() => listener(event));
      }
    }
    return event;
  }

  subscribe(pattern: EventPattern, listener: EventListener): () => void {
    const subscription = { pattern, listener };
    this.subscriptions.add(subscription);
    return () => this.subscriptions.delete(subscription);
  }

  /**
   * The next `count` events matching `pattern` reach no rule target (a lost delivery), so tests can
   * show what Ballast does about a push whose event never started a deployment.
   */
  loseDeliveries(pattern: EventPattern, count = 1): void {
    this.lost.push({ pattern, remaining: count });
  }

  /** Every event put so far, oldest first (tests and `ballast local` read it). */
  events(): readonly EventBridgeEvent[] {
    return this.history;
  }
}
