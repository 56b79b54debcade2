#!/usr/bin/env node
// Validates every .glb given (files or directories) with the Khronos glTF
// validator. Prints one JSON line per file with its error, warning, info
// and hint counts and the error messages, then a summary line. Exits 1 if
// any file has an error, 2 on bad usage.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import validator from "gltf-validator";

const files = [];
for (const arg of process.argv.slice(2)) {
  if (statSync(arg).isDirectory()) {
    for (const name of readdirSync(arg).sort()) {
      if (name.endsWith(".glb")) files.push(join(arg, name));
    }
  } else {
    files.push(arg);
  }
}
if (files.length === 0) {
  console.error("usage: validate.mjs <file.glb | directory>...");
  process.exit(2);
}

let failed = 0;
for (const file of files) {
  const report = await validator.validateBytes(new Uint8Array(readFileSync(file)), {
    maxIssues: 100,
  });
  const issues = report.issues;
  const errors = issues.messages
    .filter((message) => message.severity === 0)
    .map((message) => `${message.code} ${message.pointer ?? ""}: ${message.message}`);
  if (issues.numErrors > 0) failed += 1;
  console.log(
    JSON.stringify({
      file,
      errors: issues.numErrors,
      warnings: issues.numWarnings,
      infos: issues.numInfos,
      hints: issues.numHints,
      messages: errors,
    }),
  );
}
console.log(JSON.stringify({ files: files.length, failed }));
process.exit(failed > 0 ? 1 : 0);
