/**
 * Instance families and their accelerators, for the GPU checks.
 *
 * - GPU families: every `g<digit>…` and `p<digit>…` family (g4dn, g5, g6, g6e, p3, p3dn, p4d,
 *   p4de, p5, p5e, p5en, p6-b200, …) carries NVIDIA GPUs; new ones of that naming are accepted
 *   without a code change.
 * - Neuron families (inf1, inf2, trn1, trn1n, trn2): AWS Inferentia/Trainium accelerators, not
 *   GPUs. They serve Neuron-compiled models from Neuron images; asking them for `gpus` is an error.
 * - Everything else (m5, c6i, r7g, …) is CPU only.
 *
 * GPU counts are listed for the sizes we know; a size not listed is not checked for its count.
 */

export type AcceleratorKind = 'gpu' | 'neuron' | 'none';

const GPU_COUNTS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  g4dn: { xlarge: 1, '2xlarge': 1, '4xlarge': 1, '8xlarge': 1, '16xlarge': 1, '12xlarge': 4, metal: 8 },
  g5: {
    xlarge: 1,
    '2xlarge': 1,
    '4xlarge': 1,
    '8xlarge': 1,
    '16xlarge': 1,
    '12xlarge': 4,
    '24xlarge': 4,
    '48xlarge': 8,
  },
  g6: {
    xlarge: 1,
    '2xlarge': 1,
    '4xlarge': 1,
    '8xlarge': 1,
    '16xlarge': 1,
    '12xlarge': 4,
    '24xlarge': 4,
    '48xlarge': 8,
  },
  g6e: {
    xlarge: 1,
    '2xlarge': 1,
    '4xlarge': 1,
    '8xlarge': 1,
    '16xlarge': 1,
    '12xlarge': 4,
    '24xlarge': 4,
    '48xlarge': 8,
  },
  p3: { '2xlarge': 1, '8xlarge': 4, '16xlarge': 8 },
  p3dn: { '24xlarge': 8 },
  p4d: { '24xlarge': 8 },
  p4de: { '24xlarge': 8 },
  p5: { '48xlarge': 8 },
  p5e: { '48xlarge': 8 },
  p5en: { '48xlarge': 8 },
};

/** Families named in error messages as examples of what would be right. */
export const GPU_FAMILY_EXAMPLES = 'g4dn, g5, g6, g6e, p3, p4d, p4de, p5, p5e';

export interface InstanceInfo {
  /** e.g. `g5` for ml.g5.2xlarge and g5.2xlarge. */
  readonly family: string;
  readonly size: string | undefined;
  readonly accelerator: AcceleratorKind;
  /** GPUs per instance, when known. */
  readonly gpus: number | undefined;
}

/** Parses a SageMaker (`ml.g5.2xlarge`) or EC2 (`g5.2xlarge`) instance type, or a bare family (`g5`). */
export function instanceInfo(instanceType: string): InstanceInfo {
  const parts = instanceType.replace(/^ml\./, '').split('.');
  const family = (parts[0] ?? '').toLowerCase();
  const size = parts[1]?.toLowerCase();
  return {
    family,
    size,
    accelerator: acceleratorOf(family),
    gpus: size === undefined ? undefined : GPU_COUNTS[family]?.[size],
  };
}

function acceleratorOf(family: string): AcceleratorKind {
  if (/^[gp]\d/.test(family)) return 'gpu';
  if (/^(inf|trn)\d/.test(family)) return 'neuron';
  return 'none';
}

/** Node labels that pin pods of an EKS target to an instance type or family. */
export const INSTANCE_TYPE_LABELS = [
  'node.kubernetes.io/instance-type',
  'beta.kubernetes.io/instance-type',
  'karpenter.k8s.aws/instance-family',
  'eks.amazonaws.com/instance-type',
] as const;

/** Whether an image tag says it was built for CUDA (…-gpu-…, …-cu124-…). */
export function isCudaImageTag(tag: string | undefined): boolean {
  return tag !== undefined && /(^|[-_.])(gpu|cu\d{3})([-_.]|$)/.test(tag);
}

// ---------------------------------------------------------------------------------------------
// Traffic shifting in whole instances
//
// SageMaker's blue/green TrafficRoutingConfig sizes the canary and each linear step as a
// CapacitySize. Ballast sends it as INSTANCE_COUNT, rounded up so that a step is never zero
// instances, and checks SageMaker's limits for the declared instance count (SageMaker API
// Reference, TrafficRoutingConfig): "CanarySize ... must be less than or equal to 50% of the
// variant's total instance count"; "LinearStepSize ... must be 10-50% of the variant's total
// instance count". One instance is more than 50% of one, so a 1-instance endpoint can neither
// canary nor shift linearly: it can only replace all at once.

/** Instances in the canary: ceil(instanceCount × percent / 100), so at least one. */
export function canarySizeInstances(instanceCount: number, percent: number): number {
  return ceilPercent(instanceCount, percent);
}

/** Instances shifted per linear step: ceil(instanceCount × stepPercent / 100), so at least one. */
export function linearStepInstances(instanceCount: number, stepPercent: number): number {
  return ceilPercent(instanceCount, stepPercent);
}

function ceilPercent(count: number, percent: number): number {
  // Integer arithmetic: count and percent are whole numbers, so no floating-point rounding.
  return Math.floor((count * percent + 99) / 100);
}

/** Whether SageMaker accepts a canary of `instances` on a variant of `instanceCount` (at most 50%). */
export function canaryFits(instanceCount: number, instances: number): boolean {
  return instances >= 1 && 2 * instances <= instanceCount;
}

/** Whether SageMaker accepts linear steps of `instances` on a variant of `instanceCount` (10% to 50%). */
export function linearStepFits(instanceCount: number, instances: number): boolean {
  return 10 * instances >= instanceCount && 2 * instances <= instanceCount;
}

/**
 * The largest whole percent (at most 50) whose step, rounded up to whole instances, SageMaker
 * accepts on `instanceCount` instances; 0 when there is none (one instance). The same bound holds
 * for canary.percent and linear.stepPercent: for a stepPercent of at least 10 (the schema's
 * minimum), a step rounded up is always at least 10% of the instances.
 */
export function maxStepPercent(instanceCount: number): number {
  for (let percent = 50; percent >= 1; percent--) {
    if (canaryFits(instanceCount, ceilPercent(instanceCount, percent))) return percent;
  }
  return 0;
}
