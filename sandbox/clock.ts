/**
 * The sandbox's notion of "now". Simulated time runs `timeScale` times faster than wall time, and
 * can also be pushed forward explicitly (the local runner does this when a workflow's Wait state
 * would sleep), so a 10-minute canary bake finishes in well under a second of wall time while every
 * timestamp the sandbox returns stays consistent with the durations AWS would report.
 */
export class VirtualClock {
  private readonly startedWall: number;
  private readonly startedVirtual: number;
  private advancedMs = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    /** Simulated milliseconds per wall-clock millisecond. 1 is real time. */
    readonly timeScale = 1,
    start: Date = new Date(),
    private readonly wallNow: () => number = Date.now,
  ) {
    if (!Number.isFinite(timeScale) || timeScale <= 0) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
    this.startedWall = wallNow();
    this.startedVirtual = start.getTime();
  }

  nowMs(): number {
    return this.startedVirtual + (this.wallNow() - this.startedWall) * this.timeScale + this.advancedMs;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Moves simulated time forward (never back) and tells subscribers, so time-driven state settles. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance takes a non-negative duration, got ${ms}`);
    this.advancedMs += ms;
    for (const listener of this.listeners) listener();
  }

  /** Wall-clock milliseconds that correspond to `simulatedMs` of simulated time. */
  wallMsFor(simulatedMs: number): number {
    return simulatedMs / this.timeScale;
  }

  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
