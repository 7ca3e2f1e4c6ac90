// The requesting authority's space: its own requisitions, and the download of a package by its link.
// Authorities sign in with the bearer token the centre gave them (not a staff session): it stays in this page's
// memory only and goes in the Authorization header of each request.

import { boot, el, fmtDate, showError, t } from "./common.js";

let token = "";

// Refusals the authority can act on, in its words; anything else shows the API's own message.
const REFUSALS = { 401: "auth.err.401", 403: "auth.err.403", 404: "auth.err.404", 410: "auth.err.410" };

async function call(path) {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, credentials: "omit" });
  if (!resp.ok) {
    let message = `HTTP ${resp.status}`;
    try {
      message = (await resp.json()).error.message;
    } catch (_) { /* not JSON */ }
    throw new Error(REFUSALS[resp.status] ? t(REFUSALS[resp.status]) : message);
  }
  document.getElementById("notice").hidden = true;
  return resp;
}

async function show(event) {
  event.preventDefault();
  token = document.getElementById("auth-token").value.trim();
  try {
    const { requisitions } = await (await call(`${boot.api}/authority/requisitions`)).json();
    document.querySelector("#auth-table tbody").replaceChildren(...requisitions.map((r) =>
      el("tr", { dataset: { id: String(r.id) } },
        el("td", { text: String(r.id) }), el("td", { text: r.procedure }),
        el("td", { text: `${fmtDate(r.start_ms)} → ${fmtDate(r.end_ms)}` }),
        el("td", { text: t(`req.status.${r.status}`) }),
        el("td", { text: r.links.length ? r.links.map((l) => t("auth.valid_until", { until: fmtDate(l.expires_ms) }))
          .join(" ; ") : "—" }))));
    document.getElementById("auth-table").hidden = false;
    document.body.dataset.loaded = "1";
  } catch (err) {
    showError(err);
  }
}

async function download(event) {
  event.preventDefault();
  token = document.getElementById("auth-token").value.trim();
  const link = document.getElementById("dl-link").value.trim();
  const path = new URL(link, window.location.origin).pathname;
  try {
    const resp = await call(path);
    const blob = await resp.blob();
    const name = (resp.headers.get("Content-Disposition") || "").match(/filename=([^;]+)/);
    const a = el("a", { href: URL.createObjectURL(blob), download: name ? name[1].replaceAll('"', "") : "package.zip" });
    document.body.append(a);
    a.click();
    a.remove();
    const done = document.getElementById("dl-done");
    done.textContent = t("auth.downloaded", { bytes: String(blob.size) });
    done.hidden = false;
  } catch (err) {
    showError(err);
  }
}

document.getElementById("auth-form").addEventListener("submit", show);
document.getElementById("dl-form").addEventListener("submit", download);
