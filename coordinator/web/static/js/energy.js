// Energy (total against the full-power reference, then per commune or per group) and counts
// per zone and line, hour by hour over the last 24 hours or 7 days.

import { api, communeName, el, fmtNumber, showError, t } from "./common.js";
import { align, plot } from "./charts.js";

const form = document.getElementById("energy-form");
const WINDOW_STEP_HOURS = { "24h": 3, "7d": 24 };

function kpi(label, value, key) {
  return el("div", { class: "kpi", dataset: { kpi: key } },
    el("div", { class: "value", text: value }), el("div", { class: "label", text: label }));
}

/** A group's name for people: the commune-wide group reads as "Toute la commune". */
function groupName(group) {
  return group.startsWith("commune-") ? t("energy.whole_commune") : group;
}

function totalsTable(totals) {
  const body = document.querySelector("#energy-table tbody");
  body.replaceChildren(...totals.map((r) => el("tr", {},
    el("td", { text: communeName(r.site) }), el("td", { text: groupName(r.group) }),
    el("td", { class: "num", text: fmtNumber(r.energy_wh / 1000, 2) }),
    el("td", { class: "num", text: fmtNumber(r.reference_wh / 1000, 2) }),
    el("td", { class: "num", text: r.savings_pct === null ? "—" : `${fmtNumber(r.savings_pct, 1)} %` }))));
  if (!totals.length) body.append(el("tr", {}, el("td", { colspan: "5", text: t("common.none") })));
}

let latest = 0; // the last load asked for: an earlier answer arriving late must not overwrite it

async function load() {
  const mine = ++latest;
  const win = form.elements.window.value;
  const site = form.elements.site.value;
  const params = new URLSearchParams({ window: win, bucket: "hour" });
  if (site) params.set("site", site);
  try {
    const [energy, counts] = await Promise.all([api("GET", `/analytics/energy?${params}`),
      api("GET", `/analytics/counts?${params}`)]);
    if (mine !== latest) return;
    const span = { fromMs: energy.from, toMs: energy.to, stepHours: WINDOW_STEP_HOURS[win] };
    // Commune groups hold every luminaire once; other groups overlap them.
    const communeRows = energy.rows.filter((r) => r.group.startsWith("commune-"));
    const whole = communeRows.length ? communeRows : energy.rows;
    const used = align(whole, () => "used", (r) => r.energy_wh / 1000);
    const ref = align(whole, () => "ref", (r) => r.reference_wh / 1000);
    plot("energy-chart", { ...span, data: used.names.length ? [used.data[0], used.data[1], ref.data[1]] : [[]],
      labels: [t("energy.energy"), t("energy.baseline")], unit: "kWh", dashed: [1], colours: ["#1d4ed8", "#4b5563"] });
    // Per commune for the métropole, per group inside one commune.
    const split = site ? align(energy.rows, (r) => r.group, (r) => r.energy_wh / 1000)
      : align(communeRows, (r) => r.site, (r) => r.energy_wh / 1000);
    document.getElementById("split-h").textContent = t(site ? "energy.per_group" : "energy.per_commune");
    plot("split-chart", { ...span, data: split.data, unit: "kWh",
      labels: split.names.map((n) => (site ? groupName(n) : communeName(n))) });
    const perTarget = align(counts.rows, (r) => `${r.target} (${r.device_id})`, (r) => (r.inbound || 0) + (r.outbound || 0));
    plot("counts-chart", { ...span, data: perTarget.data, labels: perTarget.names, unit: t("energy.passages"), digits: 0 });
    const totals = energy.totals.filter((r) => r.group.startsWith("commune-"));
    const pick = totals.length ? totals : energy.totals;
    const usedWh = pick.reduce((a, r) => a + r.energy_wh, 0);
    const refWh = pick.reduce((a, r) => a + r.reference_wh, 0);
    const weighted = pick.filter((r) => r.savings_pct !== null);
    const wRef = weighted.reduce((a, r) => a + r.reference_wh, 0);
    const savings = wRef > 0 ? weighted.reduce((a, r) => a + r.savings_pct * r.reference_wh, 0) / wRef : null;
    const passages = counts.rows.reduce((a, r) => a + (r.inbound || 0) + (r.outbound || 0), 0);
    document.getElementById("energy-kpis").replaceChildren(
      kpi(t("energy.energy"), fmtNumber(usedWh / 1000, 1), "energy"),
      kpi(t("energy.baseline"), fmtNumber(refWh / 1000, 1), "reference"),
      kpi(t("energy.savings"), savings === null ? "—" : `${fmtNumber(savings, 1)} %`, "savings"),
      kpi(t("energy.counts"), fmtNumber(passages), "counts"),
    );
    totalsTable(energy.totals);
    document.body.dataset.loaded = "1";
  } catch (err) {
    if (mine === latest) showError(err);
  }
}

form.addEventListener("change", () => {
  document.body.dataset.loaded = "0";
  load();
});
form.addEventListener("submit", (ev) => ev.preventDefault());
load();
