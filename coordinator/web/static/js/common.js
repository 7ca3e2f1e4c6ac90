// Shared by every page: the boot data, labels, API calls with the CSRF token, small helpers.

export const boot = JSON.parse(document.getElementById("vigie-boot").textContent);

/** The label of `key` in the page's language, with `{name}` placeholders filled. */
export function t(key, params = {}) {
  const text = boot.labels[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Call the API as the logged-in browser session; changes carry the CSRF token. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    if (boot.csrf) headers["X-CSRF-Token"] = boot.csrf;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const resp = await fetch(boot.api + path, init);
  if (resp.status === 401 && boot.page !== "login") {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
  }
  if (resp.status === 204) return null;
  const ct = resp.headers.get("Content-Type") || "";
  const data = ct.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const msg = data && data.error ? data.error.message : `HTTP ${resp.status}`;
    throw new ApiError(resp.status, msg, data);
  }
  return data;
}

/** True when the API document lists `path` (a route another part of the product may not ship yet). */
let openapiPaths = null;
export async function apiHas(path, method = "get") {
  if (openapiPaths === null) {
    try {
      const doc = await api("GET", "/openapi.json");
      openapiPaths = doc.paths || {};
    } catch {
      openapiPaths = {};
    }
  }
  return Boolean(openapiPaths[path] && openapiPaths[path][method]);
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const dateFmt = new Intl.DateTimeFormat(boot.lang === "en" ? "en-GB" : "fr-FR", {
  dateStyle: "short", timeStyle: "medium", timeZone: "Europe/Paris",
});
const timeFmt = new Intl.DateTimeFormat(boot.lang === "en" ? "en-GB" : "fr-FR", {
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "Europe/Paris",
});

export function fmtDate(ms) {
  return ms === null || ms === undefined ? "—" : dateFmt.format(new Date(ms));
}

export function fmtTime(ms) {
  return ms === null || ms === undefined ? "—" : timeFmt.format(new Date(ms));
}

export function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return new Intl.NumberFormat(boot.lang === "en" ? "en-GB" : "fr-FR", {
    maximumFractionDigits: digits, minimumFractionDigits: digits,
  }).format(n);
}

const communeNames = new Map((boot.communes || []).map((c) => [c.slug, c.name]));

/** The name of a commune from its slug ("fontaine-les-dijon" -> "Fontaine-lès-Dijon"). */
export function communeName(slug) {
  if (slug === null || slug === undefined || slug === "") return "—";
  return communeNames.get(slug) ?? slug;
}

export function statusLabel(status) {
  return t(`status.${status}`);
}

/** A short message in the page's live region (screen readers announce it). */
export function notify(message, kind = "info") {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
}

export function showError(err) {
  notify(`${t("common.error")} ${err && err.message ? err.message : err}`, "error");
}

function wireLogout() {
  const button = document.getElementById("logout");
  if (!button) return;
  button.addEventListener("click", async () => {
    try {
      await api("POST", "/auth/logout");
    } finally {
      window.location.assign("/login");
    }
  });
}

wireLogout();
