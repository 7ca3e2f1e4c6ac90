// Energy (per light group, with the full-power reference and the savings) and counts, over 24 h or 7 days.

import { api, communeName, el, fmtNumber, showError, t } from "./common.js";

const form = document.getElementById("energy-form");
const charts = {};

function series(rows, value) {
  const byT = new Map();
  for (const r of rows) byT.set(r.t, (byT.get(r.t) || 0) + value(r));
  const ts = [...byT.keys()].sort((a, b) => a - b);
  return [ts.map((x) => x / 1000), ts.map((x) => byT.get(x))];
}

function plot(id, data, labels, colours) {
  const host = document.getElementById(id);
  if (charts[id]) charts[id].destroy();
  host.replaceChildren();
  if (!data[0].length) {
    host.append(el("p", { text: t("common.none") }));
    return;
  }
  const width = Math.max(320, host.clientWidth - 8);
  charts[id] = new window.uPlot({
    width, height: 220, tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Europe/Paris"),
    series: [{}, ...labels.map((label, i) => ({ label, stroke: colours[i], width: 2, fill: `${colours[i]}22` }))],
    axes: [{}, { size: 60 }],
  }, data, host);
}

function kpi(label, value, key) {
  return el("div", { class: "kpi", dataset: { kpi: key } },
    el("div", { class: "value", text: value }), el("div", { class: "label", text: label }));
}

async function load() {
  const params = new URLSearchParams({ window: form.elements.window.value,
    bucket: form.elements.window.value === "7d" ? "day" : "hour" });
  if (form.elements.site.value) params.set("site", form.elements.site.value);
  try {
    const [energy, counts] = await Promise.all([api("GET", `/analytics/energy?${params}`),
      api("GET", `/analytics/counts?${params}`)]);
    // Commune groups hold every luminaire once; other groups overlap them.
    const communeRows = energy.rows.filter((r) => r.group.startsWith("commune-"));
    const rows = communeRows.length ? communeRows : energy.rows;
    const [ts, used] = series(rows, (r) => r.energy_wh / 1000);
    const [, ref] = series(rows, (r) => r.reference_wh / 1000);
    plot("energy-chart", [ts, used, ref], [t("energy.energy"), t("energy.baseline")], ["#1d4ed8", "#9ca3af"]);
    const [cts, crossings] = series(counts.rows, (r) => (r.inbound || 0) + (r.outbound || 0));
    plot("counts-chart", [cts, crossings], [t("energy.counts")], ["#15803d"]);
    const totals = energy.totals.filter((r) => r.group.startsWith("commune-"));
    const pick = totals.length ? totals : energy.totals;
    const usedWh = pick.reduce((a, r) => a + r.energy_wh, 0);
    const refWh = pick.reduce((a, r) => a + r.reference_wh, 0);
    const weighted = pick.filter((r) => r.savings_pct !== null);
    const wRef = weighted.reduce((a, r) => a + r.reference_wh, 0);
    const savings = wRef > 0 ? weighted.reduce((a, r) => a + r.savings_pct * r.reference_wh, 0) / wRef : null;
    document.getElementById("energy-kpis").replaceChildren(
      kpi(t("energy.energy"), fmtNumber(usedWh / 1000, 1), "energy"),
      kpi(t("energy.baseline"), fmtNumber(refWh / 1000, 1), "reference"),
      kpi(t("energy.savings"), savings === null ? "—" : `${fmtNumber(savings, 1)} %`, "savings"),
      kpi(t("energy.counts"), fmtNumber(crossings.reduce((a, b) => a + b, 0)), "counts"),
    );
    document.querySelector("#energy-table tbody").replaceChildren(...energy.totals.map((r) => el("tr", {},
      el("td", { text: communeName(r.site) }), el("td", { text: r.group }),
      el("td", { class: "num", text: fmtNumber(r.energy_wh / 1000, 2) }),
      el("td", { class: "num", text: fmtNumber(r.reference_wh / 1000, 2) }),
      el("td", { class: "num", text: r.savings_pct === null ? "—" : `${fmtNumber(r.savings_pct, 1)} %` }))));
    if (!energy.totals.length) {
      document.querySelector("#energy-table tbody").append(el("tr", {}, el("td", { colspan: "5", text: t("common.none") })));
    }
    document.body.dataset.loaded = "1";
  } catch (err) {
    showError(err);
  }
}

form.addEventListener("change", load);
form.addEventListener("submit", (ev) => ev.preventDefault());
load();
