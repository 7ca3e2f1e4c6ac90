// Fleet health: counts by status, boxes to look at (offline, stale, silent), firmware and config versions.

import { api, communeName, el, fmtDate, fmtNumber, showError, statusLabel, t } from "./common.js";

function kpi(label, value, kind, key) {
  return el("div", { class: `kpi ${kind}`, dataset: { kpi: key } },
    el("div", { class: "value", text: fmtNumber(value) }), el("div", { class: "label", text: label }));
}

async function problems() {
  const [offline, stale] = await Promise.all([
    api("GET", "/devices?status=offline&limit=200"),
    api("GET", "/devices?status=stale&limit=200"),
  ]);
  return [...offline.devices, ...stale.devices];
}

async function load() {
  try {
    const [health, watch, centre] = await Promise.all([api("GET", "/fleet/health"), problems(), api("GET", "/fleet/centre")]);
    const c = document.getElementById("centre");
    c.dataset.state = centre.state;
    c.title = centre.detail || t("fleet.centre_help");
    c.replaceChildren(el("span", { class: `swatch status-${centre.state}`, "aria-hidden": "true" }), " ",
      `${t("fleet.centre")} (${centre.host}) : ${statusLabel(centre.state)}`);
    const s = health.by_status || {};
    document.getElementById("kpis").replaceChildren(
      kpi(t("fleet.total"), health.total, "", "total"),
      kpi(t("fleet.online"), s.online || 0, "good", "online"),
      kpi(t("fleet.stale"), s.stale || 0, "warn", "stale"),
      kpi(t("fleet.offline"), s.offline || 0, "bad", "offline"),
      kpi(t("status.unknown"), s.unknown || 0, "", "unknown"),
    );
    const body = document.querySelector("#problems tbody");
    body.replaceChildren(...watch.map((d) => el("tr", { dataset: { device: d.id, status: d.status } },
      el("td", { text: d.id }), el("td", { text: communeName(d.site) }),
      el("td", {}, el("span", { class: `swatch status-${d.status}`, "aria-hidden": "true" }), " ", statusLabel(d.status)),
      el("td", { text: fmtDate(d.last_seen_ms) }), el("td", { text: fmtDate(d.status_since_ms) }))));
    if (!watch.length) body.append(el("tr", {}, el("td", { colspan: "5", text: t("common.none") })));
    const fw = Object.entries(health.firmware || {}).sort((a, b) => b[1] - a[1]);
    document.querySelector("#firmware tbody").replaceChildren(...fw.map(([v, n]) =>
      el("tr", { dataset: { firmware: v } }, el("td", { text: v }), el("td", { class: "num", text: fmtNumber(n) }))));
    if (!fw.length) document.querySelector("#firmware tbody").append(el("tr", {}, el("td", { colspan: "2", text: t("common.none") })));
    const drift = health.config_drift || [];
    document.getElementById("config-summary").textContent =
      `${fmtNumber(health.total - drift.length)} ${t("fleet.config_ok")}, ${fmtNumber(drift.length)} ${t("fleet.config_drift")}`;
    document.getElementById("config-drift").replaceChildren(...drift.slice(0, 50).map((id) => el("li", { text: id })));
    const sites = Object.entries(health.by_site || {}).sort((a, b) => a[0].localeCompare(b[0]));
    document.querySelector("#sites tbody").replaceChildren(...sites.map(([site, c]) => el("tr", {},
      el("td", { text: communeName(site) }), el("td", { class: "num", text: fmtNumber(c.online || 0) }),
      el("td", { class: "num", text: fmtNumber(c.stale || 0) }), el("td", { class: "num", text: fmtNumber(c.offline || 0) }),
      el("td", { class: "num", text: fmtNumber(Object.values(c).reduce((a, b) => a + b, 0)) }))));
    if (!sites.length) document.querySelector("#sites tbody").append(el("tr", {}, el("td", { colspan: "5", text: t("common.none") })));
    document.body.dataset.loaded = "1";
  } catch (err) {
    showError(err);
  }
}

document.getElementById("refresh").addEventListener("click", load);
load();
