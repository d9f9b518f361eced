import type { BackgroundLoad, MetricSink } from '../../service.ts';
import type { ModelBehaviour } from './behaviour.ts';
import type { EndpointRecord, FleetVariant } from './model.ts';
import { type Share, trafficShares } from './rollout.ts';
import { NAME_PATTERN } from './validation.ts';

/**
 * The data plane of the emulated SageMaker: where each request to an endpoint goes, how the model
 * answers it, and the per-variant invocation metrics SageMaker publishes to CloudWatch from them.
 *
 * Requests come from InvokeEndpoint calls (the runtime service) and from a configured background load
 * (synthetic requests at a steady rate, for rehearsals without a client). Both take the same path:
 *  - routing: to the endpoint's live fleet(s), split between the blue and the green fleet by the
 *    traffic the rollout has shifted so far (trafficShares in rollout.ts), deterministically: a smooth
 *    weighted round robin, so a 25% canary gets exactly every fourth request;
 *  - behaviour: the fleet variant's ModelBehaviour (behaviour.ts), also deterministic;
 *  - metrics: one datum per metric, endpoint, variant and minute of simulated time, in namespace
 *    `AWS/SageMaker` with the dimensions EndpointName and VariantName, as "SageMaker AI endpoint
 *    invocation metrics" lists them (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html):
 *      Invocations          the requests sent to the variant (Sum)
 *      Invocation5XXErrors  "For each 5xx response, 1 is sent; otherwise, 0 is sent" (Sum, Average)
 *      Invocation4XXErrors  the same for 4xx (the sandbox's model never answers 4xx: always 0)
 *      ModelLatency         per request, in Microseconds (Average, Maximum, percentiles)
 *    Blue and green fleets run the same VariantName during a blue/green update, so their requests
 *    land in the same series: an alarm on EndpointName and VariantName watches "both old and new
 *    fleets" (SageMaker developer guide, "Auto-Rollback Configuration and Monitoring"). CloudWatch
 *    matches a metric by all its dimensions, so an alarm on EndpointName alone sees none of this data,
 *    as on AWS.
 *
 * Time: `runUntil(t)` walks simulated time minute by minute, however far the clock jumped. Within a
 * minute, each request first moves its endpoint's rollout to the request's instant (so it is routed by
 * the weights of that instant, and a bake's alarm polls up to then are done); at each minute's end the
 * minute's datapoints are published and CloudWatch evaluates the alarms as of that instant, before any
 * later request is routed. An alarm that fires from metrics mid-bake is therefore in CloudWatch's state
 * history at the minute it fired, where SageMaker's auto-rollback looks for it. Endpoints without
 * traffic cost nothing: only endpoints with a background load generate requests, and minutes without
 * any data are skipped unless an alarm could still change from data published before.
 */

const MINUTE_MS = 60_000;
const SECOND_MS = 1_000;
/**
 * How long after the last published datum alarms are still evaluated at every minute's end: the longest
 * window an alarm may evaluate ("The evaluation period (Period multiplied by EvaluationPeriods) cannot
 * exceed 7 days", PutMetricAlarm), after which no data of ours can change an alarm any more.
 */
const EVALUATION_HORIZON_MS = 7 * 24 * 3_600_000;
/** A generous ceiling, so a typo cannot ask for a load that no endpoint would take. */
export const MAX_REQUESTS_PER_MINUTE = 1_000_000;
const ENDPOINT_NAME = new RegExp(`${NAME_PATTERN}$`);

export interface InvocationDeps {
  /** The endpoint with its rollout moved to `atMs` (never back), or undefined when there is none. */
  endpointAt(name: string, atMs: number): EndpointRecord | undefined;
  /** Where the invocation metrics go; without it, nothing is published. */
  readonly metrics?: MetricSink;
  /** The simulated time the data plane starts at (no minute before it is ever published). */
  readonly startMs: number;
}

/** What one request (or a batch of requests in the same instant) met on one fleet variant. */
export interface Served {
  readonly share: Share;
  readonly requests: number;
  /** How many of them the model answered with a 500. */
  readonly errors: number;
  readonly latencyMs: number;
}

export type InvokeResult =
  | { readonly kind: 'served'; readonly endpoint: EndpointRecord; readonly served: Served }
  /** No such endpoint, or one that serves no traffic (creating, failed, deleting). */
  | { readonly kind: 'not-serving' }
  /** TargetVariant names no variant that receives traffic. */
  | { readonly kind: 'no-variant' };

interface VariantState {
  /** Smooth weighted round robin: how far this variant is behind its share of the requests. */
  routeCredit: number;
  /** The fractional errors owed at the model's error rate. */
  errorCredit: number;
  /** Requests received per second over the last minute (a ring indexed by second modulo 60)… */
  readonly counts: number[];
  /** …the last second counted, and the ring's total. */
  lastSecond: number;
  lastMinute: number;
  /** The minute stats this variant's requests were last counted in (one lookup per minute). */
  stats?: MinuteStats;
  statsMinute: number;
}

interface MinuteStats {
  readonly endpointName: string;
  readonly variantName: string;
  invocations: number;
  errors5xx: number;
  /** ModelLatency in microseconds -> requests. */
  readonly latencies: Map<number, number>;
}

interface Load {
  readonly endpointName: string;
  readonly requestsPerMinute: number;
  /** The simulated instant of the next synthetic request. */
  nextAtMs: number;
}

export class InvocationEngine {
  private readonly variants = new WeakMap<FleetVariant, VariantState>();
  /** Minute start -> (endpoint, variant) -> what that minute saw, until the minute is published. */
  private readonly minutes = new Map<number, Map<string, MinuteStats>>();
  private readonly load = new Map<string, Load>();
  /** Every minute that ended at or before this instant has been published. */
  private publishedUntil: number;
  private lastPublishedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: InvocationDeps) {
    this.publishedUntil = Math.floor(deps.startMs / MINUTE_MS) * MINUTE_MS;
  }

  /**
   * Sets an endpoint's background load (0 stops it), from `nowMs` on; the caller has run the engine up
   * to `nowMs` first. The endpoint need not exist yet: its requests start once it serves traffic.
   */
  setLoad(endpointName: string, requestsPerMinute: number, nowMs: number): BackgroundLoad {
    if (typeof endpointName !== 'string' || endpointName.length > 63 || !ENDPOINT_NAME.test(endpointName)) {
      throw new RangeError(
        `endpointName must be a SageMaker endpoint name (1-63 letters, digits and hyphens, pattern ${NAME_PATTERN}), got ${JSON.stringify(endpointName)}`,
      );
    }
    if (
      typeof requestsPerMinute !== 'number' ||
      !Number.isFinite(requestsPerMinute) ||
      requestsPerMinute < 0 ||
      requestsPerMinute > MAX_REQUESTS_PER_MINUTE
    ) {
      throw new RangeError(
        `requestsPerMinute must be a number from 0 to ${MAX_REQUESTS_PER_MINUTE}, got ${JSON.stringify(requestsPerMinute)}`,
      );
    }
    const key = endpointName.toLowerCase();
    if (requestsPerMinute === 0) this.load.delete(key);
    else this.load.set(key, { endpointName, requestsPerMinute, nextAtMs: nowMs });
    return { endpointName, requestsPerMinute };
  }

  loads(): BackgroundLoad[] {
    return [...this.load.values()].map(({ endpointName, requestsPerMinute }) => ({ endpointName, requestsPerMinute }));
  }

  /** One InvokeEndpoint request at `atMs` (the engine has run up to then). */
  invoke(endpointName: string, atMs: number, targetVariant?: string): InvokeResult {
    const endpoint = this.deps.endpointAt(endpointName, atMs);
    if (!endpoint || !serving(endpoint)) return { kind: 'not-serving' };
    const shares = liveShares(endpoint, targetVariant);
    if (shares.length === 0) return targetVariant === undefined ? { kind: 'not-serving' } : { kind: 'no-variant' };
    const [served] = this.serve(endpoint, shares, atMs, 1);
    return served ? { kind: 'served', endpoint, served } : { kind: 'not-serving' };
  }

  /**
   * Generates the background load and publishes every whole minute up to `nowMs`, in order, each
   * minute's alarms evaluated at its end before the next minute's first request.
   */
  runUntil(nowMs: number): void {
    const through = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
    if (this.load.size === 0 && this.minutes.size === 0 && through - this.lastPublishedAt > EVALUATION_HORIZON_MS) {
      // Nothing to generate, publish or evaluate: the common case of a sandbox without traffic.
      this.publishedUntil = Math.max(this.publishedUntil, through);
      return;
    }
    while (this.publishedUntil < through) {
      const start = this.publishedUntil;
      const end = start + MINUTE_MS;
      this.generate(end);
      if (this.publish(start)) this.lastPublishedAt = end;
      if (end - this.lastPublishedAt <= EVALUATION_HORIZON_MS) this.deps.metrics?.evaluateAlarmsAt(end);
      this.publishedUntil = end;
    }
    this.generate(nowMs);
  }

  /** Synthetic requests of every background load, up to (not including) `untilMs`. */
  private generate(untilMs: number): void {
    for (const load of this.load.values()) {
      const interval = MINUTE_MS / load.requestsPerMinute;
      while (load.nextAtMs < untilMs) {
        const at = load.nextAtMs;
        const endpoint = this.deps.endpointAt(load.endpointName, at);
        if (!endpoint) {
          // No endpoint (yet): skip to the first request at or after `untilMs` without a loop.
          load.nextAtMs = at + Math.ceil((untilMs - at) / interval) * interval;
          break;
        }
        // The requests of one second go out together: the cost follows simulated seconds, not the rate.
        const slotEnd = Math.min((Math.floor(at / SECOND_MS) + 1) * SECOND_MS, untilMs);
        const count = Math.max(1, Math.ceil((slotEnd - at) / interval));
        load.nextAtMs = at + count * interval;
        if (!serving(endpoint)) continue;
        const shares = liveShares(endpoint);
        if (shares.length > 0) this.serve(endpoint, shares, at, count);
      }
    }
  }

  /**
   * Routes `count` requests at `atMs` over the shares, answers them and counts them for the minute.
   * (Plain loops, no closures: this runs for every second of simulated traffic.)
   */
  private serve(endpoint: EndpointRecord, shares: readonly Share[], atMs: number, count: number): Served[] {
    const allocation = this.route(shares, count);
    const served: Served[] = [];
    const second = Math.floor(atMs / SECOND_MS);
    const minute = Math.floor(atMs / MINUTE_MS) * MINUTE_MS;
    for (let i = 0; i < shares.length; i += 1) {
      const share = shares[i] as Share;
      const requests = allocation[i] ?? 0;
      if (requests === 0) continue;
      const variant = share.variant;
      const state = this.state(variant);
      const received = receive(state, second, requests);
      const errors = owedErrors(state, variant.behaviour, requests, received);
      const latencyMs = variant.behaviour.latencyMs;
      const stats = this.statsFor(state, endpoint.name, variant.name, minute);
      stats.invocations += requests;
      stats.errors5xx += errors;
      const micros = latencyMs * 1000;
      stats.latencies.set(micros, (stats.latencies.get(micros) ?? 0) + requests);
      served.push({ share, requests, errors, latencyMs });
    }
    return served;
  }

  /**
   * Splits `count` requests over the shares by their percent: each share's credit grows by its part
   * of the requests and it receives the whole requests it is owed; the remainder goes to the shares
   * furthest behind. One request at a time, this is nginx's smooth weighted round robin.
   */
  private route(shares: readonly Share[], count: number): number[] {
    if (shares.length === 1) return [count];
    let total = 0;
    for (const s of shares) total += s.percent;
    const owed: number[] = [];
    const allocation: number[] = [];
    let assigned = 0;
    for (const s of shares) {
      const o = this.state(s.variant).routeCredit + (count * s.percent) / total;
      const whole = Math.max(0, Math.floor(o + 1e-9));
      owed.push(o);
      allocation.push(whole);
      assigned += whole;
    }
    // Too many (credits can be negative): take from the most ahead; too few: give to the furthest behind.
    while (assigned !== count) {
      const more = assigned < count;
      let best = -1;
      for (let i = 0; i < shares.length; i += 1) {
        const a = allocation[i] ?? 0;
        if (!more && a === 0) continue;
        const behind = (owed[i] ?? 0) - a;
        const bestBehind = best < 0 ? 0 : (owed[best] ?? 0) - (allocation[best] ?? 0);
        if (best < 0 || (more ? behind > bestBehind : behind < bestBehind)) best = i;
      }
      allocation[best] = (allocation[best] ?? 0) + (more ? 1 : -1);
      assigned += more ? 1 : -1;
    }
    for (let i = 0; i < shares.length; i += 1) {
      this.state((shares[i] as Share).variant).routeCredit = (owed[i] ?? 0) - (allocation[i] ?? 0);
    }
    return allocation;
  }

  private state(variant: FleetVariant): VariantState {
    let state = this.variants.get(variant);
    if (!state) {
      state = {
        routeCredit: 0,
        errorCredit: 0,
        counts: new Array(60).fill(0),
        lastSecond: Number.NEGATIVE_INFINITY,
        lastMinute: 0,
        statsMinute: Number.NaN,
      };
      this.variants.set(variant, state);
    }
    return state;
  }

  /** The stats of (endpoint, variant) for the minute that starts at `minute`; blue and green share them. */
  private statsFor(state: VariantState, endpointName: string, variantName: string, minute: number): MinuteStats {
    if (state.stats && state.statsMinute === minute && this.minutes.get(minute)) return state.stats;
    let stats = this.minutes.get(minute);
    if (!stats) {
      stats = new Map();
      this.minutes.set(minute, stats);
    }
    const key = `${endpointName.toLowerCase()}\n${variantName}`;
    let entry = stats.get(key);
    if (!entry) {
      entry = { endpointName, variantName, invocations: 0, errors5xx: 0, latencies: new Map() };
      stats.set(key, entry);
    }
    state.stats = entry;
    state.statsMinute = minute;
    return entry;
  }

  /** Publishes the minute that starts at `minute` (one PutMetricData per endpoint); true when it had data. */
  private publish(minute: number): boolean {
    const stats = this.minutes.get(minute);
    if (!stats) return false;
    this.minutes.delete(minute);
    const metrics = this.deps.metrics;
    if (!metrics) return true;
    const byEndpoint = new Map<string, Record<string, unknown>[]>();
    for (const s of stats.values()) {
      const dimensions = [
        { Name: 'EndpointName', Value: s.endpointName },
        { Name: 'VariantName', Value: s.variantName },
      ];
      const base = { Dimensions: dimensions, Timestamp: minute / 1000 };
      // One 0/1 sample per request, aggregated as a statistic set (SampleCount = requests).
      const perRequest = (metricName: string, ones: number) => ({
        ...base,
        MetricName: metricName,
        Unit: 'None',
        StatisticValues: {
          SampleCount: s.invocations,
          Sum: ones,
          Minimum: ones === s.invocations ? 1 : 0,
          Maximum: ones > 0 ? 1 : 0,
        },
      });
      const latencies = [...s.latencies.entries()].sort(([a], [b]) => a - b);
      const data = byEndpoint.get(s.endpointName) ?? [];
      data.push(
        perRequest('Invocations', s.invocations),
        perRequest('Invocation5XXErrors', s.errors5xx),
        perRequest('Invocation4XXErrors', 0),
        {
          ...base,
          MetricName: 'ModelLatency',
          Unit: 'Microseconds',
          // Values and Counts keep every request's latency, so percentile alarms (p99) work.
          Values: latencies.map(([micros]) => micros),
          Counts: latencies.map(([, n]) => n),
        },
      );
      byEndpoint.set(s.endpointName, data);
    }
    for (const data of byEndpoint.values()) {
      metrics.putServiceMetricData({ Namespace: 'AWS/SageMaker', MetricData: data });
    }
    return true;
  }
}

/**
 * Counts requests a fleet variant received in `second` (seconds never go back); returns how many it
 * received in the last minute, this second included.
 */
function receive(state: VariantState, second: number, requests: number): number {
  if (second !== state.lastSecond) {
    // Forget the seconds that left the window since the last call (at most the whole ring).
    const gap = Math.min(60, second - state.lastSecond);
    for (let k = 1; k <= gap; k += 1) {
      const slot = (((second - gap + k) % 60) + 60) % 60;
      state.lastMinute -= state.counts[slot] ?? 0;
      state.counts[slot] = 0;
    }
    state.lastSecond = second;
  }
  const slot = ((second % 60) + 60) % 60;
  state.counts[slot] = (state.counts[slot] ?? 0) + requests;
  state.lastMinute += requests;
  return state.lastMinute;
}

/** How many of `requests` fail: the error rate, paid out in whole errors, while the model fails at all. */
function owedErrors(
  state: VariantState,
  behaviour: ModelBehaviour,
  requests: number,
  receivedLastMinute: number,
): number {
  if (behaviour.errorRate === 0) return 0;
  if (behaviour.errorsAboveRpm !== undefined && receivedLastMinute <= behaviour.errorsAboveRpm) return 0;
  state.errorCredit += requests * behaviour.errorRate;
  const errors = Math.min(requests, Math.floor(state.errorCredit + 1e-9));
  state.errorCredit -= errors;
  return errors;
}

/**
 * The shares that receive traffic. With a TargetVariant, that variant in each fleet that serves,
 * weighted by the fleet's share and not by the variant's weight: a variant of weight 0 can still be
 * targeted ("this parameter overrides the default behavior for the endpoint, which is to distribute
 * the invocation traffic based on the variant weights", API reference, InvokeEndpoint.TargetVariant).
 */
function liveShares(endpoint: EndpointRecord, variantName?: string): Share[] {
  const all = trafficShares(endpoint);
  const live: Share[] = [];
  if (variantName === undefined) {
    for (const share of all) if (share.percent > 0) live.push(share);
    return live;
  }
  let blue = 0;
  let green = 0;
  for (const share of all) {
    if (share.fleet === 'blue') blue += share.percent;
    else green += share.percent;
  }
  for (const share of all) {
    const fleetPercent = share.fleet === 'blue' ? blue : green;
    if (share.variant.name === variantName && fleetPercent > 0) live.push({ ...share, percent: fleetPercent });
  }
  return live;
}

/** An endpoint serves requests on its live fleet while InService or Updating. */
function serving(endpoint: EndpointRecord): boolean {
  return endpoint.live !== undefined && (endpoint.status === 'InService' || endpoint.status === 'Updating');
}
