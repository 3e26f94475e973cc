// Batch runner for the differential test: reads a JSON array of cases
// ({basket, context, promotions, bundle_hash}) on stdin and writes one line per case: the
// canonical JSON of the result, or "error: <message>" when the engine refuses the input.
import { calculate, resultToJson } from "../../static/promotions/engine.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = [];
for (const item of cases) {
  try {
    const result = calculate({
      basket: item.basket,
      context: item.context,
      promotions: item.promotions,
      bundleHash: item.bundle_hash ?? null,
    });
    out.push(resultToJson(result));
  } catch (error) {
    out.push(`error: ${error.message}`);
  }
}
process.stdout.write(out.join("\n") + "\n");
