// Lighting, state first: each group's calendar in force, override, commanded and measured levels, faults and
// energy of the day, with a drill-down to its cabinets and their luminaires; then overrides and their acks.

import { api, communeName, el, fmtDate, fmtNumber, fmtTime, notify, showError, t } from "./common.js";
import { faultName, form as plural } from "./wording.js";

const form = document.getElementById("override-form");
let refreshTimer = null;

function groupName(cmd) {
  if (cmd.scope === "city") return t("light.city");
  return cmd.target;
}

function levelText(level) {
  return level === null || level === undefined ? t("light.override_release") : `${level} %`;
}

function ackCell(cmd) {
  const items = (cmd.acks || []).map((a) => {
    const held = a.applied ? a.applied.luminaires : null;
    const lums = Array.isArray(held) ? held : (typeof held === "number" ? [String(held)] : []);
    const cls = a.result === null ? "ack-wait" : (a.result === "applied" || a.result === "duplicate" ? "ack-ok" : "ack-bad");
    const word = a.result === null ? t("light.pending") : (cls === "ack-ok" ? t("light.acked") : `${t("light.rejected")} (${a.result})`);
    return el("li", { dataset: { device: a.device_id, result: a.result ?? "waiting" } },
      el("strong", { text: a.device_id }), " ", el("span", { class: cls, text: word }),
      lums.length ? el("span", { class: "meta", text: ` ${t("light.luminaires")}${t("common.colon")} ${lums.join(", ")}` }) : null);
  });
  return el("td", {}, items.length ? el("ul", { class: "history" }, items) : "—");
}

function renderCommands(commands) {
  const body = document.querySelector("#commands tbody");
  body.replaceChildren(...commands.map((c) => el("tr", { dataset: { cmd: c.cmd_id, state: c.state } },
    el("td", { text: fmtTime(c.created_ms) }),
    el("td", { text: c.site ? `${communeName(c.site)} · ${groupName(c)}` : groupName(c) }),
    el("td", { text: c.name === "light.override" ? levelText(c.args.level) : c.name }),
    el("td", { text: fmtDate(c.expires_ms) }),
    el("td", { text: t(`light.state.${c.state}`) === `light.state.${c.state}` ? c.state : t(`light.state.${c.state}`) }),
    ackCell(c))));
  if (!commands.length) body.append(el("tr", {}, el("td", { colspan: "6", text: t("common.none") })));
}

function pct(v) {
  return v === null || v === undefined ? "—" : `${fmtNumber(v, v % 1 ? 1 : 0)} %`;
}

/** "70 %" with its quartiles when they differ: "70 % (69,8 à 100 %)". */
function spreadText(s) {
  if (!s || s.median === null) return t("light.no_data");
  if (s.q1 === s.q3) return pct(s.median);
  return t("light.spread", { median: pct(s.median), q1: fmtNumber(s.q1, s.q1 % 1 ? 1 : 0), q3: pct(s.q3) });
}

function levelCell(s, cls) {
  const level = s && s.median !== null ? s.median : null;
  return el("td", { class: cls, dataset: { median: level === null ? "" : String(level) } },
    level === null ? null : el("span", { class: "level-bar", "aria-hidden": "true" }, el("span", { style: `width:${level}%` })),
    " ", spreadText(s));
}

function statesText(g) {
  const parts = STATES.filter((st) => g.states[st]).map((st) => `${g.states[st]} ${plural(t(`lstate.${st}`), g.states[st])}`);
  return `${g.luminaires} (${parts.join(", ") || "—"})`;
}

function calendarText(cal) {
  const source = t(`light.cal.${cal.source}`);
  return cal.entries.length ? `${source} : ${cal.entries.join(", ")}` : source;
}

function overrideText(ov) {
  if (!ov) return t("light.no_override");
  return t("light.override_by", { level: pct(ov.level), by: ov.by, until: fmtDate(ov.until_ms) });
}

function energyText(e) {
  if (!e.reference_wh) return "—";
  return t("light.energy_vs", { used: fmtNumber(e.energy_wh / 1000, 1), ref: fmtNumber(e.reference_wh / 1000, 1) });
}

function groupLabel(group) {
  return group.startsWith("commune-") ? t("energy.whole_commune") : group;
}

function renderGroups(groups) {
  const datalist = document.getElementById("known-groups");
  datalist.replaceChildren(...[...new Set(groups.map((g) => g.group))].map((g) => el("option", { value: g })));
  const body = document.querySelector("#groups tbody");
  body.replaceChildren(...groups.map((g) => el("tr", { dataset: { group: g.group, site: g.site }, class: g.faults ? "alert" : null },
    el("td", { text: communeName(g.site) }),
    el("th", { scope: "row", text: groupLabel(g.group) }),
    el("td", { class: "calendar", text: calendarText(g.calendar) }),
    el("td", { class: "override", text: overrideText(g.override) }),
    levelCell(g.commanded, "commanded"),
    levelCell(g.measured, "measured"),
    el("td", { class: "states", text: statesText(g) }),
    el("td", { class: "num energy", text: energyText(g.energy_today) }),
    el("td", {}, el("span", { class: "row" },
      el("button", { type: "button", class: "secondary", "aria-expanded": String(isOpen(g)),
        "aria-label": t("light.detail_of", { group: groupLabel(g.group) }), onclick: () => openGroup(g), text: t("light.detail") }),
      el("button", { type: "button", class: "secondary", "aria-label": `${t("light.override")} ${groupLabel(g.group)}`,
        onclick: () => choose(g), text: t("light.override") }))))));
  if (!groups.length) body.append(el("tr", {}, el("td", { colspan: "9", text: t("common.none") })));
  if (opened) {
    const again = groups.find((g) => g.site === opened.site && g.group === opened.group);
    if (again) renderCabinets(again);
  }
}

function renderCalendars(calendars) {
  document.getElementById("calendars").replaceChildren(...calendars.map((c) => el("li", {},
    el("strong", { text: `${c.site ? communeName(c.site) : t("light.city")} / ${c.group}` }), " — ",
    c.calendar ? (c.calendar.entries || []).map((e) => e.name || e.program?.kind).join(", ") : "—",
    el("span", { class: "meta", text: ` ${fmtDate(c.updated_ms)} ${c.updated_by ?? ""}` }))));
}

// ------------------------------------------------------------------ drill-down: group -> cabinet -> luminaire

const STATES = ["on", "dimmed", "off", "fault", "no_data"];
let opened = null; // {site, group, device}

function isOpen(g) {
  return opened !== null && opened.site === g.site && opened.group === g.group;
}

function openGroup(g) {
  opened = { site: g.site, group: g.group, device: null };
  renderCabinets(g);
  document.getElementById("luminaires-box").hidden = true;
  for (const b of document.querySelectorAll("#groups button[aria-expanded]")) {
    b.setAttribute("aria-expanded", String(b.closest("tr").dataset.group === g.group && b.closest("tr").dataset.site === g.site));
  }
  document.getElementById("cabinets-h").focus();
}

function renderCabinets(g) {
  const box = document.getElementById("cabinets-box");
  box.hidden = false;
  box.dataset.group = g.group;
  document.getElementById("cabinets-h").textContent = t("light.cabinets_of", { group: groupLabel(g.group), commune: communeName(g.site) });
  document.querySelector("#cabinets tbody").replaceChildren(...g.cabinets.map((c) => el("tr", { dataset: { device: c.device_id } },
    el("th", { scope: "row", text: c.device_id }),
    levelCell(c.commanded, "commanded"),
    levelCell(c.measured, "measured"),
    el("td", { class: "states", text: statesText(c) }),
    el("td", { text: fmtTime(c.telemetry_ms) }),
    el("td", {}, el("button", { type: "button", class: "secondary",
      "aria-label": t("light.lums_of", { device: c.device_id }), onclick: () => openCabinet(c.device_id), text: t("light.luminaires") })))));
  if (opened && opened.device) openCabinet(opened.device, false);
}

async function openCabinet(device, focus = true) {
  opened.device = device;
  const params = new URLSearchParams({ site: opened.site, device, limit: "200" });
  if (!opened.group.startsWith("commune-")) params.set("group", opened.group);
  try {
    const page = await api("GET", `/lighting/luminaires?${params}`);
    const box = document.getElementById("luminaires-box");
    box.hidden = false;
    box.dataset.device = device;
    document.getElementById("luminaires-h").textContent = t("light.lums_of", { device });
    document.querySelector("#luminaires tbody").replaceChildren(...page.luminaires.map((l) => el("tr", {
      dataset: { lum: l.lum_id, state: l.state }, class: l.state === "fault" ? "alert" : null },
    el("th", { scope: "row", text: l.lum_id }),
    el("td", {}, el("span", { class: `lstate lstate-${l.state}`, text: plural(t(`lstate.${l.state}`), 1) })),
    el("td", { class: "num measured", text: pct(l.level) }),
    el("td", { class: "num", text: pct(l.target) }),
    el("td", { class: "num", text: l.power_w === null ? "—" : `${fmtNumber(l.power_w, 1)} W` }),
    el("td", { text: l.faults.map(faultName).join(", ") || "—" }))));
    if (focus) document.getElementById("luminaires-h").focus();
  } catch (err) {
    showError(err);
  }
}

function choose(g) {
  if (g.group.startsWith("commune-")) {
    form.elements.scope.value = "commune";
  } else {
    form.elements.scope.value = "group";
    form.elements.group.value = g.group;
  }
  if (g.site) form.elements.site.value = g.site;
  syncScope();
  form.elements.level.focus();
}

function syncScope() {
  const scope = form.elements.scope.value;
  form.querySelector('[data-for="group"]').hidden = scope !== "group";
  form.querySelector('[data-for="device"]').hidden = scope !== "device";
}

async function load() {
  try {
    const [cals, cmds, state] = await Promise.all([api("GET", "/lighting/calendars"),
      api("GET", "/lighting/commands?limit=30"), api("GET", "/lighting/groups")]);
    if (!performance.getEntriesByName("vigie-data").length) performance.mark("vigie-data");
    renderGroups(state.groups);
    renderCalendars(cals.calendars);
    renderCommands(cmds.commands);
    document.body.dataset.loaded = "1";
    // The first render's time since navigation start, for the benchmark (bench/lighting_state_bench.py).
    if (!performance.getEntriesByName("vigie-first-render").length) performance.mark("vigie-first-render");
    clearTimeout(refreshTimer);
    const waiting = cmds.commands.some((c) => c.state === "pending" && c.expires_ms > Date.now());
    refreshTimer = setTimeout(load, waiting ? 1000 : 5000);
  } catch (err) {
    showError(err);
  }
}

async function send(level) {
  const scope = form.elements.scope.value;
  const body = { scope, site: form.elements.site.value, level, duration_s: Math.round(Number(form.elements.minutes.value) * 60) };
  if (scope === "group") body.group = form.elements.group.value.trim();
  if (scope === "device") body.device = form.elements.device.value.trim();
  try {
    const cmd = await api("POST", "/lighting/overrides", body);
    notify(`${t("light.sent")} ${cmd.cmd_id}`);
    await load();
  } catch (err) {
    showError(err);
  }
}

form.elements.scope.addEventListener("change", syncScope);
form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!form.reportValidity()) return;
  send(Number(form.elements.level.value));
});
document.getElementById("ov-release").addEventListener("click", () => send(null));
syncScope();
load();
