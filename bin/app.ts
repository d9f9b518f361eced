import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BallastStack } from '../lib/ballast-stack.ts';
import { readAppConfig } from './context.ts';

// The CDK app entry (`cdk synth`, `cdk deploy`). It reads context once, here, and hands typed
// props to the stack; cdk-nag's AwsSolutions pack checks every synth, so a violation shows up
// before anything reaches an account.
const app = new App();
const { stackName, props } = readAppConfig((key) => app.node.tryGetContext(key));
new BallastStack(app, stackName, { ...props, description: 'Ballast: GitOps for AI on AWS' });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
