// Prints the closing line CI reads: "N passed, N failed" (lint/typecheck/build failure counts as one failed).
import { readFileSync } from 'node:fs';

const [file, checksFailed] = process.argv.slice(2);
let passed = 0;
let failed = Number(checksFailed ?? 0) > 0 ? 1 : 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  const pending = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  if (pending > 0) console.log(`${pending} skipped or todo tests (not allowed here)`);
  failed += pending;
  if (report.numTotalTests === 0) failed += 1;
} catch (error) {
  console.log(`no test report (${error.message})`);
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
