import type { Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/** One unacknowledged AwsSolutions finding: rule id (with finding id) and the construct path. */
export interface NagFinding {
  readonly rule: string;
  readonly path: string;
  readonly description: string;
}

/**
 * Runs cdk-nag's AwsSolutions pack over a stack the way `cdk synth` does (as a policy validation
 * plugin) and returns every finding that no `Validations.of(...).acknowledge` covers.
 */
export function awsSolutionsFindings(stack: Stack): NagFinding[] {
  const report = new AwsSolutionsChecks(stack).validateScope(stack);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      rule: violation.ruleName,
      path:
        (resource as { constructPath?: string }).constructPath ??
        resource.resourceLogicalId ??
        resource.templatePath ??
        '(unknown)',
      description: violation.description,
    })),
  );
}
