// Live event feed: an EventSource on /events/stream; the browser reconnects and resumes by itself.

import { boot, communeName, el, fmtTime, t } from "./common.js";
import { eventDetail, eventLabel } from "./wording.js";

const MAX_ROWS = 500;
const rows = document.getElementById("feed-rows");
const empty = document.getElementById("feed-empty");
const stateBox = document.getElementById("feed-state");
const typeSelect = document.getElementById("feed-type");
const pauseButton = document.getElementById("feed-pause");
const seen = new Set();
let paused = false;
let held = [];
let source = null;

function row(ev) {
  return el("tr", { dataset: { key: ev.key, type: ev.type }, class: ev.type === "lamp_fault" ? "alert" : null },
    el("td", {}, el("time", { datetime: new Date(ev.ts_ms).toISOString(), text: fmtTime(ev.ts_ms) })),
    el("td", { text: communeName(ev.site) }),
    el("td", { text: ev.device_id }),
    el("td", {}, eventLabel(ev.type),
      ev.historical ? el("span", { class: "pill muted", text: t("feed.historical") }) : null),
    el("td", { text: ev.target ?? "—" }),
    el("td", { class: "detail", text: eventDetail(ev.type, ev.body) }));
}

function add(ev) {
  if (seen.has(ev.key)) return;
  seen.add(ev.key);
  if (paused) {
    held.push(ev);
    return;
  }
  rows.prepend(row(ev));
  while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
  empty.hidden = true;
}

function connect() {
  if (source) source.close();
  const params = new URLSearchParams({ backlog: "50" });
  if (typeSelect.value) params.set("type", typeSelect.value);
  source = new EventSource(`${boot.api}/events/stream?${params}`);
  source.addEventListener("open", () => {
    stateBox.textContent = t("feed.connected");
    stateBox.dataset.state = "open";
  });
  source.addEventListener("error", () => {
    stateBox.textContent = t("feed.reconnecting");
    stateBox.dataset.state = "reconnecting";
  });
  source.addEventListener("event", (msg) => add(JSON.parse(msg.data)));
}

typeSelect.addEventListener("change", () => {
  rows.replaceChildren();
  seen.clear();
  empty.hidden = false;
  connect();
});

pauseButton.addEventListener("click", () => {
  paused = !paused;
  pauseButton.setAttribute("aria-pressed", String(paused));
  pauseButton.textContent = paused ? t("feed.resume") : t("feed.pause");
  if (!paused) {
    const pending = held;
    held = [];
    for (const ev of pending) {
      seen.delete(ev.key);
      add(ev);
    }
  }
});

connect();
