#!/usr/bin/env node
// The `ballast` CLI entry (package.json "bin"). Ballast is written in TypeScript and run through
// tsx, so a checkout works right after `npm ci` with no build step.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `ballast needs Node 22 or newer (this is ${process.version}); run it through npx or npm after \`npm ci\`.`,
  );
  process.exit(2);
}
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
