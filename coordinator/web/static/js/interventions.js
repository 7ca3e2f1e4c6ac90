// Interventions board: create, acknowledge, assign from the ranked proposal, change status, comment, history.

import { api, el, fmtDate, fmtNumber, notify, showError, t } from "./common.js";

const STATES = ["new", "acknowledged", "assigned", "en_route", "on_site", "resolved", "closed"];
const detail = document.getElementById("detail");
let selected = null; // the intervention shown, as the API returned it
let refreshTimer = null;

function label(prefix, value) {
  const text = t(`${prefix}.${value}`);
  return text === `${prefix}.${value}` ? value : text;
}

function ticket(iv) {
  return el("li", {}, el("button", {
    type: "button", class: `ticket ${iv.priority === "urgent" ? "p1" : iv.priority === "high" ? "p2" : ""}`,
    "aria-pressed": String(selected !== null && selected.id === iv.id), dataset: { id: String(iv.id) },
    onclick: () => open(iv.id),
  }, el("strong", { text: `#${iv.id} ${iv.title}` }),
  el("span", { class: "meta", text: `${label("kind", iv.kind)} · ${iv.commune ?? "—"} · ${label("prio", iv.priority)}` }),
  el("span", { class: "meta", text: iv.team ? `${t("iv.team")} : ${iv.team}` : t("iv.team_none") })));
}

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
    document.body.dataset.loaded = "1";
  } catch (err) {
    showError(err);
  }
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(loadBoard, 5000);
}

function field(key, value) {
  return [el("dt", { text: t(key) }), el("dd", { text: value ?? "—" })];
}

function render(iv) {
  selected = iv;
  detail.hidden = false;
  detail.dataset.id = String(iv.id);
  detail.dataset.state = iv.state;
  document.getElementById("detail-h").textContent = `#${iv.id} ${iv.title}`;
  const due = iv.deadlines ? Object.entries(iv.deadlines).filter(([, v]) => v).map(([k, v]) => `${k} ${fmtDate(v)}`).join(", ") : "";
  document.getElementById("detail-fields").replaceChildren(
    ...field("common.status", label("state", iv.state)),
    ...field("iv.kind", label("kind", iv.kind)),
    ...field("iv.priority", label("prio", iv.priority)),
    ...field("common.commune", iv.commune),
    ...field("iv.team", iv.team ?? t("iv.team_none")),
    ...field("iv.skill", iv.skill ? label("skill", iv.skill) : null),
    ...field("iv.description", iv.description),
    ...field("iv.sla", due || null),
  );
  document.getElementById("btn-ack").disabled = !iv.allowed.includes("acknowledged");
  document.getElementById("btn-propose").disabled = !iv.allowed.includes("assigned");
  const select = document.getElementById("status-to");
  select.replaceChildren(...iv.allowed.map((s) => el("option", { value: s, text: label("state", s) })));
  document.getElementById("status-form").hidden = iv.allowed.length === 0;
  document.getElementById("history").replaceChildren(...(iv.history || []).map((h) => el("li", {},
    el("time", { text: fmtDate(h.ts_ms) }), " ", el("strong", { text: h.action }), " ",
    h.from_state || h.to_state ? `${h.from_state ?? ""} → ${h.to_state ?? ""} ` : "",
    el("span", { class: "meta", text: h.actor }),
    h.reason ? el("div", { text: h.reason }) : null,
    h.detail && h.detail.text ? el("div", { text: h.detail.text }) : null)));
  for (const b of document.querySelectorAll(".ticket")) b.setAttribute("aria-pressed", String(b.dataset.id === String(iv.id)));
}

async function open(id, focus = true) {
  try {
    render(await api("GET", `/interventions/${id}`));
    document.getElementById("assign-form").hidden = true;
    if (focus) detail.focus();
  } catch (err) {
    showError(err);
  }
}

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
          el("span", { class: "meta", text: (p.reasons || []).join(" ; ") })))));
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
    await loadBoard();
    await open(iv.id);
  } catch (err) {
    showError(err);
  }
});

loadBoard();
