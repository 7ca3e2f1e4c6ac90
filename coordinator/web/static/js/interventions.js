// Interventions board: create, acknowledge, assign from the ranked proposal, change status, comment, history.

import { api, communeName, el, fmtDate, fmtNumber, notify, showError, t } from "./common.js";
import { align, plot } from "./charts.js";
import { eventDetail, eventLabel, interventionDescription, interventionTitle, reasonText } from "./wording.js";

const STATES = ["new", "acknowledged", "assigned", "en_route", "on_site", "resolved", "closed"];
const MILESTONES = ["acknowledged", "on_site", "resolved"];
const NEEDS_REASON = new Set(["cancel", "unassign", "reopen"]);
const detail = document.getElementById("detail");
let selected = null; // the intervention shown, as the API returned it
let refreshTimer = null;

function label(prefix, value) {
  const text = t(`${prefix}.${value}`);
  return text === `${prefix}.${value}` ? value : text;
}

/** The lifecycle action of the move `from` -> `to` (the API's history uses the same names). */
function moveAction(from, to) {
  if (to === "closed") return from === "resolved" ? "close" : "cancel";
  if (to === "new") return "reopen";
  if (to === "assigned") return from === "new" || from === "acknowledged" ? "assign" : "reassign";
  if (to === "acknowledged") return from === "new" ? "acknowledge" : "unassign";
  return { en_route: "depart", on_site: "arrive", resolved: "resolve" }[to] ?? to;
}

/** A milestone is reached once the intervention is at or past its state in the lifecycle. */
function reached(state, milestone) {
  return state !== "new" && STATES.indexOf(state) >= STATES.indexOf(milestone);
}

/**
 * Each SLA deadline with its standing: "met", "late" (met after the deadline), "overdue"
 * (not met and past), "pending" or "void" (closed without reaching it).
 */
function deadlines(iv, now = Date.now()) {
  if (!iv.deadlines) return [];
  const history = iv.history || [];
  const cycle = history.reduce((i, h, n) => (h.action === "reopen" ? n : i), -1);
  const steps = history.slice(cycle + 1).filter((h) => h.to_state && h.action !== "cancel");
  return MILESTONES.filter((m) => iv.deadlines[m]).map((m) => {
    const due = iv.deadlines[m];
    const at = steps.find((h) => reached(h.to_state, m));
    let standing;
    if (at) standing = at.ts_ms > due ? "late" : "met";
    else if (iv.state === "closed") standing = "void";
    else if (reached(iv.state, m)) standing = "met"; // a board card carries no history
    else standing = now > due ? "overdue" : "pending";
    return { milestone: m, due, standing };
  });
}

function isOverdue(iv) {
  return deadlines(iv).some((d) => d.standing === "overdue");
}

function actorLabel(actor) {
  if (!actor) return "—";
  const [who, via] = actor.split(" via ");
  const one = (text) => {
    const i = text.indexOf(":");
    const kind = i < 0 ? text : text.slice(0, i);
    const id = i < 0 ? "" : text.slice(i + 1);
    const key = `actor.${kind}`;
    return t(key) === key ? text : t(key, { id });
  };
  return via ? t("actor.via", { who: one(who), via: one(via) }) : one(who);
}

function ticket(iv) {
  const late = isOverdue(iv);
  return el("li", {}, el("button", {
    type: "button", class: `ticket ${iv.priority === "urgent" ? "p1" : iv.priority === "high" ? "p2" : ""}`,
    "aria-pressed": String(selected !== null && selected.id === iv.id), dataset: { id: String(iv.id), overdue: late ? "1" : null },
    onclick: () => open(iv.id),
  }, el("strong", { text: `#${iv.id} ${interventionTitle(iv)}` }),
  el("span", { class: "meta", text: `${communeName(iv.commune)} · ${label("prio", iv.priority)}` }),
  el("span", { class: "meta", text: label("kind", iv.kind) }),
  el("span", { class: "meta", text: iv.team ? `${t("iv.team")}${t("common.colon")} ${iv.team}` : t("iv.team_none") }),
  late ? el("span", { class: "badge overdue", text: t("iv.overdue") }) : null));
}

/** Shows, by shadows and a hint, that the board scrolls sideways when its columns do not fit. */
function syncBoardScroll() {
  const board = document.getElementById("board");
  const wrap = document.getElementById("board-wrap");
  const more = board.scrollWidth - board.clientWidth;
  const scrollable = more > 1;
  document.getElementById("board-hint").hidden = !scrollable;
  if (scrollable) board.setAttribute("tabindex", "0");
  else board.removeAttribute("tabindex");
  wrap.dataset.scroll = !scrollable ? "none" : board.scrollLeft <= 1 ? "start" : board.scrollLeft >= more - 1 ? "end" : "middle";
}

document.getElementById("board").addEventListener("scroll", syncBoardScroll, { passive: true });
new ResizeObserver(syncBoardScroll).observe(document.getElementById("board"));

async function loadBoard() {
  try {
    const open = await api("GET", `/interventions?state=${STATES.slice(0, 6).join(",")}&limit=300`);
    const closed = await api("GET", "/interventions?state=closed&limit=30");
    const all = [...open.interventions, ...closed.interventions];
    for (const s of STATES) {
      const column = document.querySelector(`.column[data-state="${s}"]`);
      const items = all.filter((iv) => iv.state === s);
      column.querySelector("ol").replaceChildren(...items.map(ticket));
      column.querySelector(".count").textContent = String(items.length);
    }
    syncBoardScroll();
    document.body.dataset.loaded = "1";
  } catch (err) {
    showError(err);
  }
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(loadBoard, 5000);
}

function field(key, value) {
  return [el("dt", { text: t(key) }), el("dd", {}, value ?? "—")];
}

function deadlineList(iv) {
  const rows = deadlines(iv);
  if (!rows.length) return null;
  return el("ul", { class: "deadlines" }, ...rows.map((d) => el("li", { dataset: { milestone: d.milestone, standing: d.standing } },
    el("span", { class: "due-label", text: `${t(`iv.due.${d.milestone}`)}${t("common.colon")}` }), " ",
    el("time", { datetime: new Date(d.due).toISOString(), text: fmtDate(d.due) }),
    d.standing === "pending" ? null : el("span", { class: "due-standing", text: t(`iv.due.${d.standing}`) }))));
}

function historyLine(h) {
  const moved = h.action !== "comment" && h.action !== "escalate" && h.action !== "telemetry";
  const states = moved ? [h.from_state, h.to_state].filter((x) => x).map((x) => label("state", x)).join(" → ") || null : null;
  return el("li", { dataset: { action: h.action } },
    el("time", { datetime: new Date(h.ts_ms).toISOString(), text: fmtDate(h.ts_ms) }), " ",
    el("strong", { text: label("act", h.action) }),
    states ? el("span", { class: "states", text: ` (${states})` }) : null,
    el("span", { class: "actor", text: ` — ${actorLabel(h.actor)}` }),
    h.reason ? el("div", { class: "reason", text: h.reason }) : null,
    h.detail && h.detail.text ? el("div", { text: h.detail.text }) : null);
}

function syncReason() {
  const select = document.getElementById("status-to");
  const reason = document.getElementById("status-reason");
  reason.required = selected !== null && NEEDS_REASON.has(moveAction(selected.state, select.value));
}

function render(iv) {
  selected = iv;
  detail.hidden = false;
  detail.dataset.id = String(iv.id);
  detail.dataset.state = iv.state;
  document.getElementById("detail-h").textContent = `#${iv.id} ${interventionTitle(iv)}`;
  document.getElementById("detail-fields").replaceChildren(
    ...field("common.status", label("state", iv.state)),
    ...field("iv.kind", label("kind", iv.kind)),
    ...field("iv.priority", label("prio", iv.priority)),
    ...field("common.commune", communeName(iv.commune)),
    ...field("iv.team", iv.team ?? t("iv.team_none")),
    ...field("iv.skill", iv.skill ? label("skill", iv.skill) : null),
    ...field("iv.description", interventionDescription(iv)),
    ...field("iv.sla", deadlineList(iv)),
  );
  // The buttons offer only what the lifecycle allows from this state: "acknowledge" is the
  // move out of "new" (from "assigned" the same target state means taking the team off).
  const ack = document.getElementById("btn-ack");
  ack.hidden = !(iv.allowed.includes("acknowledged") && moveAction(iv.state, "acknowledged") === "acknowledge");
  const propose = document.getElementById("btn-propose");
  propose.hidden = !iv.allowed.includes("assigned");
  propose.textContent = t(moveAction(iv.state, "assigned") === "reassign" ? "iv.reassign" : "iv.propose");
  document.getElementById("detail-actions").hidden = ack.hidden && propose.hidden;
  const select = document.getElementById("status-to");
  select.replaceChildren(...iv.allowed.map((s) => el("option", {
    value: s, text: `${label("move", moveAction(iv.state, s))} → ${label("state", s)}`,
  })));
  document.getElementById("status-form").hidden = iv.allowed.length === 0;
  syncReason();
  document.getElementById("history").replaceChildren(...(iv.history || []).map(historyLine));
  for (const b of document.querySelectorAll(".ticket")) b.setAttribute("aria-pressed", String(b.dataset.id === String(iv.id)));
}

let contextFor = null; // the intervention whose context is being loaded: a late answer for another is dropped

/** Where, which rule, the events that raised it and the counts around, from /interventions/{id}/context. */
async function loadContext(iv) {
  contextFor = iv.id;
  const box = document.getElementById("context");
  let ctx;
  try {
    ctx = await api("GET", `/interventions/${iv.id}/context`);
  } catch (err) {
    showError(err);
    return;
  }
  if (contextFor !== iv.id) return;
  const p = ctx.place;
  const place = [];
  if (p.commune) place.push(p.lat !== null && p.lon !== null
    ? t("iv.place_at", { commune: communeName(p.commune), lat: fmtNumber(p.lat, 4), lon: fmtNumber(p.lon, 4) })
    : communeName(p.commune));
  if (p.device_id) place.push(t("iv.place_device", { device: p.device_id }));
  if (p.target) place.push(t("iv.place_target", { target: p.target }));
  const onMap = p.lat !== null && p.lon !== null && iv.state !== "closed"; // the map shows open interventions
  document.getElementById("context-place").replaceChildren(place.join(" · ") || "—",
    ...(onMap ? [" — ", el("a", { href: `/map#iv-${iv.id}`, id: "context-map", text: t("iv.on_map") })] : []));
  document.getElementById("context-rule").textContent = ctx.rule
    ? `${ctx.rule.name} (${label("kind", ctx.rule.type)})` : t("iv.rule_none");
  const items = ctx.events.items;
  document.getElementById("trigger-events").replaceChildren(...(items.length ? items.map((e) => el("li", {
    dataset: { key: `${e.device_id}/${e.boot}/${e.n}` } },
  el("time", { datetime: new Date(e.ts_ms).toISOString(), text: fmtDate(e.ts_ms) }), " ",
  el("strong", { text: eventLabel(e.type) }), " — ", el("span", { class: "detail", text: eventDetail(e.type, e.body) })))
    : [el("li", { text: t("iv.no_events") })]));
  const more = document.getElementById("trigger-more");
  more.hidden = ctx.events.total <= items.length;
  more.textContent = more.hidden ? "" : t("iv.trigger_more", { total: ctx.events.total, shown: items.length });
  box.hidden = false;
  const { names, data } = align(ctx.counts, (r) => r.target, (r) => r.inbound + r.outbound);
  const w = ctx.window;
  plot("context-chart", { data, labels: names, fromMs: w.start_ms, toMs: w.end_ms,
    stepHours: w.end_ms - w.start_ms <= 6 * 3_600_000 ? 1 : 3, unit: t("energy.passages"), digits: 0 });
  box.dataset.loaded = String(iv.id);
}

async function open(id, focus = true) {
  try {
    const iv = await api("GET", `/interventions/${id}`);
    render(iv);
    loadContext(iv);
    document.getElementById("assign-form").hidden = true;
    if (focus) detail.focus();
  } catch (err) {
    showError(err);
  }
}

document.getElementById("status-to").addEventListener("change", syncReason);

async function act(request) {
  try {
    await request();
    notify(t("iv.updated"));
    await open(selected.id, false);
    await loadBoard();
  } catch (err) {
    showError(err);
  }
}

document.getElementById("btn-ack").addEventListener("click", () =>
  act(() => api("POST", `/interventions/${selected.id}/transitions`, { to: "acknowledged", version: selected.version })));

document.getElementById("btn-propose").addEventListener("click", async () => {
  try {
    const res = await api("GET", `/interventions/${selected.id}/proposal`);
    const box = document.getElementById("proposals");
    const form = document.getElementById("assign-form");
    if (!res.proposals.length) {
      box.replaceChildren(el("p", { text: t("iv.no_proposal") }));
    } else {
      box.replaceChildren(...res.proposals.map((p, i) => el("label", { class: "legend-item" },
        el("input", { type: "radio", name: "team", value: p.team, checked: i === 0 }),
        el("span", {}, el("strong", { text: p.team }),
          ` — ${t("iv.score")} ${fmtNumber(p.score, 0)}, ${t("iv.load")} ${p.load}`,
          p.distance_m !== null ? `, ${t("iv.distance")} ${fmtNumber(p.distance_m / 1000, 1)} km` : "",
          el("span", { class: "meta", text: (p.reasons || []).map(reasonText).join(" ; ") })))));
    }
    form.hidden = false;
    const first = form.querySelector("input");
    if (first) first.focus();
  } catch (err) {
    showError(err);
  }
});

document.getElementById("assign-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const team = ev.target.elements.team ? new FormData(ev.target).get("team") : null;
  if (!team) return;
  act(() => api("POST", `/interventions/${selected.id}/assign`, { team }));
});

document.getElementById("status-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const to = ev.target.elements.to.value;
  const reason = ev.target.elements.reason.value.trim() || null;
  if (to === "assigned") {
    document.getElementById("btn-propose").click();
    return;
  }
  act(() => api("POST", `/interventions/${selected.id}/transitions`, { to, reason, version: selected.version }))
    .then(() => { ev.target.elements.reason.value = ""; });
});

document.getElementById("comment-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = ev.target.elements.text.value.trim();
  if (!text) return;
  act(() => api("POST", `/interventions/${selected.id}/comments`, { text })).then(() => { ev.target.reset(); });
});

document.getElementById("create-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target.elements;
  const body = { title: f.title.value.trim(), kind: f.kind.value, priority: f.priority.value, commune: f.commune.value };
  if (f.skill.value) body.skill = f.skill.value;
  if (f.description.value.trim()) body.description = f.description.value.trim();
  try {
    const iv = await api("POST", "/interventions", body);
    notify(t("iv.created"));
    ev.target.reset();
    document.getElementById("create-box").open = false;
    await loadBoard();
    await open(iv.id);
  } catch (err) {
    showError(err);
  }
});

loadBoard();

// From the map: /interventions#42 opens that intervention.
const linked = /^#(\d+)$/.exec(window.location.hash);
if (linked) open(Number(linked[1]), false);
