// Lighting: groups with the level commanded now, calendars, overrides with expiry, and who acknowledged.

import { api, communeName, el, fmtDate, fmtTime, notify, showError, t } from "./common.js";

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

function renderGroups(calendars, commands) {
  const now = Date.now();
  const groups = new Map();
  const key = (site, group) => `${site ?? ""}/${group}`;
  for (const cal of calendars) {
    groups.set(key(cal.site, cal.group), { site: cal.site, group: cal.group, calendar: cal });
    for (const g of cal.entry_groups || []) {
      if (!groups.has(key(cal.site, g))) groups.set(key(cal.site, g), { site: cal.site, group: g, calendar: cal });
    }
  }
  // The latest unexpired override of each target is the level it holds now (last command wins).
  const current = new Map();
  for (const c of [...commands].sort((a, b) => a.created_ms - b.created_ms)) {
    if (c.name !== "light.override" || c.scope === "device") continue;
    const k = key(c.site, groupName(c));
    if (!groups.has(k)) groups.set(k, { site: c.site, group: groupName(c), calendar: null });
    if (c.expires_ms > now && c.args.level !== null && c.args.level !== undefined) current.set(k, c);
    else current.delete(k);
  }
  const datalist = document.getElementById("known-groups");
  datalist.replaceChildren(...[...new Set([...groups.values()].map((g) => g.group))].map((g) => el("option", { value: g })));
  const body = document.querySelector("#groups tbody");
  const rows = [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  body.replaceChildren(...rows.map(([k, g]) => {
    const cmd = current.get(k);
    const level = cmd ? cmd.args.level : null;
    return el("tr", { dataset: { group: g.group, site: g.site ?? "" } },
      el("td", { text: communeName(g.site) }), el("td", { text: g.group }),
      el("td", {}, cmd ? el("span", { class: "level-bar", "aria-hidden": "true" }, el("span", { style: `width:${level}%` })) : null,
        " ", cmd ? `${level} %` : t("light.calendar")),
      el("td", { text: cmd ? fmtDate(cmd.expires_ms) : "—" }),
      el("td", { text: g.calendar && g.calendar.calendar ? `${(g.calendar.calendar.entries || []).length} · ${fmtDate(g.calendar.updated_ms)}` : "—" }),
      el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": `${t("light.override")} ${g.group}`,
        onclick: () => choose(g) , text: t("light.override") })));
  }));
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "6", text: t("common.none") })));
  document.getElementById("calendars").replaceChildren(...calendars.map((c) => el("li", {},
    el("strong", { text: `${c.site ? communeName(c.site) : t("light.city")} / ${c.group}` }), " — ",
    c.calendar ? (c.calendar.entries || []).map((e) => e.name || e.program?.kind).join(", ") : "—",
    el("span", { class: "meta", text: ` ${fmtDate(c.updated_ms)} ${c.updated_by ?? ""}` }))));
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
    const [cals, cmds] = await Promise.all([api("GET", "/lighting/calendars"), api("GET", "/lighting/commands?limit=30")]);
    renderGroups(cals.calendars, cmds.commands);
    renderCommands(cmds.commands);
    document.body.dataset.loaded = "1";
    clearTimeout(refreshTimer);
    const waiting = cmds.commands.some((c) => c.state === "pending" && c.expires_ms > Date.now());
    refreshTimer = setTimeout(load, waiting ? 1000 : 10000);
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
