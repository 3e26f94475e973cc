// Live preview of a promotion on its admin change page.
//
// Reads the promotion form as it is (unsaved changes included) into the payload of
// PromotionInputSerializer, posts it with the sample basket and context to
// POST /api/v1/promotions/preview/ (session auth, CSRF token), then prices the returned
// compiled form, basket and context again here with engine.js, the engine the points of sale
// run, and shows whether both results are byte-identical in canonical JSON.
//
// No dependencies and no build step: an ES module loaded by
// promotions/templates/admin/promotions/promotion/change_form.html.

import { calculate, canonicalJson, ENGINE_VERSION } from "./engine.js";

const RELATIONS = [
  "stores",
  "customer_labels",
  "excluded_customer_labels",
  "products",
  "categories",
  "product_labels",
  "excluded_products",
  "excluded_categories",
  "excluded_product_labels",
];
const TEXT_FIELDS = ["name", "description", "type", "status", "stacking", "target", "code"];
const INTEGER_FIELDS = [
  "priority",
  "max_applications_per_order",
  "max_uses_total",
  "max_uses_per_customer",
];
const MONEY_FIELDS = ["budget", "max_discount_per_order", "min_eligible_subtotal"];
const BOOLEAN_FIELDS = ["new_customers_only", "signed_in_only", "all_products"];
const DATETIME_FIELDS = ["starts_at", "ends_at"];
const JSON_LIST_FIELDS = ["days_of_week", "time_windows", "channels", "customer_tiers"];

const DEFAULT_BASKET_LINES = 3;
const PRODUCTS_PAGE_SIZE = 200;
const DEBOUNCE_MS = 600;

const REASONS = {
  not_applicable: "not applied to a basket",
  unsupported: "not supported by this engine version",
  not_active: "not active",
  not_started: "not started yet",
  expired: "expired",
  outside_time_window: "outside its days or time windows",
  wrong_store: "not for this store",
  wrong_channel: "not for this channel",
  customer_not_targeted: "customer not targeted",
  code_required: "voucher code required",
  usage_limit_reached: "usage limit reached",
  budget_exhausted: "budget exhausted",
  condition_not_met: "condition not met",
  no_eligible_units: "no eligible units in the basket",
  not_best_deal: "another promotion gives a better deal",
};

// --- small DOM helpers ------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function table(headers, rows, footer = null) {
  const head = el("thead", {}, el("tr", {}, headers.map(([text, money]) => th(text, money))));
  const body = el("tbody", {}, rows.map((cells) => el("tr", {}, cells)));
  return el("table", {}, head, body, footer ? el("tfoot", {}, footer) : null);
}

function th(text, money = false, attributes = {}) {
  return el("th", { scope: "col", className: money ? "money" : null, ...attributes }, text);
}

function td(text, money = false, attributes = {}) {
  return el("td", { className: money ? "money" : null, ...attributes }, text);
}

// --- money ------------------------------------------------------------------------------------

// Formats integer minor units exactly: the decimal string is built with integer arithmetic and
// only its display goes through Intl.
function moneyFormatter(currency) {
  const locale = document.documentElement.lang || undefined;
  const format = new Intl.NumberFormat(locale, { style: "currency", currency });
  const exponent = format.resolvedOptions().maximumFractionDigits;
  const scale = 10 ** exponent;
  return (minor) => {
    if (minor === null || minor === undefined) return "";
    const negative = minor < 0;
    const absolute = Math.abs(minor);
    const whole = Math.floor(absolute / scale);
    const fraction = exponent ? "." + String(absolute % scale).padStart(exponent, "0") : "";
    return format.format(`${negative ? "-" : ""}${whole}${fraction}`);
  };
}

// Formats a decimal string of the API ("2.99") as it is, without going through a float.
function priceFormatter(currency) {
  const locale = document.documentElement.lang || undefined;
  const format = new Intl.NumberFormat(locale, { style: "currency", currency });
  return (text) => format.format(String(text));
}

function basisPoints(value) {
  const whole = Math.floor(value / 100);
  const fraction = value % 100;
  return `${whole}${fraction ? "." + String(fraction).padStart(2, "0").replace(/0$/, "") : ""}%`;
}

// --- time -------------------------------------------------------------------------------------

function zoneOffsetMs(epochMs, timeZone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(epochMs));
  const part = (type) => Number(parts.find((item) => item.type === type).value);
  const wall = Date.UTC(
    part("year"),
    part("month") - 1,
    part("day"),
    part("hour"),
    part("minute"),
    part("second"),
  );
  return wall - Math.floor(epochMs / 1000) * 1000;
}

// "2024-06-01T12:30" on the wall clock of `timeZone` -> an ISO instant.
function wallTimeToIso(value, timeZone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!match) return null;
  const [, year, month, day, hour, minute] = match.map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let instant = wall - zoneOffsetMs(wall, timeZone);
  instant = wall - zoneOffsetMs(instant, timeZone);
  return new Date(instant).toISOString();
}

// --- reading the promotion form ---------------------------------------------------------------

class FormError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function control(form, name) {
  const item = form.elements.namedItem(name);
  return item instanceof RadioNodeList ? item[0] : item;
}

// The ids chosen in a many-to-many field: with the admin's filter widget, every option of the
// "chosen" box (SelectBox keeps filtered-out options in its cache); without it, the selected ones.
function chosenIds(select) {
  let values;
  const cache = window.SelectBox && window.SelectBox.cache && window.SelectBox.cache[select.id];
  if (select.id.endsWith("_to") && cache) values = cache.map((option) => option.value);
  else if (select.id.endsWith("_to")) values = [...select.options].map((option) => option.value);
  else values = [...select.selectedOptions].map((option) => option.value);
  return values.filter((value) => value !== "").map(Number);
}

function readPromotion(form, config) {
  const payload = {};
  const brandId = config.brand_id ?? Number(control(form, "brand")?.value || 0);
  const brand = config.brands.find((item) => item.id === brandId);
  if (!brand) throw new FormError("brand", "Choose a brand.");
  payload.brand = brand.slug;
  for (const name of TEXT_FIELDS) {
    const input = control(form, name);
    if (input) payload[name] = input.value;
  }
  payload.name = (payload.name || "").trim() || "Untitled promotion";
  if (!control(form, "status") && config.status) payload.status = config.status;
  for (const name of INTEGER_FIELDS) {
    const input = control(form, name);
    if (!input) continue;
    const value = input.value.trim();
    if (value !== "") payload[name] = /^-?\d+$/.test(value) ? Number(value) : value;
    else if (name !== "priority") payload[name] = null;
  }
  for (const name of MONEY_FIELDS) {
    const input = control(form, name);
    if (input) payload[name] = input.value.trim() || null;
  }
  for (const name of BOOLEAN_FIELDS) {
    const input = control(form, name);
    if (input) payload[name] = input.checked;
  }
  for (const name of DATETIME_FIELDS) {
    const date = control(form, `${name}_0`);
    const time = control(form, `${name}_1`);
    if (!date && !time) continue;
    const day = date ? date.value.trim() : "";
    const clock = time ? time.value.trim() : "";
    if (!day && !clock) payload[name] = null;
    else if (!day) throw new FormError(name, "Give a date with the time.");
    else payload[name] = `${day}T${clock || "00:00:00"}`;
  }
  for (const name of JSON_LIST_FIELDS) {
    const input = control(form, name);
    if (!input) continue;
    const text = input.value.trim();
    let value = [];
    if (text !== "" && text !== "null") {
      try {
        value = JSON.parse(text);
      } catch {
        throw new FormError(name, "Not valid JSON.");
      }
    }
    if (!Array.isArray(value)) throw new FormError(name, "Must be a JSON list.");
    payload[name] = value;
  }
  const params = control(form, "params");
  if (params) {
    const text = params.value.trim();
    let value = {};
    if (text !== "" && text !== "null") {
      try {
        value = JSON.parse(text);
      } catch {
        throw new FormError("params", "Not valid JSON.");
      }
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new FormError("params", "Must be a JSON object.");
    }
    payload.params = value;
  }
  for (const name of RELATIONS) {
    const select = control(form, name);
    if (select) payload[name] = chosenIds(select);
  }
  return { payload, brand };
}

// --- the panel --------------------------------------------------------------------------------

class PreviewPanel {
  constructor({ form, panel, previewForm, config }) {
    this.form = form;
    this.panel = panel;
    this.previewForm = previewForm;
    this.config = config;
    this.products = [];
    this.price = null;
    this.brandSlug = null;
    this.lineCount = 0;
    this.requestSerial = 0;
    this.inFlight = null;
    this.timer = null;
    this.lines = panel.querySelector("#preview-lines");
    this.productsStatus = panel.querySelector("#preview-products-status");
    this.results = panel.querySelector("#preview-results");
    this.store = panel.querySelector("#preview-store");
    this.channel = panel.querySelector("#preview-channel");
    this.at = panel.querySelector("#preview-at");
    this.customerLabels = panel.querySelector("#preview-customer-labels");
    this.tier = panel.querySelector("#preview-tier");
    this.paymentMethod = panel.querySelector("#preview-payment-method");
    this.codes = panel.querySelector("#preview-codes");
    this.signedIn = panel.querySelector("#preview-signed-in");
    this.newCustomer = panel.querySelector("#preview-new-customer");
    this.auto = panel.querySelector("#preview-auto");
    this.customerLabelsHelp = panel.querySelector("#preview-customer-labels-help");
    this.zone = panel.querySelector("#preview-at-zone");
  }

  // The time zone the sample date and time are read in: the store's, or else the brand's.
  timeZone(brand) {
    const store = brand.stores.find((item) => item.code === this.store.value);
    return store ? store.time_zone : brand.time_zone;
  }

  showZone() {
    const brand = this.currentBrand();
    this.zone.textContent = brand ? ` (${this.timeZone(brand)})` : "";
  }

  start() {
    for (const { value, label } of this.config.channels) {
      this.channel.append(el("option", { value }, label));
    }
    this.previewForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run();
    });
    this.panel.querySelector("#preview-add-line").addEventListener("click", () => {
      const row = this.addLine();
      row.querySelector("select").focus();
    });
    this.store.addEventListener("change", () => this.showZone());
    this.panel.addEventListener("change", () => this.schedule());
    // Edits of the promotion itself; the filter widgets move options without a change event.
    this.form.addEventListener("input", (event) => this.onFormEdit(event));
    this.form.addEventListener("change", (event) => this.onFormEdit(event));
    this.form.addEventListener("click", (event) => {
      if (event.target.closest(".selector-chooser, .selector-chooseall, .selector-clearall")) {
        this.schedule();
      }
    });
    this.form.addEventListener("dblclick", (event) => {
      if (event.target.closest(".selector")) this.schedule();
    });
    const brandSelect = control(this.form, "brand");
    if (brandSelect && this.config.brand_id === null) {
      brandSelect.addEventListener("change", () => this.loadBrand());
    }
    this.loadBrand();
  }

  onFormEdit(event) {
    if (this.panel.contains(event.target)) return;
    if (event.target.name === "brand") return; // loadBrand() takes care of it
    this.schedule();
  }

  currentBrand() {
    const brandId = this.config.brand_id ?? Number(control(this.form, "brand")?.value || 0);
    return this.config.brands.find((item) => item.id === brandId) || null;
  }

  async loadBrand() {
    const brand = this.currentBrand();
    this.lines.replaceChildren();
    this.products = [];
    this.brandSlug = brand ? brand.slug : null;
    this.store.replaceChildren(el("option", { value: "" }, "No store (brand time zone)"));
    this.customerLabels.replaceChildren();
    if (!brand) {
      this.productsStatus.textContent = "Choose the promotion's brand to pick sample products.";
      return;
    }
    for (const store of brand.stores) {
      this.store.append(el("option", { value: store.code }, `${store.name} (${store.code})`));
    }
    for (const label of this.config.customer_labels) {
      if (label.brand_id === null || label.brand_id === brand.id) {
        this.customerLabels.append(el("option", { value: label.id }, label.name));
      }
    }
    this.customerLabelsHelp.textContent = this.customerLabels.options.length
      ? "Hold Ctrl (⌘ on a Mac) to choose several."
      : "This brand has no customer labels.";
    this.showZone();
    this.productsStatus.textContent = `Loading the products of ${brand.name}…`;
    const url = new URL(this.config.products_url, window.location.origin);
    url.searchParams.set("brand", brand.slug);
    url.searchParams.set("ordering", "name");
    url.searchParams.set("page_size", String(PRODUCTS_PAGE_SIZE));
    let products;
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      products = Array.isArray(body) ? body : body.results;
    } catch (error) {
      if (this.brandSlug === brand.slug) {
        this.productsStatus.textContent = `The products could not be loaded (${error.message}).`;
      }
      return;
    }
    if (this.brandSlug !== brand.slug) return; // the brand changed meanwhile
    this.products = products;
    this.price = priceFormatter(brand.currency);
    this.productsStatus.textContent = products.length
      ? `${products.length} product(s) of ${brand.name}.`
      : `${brand.name} has no products yet.`;
    this.defaultBasket();
    // A saved promotion is complete: show what it does right away.
    if (this.config.brand_id !== null && this.products.length && this.auto.checked) this.run();
  }

  // A few of the brand's products: those in the promotion's scope first.
  defaultBasket() {
    const inScope = new Set(
      chosenIds(control(this.form, "products") || el("select")).map((id) => String(id)),
    );
    const ordered = [
      ...this.products.filter((product) => inScope.has(String(product.id))),
      ...this.products.filter((product) => !inScope.has(String(product.id))),
    ];
    for (const product of ordered.slice(0, DEFAULT_BASKET_LINES)) this.addLine(product.id, 1);
  }

  addLine(productId = null, quantity = 1) {
    this.lineCount += 1;
    const key = this.lineCount;
    const select = el("select", {
      id: `preview-line-${key}-product`,
      form: "promotion-preview-form",
      className: "preview-line-product",
    });
    for (const product of this.products) {
      const price = this.price ? ` · ${this.price(product.price)}` : "";
      const inactive = product.is_active ? "" : " · inactive";
      select.append(
        el("option", { value: product.id }, `${product.name} (${product.sku})${price}${inactive}`),
      );
    }
    if (productId !== null) select.value = String(productId);
    const quantityInput = el("input", {
      type: "number",
      id: `preview-line-${key}-quantity`,
      form: "promotion-preview-form",
      className: "preview-line-quantity",
      min: 1,
      max: 10000,
      step: 1,
      value: quantity,
      required: true,
    });
    const remove = el("button", { type: "button", className: "button" }, "Remove");
    const row = el(
      "li",
      { className: "preview-line" },
      el("label", { for: select.id }, "Product"),
      select,
      el("label", { for: quantityInput.id }, "Quantity"),
      quantityInput,
      remove,
    );
    remove.addEventListener("click", () => {
      row.remove();
      this.renumber();
      this.schedule();
    });
    this.lines.append(row);
    this.renumber();
    return row;
  }

  renumber() {
    [...this.lines.children].forEach((row, index) => {
      row.querySelector("button").setAttribute("aria-label", `Remove line ${index + 1}`);
      row.querySelector(".preview-line-product").setAttribute(
        "aria-label",
        `Product of line ${index + 1}`,
      );
      row.querySelector(".preview-line-quantity").setAttribute(
        "aria-label",
        `Quantity of line ${index + 1}`,
      );
    });
  }

  readBasket() {
    const lines = [];
    for (const row of this.lines.children) {
      const product = Number(row.querySelector(".preview-line-product").value);
      const text = row.querySelector(".preview-line-quantity").value.trim();
      if (!/^\d+$/.test(text) || Number(text) < 1) {
        throw new FormError("lines", "Each quantity must be a whole number of at least 1.");
      }
      if (product) lines.push({ product, quantity: Number(text) });
    }
    if (!lines.length) throw new FormError("lines", "Add at least one product to the basket.");
    return lines;
  }

  readContext(brand) {
    const context = {
      channel: this.channel.value,
      signed_in: this.signedIn.checked,
      is_new_customer: this.newCustomer.checked,
      customer_labels: [...this.customerLabels.selectedOptions].map((option) =>
        Number(option.value),
      ),
      codes: this.codes.value
        .split(",")
        .map((code) => code.trim())
        .filter(Boolean),
    };
    if (this.store.value) context.store = this.store.value;
    const tier = this.tier.value.trim();
    if (tier) context.tier = tier;
    const method = this.paymentMethod.value.trim();
    if (method) context.payment_method = method;
    if (this.at.value) {
      const at = wallTimeToIso(this.at.value, this.timeZone(brand));
      if (!at) throw new FormError("at", "Not a valid date and time.");
      context.at = at;
    }
    return context;
  }

  schedule() {
    if (!this.auto.checked || !this.products.length) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  async run() {
    clearTimeout(this.timer);
    const serial = ++this.requestSerial;
    let request;
    let brand;
    try {
      const promotion = readPromotion(this.form, this.config);
      brand = promotion.brand;
      request = {
        promotion: promotion.payload,
        lines: this.readBasket(),
        ...this.readContext(brand),
      };
      // On a saved promotion the form's values are changes on top of it.
      if (this.config.promotion_id) request.promotion_id = this.config.promotion_id;
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      this.show(this.formErrorView(error));
      return;
    }
    if (this.inFlight) this.inFlight.abort();
    const controller = new AbortController();
    this.inFlight = controller;
    this.results.setAttribute("aria-busy", "true");
    let response;
    let body;
    try {
      response = await fetch(this.config.preview_url, {
        method: "POST",
        credentials: "same-origin",
        signal: controller.signal,
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": this.csrfToken(),
        },
        body: JSON.stringify(request),
      });
      body = await response.json().catch(() => null);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (serial === this.requestSerial) {
        this.show(el("p", { className: "preview-error" }, `The preview failed: ${error.message}`));
      }
      return;
    } finally {
      if (serial === this.requestSerial) {
        this.results.setAttribute("aria-busy", "false");
        this.inFlight = null;
      }
    }
    if (serial !== this.requestSerial) return; // a newer preview is on its way
    if (!response.ok || !body || !body.result) {
      this.show(this.apiErrorView(response.status, body));
      return;
    }
    this.show(this.resultView(body));
  }

  csrfToken() {
    const input = this.form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
  }

  show(view) {
    this.results.replaceChildren(view);
  }

  fieldLink(field) {
    const name = String(field).split(".")[0];
    const target =
      document.getElementById(`id_${name}`) ||
      document.getElementById(`id_${name}_from`) ||
      document.getElementById(`id_${name}_0`);
    const label = this.fieldLabel(name) || name;
    const text = label + (field !== name ? ` (${field})` : "");
    return target ? el("a", { href: `#${target.id}` }, text) : el("code", {}, field);
  }

  fieldLabel(name) {
    const label = document.querySelector(`label[for="id_${name}"], label[for="id_${name}_0"]`);
    return label ? label.textContent.replace(/:\s*$/, "").trim() : null;
  }

  formErrorView(error) {
    const where =
      error.field === "lines" || error.field === "at"
        ? el("span", {}, error.field === "lines" ? "Sample basket" : "Date and time")
        : this.fieldLink(error.field);
    return el(
      "div",
      { className: "preview-error", id: "preview-issues" },
      el("p", {}, "Cannot preview yet: ", where, ": ", error.message),
    );
  }

  apiErrorView(status, body) {
    const fields = (body && body.fields) || {};
    const items = Object.entries(fields).map(([path, messages]) => {
      const field = path.replace(/^promotion\./, "");
      const where = path.startsWith("promotion.") ? this.fieldLink(field) : el("code", {}, path);
      return el("li", {}, where, ": ", [].concat(messages).join(" "));
    });
    return el(
      "div",
      { className: "preview-error", id: "preview-issues" },
      el(
        "p",
        {},
        `The server did not price the basket (${(body && body.code) || `HTTP ${status}`}): `,
        (body && body.message) || "",
      ),
      items.length ? el("ul", {}, items) : null,
    );
  }

  resultView(body) {
    const money = moneyFormatter(body.currency);
    const server = body.result;
    let browser = null;
    let browserError = null;
    try {
      browser = calculate({
        basket: body.basket,
        context: body.context,
        promotions: [body.compiled],
        bundleHash: server.bundle_hash ?? null,
      });
    } catch (error) {
      browserError = error;
    }
    const serverJson = canonicalJson(server);
    const browserJson = browser ? canonicalJson(browser) : null;
    const agree = browserJson === serverJson;
    const names = new Map(this.products.map((product) => [product.id, product.name]));
    const view = el("div", {});

    view.append(
      el(
        "p",
        {
          id: "preview-check",
          className: `preview-check ${agree ? "agree" : "mismatch"}`,
          role: agree ? null : "alert",
        },
        agree
          ? `Browser engine (engine.js v${ENGINE_VERSION}) and server calculator agree.`
          : `Mismatch: the browser engine (engine.js v${ENGINE_VERSION}) and the server ` +
              `calculator (v${server.engine_version}) give different results` +
              (browserError ? ` (engine.js failed: ${browserError.message})` : "") +
              ". Do not activate this promotion before the engines are fixed.",
      ),
    );
    if (!agree) {
      view.append(
        el(
          "details",
          {},
          el("summary", {}, "Both results"),
          el("h3", {}, "Server"),
          el("pre", {}, serverJson),
          el("h3", {}, "Browser"),
          el("pre", {}, browserJson ?? String(browserError)),
        ),
      );
    }

    if (body.issues.length) {
      view.append(
        el(
          "div",
          { id: "preview-issues" },
          el("h3", {}, `Validation issues (${body.issues.length})`),
          el(
            "ul",
            { className: "preview-issues" },
            body.issues.map((issue) =>
              el("li", {}, this.fieldLink(issue.field), ": ", issue.message, ` (${issue.code})`),
            ),
          ),
        ),
      );
    } else {
      view.append(el("p", { id: "preview-issues" }, "No validation issues."));
    }

    const shown = browser || server;
    view.append(el("h3", {}, "Basket"));
    view.append(
      table(
        [
          ["Product"],
          ["Quantity", true],
          ["Unit price", true],
          ["Subtotal", true],
          ["Discount", true],
          ["Total", true],
        ],
        shown.lines.map((line) => [
          el("th", { scope: "row" }, names.get(line.product_id) || `Product ${line.product_id}`),
          td(line.quantity, true),
          td(money(line.unit_price), true),
          td(money(line.subtotal), true),
          td(money(line.discount), true, { className: "money preview-line-discount" }),
          td(money(line.total), true),
        ]),
        [
          el(
            "tr",
            {},
            el("th", { scope: "row", colspan: 3 }, "Totals"),
            td(money(shown.subtotal), true, { id: "preview-subtotal" }),
            td(money(shown.discount_total), true, { id: "preview-discount-total" }),
            td(money(shown.total), true, { id: "preview-total" }),
          ),
        ],
      ),
    );
    if (shown.cashback_total) {
      view.append(el("p", {}, `Cashback after payment: ${money(shown.cashback_total)}.`));
    }

    view.append(el("h3", {}, "Applied"));
    view.append(
      shown.applied.length
        ? el(
            "ul",
            { id: "preview-applied" },
            shown.applied.map((entry) =>
              el(
                "li",
                {},
                `${entry.name || "This promotion"}: ${money(entry.amount)} off`,
                ` (${entry.phase} phase, applied ${entry.applications} time(s)`,
                entry.capped ? ", capped" : "",
                ")",
              ),
            ),
            shown.cashback.map((entry) =>
              el("li", {}, `${entry.name || "This promotion"}: ${money(entry.amount)} cashback`),
            ),
          )
        : el("p", { id: "preview-applied" }, "Nothing applied."),
    );

    if (shown.suggestions.length) {
      view.append(el("h3", {}, "Suggestions"));
      view.append(
        el(
          "ul",
          { id: "preview-suggestions" },
          shown.suggestions.map((suggestion) =>
            el("li", {}, this.suggestionText(suggestion, money, names)),
          ),
        ),
      );
    }

    if (shown.rejected.length) {
      view.append(el("h3", {}, "Not applied"));
      view.append(
        el(
          "ul",
          { id: "preview-rejected" },
          shown.rejected.map((entry) =>
            el(
              "li",
              {},
              `${entry.name || "This promotion"}: ${REASONS[entry.reason] || entry.reason} `,
              el("code", {}, entry.reason),
            ),
          ),
        ),
      );
    }

    view.append(
      el(
        "p",
        { className: "help" },
        `Priced at store-local time ${body.context.local}`,
        body.context.store_id ? "" : " (brand time zone)",
        `, channel ${body.context.channel}.`,
      ),
    );
    return view;
  }

  suggestionText(suggestion, money, names) {
    const product = (id) => names.get(id) || `product ${id}`;
    switch (suggestion.type) {
      case "free_gift":
        return `Add ${suggestion.quantity} × ${product(suggestion.product_id)}: it is free.`;
      case "upsell":
        return (
          `Add ${suggestion.quantity} × ${product(suggestion.product_id)}` +
          (suggestion.discounted_unit_price === null ||
          suggestion.discounted_unit_price === undefined
            ? "."
            : ` for ${money(suggestion.discounted_unit_price)} each` +
              (suggestion.unit_price === null ? "." : ` instead of ${money(suggestion.unit_price)}.`))
        );
      case "threshold": {
        const tier = suggestion.next_tier || {};
        const reward =
          tier.percent_bp !== undefined && tier.percent_bp !== null
            ? `${basisPoints(tier.percent_bp)} off`
            : `${money(tier.amount || 0)} off`;
        return `Spend ${money(suggestion.amount_missing)} more for ${reward}.`;
      }
      case "payment_method":
        return (
          `Pay with ${(suggestion.payment_methods || []).join(" or ")} ` +
          `and save ${money(suggestion.saving)}.`
        );
      default:
        return canonicalJson(suggestion);
    }
  }
}

function init() {
  const panel = document.getElementById("promotion-preview");
  const previewForm = document.getElementById("promotion-preview-form");
  const configNode = document.getElementById("promotion-preview-config");
  const form = panel && panel.closest("form");
  if (!panel || !previewForm || !configNode || !form) return;
  const config = JSON.parse(configNode.textContent);
  new PreviewPanel({ form, panel, previewForm, config }).start();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
