// npm scripts run with node_modules/.bin first on PATH, where the `node` devDependency puts a
// Node 22 binary. If this check fails, the scripts were started some other way (or `npm ci` was
// skipped), and the clearer message beats a syntax error deep inside a dependency.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `Ballast needs Node 22 or newer, but this is ${process.version}. Run \`npm ci\` first: it installs Node 22 ` +
      'into node_modules/.bin, which `npm start`, `npm test` and `npx ballast` then use.',
  );
  process.exit(2);
}
