import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * Adds a statement to a principal's policy. A statement with a wildcard (in an action or a
 * resource) needs `wildcardReason`: it becomes the acknowledgement, on `scope`, of exactly the
 * AwsSolutions-IAM5 findings that statement produces. A wildcard without a reason is a synth error,
 * so every one is justified where it is granted and a new one cannot slip in unexplained.
 */
export function allow(
  scope: IConstruct,
  principal: iam.IPrincipal,
  statement: iam.PolicyStatement,
  wildcardReason?: string,
): void {
  const findings = wildcardFindings(Stack.of(scope).resolve(statement.toStatementJson()));
  if (findings.length > 0 && !wildcardReason) {
    throw new Error(`${scope.node.path}: a wildcard permission needs a reason: ${findings.join(', ')}`);
  }
  principal.addToPrincipalPolicy(statement);
  for (const finding of findings) {
    Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: wildcardReason ?? '' });
  }
}

/**
 * The AwsSolutions-IAM5 finding ids a resolved policy statement produces, in cdk-nag's format:
 * `Action::<action>` and `Resource::<flattened resource>`.
 */
export function wildcardFindings(statement: { Effect?: string; Action?: unknown; Resource?: unknown }): string[] {
  if (statement.Effect === 'Deny') return [];
  const findings = new Set<string>();
  for (const action of asArray(statement.Action)) {
    if (typeof action === 'string' && action.includes('*')) findings.add(`Action::${action}`);
  }
  for (const resource of asArray(statement.Resource)) {
    const flat = flattenCfnReference(resource);
    if (flat.includes('*')) findings.add(`Resource::${flat}`);
  }
  return [...findings];
}

/** Turns a CloudFormation reference into the flat string cdk-nag uses in finding ids. */
export function flattenCfnReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flattenCfnReference).join(delimiter);
    }
    if ('Fn::Sub' in record) return flattenCfnReference(record['Fn::Sub']);
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      return `<${flattenCfnReference(getAtt[0])}.${flattenCfnReference(getAtt[1])}>`;
    }
    if ('Fn::ImportValue' in record) return flattenCfnReference(record['Fn::ImportValue']);
    if ('Ref' in record) return `<${flattenCfnReference(record.Ref)}>`;
  }
  return JSON.stringify(node);
}

function asArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * The ARN of a Secrets Manager secret known by name. Secrets Manager appends six random characters
 * to a secret's ARN, so `-??????` (exactly six characters, no wildcard) matches that secret only,
 * not one whose name merely starts the same.
 */
export function secretArn(stack: Stack, name: string): string {
  return stack.formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${name}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** The secrets Models may use: every secret whose name starts with the stack's secret prefix. */
export function modelSecretsArn(stack: Stack, prefix: string): string {
  return stack.formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${prefix}*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** The SageMaker resources Ballast creates, by type: everything named `<prefix>-*`. */
export function sagemakerArns(
  stack: Stack,
  resourcePrefix: string,
  types: ReadonlyArray<'model' | 'endpoint-config' | 'endpoint'>,
): string[] {
  return types.map((resource) =>
    stack.formatArn({ service: 'sagemaker', resource, resourceName: `${resourcePrefix}-*` }),
  );
}
