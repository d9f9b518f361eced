/**
 * CloudWatch Embedded Metric Format in the sandbox. On AWS a handler's EMF lines go to stdout,
 * CloudWatch Logs extracts the metrics, and alarms evaluate them. Locally nothing reads stdout (and
 * the demo's terminal must stay quiet), so the local runner gives Powertools Metrics an in-process
 * sink (`metrics.sendEmfTo`) that turns each EMF document into PutMetricData on the sandbox's
 * CloudWatch: metrics drive alarms there as on AWS.
 *
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import type { CloudWatchSandbox } from './services/cloudwatch.ts';

/** The parts of an EMF document this reads (what Powertools Metrics writes). */
export interface EmfDocumentLike {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: ReadonlyArray<readonly string[]>;
      readonly Metrics: ReadonlyArray<{
        readonly Name: string;
        readonly Unit?: string;
        readonly StorageResolution?: number;
      }>;
    }>;
  };
  readonly [member: string]: unknown;
}

/** A PutMetricData request body as the sandbox's awsJson protocol receives it (Timestamp in seconds). */
export interface MetricDataInput {
  readonly Namespace: string;
  readonly MetricData: ReadonlyArray<Record<string, unknown>>;
}

/**
 * The PutMetricData requests equivalent to one EMF document: per metric directive (namespace), one
 * datum per metric and dimension set, with the dimension values and metric values read from the
 * document's root members. Like CloudWatch Logs, a dimension set whose values are missing or not
 * strings, or a metric without a numeric value, is left out rather than failing the whole document.
 */
export function emfToMetricData(document: EmfDocumentLike): MetricDataInput[] {
  const timestamp = document._aws.Timestamp / 1000;
  return document._aws.CloudWatchMetrics.flatMap((directive) => {
    const dimensionSets = directive.Dimensions.length === 0 ? [[]] : directive.Dimensions;
    const data = directive.Metrics.flatMap((metric) => {
      const value = document[metric.Name];
      const values = typeof value === 'number' ? [value] : Array.isArray(value) ? value : [];
      if (values.length === 0 || !values.every((v) => typeof v === 'number')) return [];
      return dimensionSets.flatMap((names) => {
        const dimensions = names.map((name) => ({ Name: name, Value: document[name] }));
        if (!dimensions.every((d) => typeof d.Value === 'string' && d.Value !== '')) return [];
        return [
          {
            MetricName: metric.Name,
            Dimensions: dimensions,
            Timestamp: timestamp,
            ...(metric.Unit ? { Unit: metric.Unit } : {}),
            ...(metric.StorageResolution ? { StorageResolution: metric.StorageResolution } : {}),
            ...(values.length === 1 ? { Value: values[0] } : { Values: values }),
          },
        ];
      });
    });
    return data.length > 0 ? [{ Namespace: directive.Namespace, MetricData: data }] : [];
  });
}

/**
 * An EMF sink that stores each document's metrics in the sandbox's CloudWatch. A document the
 * sandbox rejects (as CloudWatch would: a bad unit, an AWS/ namespace) goes to `onRejected` and
 * never fails the handler, as a bad EMF line never fails a Lambda invocation.
 */
export function emfSink(
  cloudwatch: Pick<CloudWatchSandbox, 'putMetricData'>,
  onRejected: (error: unknown, document: EmfDocumentLike) => void = () => undefined,
): (document: EmfDocumentLike) => void {
  return (document) => {
    try {
      for (const input of emfToMetricData(document)) cloudwatch.putMetricData({ ...input });
    } catch (error) {
      onRejected(error, document);
    }
  };
}
