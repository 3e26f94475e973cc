// Batch runner for the offline voucher parity test (vouchers/tests/test_engine_parity.py):
// reads a JSON array of cases ({payload, promotions, now}) on stdin and writes one line per case:
// the canonical JSON of `verifyVoucher`'s answer, or "error: <message>" when it throws.
import { canonicalJson, verifyVoucher } from "../../static/promotions/engine.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = [];
for (const item of cases) {
  try {
    const answer = await verifyVoucher({
      payload: item.payload,
      promotions: item.promotions,
      now: item.now,
    });
    out.push(canonicalJson(answer));
  } catch (error) {
    out.push(`error: ${error.message}`);
  }
}
process.stdout.write(out.join("\n") + "\n");
