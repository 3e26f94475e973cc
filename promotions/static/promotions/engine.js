// The promotion calculator in JavaScript: the same contract as
// promotions/services/calculator.py, byte for byte (see promotions/ENGINE.md).
//
// Dependency-free ES module for Node 18+ and browsers. Integer arithmetic only: every amount,
// and the basket subtotal, must stay at or below Number.MAX_SAFE_INTEGER (2^53 - 1, checked on
// input); products that could exceed it (amount x weight in allocations, amount x basis points)
// switch to BigInt, so results stay exact.

export const ENGINE_VERSION = "1.2.0";
export const SCHEMA_VERSION = 1;
// Schema 2 is schema 1 with a `voucher` requirement; both are read.
export const VOUCHER_SCHEMA_VERSION = 2;
const SCHEMA_VERSIONS = [SCHEMA_VERSION, VOUCHER_SCHEMA_VERSION];
export const BASIS_POINTS = 10000;
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER;

const ITEM_PHASE = "item";
const ORDER_PHASE = "order";
const CASHBACK_PHASE = "cashback";

const STANDARD = "standard";
const STACKABLE = "stackable";
const EXCLUSIVE = "exclusive";
const STACKING_MODES = [STANDARD, STACKABLE, EXCLUSIVE];

export const REASONS = Object.freeze({
  NOT_APPLICABLE: "not_applicable",
  UNSUPPORTED: "unsupported",
  NOT_ACTIVE: "not_active",
  NOT_STARTED: "not_started",
  EXPIRED: "expired",
  OUTSIDE_TIME_WINDOW: "outside_time_window",
  WRONG_STORE: "wrong_store",
  WRONG_CHANNEL: "wrong_channel",
  CUSTOMER_NOT_TARGETED: "customer_not_targeted",
  CODE_REQUIRED: "code_required",
  USAGE_LIMIT_REACHED: "usage_limit_reached",
  BUDGET_EXHAUSTED: "budget_exhausted",
  CONDITION_NOT_MET: "condition_not_met",
  NO_ELIGIBLE_UNITS: "no_eligible_units",
  NOT_BEST_DEAL: "not_best_deal",
  NOT_IN_VARIANT: "not_in_variant",
});
const R = REASONS;

const LOCAL_TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::[0-9]{2})?$/;

// --- arithmetic ------------------------------------------------------------------------------

// [floor(a * b / c), (a * b) mod c] for non-negative integers, exact.
function mulDivMod(a, b, c) {
  const product = a * b;
  if (Number.isSafeInteger(product)) {
    const remainder = product % c;
    return [(product - remainder) / c, remainder];
  }
  const big = BigInt(a) * BigInt(b);
  const divisor = BigInt(c);
  return [Number(big / divisor), Number(big % divisor)];
}

// `basisPoints` (clamped to 0..10000) of `amount`, rounded half up once: (2ab + 10000) // 20000.
export function percentOf(amount, basisPoints) {
  const bp = Math.min(Math.max(basisPoints, 0), BASIS_POINTS);
  const numerator = 2 * amount * bp + BASIS_POINTS;
  if (Number.isSafeInteger(numerator)) {
    const remainder = numerator % (2 * BASIS_POINTS);
    return (numerator - remainder) / (2 * BASIS_POINTS);
  }
  const big = 2n * BigInt(amount) * BigInt(bp) + BigInt(BASIS_POINTS);
  return Number(big / BigInt(2 * BASIS_POINTS));
}

function sumOf(values) {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

// Largest-remainder split of `total` over `units` in proportion to `weights`; leftovers go to
// the largest remainders, ties to the lower product id, then a unit not taken by a standard
// promotion, then the earlier unit.
function allocateUnits(total, units, weights, product, claimed) {
  const count = units.length;
  const weightSum = sumOf(weights);
  if (weightSum <= 0) {
    if (total) throw new RangeError("cannot allocate a non-zero amount over zero weights");
    return new Array(count).fill(0);
  }
  const parts = new Array(count);
  const remainders = new Array(count);
  let given = 0;
  for (let index = 0; index < count; index++) {
    const [share, remainder] = mulDivMod(total, weights[index], weightSum);
    parts[index] = share;
    remainders[index] = remainder;
    given += share;
  }
  const leftover = total - given;
  if (leftover) {
    const order = [...parts.keys()].sort(
      (i, j) =>
        remainders[j] - remainders[i] ||
        product[units[i]] - product[units[j]] ||
        claimed[units[i]] - claimed[units[j]] ||
        units[i] - units[j],
    );
    for (let k = 0; k < leftover; k++) parts[order[k]] += 1;
  }
  return parts;
}

// --- input -----------------------------------------------------------------------------------

function integer(value, what, minimum = 0) {
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new RangeError(`${what} must be an integer between ${minimum} and ${MAX_AMOUNT}`);
  }
  return value;
}

function optionalInteger(value, what) {
  if (value === null || value === undefined) return null;
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer or null`);
  return value;
}

// Voucher codes compare trimmed and upper-cased (ASCII letters only, like calculator.py).
export function normaliseCode(code) {
  let start = 0;
  let end = code.length;
  const blank = " \t\n\r";
  while (start < end && blank.includes(code[start])) start++;
  while (end > start && blank.includes(code[end - 1])) end--;
  let out = "";
  for (let i = start; i < end; i++) {
    const c = code.charCodeAt(i);
    out += c >= 97 && c <= 122 ? String.fromCharCode(c - 32) : code[i];
  }
  return out;
}

function floorDiv(a, b) {
  return Math.floor(a / b);
}

function isoWeekday(year, month, day) {
  const y = year - (month <= 2 ? 1 : 0);
  const era = floorDiv(y, 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = floorDiv(153 * (month + (month > 2 ? -3 : 9)) + 2, 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + floorDiv(yearOfEra, 4) - floorDiv(yearOfEra, 100) + dayOfYear;
  const days = era * 146097 + dayOfEra - 719468;
  return (((days + 3) % 7) + 7) % 7 + 1;
}

function prepareContext(context) {
  const now = integer(context.now, "context.now", -MAX_AMOUNT);
  const match = LOCAL_TIME.exec(String(context.local || ""));
  if (match === null) throw new RangeError('context.local must be "YYYY-MM-DDTHH:MM"');
  const [year, month, day, hour, minute] = match.slice(1, 6).map((part) => parseInt(part, 10));
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59)) {
    throw new RangeError("context.local is not a valid local time");
  }
  const usage = new Map();
  for (const [key, value] of Object.entries(context.customer_usage || {})) {
    usage.set(String(key), value);
  }
  return {
    now,
    weekday: isoWeekday(year, month, day),
    minute: hour * 60 + minute,
    storeId: context.store_id ?? null,
    channel: context.channel ?? null,
    customerId: context.customer_id ?? null,
    labels: new Set(context.customer_labels || []),
    tier: context.tier ?? null,
    isNewCustomer: context.is_new_customer === true,
    signedIn: context.signed_in === true,
    paymentMethod: context.payment_method || null,
    codes: new Set((context.codes || []).map(normaliseCode)),
    usage,
    vouchers: new Set((context.vouchers || []).filter((id) => Number.isSafeInteger(id))),
  };
}

function pushTo(map, key, value) {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

class Basket {
  constructor(basket) {
    const lines = basket.lines;
    if (!Array.isArray(lines)) throw new RangeError("basket.lines must be a list");
    this.lines = [];
    this.product = [];
    this.price = [];
    this.unitLine = [];
    this.start = [];
    this.quantity = [];
    this.byProduct = new Map();
    this.byCategory = new Map();
    this.byLabel = new Map();
    this.scopes = new Map();
    let subtotal = 0;
    lines.forEach((line, index) => {
      const lineId = line.line_id ?? null;
      if (lineId !== null && typeof lineId !== "string" && !Number.isSafeInteger(lineId)) {
        throw new RangeError("line_id must be a string, an integer or null");
      }
      const productId = integer(line.product_id, "product_id");
      const categoryId = optionalInteger(line.category_id, "category_id");
      const quantity = integer(line.quantity, "quantity", 1);
      const unitPrice = integer(line.unit_price, "unit_price");
      const labelIds = line.label_ids || [];
      subtotal += quantity * unitPrice;
      if (!Number.isSafeInteger(subtotal)) throw new RangeError("the basket subtotal is too large");
      this.lines.push({ lineId, productId, categoryId, labelIds, quantity, unitPrice });
      this.start.push(this.price.length);
      this.quantity.push(quantity);
      for (let k = 0; k < quantity; k++) {
        this.product.push(productId);
        this.price.push(unitPrice);
        this.unitLine.push(index);
      }
      pushTo(this.byProduct, productId, index);
      if (categoryId !== null) pushTo(this.byCategory, categoryId, index);
      for (const labelId of new Set(labelIds)) pushTo(this.byLabel, labelId, index);
    });
  }

  // Indexes of the lines whose product is in `scope`, ascending; computed once per scope.
  scopeLines(scope) {
    if (!scope) return [];
    const cached = this.scopes.get(scope);
    if (cached !== undefined) return cached;
    let candidates;
    if (scope.all_products) {
      candidates = [...this.lines.keys()];
    } else {
      const found = new Set();
      for (const id of scope.product_ids || []) {
        for (const line of this.byProduct.get(id) || []) found.add(line);
      }
      for (const id of scope.category_ids || []) {
        for (const line of this.byCategory.get(id) || []) found.add(line);
      }
      for (const id of scope.label_ids || []) {
        for (const line of this.byLabel.get(id) || []) found.add(line);
      }
      candidates = [...found].sort((a, b) => a - b);
    }
    const excludedProducts = scope.excluded_product_ids || [];
    const excludedCategories = scope.excluded_category_ids || [];
    const excludedLabels = scope.excluded_label_ids || [];
    const result = [];
    for (const index of candidates) {
      const { productId, categoryId, labelIds } = this.lines[index];
      if (excludedProducts.includes(productId)) continue;
      if (categoryId !== null && excludedCategories.includes(categoryId)) continue;
      if (excludedLabels.length && labelIds.some((label) => excludedLabels.includes(label))) {
        continue;
      }
      result.push(index);
    }
    this.scopes.set(scope, result);
    return result;
  }

  productLines(productId) {
    return this.byProduct.get(productId) || [];
  }
}

// --- candidates ------------------------------------------------------------------------------

function inTime(validity, context, windowsRequired) {
  const days = validity.days || [];
  const windows = validity.windows || [];
  const weekday = context.weekday;
  if (!windows.length) return !windowsRequired && (!days.length || days.includes(weekday));
  const minute = context.minute;
  const previousDay = weekday === 1 ? 7 : weekday - 1;
  for (const window of windows) {
    const { start, end } = window;
    if (start < end) {
      if (start <= minute && minute < end && (!days.length || days.includes(weekday))) {
        return true;
      }
    } else {
      // crosses midnight: belongs to the day on which it starts
      if (minute >= start && (!days.length || days.includes(weekday))) return true;
      if (minute < end && (!days.length || days.includes(previousDay))) return true;
    }
  }
  return false;
}

// MurmurHash3 (x86, 32-bit): the experiments' bucketing hash, as calculator.murmur3_32.
export function murmur3_32(bytes, seed = 0) {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const length = bytes.length;
  const whole = length - (length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, c2);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = length - whole;
  if (rest) {
    let k = 0;
    if (rest === 3) k ^= bytes[whole + 2] << 16;
    if (rest >= 2) k ^= bytes[whole + 1] << 8;
    k ^= bytes[whole];
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, c2);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const UTF8 = new TextEncoder();

export function experimentBucket(salt, customerId, total) {
  return murmur3_32(UTF8.encode(`${salt}:${customerId}`)) % total;
}

// The variant an experiment assigns, as calculator.experiment_variant (ENGINE.md, "Experiments").
export function experimentVariant(experiment, { now, customerId, labels, tier }) {
  const control = experiment.control ?? null;
  const startsAt = experiment.starts_at ?? null;
  const endsAt = experiment.ends_at ?? null;
  if ((startsAt !== null && now < startsAt) || (endsAt !== null && now >= endsAt)) return control;
  if (!Number.isSafeInteger(customerId) || customerId < 0) return control;
  const audience = experiment.audience || {};
  const audienceLabels = audience.labels || [];
  if (audienceLabels.length && !audienceLabels.some((label) => labels.has(label))) return control;
  const audienceTiers = audience.tiers || [];
  if (audienceTiers.length && !audienceTiers.includes(tier)) return control;
  const variants = (experiment.variants || [])
    .filter((variant) => Number.isSafeInteger(variant.weight))
    .sort((a, b) => (a.id || 0) - (b.id || 0));
  const total = variants.reduce((sum, variant) => sum + Math.max(variant.weight, 0), 0);
  if (total <= 0) return control;
  let bucket = experimentBucket(String(experiment.salt || ""), customerId, total);
  for (const variant of variants) {
    bucket -= Math.max(variant.weight, 0);
    if (bucket < 0) return variant.id ?? null;
  }
  return control;
}

function stackingOf(promotion) {
  return promotion.stacking || STANDARD;
}

function rejection(promotion, context) {
  if (!SCHEMA_VERSIONS.includes(promotion.schema_version)) return R.UNSUPPORTED;
  const type = promotion.type;
  if (type === "cross_brand") return R.NOT_APPLICABLE;
  if (!Object.hasOwn(HANDLERS, type) || !STACKING_MODES.includes(stackingOf(promotion))) {
    return R.UNSUPPORTED;
  }
  const status = promotion.status || "active";
  if (status === "ended") return R.EXPIRED;
  if (status !== "active" && status !== "scheduled") return R.NOT_ACTIVE;
  const validity = promotion.validity || {};
  const startsAt = validity.starts_at ?? null;
  if (startsAt !== null && context.now < startsAt) return R.NOT_STARTED;
  const endsAt = validity.ends_at ?? null;
  if (endsAt !== null && context.now >= endsAt) return R.EXPIRED;
  if (!inTime(validity, context, type === "happy_hour")) return R.OUTSIDE_TIME_WINDOW;
  const stores = promotion.stores || [];
  if (stores.length && !stores.includes(context.storeId)) return R.WRONG_STORE;
  const channels = promotion.channels || [];
  if (channels.length && !channels.includes(context.channel)) return R.WRONG_CHANNEL;
  const targeting = promotion.targeting || {};
  const labelsAny = targeting.labels_any || [];
  if (labelsAny.length && !labelsAny.some((label) => context.labels.has(label))) {
    return R.CUSTOMER_NOT_TARGETED;
  }
  if ((targeting.labels_excluded || []).some((label) => context.labels.has(label))) {
    return R.CUSTOMER_NOT_TARGETED;
  }
  const tiers = targeting.tiers || [];
  if (tiers.length && !tiers.includes(context.tier)) return R.CUSTOMER_NOT_TARGETED;
  if (targeting.new_customers_only && !context.isNewCustomer) return R.CUSTOMER_NOT_TARGETED;
  if (targeting.signed_in_only && !context.signedIn) return R.CUSTOMER_NOT_TARGETED;
  const limits = promotion.limits || {};
  const perCustomer = limits.max_uses_per_customer ?? null;
  if (perCustomer !== null && context.customerId === null) return R.CUSTOMER_NOT_TARGETED;
  const experiment = promotion.experiment ?? null;
  if (
    experiment !== null &&
    experimentVariant(experiment, {
      now: context.now,
      customerId: context.customerId,
      labels: context.labels,
      tier: context.tier,
    }) !== (experiment.variant ?? null)
  ) {
    return R.NOT_IN_VARIANT;
  }
  const code = promotion.code;
  if (code && !context.codes.has(normaliseCode(code))) return R.CODE_REQUIRED;
  if ((promotion.voucher ?? null) !== null && !context.vouchers.has(promotion.id)) {
    return R.CODE_REQUIRED;
  }
  const remainingUses = limits.remaining_uses ?? null;
  if (remainingUses !== null && remainingUses <= 0) return R.USAGE_LIMIT_REACHED;
  if (perCustomer !== null && (context.usage.get(String(promotion.id)) ?? 0) >= perCustomer) {
    return R.USAGE_LIMIT_REACHED;
  }
  const remainingBudget = limits.remaining_budget ?? null;
  if (remainingBudget !== null && remainingBudget <= 0) return R.BUDGET_EXHAUSTED;
  return null;
}

function phaseOf(promotion) {
  const type = promotion.type;
  if (type === "cashback") return CASHBACK_PHASE;
  if (type === "threshold" || type === "payment_discount") return ORDER_PHASE;
  if (type === "percent_discount" || type === "amount_discount") {
    return promotion.target === "order" ? ORDER_PHASE : ITEM_PHASE;
  }
  return ITEM_PHASE;
}

// --- one pricing run -------------------------------------------------------------------------

function outcome({
  reason = null,
  units = [],
  amounts = [],
  applications = 0,
  participants = [],
  suggestions = [],
} = {}) {
  return { reason, units, amounts, applications, participants, suggestions };
}

class Run {
  constructor(basket, paymentMethod) {
    this.basket = basket;
    this.paymentMethod = paymentMethod;
    this.remaining = basket.price.slice();
    this.claimed = new Uint8Array(basket.price.length);
    // Units a standard cashback earned on (cashback never looks at `claimed`).
    this.earned = new Uint8Array(basket.price.length);
    this.applied = [];
    this.cashback = [];
    this.suggestions = [];
    this.reasons = new Map();
  }

  available(lines, stackable) {
    const { remaining, claimed } = this;
    const { start, quantity } = this.basket;
    const units = [];
    for (const line of lines) {
      const first = start[line];
      const last = first + quantity[line];
      for (let unit = first; unit < last; unit++) {
        if (remaining[unit] > 0 && (stackable || !claimed[unit])) units.push(unit);
      }
    }
    return units;
  }

  // Units still to pay for, whatever discounted them, that no standard cashback earned on yet
  // unless the asking cashback is stackable.
  cashbackAvailable(lines, stackable) {
    const { remaining, earned } = this;
    const { start, quantity } = this.basket;
    const units = [];
    for (const line of lines) {
      const first = start[line];
      const last = first + quantity[line];
      for (let unit = first; unit < last; unit++) {
        if (remaining[unit] > 0 && (stackable || !earned[unit])) units.push(unit);
      }
    }
    return units;
  }

  cheapestFirst(units) {
    const { remaining, claimed } = this;
    const { product } = this.basket;
    return units
      .slice()
      .sort(
        (a, b) =>
          remaining[a] - remaining[b] || product[a] - product[b] || claimed[a] - claimed[b] || a - b,
      );
  }

  dearestFirst(units) {
    const { remaining, claimed } = this;
    const { product } = this.basket;
    return units
      .slice()
      .sort(
        (a, b) =>
          remaining[b] - remaining[a] || product[a] - product[b] || claimed[a] - claimed[b] || a - b,
      );
  }

  total(units) {
    const { remaining } = this;
    let total = 0;
    for (const unit of units) total += remaining[unit];
    return total;
  }

  allocate(amount, units) {
    const { remaining } = this;
    return allocateUnits(
      amount,
      units,
      units.map((unit) => remaining[unit]),
      this.basket.product,
      this.claimed,
    );
  }
}

function belowMinimum(run, units, limits) {
  const minimum = limits.min_subtotal ?? null;
  return minimum !== null && run.total(units) < minimum;
}

function clampApplications(value, maxApplications) {
  return maxApplications === null ? value : Math.min(value, Math.max(0, maxApplications));
}

// percent_discount, amount_discount and happy_hour: percent or amount off eligible units.
function simple(run, promotion, stackable, limits) {
  let units = run.available(run.basket.scopeLines(promotion.scope), stackable);
  if (!units.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS });
  if (belowMinimum(run, units, limits)) return outcome({ reason: R.CONDITION_NOT_MET });
  const params = promotion.params || {};
  const percent = params.percent_bp ?? null;
  const amount = Math.max(0, params.amount || 0);
  if (percent === null && params.mode === "per_order") {
    const total = Math.min(amount, run.total(units));
    return outcome({
      units,
      amounts: run.allocate(total, units),
      applications: 1,
      participants: units,
    });
  }
  units = run.cheapestFirst(units);
  const maxApplications = limits.max_applications ?? null;
  if (maxApplications !== null) units = units.slice(0, Math.max(0, maxApplications));
  let amounts;
  if (percent !== null) {
    amounts = run.allocate(percentOf(run.total(units), percent), units);
  } else {
    const { remaining } = run;
    amounts = units.map((unit) => Math.min(amount, remaining[unit]));
  }
  return outcome({ units, amounts, applications: units.length, participants: units });
}

// Buy X from the scope, get Y from the get scope at P% off; as many times as possible.
function bogo(run, promotion, stackable, limits) {
  const basket = run.basket;
  const params = promotion.params || {};
  const buyLines = basket.scopeLines(promotion.scope);
  const getScope = params.get_scope ?? null;
  const getLines = getScope === null ? buyLines : basket.scopeLines(getScope);
  const buyUnits = run.available(buyLines, stackable);
  const getUnits = getScope === null ? buyUnits : run.available(getLines, stackable);
  const inBuy = new Set(buyUnits);
  const inGet = new Set(getUnits);
  const eligible = buyUnits.concat(getUnits.filter((unit) => !inBuy.has(unit)));
  if (!eligible.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS });
  if (belowMinimum(run, eligible, limits)) return outcome({ reason: R.CONDITION_NOT_MET });
  const buyQuantity = Math.max(1, params.buy_quantity || 1);
  const getQuantity = Math.max(1, params.get_quantity || 1);
  const percent = params.percent_bp ?? BASIS_POINTS;
  let both = 0;
  for (const unit of buyUnits) if (inGet.has(unit)) both++;
  const buyOnly = buyUnits.length - both;
  const getOnly = getUnits.length - both;
  const applications = clampApplications(
    Math.min(
      floorDiv(buyOnly + both, buyQuantity),
      floorDiv(getOnly + both, getQuantity),
      floorDiv(buyOnly + getOnly + both, buyQuantity + getQuantity),
    ),
    limits.max_applications ?? null,
  );
  if (applications <= 0) return outcome({ reason: R.CONDITION_NOT_MET });
  const neededTriggers = applications * buyQuantity;
  const neededRewards = applications * getQuantity;
  let triggerSupply = buyOnly + both;
  const rewards = [];
  for (const unit of run.cheapestFirst(getUnits)) {
    if (rewards.length === neededRewards) break;
    if (inBuy.has(unit)) {
      if (triggerSupply - 1 < neededTriggers) continue;
      triggerSupply--;
    }
    rewards.push(unit);
  }
  const rewarded = new Set(rewards);
  const triggers = run
    .dearestFirst(buyUnits.filter((unit) => !rewarded.has(unit)))
    .slice(0, neededTriggers);
  const amounts = [];
  for (let index = 0; index < applications; index++) {
    const group = rewards.slice(index * getQuantity, (index + 1) * getQuantity);
    amounts.push(...run.allocate(percentOf(run.total(group), percent), group));
  }
  return outcome({
    units: rewards,
    amounts,
    applications,
    participants: rewards.concat(triggers),
  });
}

// combo and package: one unit set from every group, dearest first, at a fixed price.
function fixedPriceSets(run, groups, price, limits) {
  const seen = new Set();
  const eligible = [];
  const pools = [];
  for (const [units, quantity] of groups) {
    for (const unit of units) {
      if (!seen.has(unit)) {
        seen.add(unit);
        eligible.push(unit);
      }
    }
    pools.push([run.dearestFirst(units), Math.max(1, quantity)]);
  }
  if (!eligible.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS });
  if (belowMinimum(run, eligible, limits)) return outcome({ reason: R.CONDITION_NOT_MET });
  const maxApplications = limits.max_applications ?? null;
  const setPrice = Math.max(0, price);
  const used = new Set();
  let positions = new Array(pools.length).fill(0);
  const unitsOut = [];
  const amounts = [];
  let applications = 0;
  while (maxApplications === null || applications < maxApplications) {
    const chosen = [];
    const taken = new Set();
    const nextPositions = [];
    for (let groupIndex = 0; groupIndex < pools.length; groupIndex++) {
      const [pool, quantity] = pools[groupIndex];
      let position = positions[groupIndex];
      let picked = 0;
      while (picked < quantity && position < pool.length) {
        const unit = pool[position];
        position++;
        if (!used.has(unit) && !taken.has(unit)) {
          chosen.push(unit);
          taken.add(unit);
          picked++;
        }
      }
      if (picked < quantity) break;
      nextPositions.push(position);
    }
    if (nextPositions.length < pools.length) break;
    const saving = run.total(chosen) - setPrice;
    if (saving <= 0) break;
    positions = nextPositions;
    for (const unit of taken) used.add(unit);
    unitsOut.push(...chosen);
    amounts.push(...run.allocate(saving, chosen));
    applications++;
  }
  if (!applications) return outcome({ reason: R.CONDITION_NOT_MET });
  return outcome({ units: unitsOut, amounts, applications, participants: unitsOut });
}

function combo(run, promotion, stackable, limits) {
  const params = promotion.params || {};
  const groups = (params.groups || []).map((group) => [
    run.available(run.basket.scopeLines(group.scope), stackable),
    group.quantity || 1,
  ]);
  return fixedPriceSets(run, groups, params.price || 0, limits);
}

function packageDeal(run, promotion, stackable, limits) {
  const params = promotion.params || {};
  const groups = (params.items || []).map((item) => [
    run.available(run.basket.productLines(item.product_id), stackable),
    item.quantity || 1,
  ]);
  return fixedPriceSets(run, groups, params.price || 0, limits);
}

// Any N units of the scope, dearest first, for a fixed price or at P% off; repeats.
function mixMatch(run, promotion, stackable, limits) {
  let units = run.available(run.basket.scopeLines(promotion.scope), stackable);
  if (!units.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS });
  if (belowMinimum(run, units, limits)) return outcome({ reason: R.CONDITION_NOT_MET });
  const params = promotion.params || {};
  const quantity = Math.max(1, params.quantity || 1);
  const percent = params.percent_bp ?? null;
  const price = Math.max(0, params.price || 0);
  const maxApplications = limits.max_applications ?? null;
  units = run.dearestFirst(units);
  const unitsOut = [];
  const amounts = [];
  let applications = 0;
  while (
    (applications + 1) * quantity <= units.length &&
    (maxApplications === null || applications < maxApplications)
  ) {
    const group = units.slice(applications * quantity, (applications + 1) * quantity);
    const total = run.total(group);
    const saving = percent !== null ? percentOf(total, percent) : total - price;
    if (saving <= 0) break;
    unitsOut.push(...group);
    amounts.push(...run.allocate(saving, group));
    applications++;
  }
  if (!applications) return outcome({ reason: R.CONDITION_NOT_MET });
  return outcome({ units: unitsOut, amounts, applications, participants: unitsOut });
}

// Shared by free_item and upsell: trigger units (scope minus the reward product) and the
// reward product's units.
function rewardUnits(run, promotion, stackable, limits, productId, triggerQuantity, perApplication) {
  const basket = run.basket;
  const product = basket.product;
  const triggers = run
    .available(basket.scopeLines(promotion.scope), stackable)
    .filter((unit) => product[unit] !== productId);
  const rewards = run.cheapestFirst(run.available(basket.productLines(productId), stackable));
  const minimum = limits.min_subtotal ?? null;
  const condition =
    (triggerQuantity <= 0 || triggers.length >= triggerQuantity) &&
    (minimum === null || run.total(triggers) >= minimum);
  if (!condition) {
    const reason =
      !triggers.length && !rewards.length ? R.NO_ELIGIBLE_UNITS : R.CONDITION_NOT_MET;
    return { reason, triggers, chosen: [], applications: 0, missing: 0 };
  }
  const applications = clampApplications(
    triggerQuantity > 0 ? floorDiv(triggers.length, triggerQuantity) : 1,
    limits.max_applications ?? null,
  );
  const wanted = applications * perApplication;
  const chosen = rewards.slice(0, wanted);
  return { reason: null, triggers, chosen, applications, missing: wanted - chosen.length };
}

// A gift product free when the condition holds; suggests the gift when it is missing.
function freeItem(run, promotion, stackable, limits) {
  const params = promotion.params || {};
  const gift = params.gift_product_id ?? null;
  const giftQuantity = Math.max(1, params.gift_quantity || 1);
  const triggerQuantity = params.trigger_quantity || 0;
  const found = rewardUnits(run, promotion, stackable, limits, gift, triggerQuantity, giftQuantity);
  if (found.reason) return outcome({ reason: found.reason });
  const suggestions = [];
  if (found.missing > 0) {
    suggestions.push({
      type: "free_gift",
      promotion_id: promotion.id,
      product_id: gift,
      quantity: found.missing,
    });
  }
  const gifts = found.chosen;
  if (!gifts.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS, suggestions });
  const applications = Math.ceil(gifts.length / giftQuantity);
  let used;
  if (triggerQuantity > 0) {
    used = run.dearestFirst(found.triggers).slice(0, applications * triggerQuantity);
  } else if ((limits.min_subtotal ?? null) !== null) {
    used = found.triggers;
  } else {
    used = [];
  }
  const { remaining } = run;
  return outcome({
    units: gifts,
    amounts: gifts.map((unit) => remaining[unit]),
    applications,
    participants: gifts.concat(used),
    suggestions,
  });
}

function upsellUnitPrice(params, unitPrice) {
  if ((params.percent_bp ?? null) !== null) {
    return unitPrice - percentOf(unitPrice, params.percent_bp);
  }
  if ((params.price ?? null) !== null) return Math.min(unitPrice, Math.max(0, params.price));
  return Math.max(0, unitPrice - Math.max(0, params.amount || 0));
}

// Trigger units bring a discount on a target product; suggests the target when absent.
function upsell(run, promotion, stackable, limits) {
  const params = promotion.params || {};
  const target = params.target_product_id ?? null;
  const targetQuantity = Math.max(1, params.target_quantity || 1);
  const triggerQuantity = Math.max(1, params.trigger_quantity || 1);
  const found = rewardUnits(
    run,
    promotion,
    stackable,
    limits,
    target,
    triggerQuantity,
    targetQuantity,
  );
  if (found.reason) return outcome({ reason: found.reason });
  const suggestions = [];
  if (found.missing > 0) {
    const unitPrice = params.target_unit_price ?? null;
    suggestions.push({
      type: "upsell",
      promotion_id: promotion.id,
      product_id: target,
      quantity: found.missing,
      unit_price: unitPrice,
      discounted_unit_price: unitPrice === null ? null : upsellUnitPrice(params, unitPrice),
    });
  }
  const targets = found.chosen;
  if (!targets.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS, suggestions });
  const applications = Math.ceil(targets.length / targetQuantity);
  const { remaining } = run;
  const percent = params.percent_bp ?? null;
  let amounts = [];
  if (percent !== null) {
    for (let index = 0; index < applications; index++) {
      const group = targets.slice(index * targetQuantity, (index + 1) * targetQuantity);
      amounts.push(...run.allocate(percentOf(run.total(group), percent), group));
    }
  } else if ((params.price ?? null) !== null) {
    const price = Math.max(0, params.price);
    amounts = targets.map((unit) => Math.max(0, remaining[unit] - price));
  } else {
    const amount = Math.max(0, params.amount || 0);
    amounts = targets.map((unit) => Math.min(amount, remaining[unit]));
  }
  const used = run.dearestFirst(found.triggers).slice(0, applications * triggerQuantity);
  return outcome({
    units: targets,
    amounts,
    applications,
    participants: targets.concat(used),
    suggestions,
  });
}

function tierReward(tier) {
  if ((tier.percent_bp ?? null) !== null) {
    return { min_subtotal: tier.min_subtotal, percent_bp: tier.percent_bp };
  }
  return { min_subtotal: tier.min_subtotal, amount: tier.amount || 0 };
}

// Spend tiers on the eligible subtotal; the highest tier reached applies.
function threshold(run, promotion, stackable, limits) {
  const units = run.available(run.basket.scopeLines(promotion.scope), stackable);
  if (!units.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS });
  if (belowMinimum(run, units, limits)) return outcome({ reason: R.CONDITION_NOT_MET });
  const base = run.total(units);
  let reached = null;
  let following = null;
  for (const tier of (promotion.params || {}).tiers || []) {
    const minimum = tier.min_subtotal;
    if (minimum <= base) {
      if (reached === null || minimum > reached.min_subtotal) reached = tier;
    } else if (following === null || minimum < following.min_subtotal) {
      following = tier;
    }
  }
  const suggestions = [];
  if (following !== null) {
    suggestions.push({
      type: "threshold",
      promotion_id: promotion.id,
      amount_missing: following.min_subtotal - base,
      next_tier: tierReward(following),
    });
  }
  if (reached === null) return outcome({ reason: R.CONDITION_NOT_MET, suggestions });
  const total =
    (reached.percent_bp ?? null) !== null
      ? percentOf(base, reached.percent_bp)
      : Math.min(Math.max(0, reached.amount || 0), base);
  return outcome({
    units,
    amounts: run.allocate(total, units),
    applications: 1,
    participants: units,
    suggestions,
  });
}

function orderAmount(run, units, params) {
  const base = run.total(units);
  if ((params.percent_bp ?? null) !== null) return percentOf(base, params.percent_bp);
  return Math.min(Math.max(0, params.amount || 0), base);
}

function capOf(limits) {
  const caps = [limits.order_cap ?? null, limits.remaining_budget ?? null].filter(
    (value) => value !== null,
  );
  return caps.length ? Math.min(...caps) : null;
}

// Percent or amount off when paid with one of the listed methods; suggests the method.
function paymentDiscount(run, promotion, stackable, limits) {
  const units = run.available(run.basket.scopeLines(promotion.scope), stackable);
  if (!units.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS });
  if (belowMinimum(run, units, limits)) return outcome({ reason: R.CONDITION_NOT_MET });
  const params = promotion.params || {};
  const methods = params.payment_methods || [];
  const total = orderAmount(run, units, params);
  const method = run.paymentMethod;
  if (method === null || !methods.includes(method)) {
    const suggestions = [];
    const cap = capOf(limits);
    const saving = cap === null ? total : Math.min(total, cap);
    if (method === null && saving > 0) {
      suggestions.push({
        type: "payment_method",
        promotion_id: promotion.id,
        payment_methods: methods.slice(),
        saving,
      });
    }
    return outcome({ reason: R.CONDITION_NOT_MET, suggestions });
  }
  return outcome({
    units,
    amounts: run.allocate(total, units),
    applications: 1,
    participants: units,
  });
}

// P% of what remains to pay on the eligible units, whatever discounted them, credited after
// payment.
function cashback(run, promotion, stackable, limits) {
  const units = run.cashbackAvailable(run.basket.scopeLines(promotion.scope), stackable);
  if (!units.length) return outcome({ reason: R.NO_ELIGIBLE_UNITS });
  if (belowMinimum(run, units, limits)) return outcome({ reason: R.CONDITION_NOT_MET });
  const params = promotion.params || {};
  const amount = percentOf(run.total(units), params.percent_bp || 0);
  return outcome({ amounts: [amount], applications: 1, participants: units });
}

const HANDLERS = Object.freeze({
  __proto__: null,
  percent_discount: simple,
  amount_discount: simple,
  happy_hour: simple,
  bogo,
  combo,
  free_item: freeItem,
  cashback,
  payment_discount: paymentDiscount,
  package: packageDeal,
  mix_match: mixMatch,
  upsell,
  threshold,
});

// Cap the outcome, then write it into the run (or record why it did not apply).
function commit(run, position, promotion, phase, result) {
  run.suggestions.push(...result.suggestions);
  if (result.reason !== null) {
    run.reasons.set(position, result.reason);
    return;
  }
  const units = result.units;
  let amounts = result.amounts;
  let total = sumOf(amounts);
  const cap = capOf(promotion.limits || {});
  const capped = cap !== null && total > cap;
  if (capped) {
    if (phase !== CASHBACK_PHASE) amounts = allocateUnits(cap, units, amounts, run.basket.product, run.claimed);
    total = cap;
  }
  if (total <= 0) {
    run.reasons.set(position, R.CONDITION_NOT_MET);
    return;
  }
  if (stackingOf(promotion) !== STACKABLE) {
    const claimed = phase === CASHBACK_PHASE ? run.earned : run.claimed;
    for (const unit of result.participants) claimed[unit] = 1;
  }
  if (phase === CASHBACK_PHASE) {
    run.cashback.push({ position, promotion, total, capped });
    return;
  }
  const { remaining } = run;
  for (let k = 0; k < units.length; k++) remaining[units[k]] -= amounts[k];
  run.applied.push({
    position,
    promotion,
    phase,
    total,
    applications: result.applications,
    capped,
    units,
    amounts,
  });
}

function compareEntries(a, b) {
  const [positionA, promotionA] = a;
  const [positionB, promotionB] = b;
  return (
    (promotionB.priority || 0) - (promotionA.priority || 0) ||
    promotionA.id - promotionB.id ||
    positionA - positionB
  );
}

// One pass: item phase, order phase, cashback, each in priority order (ties: lower id).
function execute(basket, entries, paymentMethod) {
  const run = new Run(basket, paymentMethod);
  const phases = { [ITEM_PHASE]: [], [ORDER_PHASE]: [], [CASHBACK_PHASE]: [] };
  for (const entry of entries) phases[phaseOf(entry[1])].push(entry);
  for (const phase of [ITEM_PHASE, ORDER_PHASE, CASHBACK_PHASE]) {
    for (const [position, promotion] of phases[phase].slice().sort(compareEntries)) {
      const handler = HANDLERS[promotion.type];
      const result = handler(
        run,
        promotion,
        stackingOf(promotion) === STACKABLE,
        promotion.limits || {},
      );
      commit(run, position, promotion, phase, result);
    }
  }
  return run;
}

function compareKeys(a, b) {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

// Best deal: largest discount, then the higher priority and lower id of its lead promotion.
function rank(run) {
  const discount = sumOf(run.applied.map((entry) => entry.total));
  let lead = null;
  for (const entry of run.applied.concat(run.cashback)) {
    const key = [entry.promotion.priority || 0, -entry.promotion.id, -entry.position];
    if (lead === null || compareKeys(key, lead) > 0) lead = key;
  }
  if (lead === null) return [discount, 0, 0, 0, 0];
  return [discount, 1, ...lead];
}

// Price `basket` in `context` with the compiled `promotions`. See ENGINE.md.
export function calculate({ basket, context, promotions, bundleHash = null }) {
  const preparedContext = prepareContext(context);
  const preparedBasket = new Basket(basket);
  const reasons = new Map();
  const regular = [];
  const exclusives = [];
  promotions.forEach((promotion, position) => {
    if (promotion === null || typeof promotion !== "object" || !Number.isSafeInteger(promotion.id)) {
      throw new RangeError("every promotion must be an object with an integer id");
    }
    const reason = rejection(promotion, preparedContext);
    if (reason !== null) reasons.set(position, reason);
    else if (stackingOf(promotion) === EXCLUSIVE) exclusives.push([position, promotion]);
    else regular.push([position, promotion]);
  });
  const paymentMethod = preparedContext.paymentMethod;
  let best = execute(preparedBasket, regular, paymentMethod);
  let bestRank = rank(best);
  const options = [best];
  const extraSuggestions = [];
  for (const entry of exclusives) {
    const alone = execute(preparedBasket, [entry], paymentMethod);
    if (!alone.applied.length && !alone.cashback.length) {
      reasons.set(entry[0], alone.reasons.get(entry[0]));
      extraSuggestions.push(...alone.suggestions);
      continue;
    }
    options.push(alone);
    const aloneRank = rank(alone);
    if (compareKeys(aloneRank, bestRank) > 0) {
      best = alone;
      bestRank = aloneRank;
    }
  }
  for (const option of options) {
    for (const [position, reason] of option.reasons) reasons.set(position, reason);
    if (option !== best) {
      for (const entry of option.applied.concat(option.cashback)) {
        reasons.set(entry.position, R.NOT_BEST_DEAL);
      }
    }
  }
  return buildResult(
    preparedBasket,
    best,
    promotions,
    reasons,
    best.suggestions.concat(extraSuggestions),
    bundleHash,
  );
}

function buildResult(basket, run, promotions, reasons, suggestions, bundleHash) {
  const lineAllocations = basket.lines.map(() => new Map());
  const unitLine = basket.unitLine;
  const applied = [];
  for (const entry of run.applied) {
    const { position, promotion, units, amounts } = entry;
    for (let k = 0; k < units.length; k++) {
      const amount = amounts[k];
      if (!amount) continue;
      const allocations = lineAllocations[unitLine[units[k]]];
      const existing = allocations.get(position);
      if (existing !== undefined) existing[1] += amount;
      else allocations.set(position, [promotion.id, amount]);
    }
    applied.push({
      promotion_id: promotion.id,
      name: promotion.name || "",
      type: promotion.type,
      stacking: stackingOf(promotion),
      phase: entry.phase,
      amount: entry.total,
      applications: entry.applications,
      capped: entry.capped,
    });
  }
  const lines = [];
  let subtotal = 0;
  let discountTotal = 0;
  basket.lines.forEach((line, index) => {
    const allocations = [...lineAllocations[index].values()];
    const lineSubtotal = line.quantity * line.unitPrice;
    const lineDiscount = sumOf(allocations.map((allocation) => allocation[1]));
    subtotal += lineSubtotal;
    discountTotal += lineDiscount;
    lines.push({
      index,
      line_id: line.lineId,
      product_id: line.productId,
      quantity: line.quantity,
      unit_price: line.unitPrice,
      subtotal: lineSubtotal,
      discount: lineDiscount,
      total: lineSubtotal - lineDiscount,
      allocations: allocations.map(([promotionId, amount]) => ({
        promotion_id: promotionId,
        amount,
      })),
    });
  });
  const cashbackEntries = run.cashback.map((entry) => ({
    promotion_id: entry.promotion.id,
    name: entry.promotion.name || "",
    amount: entry.total,
    capped: entry.capped,
  }));
  const rejected = [...reasons.entries()]
    .sort((a, b) => promotions[a[0]].id - promotions[b[0]].id || a[0] - b[0])
    .map(([position, reason]) => ({
      promotion_id: promotions[position].id,
      name: promotions[position].name || "",
      reason,
    }));
  const sortedSuggestions = suggestions
    .slice()
    .sort((a, b) =>
      a.promotion_id !== b.promotion_id
        ? a.promotion_id - b.promotion_id
        : a.type < b.type
          ? -1
          : a.type > b.type
            ? 1
            : 0,
    );
  return {
    engine_version: ENGINE_VERSION,
    bundle_hash: bundleHash,
    subtotal,
    discount_total: discountTotal,
    total: subtotal - discountTotal,
    lines,
    applied,
    cashback: cashbackEntries,
    cashback_total: sumOf(cashbackEntries.map((entry) => entry.amount)),
    suggestions: sortedSuggestions,
    rejected,
  };
}

// --- canonical JSON --------------------------------------------------------------------------

const SHORT_ESCAPES = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function encodeString(text) {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const character = text[i];
    const code = text.charCodeAt(i);
    const short = SHORT_ESCAPES[character];
    if (short !== undefined) out += short;
    else if (code < 0x20 || code > 0x7e) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += character;
  }
  return out + '"';
}

// Sorted keys, no spaces, ASCII only (\uXXXX escapes), no floats: byte-identical to
// calculator.canonical_json (Python's json.dumps(sort_keys=True, separators=(",", ":"))).
export function canonicalJson(value) {
  if (value === null || value === undefined) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError("canonical JSON has no NaN or Infinity");
    return String(value);
  }
  if (typeof value === "string") return encodeString(value);
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  const keys = Object.keys(value).sort();
  return (
    "{" + keys.map((key) => encodeString(key) + ":" + canonicalJson(value[key])).join(",") + "}"
  );
}

export function resultToJson(result) {
  return canonicalJson(result);
}

// Offline vouchers: the same checks as vouchers/codes.py `offline_voucher_check`, in the same
// order, with the same answers (see promotions/ENGINE.md, "Vouchers"). Asynchronous, because
// WebCrypto's Ed25519 is: a till awaits it once per scanned code, then puts `promotion_id` into
// the context's `vouchers` when the status is "valid".
export const VOUCHER_STATUS = Object.freeze({
  VALID: "valid",
  MALFORMED: "malformed",
  UNKNOWN_BATCH: "unknown_batch",
  BAD_SIGNATURE: "bad_signature",
  NOT_STARTED: "not_started",
  EXPIRED: "expired",
});

const VOUCHER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export function voucherCheckCharacter(body) {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum += (i + 1) * VOUCHER_ALPHABET.indexOf(body[i]);
  return VOUCHER_ALPHABET[sum % VOUCHER_ALPHABET.length];
}

export function voucherCodeWellFormed(code, prefix, length) {
  if (code.length !== prefix.length + length + 1 || !code.startsWith(prefix)) return false;
  const body = code.slice(prefix.length, -1);
  for (const character of body) if (!VOUCHER_ALPHABET.includes(character)) return false;
  return voucherCheckCharacter(body) === code[code.length - 1];
}

function base64UrlDecode(text) {
  let bits = 0;
  let value = 0;
  const out = [];
  for (const character of text) {
    const index = BASE64URL.indexOf(character);
    if (index < 0) return null;
    value = (value << 6) | index;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  // Canonical only: the bits left over must be zero (Python re-encodes and compares).
  if (bits && (value & ((1 << bits) - 1)) !== 0) return null;
  return new Uint8Array(out);
}

function trimBlank(text) {
  let start = 0;
  let end = text.length;
  const blank = " \t\n\r";
  while (start < end && blank.includes(text[start])) start++;
  while (end > start && blank.includes(text[end - 1])) end--;
  return text.slice(start, end);
}

function signedParts(payload) {
  const parts = trimBlank(payload).split(".");
  if (parts.length !== 4 || parts[0] !== "V1") return null;
  const [, code, batch, signature] = parts;
  if (!/^[0-9]{1,15}$/.test(batch) || !/^[\x00-\x7f]+$/.test(code)) return null;
  if (signature.length !== 86) return null;
  const raw = base64UrlDecode(signature);
  if (raw === null || raw.length !== 64) return null;
  return { code: normaliseCode(code), batchId: Number(batch), signature: raw };
}

async function voucherSignatureValid(publicKey, brandId, batchId, code, signature) {
  const key = typeof publicKey === "string" ? base64UrlDecode(publicKey) : null;
  // The message names an integer brand (Python would write `None` where this writes `null`).
  if (key === null || !Number.isSafeInteger(brandId) || brandId < 0) return false;
  const message = new TextEncoder().encode(`voucher:v1:${brandId}:${batchId}:${code}`);
  try {
    const imported = await globalThis.crypto.subtle.importKey(
      "raw", key, { name: "Ed25519" }, false, ["verify"],
    );
    return await globalThis.crypto.subtle.verify({ name: "Ed25519" }, imported, signature, message);
  } catch {
    return false;
  }
}

export async function verifyVoucher({ payload, promotions, now }) {
  const S = VOUCHER_STATUS;
  const answer = { status: S.MALFORMED, code: null, batch_id: null, promotion_id: null };
  const parts = typeof payload === "string" ? signedParts(payload) : null;
  if (parts === null) return answer;
  answer.code = parts.code;
  answer.batch_id = parts.batchId;
  let found = null;
  const ordered = [...promotions].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  for (const promotion of ordered) {
    const voucher = promotion.voucher || {};
    const batch = (voucher.batches || []).find((entry) => entry.id === parts.batchId);
    if (batch !== undefined) {
      found = { promotion, voucher, batch };
      break;
    }
  }
  if (found === null) {
    answer.status = S.UNKNOWN_BATCH;
    return answer;
  }
  const { promotion, voucher, batch } = found;
  answer.promotion_id = promotion.id ?? null;
  if (!voucherCodeWellFormed(parts.code, batch.prefix || "", batch.length || 0)) return answer;
  const signed = await voucherSignatureValid(
    voucher.key, promotion.brand_id ?? null, parts.batchId, parts.code, parts.signature,
  );
  if (!signed) {
    answer.status = S.BAD_SIGNATURE;
    return answer;
  }
  const startsAt = batch.starts_at ?? null;
  const endsAt = batch.ends_at ?? null;
  if (startsAt !== null && now < startsAt) answer.status = S.NOT_STARTED;
  else if (endsAt !== null && now >= endsAt) answer.status = S.EXPIRED;
  else answer.status = S.VALID;
  return answer;
}
