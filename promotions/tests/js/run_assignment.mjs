// Batch runner for the experiment assignment parity test
// (experiments/tests/test_assignment_parity.py): reads a JSON object {experiments: [...],
// cases: [[experiment index, customer id, labels, tier, now], ...]} on stdin and writes the
// assigned variant ids, one line per case ("null" for none).
import { experimentVariant } from "../../static/promotions/engine.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { experiments, cases } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = new Array(cases.length);
for (let i = 0; i < cases.length; i++) {
  const [index, customerId, labels, tier, now] = cases[i];
  const variant = experimentVariant(experiments[index], {
    now,
    customerId,
    labels: new Set(labels),
    tier,
  });
  out[i] = variant === null ? "null" : String(variant);
}
process.stdout.write(out.join("\n") + "\n");
