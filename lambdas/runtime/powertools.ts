/**
 * The project's one Logger, Metrics and Tracer (Powertools for AWS Lambda). Every handler and
 * every SDK client module uses these instances; lambdas/runtime/handler.ts wires them into each
 * handler with the Powertools middy middlewares.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { EmfOutput } from '@aws-lambda-powertools/metrics/types';
import { Tracer } from '@aws-lambda-powertools/tracer';

type LogLevel = Parameters<Logger['setLogLevel']>[0];

/**
 * The Powertools Logger, except that a level chosen with `setLogLevel` holds across invocations.
 * Powertools resets the level to the one from construction (POWERTOOLS_LOG_LEVEL) at the start of
 * every warm invocation (`refreshSampleRateCalculation`, called by injectLambdaContext), which on
 * Lambda nobody notices; in the local pipeline, where every handler shares this process and
 * `logger.setLogLevel('SILENT')` keeps the demo's narration readable, it would turn the handlers'
 * logs back on from the second invocation. Debug sampling is not used by Ballast.
 */
export class BallastLogger extends Logger {
  // `declare`: no initializer, because the base constructor may already call setLogLevel (debug
  // sampling) before this class's fields would be initialized.
  declare private chosen: LogLevel | undefined;

  override setLogLevel(logLevel: LogLevel): void {
    this.chosen = logLevel;
    super.setLogLevel(logLevel);
  }

  override refreshSampleRateCalculation(): void {
    // The base method resets through this.setLogLevel, i.e. the override above: keep the choice.
    const chosen = this.chosen;
    super.refreshSampleRateCalculation();
    this.chosen = chosen;
    if (chosen) super.setLogLevel(chosen);
  }
}

export const logger = new BallastLogger({ serviceName: 'ballast' });

/**
 * X-Ray tracing of the handlers and (through `tracer.captureAWSv3Client`) of every SDK call.
 *
 * Outside Lambda (unit tests, the local sandbox, the demo) it is a silent no-op without any
 * setting: Powertools documents that the Tracer is disabled when not running in the Lambda
 * execution environment (https://docs.aws.amazon.com/powertools/typescript/latest/features/tracer/),
 * and 2.36.0 decides it at construction from AWS_EXECUTION_ENV (unset outside Lambda; SAM CLI and
 * the Amplify mock are detected too), then skips segments, annotations and client capture and
 * tells the X-Ray SDK to ignore a missing context. So POWERTOOLS_TRACE_ENABLED is deliberately not
 * set anywhere; setting it to `false` is the documented switch should one ever want it off on AWS.
 */
export const tracer = new Tracer({ serviceName: 'ballast' });

/** One EMF document (a CloudWatch Embedded Metric Format log line, parsed). */
export type EmfDocument = EmfOutput;
/** Receives each EMF document in-process instead of stdout (the local runner, tests). */
export type EmfSink = (document: EmfDocument) => void;

const EMPTY_FLUSH_WARNING = 'No application metrics to publish';

/**
 * Where Metrics sends its own diagnostics (EMF itself never goes through a logger). Every
 * invocation of a handler that adds no metric of its own ends with "No application metrics to
 * publish": normal for most steps, so it is a DEBUG line here rather than a WARN on every call.
 */
const metricsDiagnostics = {
  debug: (message: string) => logger.debug(message),
  info: (message: string) => logger.info(message),
  warn: (message: string) =>
    String(message).startsWith(EMPTY_FLUSH_WARNING) ? logger.debug(message) : logger.warn(message),
  error: (message: string) => logger.error(message),
};

/**
 * Powertools Metrics that can hand its EMF to an in-process sink. On Lambda EMF must go to stdout,
 * where CloudWatch Logs turns it into metrics; locally nothing reads stdout and the demo's terminal
 * must stay quiet, so the local runner gives a sink that feeds the sandbox's CloudWatch instead.
 *
 * Metrics 2.36.0 has no option for this: its `logger` option carries diagnostics only ("EMF metrics
 * are always sent directly to stdout"), and POWERTOOLS_METRICS_DISABLED drops them altogether.
 * EMF is written with `this.console.log(JSON.stringify(emf))` (Metrics.publishStoredMetrics), and
 * `console` is a plain (TypeScript-private) field, so the sink replaces that field: on this
 * instance and on each `singleMetric()` (the cold-start metric is published by one). The version is
 * pinned and test/lambdas/runtime/handler.test.ts proves the cold-start and handler metrics arrive.
 */
export class BallastMetrics extends Metrics {
  #sink: EmfSink | undefined;
  readonly #stdout: unknown = Reflect.get(this, 'console');

  /** Sends EMF to `sink` from now on; `undefined` goes back to stdout. */
  sendEmfTo(sink: EmfSink | undefined): void {
    this.#sink = sink;
    Reflect.set(this, 'console', sink ? sinkConsole(sink) : this.#stdout);
  }

  override singleMetric(): Metrics {
    const single = super.singleMetric();
    if (this.#sink) Reflect.set(single, 'console', sinkConsole(this.#sink));
    return single;
  }
}

function sinkConsole(sink: EmfSink): Pick<Console, 'log'> {
  return { log: (line: string) => sink(JSON.parse(line) as EmfDocument) };
}

export const metrics = new BallastMetrics({ namespace: 'Ballast', serviceName: 'ballast', logger: metricsDiagnostics });
