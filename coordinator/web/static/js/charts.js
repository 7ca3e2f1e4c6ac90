// Time charts over a chosen window: the x axis is the window itself (never what the data
// happens to span), its ticks fall on Paris hours or Paris midnights and are labelled in the
// page's language; an empty window says so instead of drawing an empty frame.

import { boot, el, fmtDate, fmtNumber, t } from "./common.js";

const TZ = "Europe/Paris";
const LOCALE = boot.lang === "en" ? "en-GB" : "fr-FR";
const HOUR_MS = 3_600_000;
const parisHour = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hourCycle: "h23", timeZone: TZ });
const hourLabel = new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit", timeZone: TZ });
const dayLabel = new Intl.DateTimeFormat(LOCALE, { weekday: "short", day: "numeric", month: "short", timeZone: TZ });

/** Palette with enough contrast on white for thin lines (WCAG 1.4.11, 3:1). */
export const COLOURS = ["#1d4ed8", "#b45309", "#15803d", "#7e22ce", "#be123c", "#0e7490", "#4d7c0f", "#6b7280"];

/**
 * Ticks of a window, in ms: every `stepHours` Paris hours (3 for a day, 24 for a week: Paris
 * midnights), each with its label ("21:00" or "lun. 7 déc.").
 */
export function ticks(fromMs, toMs, stepHours) {
  const out = [];
  for (let ms = Math.ceil(fromMs / HOUR_MS) * HOUR_MS; ms <= toMs; ms += HOUR_MS) {
    const hour = Number(parisHour.format(new Date(ms)));
    if (hour % stepHours !== 0) continue;
    out.push({ t: ms, label: stepHours >= 24 ? dayLabel.format(new Date(ms)) : hourLabel.format(new Date(ms)) });
  }
  return out;
}

/**
 * Series keyed by name from rows: `[xs (s), ...ys]` on the union of the rows' times, null
 * where a series has no row (a gap, not a zero), with the `limit` largest series kept.
 */
export function align(rows, key, value, limit = COLOURS.length) {
  const bySeries = new Map();
  for (const r of rows) {
    const k = key(r);
    if (!bySeries.has(k)) bySeries.set(k, new Map());
    const m = bySeries.get(k);
    m.set(r.t, (m.get(r.t) || 0) + value(r));
  }
  const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
  const names = [...bySeries.keys()].sort((a, b) => total(bySeries.get(b)) - total(bySeries.get(a)) || String(a).localeCompare(String(b)))
    .slice(0, limit);
  const times = [...new Set(rows.map((r) => r.t))].sort((a, b) => a - b);
  return { names, data: [times.map((x) => x / 1000), ...names.map((n) => times.map((x) => bySeries.get(n).get(x) ?? null))] };
}

const charts = {};
window.vigieCharts = {};

/**
 * Draw `data` in the element `id` over [fromMs, toMs]; `labels` name the series. An empty
 * `data` leaves a sentence saying the window has no measurement.
 */
export function plot(id, { data, labels, fromMs, toMs, stepHours, unit, digits = 1, colours = COLOURS, dashed = [] }) {
  const host = document.getElementById(id);
  if (charts[id]) charts[id].destroy();
  delete charts[id];
  host.replaceChildren();
  const axis = ticks(fromMs, toMs, stepHours);
  const info = { min: fromMs, max: toMs, ticks: axis.map((x) => x.label), tickTimes: axis.map((x) => x.t),
    points: data[0].length, series: labels.slice(), empty: !data[0].length };
  window.vigieCharts[id] = info;
  host.dataset.empty = info.empty ? "1" : "0";
  if (info.empty) {
    host.append(el("p", { class: "empty", text: t("chart.empty") }));
    return;
  }
  const width = Math.max(320, host.clientWidth - 8);
  const splits = axis.map((x) => x.t / 1000);
  const tickLabel = new Map(axis.map((x) => [x.t / 1000, x.label]));
  charts[id] = new window.uPlot({
    width, height: 240,
    scales: { x: { time: false, range: () => [fromMs / 1000, toMs / 1000] },
      y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.1 : 1] } },
    series: [
      { label: t("chart.time"), value: (u, v) => (v === null ? "—" : fmtDate(v * 1000)) },
      ...labels.map((label, i) => ({
        label, stroke: colours[i % colours.length], width: 2, dash: dashed.includes(i) ? [6, 4] : undefined,
        value: (u, v) => (v === null ? "—" : `${fmtNumber(v, digits)} ${unit}`),
      })),
    ],
    axes: [
      { splits: () => splits, values: (u, vals) => vals.map((v) => tickLabel.get(v) ?? ""), size: 40 },
      { size: 64, values: (u, vals) => vals.map((v) => fmtNumber(v, digits)), label: unit },
    ],
  }, data, host);
}
