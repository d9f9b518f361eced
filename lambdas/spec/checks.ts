/**
 * Semantic checks: what a per-document schema cannot see. References between resources, unique
 * names, environments, repository defaults, rollout timing and capacity, GPU requirements, the
 * container environment (reserved names, secrets, SageMaker's limit), prompt variables.
 */
import {
  BALLAST_VARIABLES,
  ballastEnvironmentCount,
  MAX_CONTAINER_VARIABLES,
  RESERVED_ENV_PREFIX,
} from './container-environment.ts';
import {
  canaryFits,
  canarySizeInstances,
  GPU_FAMILY_EXAMPLES,
  INSTANCE_TYPE_LABELS,
  instanceInfo,
  isCudaImageTag,
  linearStepFits,
  linearStepInstances,
  maxStepPercent,
} from './instances.ts';
import { formatJsonPath, type IssueCode, type Path, type Severity, type ValidationIssue } from './issues.ts';
import { effectiveRollout, effectiveTarget, endpointEnvironments } from './resolve.ts';
import { DNS_LABEL, type Kind, type PromptSpec, parseEcrImage, type Rollout, type SpecByKind } from './schema.ts';
import { resolveReferenceSecretId, secretEnvName } from './secrets.ts';
import type { PositionMode, YamlDocument } from './yaml-reader.ts';
import { didYouMean, lookup } from './zod-issues.ts';

export interface Parsed<K extends Kind> {
  readonly kind: K;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: SpecByKind[K];
  readonly doc: YamlDocument;
}

/** A document that declares a name of some kind, whether or not the rest of it is valid. */
export interface Declared {
  readonly kind: Kind;
  readonly name: string;
  readonly doc: YamlDocument;
}

export interface Collected {
  readonly repositories: Parsed<'Repository'>[];
  readonly models: Parsed<'Model'>[];
  readonly endpoints: Parsed<'Endpoint'>[];
  readonly prompts: Parsed<'Prompt'>[];
  readonly configs: Parsed<'Config'>[];
  /** Every document whose kind is known, valid or not (so one broken Model does not also break references to it). */
  readonly declared: Declared[];
}

export class Reporter {
  readonly issues: ValidationIssue[] = [];

  at(
    doc: YamlDocument,
    path: Path,
    mode: PositionMode,
    code: IssueCode,
    message: string,
    expected?: string,
    severity: Severity = 'error',
  ): void {
    const { line, column } = doc.position(path, mode);
    this.push({ severity, file: doc.file, line, column, path: formatJsonPath(path), message, code, expected });
  }

  push(issue: {
    severity: Severity;
    file: string;
    line: number;
    column: number;
    path: string;
    message: string;
    code: IssueCode;
    expected?: string | undefined;
  }): void {
    const { expected, ...rest } = issue;
    this.issues.push(expected === undefined ? rest : { ...rest, expected });
  }

  /** An issue about the repository as a whole (no file to point at). */
  repository(code: IssueCode, message: string, expected?: string): void {
    this.push({ severity: 'error', file: '', line: 0, column: 0, path: '$', message, code, expected });
  }
}

const REPOSITORY_FILE = 'ballast.yaml';

export function semanticChecks(collected: Collected, files: readonly string[], report: Reporter): void {
  const repository = checkRepository(collected, files, report);
  checkUniqueNames(collected, report);
  const names = (kind: Kind) =>
    [...new Set(collected.declared.filter((d) => d.kind === kind).map((d) => d.name))].sort();
  const declaredModels = names('Model');
  const declaredPrompts = names('Prompt');
  const declaredConfigs = names('Config');
  // Environment names from ballast.yaml even when other parts of it are invalid.
  const repositoryDoc = collected.declared.find((d) => d.kind === 'Repository' && d.doc.file === REPOSITORY_FILE)?.doc;
  const rawEnvironments = repositoryDoc ? lookup(repositoryDoc.value, ['spec', 'environments']).value : undefined;
  const environments = Array.isArray(rawEnvironments)
    ? rawEnvironments
        .map((environment: unknown) => stringAt(environment, ['name']))
        .filter((name) => name !== undefined)
    : [];

  const models = new Map(collected.models.map((model) => [model.name, model]));
  const prompts = new Map(collected.prompts.map((prompt) => [prompt.name, prompt]));

  // References are checked on every Endpoint and Prompt document, also those with schema errors
  // elsewhere, so that one run shows all mistakes. Values of the wrong type were reported already.
  for (const { kind, doc } of collected.declared) {
    if (kind === 'Prompt') {
      const model = stringAt(doc.value, ['spec', 'model']);
      if (model !== undefined) checkReference(doc, ['spec', 'model'], model, 'Model', declaredModels, report);
    }
    if (kind !== 'Endpoint') continue;
    const model = stringAt(doc.value, ['spec', 'model']);
    if (model !== undefined) checkReference(doc, ['spec', 'model'], model, 'Model', declaredModels, report);
    checkList(doc, ['spec', 'prompts'], stringsAt(doc.value, ['spec', 'prompts']), report, (value, path) =>
      checkReference(doc, path, value, 'Prompt', declaredPrompts, report),
    );
    checkList(doc, ['spec', 'configs'], stringsAt(doc.value, ['spec', 'configs']), report, (value, path) =>
      checkReference(doc, path, value, 'Config', declaredConfigs, report),
    );
    checkList(doc, ['spec', 'environments'], stringsAt(doc.value, ['spec', 'environments']), report, (value, path) => {
      if (repositoryDoc && !environments.includes(value)) {
        const suggestion = didYouMean(value, environments);
        report.at(
          doc,
          path,
          'value',
          'reference',
          `environment '${value}' is not declared in ballast.yaml${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
          `an environment declared in ballast.yaml: ${environments.join(', ')}`,
        );
      }
    });
    checkList(doc, ['spec', 'alarms'], stringsAt(doc.value, ['spec', 'alarms']), report, () => undefined);
  }

  for (const endpoint of collected.endpoints) {
    const { spec, doc } = endpoint;
    checkList(
      doc,
      ['spec', 'target', 'eks', 'httpRoute', 'hostnames'],
      spec.target.eks?.httpRoute.hostnames,
      report,
      () => undefined,
    );
    if (spec.rollout) checkRolloutTiming(doc, ['spec', 'rollout'], spec.rollout, report);
    checkEndpoint(endpoint, repository, models, report);

    for (const [index, promptName] of (spec.prompts ?? []).entries()) {
      const hint = prompts.get(promptName)?.spec.model;
      if (spec.prompts?.indexOf(promptName) !== index || !models.has(spec.model)) continue;
      if (hint !== undefined && hint !== spec.model) {
        report.at(
          doc,
          ['spec', 'prompts', index],
          'value',
          'prompt-model',
          `prompt '${promptName}' is written for model '${hint}', but this endpoint serves '${spec.model}'`,
          `a prompt written for '${spec.model}' (or no model hint in the prompt)`,
          'warning',
        );
      }
    }
  }

  for (const model of collected.models) {
    checkModelEnvironment(model, report);
    const image = parseEcrImage(model.spec.image);
    if (image && !image.digest && (image.tag === undefined || image.tag === 'latest')) {
      report.at(
        model.doc,
        ['spec', 'image'],
        'value',
        'mutable-image',
        `image has ${image.tag ? "the tag 'latest'" : 'no tag'}: a rebuild would change what runs without a commit`,
        'an image pinned by a version tag or @sha256 digest',
        'warning',
      );
    }
  }

  for (const prompt of collected.prompts) checkPrompt(prompt, report);
  for (const config of collected.configs) checkJsonNumbers(config.doc, ['spec', 'data'], config.spec.data, report);
}

/** Exactly one Repository, in ballast.yaml; unique environment names and branches; defaults. */
function checkRepository(
  collected: Collected,
  files: readonly string[],
  report: Reporter,
): Parsed<'Repository'> | undefined {
  const declared = collected.declared.filter((d) => d.kind === 'Repository');
  // A ballast.yaml that could not be read or parsed has its own errors already; do not pile on.
  const unreadable = report.issues.some((issue) => issue.file === REPOSITORY_FILE && issue.severity === 'error');
  if (!declared.some((d) => d.doc.file === REPOSITORY_FILE) && !unreadable) {
    const message = files.includes(REPOSITORY_FILE)
      ? `${REPOSITORY_FILE} declares no kind: Repository document`
      : `no ${REPOSITORY_FILE}: a model repository needs one at its root, declaring kind: Repository`;
    const expected = `${REPOSITORY_FILE} at the repository root with apiVersion: ballast.dev/v1, kind: Repository, metadata.name and spec.environments`;
    if (files.includes(REPOSITORY_FILE)) {
      report.push({
        severity: 'error',
        file: REPOSITORY_FILE,
        line: 1,
        column: 1,
        path: '$',
        code: 'missing-repository',
        message,
        expected,
      });
    } else {
      report.repository('missing-repository', message, expected);
    }
  }
  let first: Declared | undefined;
  for (const d of declared) {
    if (d.doc.file !== REPOSITORY_FILE) {
      report.at(
        d.doc,
        ['kind'],
        'value',
        'misplaced-repository',
        `the Repository document must be in ${REPOSITORY_FILE} at the repository root, not in ${d.doc.file}`,
        `kind: Repository only in ${REPOSITORY_FILE}`,
      );
    } else if (first) {
      report.at(
        d.doc,
        ['kind'],
        'value',
        'duplicate-repository',
        `a second Repository document (the first is at ${first.doc.file}:${first.doc.position([]).line})`,
        'exactly one Repository document',
      );
    } else {
      first = d;
    }
  }
  if (first) checkEnvironments(first.doc, report);
  const repository = collected.repositories.find((r) => r.doc === first?.doc);
  if (!repository) return undefined;
  const { spec, doc } = repository;
  if (spec.defaults?.rollout) checkRolloutTiming(doc, ['spec', 'defaults', 'rollout'], spec.defaults.rollout, report);
  return repository;
}

/** Unique environment names and branches; on the raw document, so it runs even when other fields are invalid. */
function checkEnvironments(doc: YamlDocument, report: Reporter): void {
  const found = lookup(doc.value, ['spec', 'environments']);
  if (!Array.isArray(found.value)) return;
  const environments: unknown[] = found.value;
  const seenNames = new Map<string, number>();
  const seenBranches = new Map<string, number>();
  environments.forEach((environment, index) => {
    const name = stringAt(environment, ['name']);
    const branch = stringAt(environment, ['branch']);
    const byName = name === undefined ? undefined : seenNames.get(name);
    if (name !== undefined && byName !== undefined) {
      report.at(
        doc,
        ['spec', 'environments', index, 'name'],
        'value',
        'duplicate-name',
        `environment '${name}' is declared twice (also environments[${byName}])`,
        'unique environment names',
      );
    } else if (name !== undefined) seenNames.set(name, index);
    const byBranch = branch === undefined ? undefined : seenBranches.get(branch);
    if (branch !== undefined && byBranch !== undefined) {
      const other = stringAt(environments, [byBranch, 'name']);
      report.at(
        doc,
        ['spec', 'environments', index, 'branch'],
        'value',
        'duplicate-value',
        `branch '${branch}' already feeds environment '${other ?? `environments[${byBranch}]`}': a commit must map to one environment`,
        'a different branch for each environment',
      );
    } else if (branch !== undefined) seenBranches.set(branch, index);
  });
}

function checkUniqueNames(collected: Collected, report: Reporter): void {
  const seen = new Map<string, Declared>();
  for (const d of collected.declared) {
    if (d.kind === 'Repository') continue;
    // SageMaker endpoint names are case-insensitive; the other kinds are lowercase anyway.
    const key = `${d.kind}/${d.name.toLowerCase()}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, d);
      continue;
    }
    const where = first.doc.position(['metadata', 'name']);
    report.at(
      d.doc,
      ['metadata', 'name'],
      'value',
      'duplicate-name',
      `${d.kind} '${d.name}' is already declared in ${first.doc.file}:${where.line}:${where.column}${
        first.name !== d.name ? ` as '${first.name}' (endpoint names are case-insensitive)` : ''
      }`,
      `${d.kind === 'Endpoint' ? 'an' : 'a'} ${d.kind} name not used by another ${d.kind}`,
    );
  }
}

function checkReference(
  doc: YamlDocument,
  path: Path,
  name: string,
  kind: Kind,
  declared: readonly string[],
  report: Reporter,
): void {
  if (declared.includes(name)) return;
  const suggestion = didYouMean(name, declared);
  const list = declared.length > 20 ? `${declared.slice(0, 20).join(', ')}, …` : declared.join(', ');
  report.at(
    doc,
    path,
    'value',
    'reference',
    `${kind} '${name}' is not declared in this repository${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
    declared.length > 0
      ? `a ${kind} declared in this repository: ${list}`
      : `a ${kind} declared in this repository (there is none)`,
  );
}

function stringAt(value: unknown, path: Path): string | undefined {
  const found = lookup(value, path);
  return found.present && typeof found.value === 'string' ? found.value : undefined;
}

/** The strings of a list, by index (other items left out); undefined if it is not a list. */
function stringsAt(value: unknown, path: Path): Array<string | undefined> | undefined {
  const found = lookup(value, path);
  if (!found.present || !Array.isArray(found.value)) return undefined;
  return found.value.map((item) => (typeof item === 'string' ? item : undefined));
}

/** Runs `each` on every string item and reports repeated items. */
function checkList(
  doc: YamlDocument,
  path: Path,
  items: ReadonlyArray<string | undefined> | undefined,
  report: Reporter,
  each: (value: string, path: Path) => void,
): void {
  const seen = new Set<string>();
  (items ?? []).forEach((item, index) => {
    if (item === undefined) return;
    const itemPath = [...path, index];
    if (seen.has(item)) {
      report.at(doc, itemPath, 'value', 'duplicate-value', `'${item}' is listed twice`, 'each value once');
      return;
    }
    seen.add(item);
    each(item, itemPath);
  });
}

/**
 * SageMaker requires MaximumExecutionTimeoutInSeconds > WaitIntervalInSeconds +
 * TerminationWaitInSeconds (an error); a timeout shorter than the whole rollout's waits would stop
 * it midway (a warning: the estimate assumes a bake after the canary and after the full shift).
 */
function checkRolloutTiming(doc: YamlDocument, base: Path, rollout: Rollout, report: Reporter): void {
  const timeoutPath = [...base, 'timeoutSeconds'];
  // The DeploymentConfig Ballast sends (lambdas/targets/sagemaker.ts): bakeSeconds is the
  // TerminationWaitInSeconds of every strategy; the WaitIntervalInSeconds is the canary's bake
  // (bakeSeconds again), linear.intervalSeconds, or 0 for allAtOnce.
  const waits =
    rollout.strategy === 'linear'
      ? rollout.linear.intervalSeconds + rollout.bakeSeconds
      : rollout.strategy === 'canary'
        ? 2 * rollout.bakeSeconds
        : rollout.bakeSeconds;
  const what =
    rollout.strategy === 'linear'
      ? 'linear.intervalSeconds + bakeSeconds'
      : rollout.strategy === 'canary'
        ? 'bakeSeconds after the canary + bakeSeconds after the full shift'
        : 'bakeSeconds';
  if (rollout.timeoutSeconds <= waits) {
    report.at(
      doc,
      timeoutPath,
      'value',
      'rollout-timeout',
      `timeoutSeconds ${rollout.timeoutSeconds} is not longer than the rollout's waits (${what} = ${waits})`,
      `more than ${waits} seconds (SageMaker requires the timeout to exceed the wait interval plus the termination wait)`,
    );
    return;
  }
  const total =
    rollout.strategy === 'allAtOnce'
      ? rollout.bakeSeconds
      : rollout.strategy === 'canary'
        ? 2 * rollout.bakeSeconds
        : Math.ceil(100 / rollout.linear.stepPercent) * rollout.linear.intervalSeconds + rollout.bakeSeconds;
  if (rollout.timeoutSeconds <= total) {
    report.at(
      doc,
      timeoutPath,
      'value',
      'rollout-timeout',
      `timeoutSeconds ${rollout.timeoutSeconds} is shorter than the whole ${rollout.strategy} rollout (about ${total} seconds of waiting): it would time out and roll back`,
      `more than ${total} seconds`,
      'warning',
    );
  }
}

function checkEndpoint(
  endpoint: Parsed<'Endpoint'>,
  repository: Parsed<'Repository'> | undefined,
  models: ReadonlyMap<string, Parsed<'Model'>>,
  report: Reporter,
): void {
  const { spec, doc, name } = endpoint;
  const repo = repository?.spec;
  const targetPath = ['spec', 'target'];
  if (spec.target.sagemaker && spec.target.eks) {
    report.at(
      doc,
      [...targetPath, 'eks'],
      'key',
      'exactly-one',
      'target has both sagemaker and eks',
      'exactly one of: sagemaker, eks',
    );
  } else if (!spec.target.sagemaker && !spec.target.eks) {
    report.at(
      doc,
      targetPath,
      'key',
      'exactly-one',
      'target has neither sagemaker nor eks',
      'exactly one of: sagemaker, eks',
    );
  }

  checkAlarms(endpoint, repo?.defaults?.rollout !== undefined, effectiveRollout(spec, repo), report);

  const partial = effectiveTarget(spec, repo);
  const model = models.get(spec.model);
  const image = model ? parseEcrImage(model.spec.image) : undefined;
  if (partial?.kind === 'sagemaker' && !spec.target.eks) {
    const base = [...targetPath, 'sagemaker'];
    checkRolloutCapacity(endpoint, repository, partial.target.instanceCount ?? 1, report);
    if (model) checkEnvironmentLimit(endpoint, model, report);
    const { instanceType, gpus } = partial.target;
    if (instanceType === undefined) {
      report.at(
        doc,
        base,
        'key',
        'required',
        "missing required field 'instanceType' (set it here or as defaults.sagemaker.instanceType in ballast.yaml)",
        'a SageMaker instance type such as ml.g5.2xlarge',
      );
      return;
    }
    const typePath = spec.target.sagemaker?.instanceType !== undefined ? [...base, 'instanceType'] : [...base];
    const info = instanceInfo(instanceType);
    if (gpus !== undefined) {
      if (info.accelerator === 'neuron') {
        report.at(
          doc,
          typePath,
          'value',
          'gpu-instance',
          `${instanceType} is an AWS Neuron (Inferentia/Trainium) instance, not a GPU instance, so gpus: ${gpus} cannot be met`,
          `a GPU instance type (families ${GPU_FAMILY_EXAMPLES}), or no gpus field to serve a Neuron-compiled model`,
        );
      } else if (info.accelerator === 'none') {
        report.at(
          doc,
          typePath,
          'value',
          'gpu-instance',
          `gpus: ${gpus} needs a GPU instance, but ${instanceType} has no GPU`,
          `a GPU instance type (families ${GPU_FAMILY_EXAMPLES}), e.g. ml.g5.2xlarge`,
        );
      } else if (info.gpus !== undefined && gpus > info.gpus) {
        report.at(
          doc,
          [...base, 'gpus'],
          'value',
          'gpu-count',
          `gpus: ${gpus}, but ${instanceType} has ${info.gpus} GPU${info.gpus === 1 ? '' : 's'}`,
          `at most ${info.gpus}, or a larger instance size`,
        );
      }
    } else if (info.accelerator === 'none' && isCudaImageTag(image?.tag)) {
      report.at(
        doc,
        typePath,
        'value',
        'gpu-image',
        `model '${spec.model}' uses a GPU (CUDA) image, but ${instanceType} has no GPU`,
        `a GPU instance type (families ${GPU_FAMILY_EXAMPLES})`,
        'warning',
      );
    }
    if (image && repo) {
      for (const envName of endpointEnvironments(spec, repo)) {
        const environment = repo.environments.find((e) => e.name === envName);
        if (environment && environment.region !== image.region) {
          report.at(
            doc,
            ['spec', 'model'],
            'value',
            'region-mismatch',
            `model '${spec.model}' has its image in ${image.region}, but environment '${envName}' is in ${environment.region}: SageMaker pulls images from ECR in the endpoint's region`,
            `an image in ${environment.region}`,
            'warning',
          );
        }
      }
    }
  }

  if (partial?.kind === 'eks' && spec.target.eks) {
    const base = [...targetPath, 'eks'];
    const target = partial.target;
    if (!DNS_LABEL.test(name)) {
      report.at(
        doc,
        ['metadata', 'name'],
        'value',
        'name-format',
        `endpoint '${name}' runs on EKS, so its name must be a Kubernetes DNS-1123 label (lowercase)`,
        'lowercase letters, digits and hyphens, starting and ending with a letter or digit',
      );
    }
    for (const field of ['cluster', 'namespace'] as const) {
      if (!target[field]) {
        report.at(
          doc,
          base,
          'key',
          'required',
          `missing required field '${field}' (set it here or as defaults.eks.${field} in ballast.yaml)`,
          field === 'cluster' ? 'an EKS cluster name' : 'a Kubernetes namespace',
        );
      }
    }
    const gpus = target.gpusPerReplica ?? 0;
    const selector = spec.target.eks.nodeSelector ?? {};
    const label = INSTANCE_TYPE_LABELS.find((candidate) => selector[candidate] !== undefined);
    const pinned = label ? selector[label] : undefined;
    if (gpus > 0 && label && pinned) {
      const info = instanceInfo(pinned);
      const labelPath = [...base, 'nodeSelector', label];
      if (info.accelerator !== 'gpu') {
        report.at(
          doc,
          labelPath,
          'value',
          'gpu-instance',
          `gpusPerReplica: ${gpus} needs GPU nodes, but nodeSelector pins ${pinned}${info.accelerator === 'neuron' ? ' (AWS Neuron, not GPU)' : ', which has no GPU'}`,
          `a GPU instance type or family (${GPU_FAMILY_EXAMPLES})`,
        );
      } else if (info.gpus !== undefined && gpus > info.gpus) {
        report.at(
          doc,
          [...base, 'gpusPerReplica'],
          'value',
          'gpu-count',
          `gpusPerReplica: ${gpus}, but ${pinned} nodes have ${info.gpus} GPU${info.gpus === 1 ? '' : 's'}`,
          `at most ${info.gpus}, or a larger instance size`,
        );
      }
    }
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * A canary or linear step must fit SageMaker's limits for the instance count it runs on
 * (instances.ts: at most half of the instances, and linear steps at least 10%). Ballast sends
 * each step as whole instances, rounded up, so a 1-instance endpoint can only roll out all at
 * once. The rollout and the instance count may each come from ballast.yaml defaults; the issue is
 * at the endpoint and names where each comes from. Neither depends on the environment, so one
 * check per endpoint covers every environment it deploys to.
 */
function checkRolloutCapacity(
  endpoint: Parsed<'Endpoint'>,
  repository: Parsed<'Repository'> | undefined,
  instanceCount: number,
  report: Reporter,
): void {
  const { spec, doc } = endpoint;
  const rollout = effectiveRollout(spec, repository?.spec);
  if (rollout.strategy === 'allAtOnce') return;
  const canary = rollout.strategy === 'canary';
  const field = canary ? ['canary', 'percent'] : ['linear', 'stepPercent'];
  const percent = canary ? rollout.canary.percent : rollout.linear.stepPercent;
  const instances = canary ? canarySizeInstances(instanceCount, percent) : linearStepInstances(instanceCount, percent);
  if (canary ? canaryFits(instanceCount, instances) : linearStepFits(instanceCount, instances)) return;

  const own = spec.rollout !== undefined;
  const ownCount = spec.target.sagemaker?.instanceCount !== undefined;
  const fromRepository = (path: Path) => {
    const at = repository?.doc.position(path);
    return at ? `${repository?.doc.file}:${at.line}` : 'ballast.yaml';
  };
  const sources = [
    own
      ? undefined
      : `the rollout comes from defaults.rollout in ${fromRepository(['spec', 'defaults', 'rollout', ...field])}`,
    ownCount
      ? undefined
      : repository?.spec.defaults?.sagemaker?.instanceCount !== undefined
        ? `instanceCount comes from defaults.sagemaker in ${fromRepository(['spec', 'defaults', 'sagemaker', 'instanceCount'])}`
        : 'instanceCount is the default, 1',
  ].filter((source) => source !== undefined);
  const step = canary ? `a canary of ${percent}%` : `a linear step of ${percent}%`;
  const rule = canary
    ? "SageMaker allows a canary of at most 50% of the variant's instances"
    : "SageMaker allows linear steps of 10% to 50% of the variant's instances";
  const consequence =
    instanceCount === 1
      ? `, so a 1-instance endpoint cannot ${canary ? 'canary' : 'shift traffic linearly'}: SageMaker would refuse the deployment`
      : '';
  const max = maxStepPercent(instanceCount);
  const percentName = canary ? 'canary.percent' : 'linear.stepPercent';
  report.at(
    doc,
    own
      ? ['spec', 'rollout', ...field]
      : ownCount
        ? ['spec', 'target', 'sagemaker', 'instanceCount']
        : ['spec', 'target', 'sagemaker'],
    own || ownCount ? 'value' : 'key',
    'rollout-capacity',
    `${step} of ${plural(instanceCount, 'instance')} is ${plural(instances, 'instance')} (Ballast rounds up to whole instances), more than half of them: ${rule}${consequence}${
      sources.length > 0 ? ` (${sources.join('; ')})` : ''
    }`,
    instanceCount === 1
      ? 'instanceCount: 2 or more, or strategy: allAtOnce'
      : `${percentName} of at most ${max} for ${instanceCount} instances, a larger instanceCount, or strategy: allAtOnce`,
  );
}

/**
 * SageMaker's CreateModel takes at most 100 environment variables per container, and Ballast adds
 * its own (container-environment.ts): the count is the endpoint's, since prompts and configs add
 * one each.
 */
function checkEnvironmentLimit(endpoint: Parsed<'Endpoint'>, model: Parsed<'Model'>, report: Reporter): void {
  const { spec, doc, name } = endpoint;
  const total = ballastEnvironmentCount(model.spec, spec);
  if (total <= MAX_CONTAINER_VARIABLES) return;
  const own = Object.keys(model.spec.environment ?? {}).length;
  const secrets = Object.keys(model.spec.secrets ?? {}).length;
  const added = total - own - secrets;
  report.at(
    doc,
    ['spec', 'model'],
    'value',
    'env-limit',
    `endpoint '${name}' would give its container ${total} environment variables: ${own} from model '${model.name}', ${plural(secrets, 'secret')}, and ${added} Ballast sets (${BALLAST_VARIABLES.length} of its own, one per prompt and config); SageMaker allows at most ${MAX_CONTAINER_VARIABLES}`,
    `at most ${MAX_CONTAINER_VARIABLES} in all: fewer variables or secrets in the model, or fewer prompts or configs`,
  );
}

/**
 * The Model's own variables and secrets: BALLAST_ names are Ballast's; a secret must not produce
 * a variable the environment (or another secret) also sets; and a `{{resolve:secretsmanager:...}}`
 * string is not resolved by Ballast (the container would get the literal text), so it must become
 * a declared secret.
 */
function checkModelEnvironment(model: Parsed<'Model'>, report: Reporter): void {
  const { spec, doc } = model;
  const environment = spec.environment ?? {};
  const reserved = `names starting with ${RESERVED_ENV_PREFIX} are reserved for the variables Ballast sets (${BALLAST_VARIABLES.join(', ')}, BALLAST_PROMPT_<NAME>, BALLAST_CONFIG_<NAME>)`;
  for (const [key, value] of Object.entries(environment)) {
    if (key.startsWith(RESERVED_ENV_PREFIX)) {
      report.at(
        doc,
        ['spec', 'environment', key],
        'key',
        'reserved-name',
        `${key}: ${reserved}`,
        `a name that does not start with ${RESERVED_ENV_PREFIX}`,
      );
    }
    const secretId = resolveReferenceSecretId(value);
    if (secretId === undefined) continue;
    report.at(
      doc,
      ['spec', 'environment', key],
      'value',
      'secret-reference',
      `${key} is a {{resolve:secretsmanager:...}} reference, which Ballast does not resolve: the container would get this text, not the secret`,
      `the secret declared under spec.secrets instead: ${key}: { secretId: ${secretId} } (the container then gets ${secretEnvName(key, 'reference')} to read it with; delivery: environment gives it ${key} with the value)`,
    );
  }
  const produced = new Map<string, string>();
  for (const [name, secret] of Object.entries(spec.secrets ?? {})) {
    const path = ['spec', 'secrets', name];
    if (name.startsWith(RESERVED_ENV_PREFIX)) {
      report.at(
        doc,
        path,
        'key',
        'reserved-name',
        `${name}: ${reserved}`,
        `a name that does not start with ${RESERVED_ENV_PREFIX}`,
      );
      continue;
    }
    const env = secretEnvName(name, secret.delivery);
    const gives = env === name ? `gives the container ${env}` : `gives the container ${env} (delivery: reference)`;
    const other = produced.get(env);
    if (Object.hasOwn(environment, env)) {
      report.at(
        doc,
        path,
        'key',
        'env-conflict',
        `secret ${name} ${gives}, which spec.environment also sets`,
        `${env} in only one place: remove it from spec.environment`,
      );
    } else if (other !== undefined) {
      report.at(
        doc,
        path,
        'key',
        'env-conflict',
        `secret ${name} ${gives}, which secret ${other} also gives it`,
        'secrets that give the container different variables',
      );
    } else produced.set(env, name);
  }
}

/**
 * canary and linear rollouts exist to stop a bad version early; without alarms nothing would
 * stop it, so they require alarms. allAtOnce without alarms is allowed, with a warning.
 */
function checkAlarms(
  endpoint: Parsed<'Endpoint'>,
  hasDefaultRollout: boolean,
  rollout: Rollout,
  report: Reporter,
): void {
  const { spec, doc } = endpoint;
  if ((spec.alarms ?? []).length > 0) return;
  const own = spec.rollout !== undefined;
  if (rollout.strategy !== 'allAtOnce') {
    report.at(
      doc,
      own ? ['spec', 'rollout', 'strategy'] : ['spec'],
      own ? 'value' : 'key',
      'alarms-required',
      `a ${rollout.strategy} rollout needs alarms: they decide whether the new version is rolled back${
        !own && hasDefaultRollout ? ' (the rollout comes from defaults.rollout in ballast.yaml)' : ''
      }`,
      'alarms: a list of 1 to 10 CloudWatch alarm names',
    );
    return;
  }
  report.at(
    doc,
    ['spec'],
    'key',
    'no-alarms',
    'no alarms: a bad version of this endpoint is not rolled back automatically',
    'alarms: a list of 1 to 10 CloudWatch alarm names',
    'warning',
  );
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function checkPrompt(prompt: Parsed<'Prompt'>, report: Reporter): void {
  const { spec, doc } = prompt;
  if (spec.text !== undefined && spec.messages !== undefined) {
    report.at(
      doc,
      ['spec', 'messages'],
      'key',
      'exactly-one',
      'a prompt has text or messages, not both',
      'exactly one of: text, messages',
    );
  } else if (spec.text === undefined && spec.messages === undefined) {
    report.at(doc, ['spec'], 'key', 'exactly-one', 'a prompt needs text or messages', 'exactly one of: text, messages');
  }

  const declared = new Map<string, number>();
  (spec.variables ?? []).forEach((variable, index) => {
    const name = typeof variable === 'string' ? variable : variable.name;
    const path = typeof variable === 'string' ? ['spec', 'variables', index] : ['spec', 'variables', index, 'name'];
    if (declared.has(name))
      report.at(doc, path, 'value', 'duplicate-value', `variable '${name}' is declared twice`, 'each variable once');
    else declared.set(name, index);
  });

  const used = new Set<string>();
  for (const [path, template] of templates(spec)) {
    const reported = new Set<string>();
    for (const match of template.matchAll(PLACEHOLDER)) {
      const name = match[1] ?? '';
      used.add(name);
      if (declared.has(name) || reported.has(name)) continue;
      reported.add(name);
      const position = placeholderPosition(doc, path, match[0]);
      const names = [...declared.keys()];
      report.push({
        severity: 'error',
        file: doc.file,
        ...position,
        path: formatJsonPath(path),
        code: 'undeclared-variable',
        message: `{{${name}}} is used but not declared in variables`,
        expected: `a declared variable (${names.length > 0 ? names.join(', ') : 'none declared'}); add '${name}' to variables`,
      });
    }
  }
  for (const [name, index] of declared) {
    if (used.has(name)) continue;
    const variable = spec.variables?.[index];
    const path = typeof variable === 'string' ? ['spec', 'variables', index] : ['spec', 'variables', index, 'name'];
    report.at(
      doc,
      path,
      'value',
      'unused-variable',
      `variable '${name}' is declared but the template never uses {{${name}}}`,
      `{{${name}}} in the template, or no declaration`,
      'warning',
    );
  }
}

function templates(spec: PromptSpec): Array<[Path, string]> {
  if (spec.text !== undefined) return [[['spec', 'text'], spec.text]];
  return (spec.messages ?? []).map((message, index) => [['spec', 'messages', index, 'content'], message.content]);
}

/** The position of a placeholder inside a scalar: found in the source text from where the scalar starts. */
function placeholderPosition(doc: YamlDocument, path: Path, placeholder: string): { line: number; column: number } {
  const start = doc.offsetOf(path);
  if (start !== undefined) {
    const found = doc.text.indexOf(placeholder, start);
    if (found >= 0) return doc.positionAt(found);
  }
  return doc.position(path);
}

/** YAML allows .inf and .nan; JSON (what configs are delivered as) does not. */
function checkJsonNumbers(doc: YamlDocument, path: Path, value: unknown, report: Reporter): void {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    report.at(doc, path, 'value', 'type', `${String(value)} cannot be represented in JSON`, 'a finite number');
  } else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) checkJsonNumbers(doc, [...path, index], item, report);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) checkJsonNumbers(doc, [...path, key], item, report);
  }
}
