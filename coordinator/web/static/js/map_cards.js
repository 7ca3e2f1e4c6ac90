// The cards the map opens: a camera box's last hour (counts per zone and line as sparklines, its latest events in
// words) and a luminaire's cabinet and energy of the day. Each is one bounded API call
// (/devices/{id}/activity, /lighting/luminaires/{device}/{lum}); the card says "Chargement…" until it arrives.
//
// No snapshot is shown: the centre counts the images boxes send but does not keep them (see the API's
// device_activity route), so the card says so rather than leave a blank.

import { api, communeName, el, fmtNumber, fmtTime, t } from "./common.js";
import { countOf, eventDetail, eventLabel } from "./wording.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** Points of a sparkline: `values` over the box's width, the largest at the top (a flat line when all are 0). */
export function sparkPoints(values, width = 120, height = 24, pad = 2) {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  return values.map((v, i) => [pad + i * step, height - pad - (v / max) * (height - 2 * pad)]);
}

/** A sparkline as an image with its values spoken: screen readers get the figures, not a shape. */
function sparkline(values, label) {
  const box = svg("svg", { viewBox: "0 0 120 24", width: 120, height: 24, role: "img", "aria-label": label,
    class: "spark" });
  const pts = sparkPoints(values);
  box.append(svg("polyline", { points: pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
    fill: "none", stroke: "#1d4ed8", "stroke-width": 1.6 }));
  const [lx, ly] = pts[pts.length - 1];
  box.append(svg("circle", { cx: lx, cy: ly, r: 2.2, fill: "#1d4ed8" }));
  return box;
}

/** Classes of a target's counts in words: "12 personnes, 3 voitures". */
function classesText(classes) {
  return Object.entries(classes).map(([cls, [a, b]]) => [Number(cls), a + b]).filter(([, n]) => n > 0)
    .sort((x, y) => y[1] - x[1]).map(([cls, n]) => countOf(cls, n)).join(", ");
}

function targetRow(s) {
  const sums = s.inbound.map((v, i) => v + s.outbound[i]);
  const totals = s.total_out > 0
    ? t("card.in_out", { inbound: fmtNumber(s.total_in), outbound: fmtNumber(s.total_out) })
    : t("card.entries", { n: fmtNumber(s.total_in) });
  return el("li", { dataset: { target: s.target } },
    el("span", { class: "spark-name", text: s.target }),
    sparkline(sums, t("card.spark", { target: s.target, values: sums.join(", ") })),
    el("span", { class: "spark-total", text: totals }),
    el("span", { class: "hint", text: classesText(s.classes) }));
}

function eventRow(ev) {
  return el("li", { dataset: { type: ev.type } },
    el("time", { datetime: new Date(ev.ts_ms).toISOString(), text: fmtTime(ev.ts_ms) }), " ",
    el("strong", { text: eventLabel(ev.type) }), " — ", eventDetail(ev.type, ev.body));
}

/** Fill `box` with a camera box's last hour. */
export async function fillCameraCard(box, deviceId) {
  box.replaceChildren(el("p", { class: "hint", text: t("card.loading") }));
  box.dataset.state = "loading";
  const a = await api("GET", `/devices/${encodeURIComponent(deviceId)}/activity`);
  const ev = a.events;
  box.replaceChildren(...[
    el("h3", { text: t("card.counts") }),
    a.targets.length ? el("ul", { class: "sparks" }, a.targets.map(targetRow))
      : el("p", { class: "hint", text: t("card.counts_none") }),
    el("h3", { text: t("card.events") }),
    ev.items.length ? el("ul", { class: "recent-events" }, ev.items.map(eventRow))
      : el("p", { class: "hint", text: t("card.events_none") }),
    ev.total > ev.items.length ? el("p", { class: "hint", text: t("card.events_more",
      { shown: ev.items.length, total: fmtNumber(ev.total) }) }) : null,
    el("p", { class: "hint", text: t("card.no_snapshot") })].filter(Boolean));
  box.dataset.state = "ready";
  box.dataset.device = deviceId;
}

const METER = [
  ["power_total", (m) => m.power_total, 1], ["import_energy", (m) => m.import_energy, 1],
  ["voltage", (m) => [m.voltage_l1, m.voltage_l2, m.voltage_l3], 0],
  ["current", (m) => [m.current_l1, m.current_l2, m.current_l3], 2],
  ["power_factor", (m) => m.power_factor, 2], ["frequency", (m) => m.frequency, 1],
];

/** The cabinet meter's values in words; phases joined ("230 / 231 / 229"); what the meter did not give left out. */
export function meterText(meter) {
  const parts = [];
  for (const [key, pick, digits] of METER) {
    const raw = pick(meter);
    const vals = (Array.isArray(raw) ? raw : [raw]).filter((v) => typeof v === "number");
    if (vals.length) parts.push(t(`meter.${key}`, { v: vals.map((v) => fmtNumber(v, digits)).join(" / ") }));
  }
  return parts.join(", ");
}

function kwh(wh) {
  return fmtNumber(wh / 1000, 2);
}

/** The rows a luminaire's card adds to its popup: power, its meter, its groups' energy today, its cabinet. */
export async function luminaireRows(deviceId, lumId) {
  const c = await api("GET", `/lighting/luminaires/${encodeURIComponent(deviceId)}/${encodeURIComponent(lumId)}`);
  const l = c.luminaire;
  const cab = c.cabinet;
  const energy = c.energy_today.groups.map((g) => t("card.energy_group", {
    group: g.group.startsWith("commune-") ? `${communeName(l.site)} (${t("card.commune_group")})` : g.group,
    used: kwh(g.energy_wh), ref: kwh(g.reference_wh) }));
  const rows = [
    [t("card.power"), l.power_w === null ? "—" : `${fmtNumber(l.power_w, 1)} W`],
    [t("card.meter_lum"), l.energy_wh === null ? "—" : `${kwh(l.energy_wh)} kWh`],
    [t("card.energy_today"), energy.join(" ; ") || "—"],
    [t("card.cabinet_meter"), meterText(cab.meter) || t("card.no_meter")],
  ];
  if (cab.door_open !== null) rows.push([t("card.cabinet_door"), t(cab.door_open ? "card.door_open" : "card.door_shut")]);
  if (cab.circuits.length) {
    rows.push([t("card.circuits"), t("card.circuits_state", { n: cab.circuits.length,
      on: cab.circuits.filter((x) => x.on).length, tripped: cab.circuits.filter((x) => x.tripped).length })]);
  }
  rows.push([t("card.cabinet_telemetry"), cab.telemetry_ms ? fmtTime(cab.telemetry_ms) : "—"]);
  return rows;
}
