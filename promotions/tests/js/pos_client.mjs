// A scripted POS device: syncs with the server, prices random baskets offline with the
// engine.js the server hands out, and uploads the tickets twice.
//
//   node pos_client.mjs '{"base_url": "http://127.0.0.1:8000", "device_key": "pos_...",
//                         "count": 100, "seed": 7, "customers": [{"id": 5, "labels": [2]}],
//                         "codes": ["SUMMER"], "payment_methods": ["card", "card_x"]}'
//
// Prints one JSON object: the sync facts, what the baskets applied, and both upload answers.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const config = JSON.parse(process.argv[2]);
const base = config.base_url.replace(/\/$/, "");
const headers = { "X-Device-Key": config.device_key, Accept: "application/json" };

async function get(path, extra = {}) {
  const response = await fetch(base + path, { headers: { ...headers, ...extra } });
  if (response.status !== 200 && response.status !== 304) {
    throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  }
  return response;
}

async function post(path, body) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { ...headers, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status !== 200) {
    throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  }
  return response.json();
}

// mulberry32: a small seeded generator, so a failing run can be replayed.
function generator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function minorUnits(decimal) {
  const [units, cents = ""] = decimal.split(".");
  return Number(units) * 100 + Number((cents + "00").slice(0, 2));
}

// The store's wall-clock time, "YYYY-MM-DDTHH:MM", as ENGINE.md's context.local.
function storeLocal(date, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(date)
      .map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

// --- sync --------------------------------------------------------------------------------
const versionResponse = await get("/api/v1/sync/version/");
const version = await versionResponse.json();
const etag = versionResponse.headers.get("etag");
const notModified = await get("/api/v1/sync/version/", { "If-None-Match": etag });

const bundle = await (await get("/api/v1/sync/active_promotions/")).json();

const engineResponse = await get("/api/v1/sync/engine/");
const engineBody = await engineResponse.text();
const engineSource = (engineResponse.headers.get("content-type") || "").includes("json")
  ? JSON.parse(engineBody).source
  : engineBody;
const folder = mkdtempSync(join(tmpdir(), "pos-engine-"));
const enginePath = join(folder, "engine.mjs");
writeFileSync(enginePath, engineSource);
const engine = await import(pathToFileURL(enginePath).href);
rmSync(folder, { recursive: true, force: true });

const products = [];
for (let page = 1; ; page += 1) {
  const body = await (await get(`/api/v1/products/?page_size=200&page=${page}`)).json();
  products.push(...body.results.filter((product) => product.is_active));
  if (!body.next) break;
}

// --- offline pricing ---------------------------------------------------------------------
const random = generator(config.seed ?? 1);
const pick = (items) => items[Math.floor(random() * items.length)];
const timeZone = config.time_zone;
const customers = config.customers ?? [];
const codes = config.codes ?? [];
const paymentMethods = config.payment_methods ?? [];
const tickets = [];
const appliedTypes = {};
let discounted = 0;
const started = Date.now();

for (let n = 0; n < (config.count ?? 100); n += 1) {
  const at = new Date(Math.floor(started / 1000) * 1000 - n * 1000);
  const lineCount = 1 + Math.floor(random() * 6);
  const lines = [];
  for (let i = 0; i < lineCount; i += 1) {
    const product = pick(products);
    lines.push({ line_id: `L${i}`, product, quantity: 1 + Math.floor(random() * 4) });
  }
  const customer = random() < 0.5 && customers.length ? pick(customers) : null;
  const ticketCodes = random() < 0.3 && codes.length ? [pick(codes)] : [];
  const paymentMethod = random() < 0.6 && paymentMethods.length ? pick(paymentMethods) : "";
  const basket = {
    lines: lines.map(({ line_id, product, quantity }) => ({
      line_id,
      product_id: product.id,
      category_id: product.category,
      label_ids: product.labels.map((label) => label.id).sort((x, y) => x - y),
      quantity,
      unit_price: minorUnits(product.price),
    })),
  };
  const context = {
    now: Math.floor(at.getTime() / 1000),
    local: storeLocal(at, timeZone),
    store_id: bundle.store ?? config.store_id,
    channel: "pos",
    customer_id: customer ? customer.id : null,
    customer_labels: customer ? [...customer.labels].sort((x, y) => x - y) : [],
    tier: null,
    is_new_customer: false,
    signed_in: customer !== null,
    payment_method: paymentMethod || null,
    codes: ticketCodes,
    customer_usage: {},
  };
  const result = engine.calculate({
    basket,
    context,
    promotions: bundle.promotions,
    bundleHash: bundle.hash,
  });
  // What goes on the wire is the canonical JSON, as any client would send it.
  const deviceResult = JSON.parse(engine.resultToJson(result));
  if (deviceResult.discount_total > 0) discounted += 1;
  for (const applied of [...deviceResult.applied, ...deviceResult.cashback]) {
    const type = applied.type ?? "cashback";
    appliedTypes[type] = (appliedTypes[type] ?? 0) + 1;
  }
  const ticket = {
    ticket_id: `pos-${config.seed ?? 1}-${n}`,
    local_time: at.toISOString(),
    lines: lines.map(({ line_id, product, quantity }) => ({
      line_id,
      product: product.id,
      quantity,
      unit_price: product.price,
    })),
    codes: ticketCodes,
    payment_method: paymentMethod,
    result: deviceResult,
    engine_version: engine.ENGINE_VERSION,
    bundle_hash: bundle.hash,
  };
  if (customer) ticket.customer = { id: customer.id, labels: customer.labels, signed_in: true };
  tickets.push(ticket);
}

// --- back online: upload twice -----------------------------------------------------------
const first = await post("/api/v1/sync/upload_usage/", { tickets });
const second = await post("/api/v1/sync/upload_usage/", { tickets });

process.stdout.write(
  JSON.stringify({
    version,
    not_modified_status: notModified.status,
    engine_version: engine.ENGINE_VERSION,
    bundle_hash: bundle.hash,
    promotions: bundle.promotions.length,
    products: products.length,
    tickets: tickets.length,
    discounted,
    applied_types: appliedTypes,
    first,
    second,
  }) + "\n",
);
