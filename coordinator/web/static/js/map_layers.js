// Layers over the device map: luminaires coloured by their measured state, open interventions by
// priority with their SLA standing; each can be toggled from the legend and follows the live
// event stream (a lamp fault turns its luminaire red as soon as it is stored).

import { api, boot, communeName, el, fmtDate, fmtTime, showError, t } from "./common.js";
import { faultName, form as plural, interventionTitle } from "./wording.js";

const L = window.L;
export const LUM_STATES = ["on", "dimmed", "off", "fault", "no_data"];
export const LUM_COLOURS = { on: "#ca8a04", dimmed: "#92400e", off: "#1f2937", fault: "#dc2626", no_data: "#9ca3af" };
export const PRIORITIES = ["urgent", "high", "normal", "low"];
export const PRIORITY_COLOURS = { urgent: "#b91c1c", high: "#c2410c", normal: "#1d4ed8", low: "#4b5563" };
const OPEN = ["new", "acknowledged", "assigned", "en_route", "on_site", "resolved"];
const PAGE = 1000;
const REFRESH_MS = 30_000;

const lums = new Map(); // "device/lum" -> {data, marker}
const ivs = new Map(); // id -> {data, marker}

function pct(v) {
  return v === null || v === undefined ? "—" : `${Math.round(v * 10) / 10} %`;
}

function lumPopup(l) {
  const rows = [
    [t("light.measured"), pct(l.level)], [t("light.commanded"), pct(l.target)],
    [t("common.status"), plural(t(`lstate.${l.state}`), 1)],
    [t("light.faults"), l.faults.map(faultName).join(", ") || "—"],
    [t("light.cabinet"), l.device_id], [t("common.commune"), communeName(l.site)],
    [t("light.telemetry"), l.telemetry_ms ? fmtTime(l.telemetry_ms) : "—"],
  ];
  return el("div", { class: "popup", dataset: { lum: `${l.device_id}/${l.lum_id}` } },
    el("strong", { text: `${t("light.luminaire")} ${l.lum_id}` }),
    el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])));
}

/** An intervention's SLA standing from its deadlines alone: overdue when a milestone it has not reached is past. */
function overdue(iv, now = Date.now()) {
  const d = iv.deadlines || {};
  const reachedAck = iv.state !== "new";
  const reachedSite = ["on_site", "resolved", "closed"].includes(iv.state);
  const reachedEnd = ["resolved", "closed"].includes(iv.state);
  return (!reachedAck && d.acknowledged < now) || (!reachedSite && d.on_site < now) || (!reachedEnd && d.resolved < now);
}

function ivPopup(iv) {
  return el("div", { class: "popup", dataset: { intervention: String(iv.id) } },
    el("strong", { text: `#${iv.id} ${interventionTitle(iv)}` }),
    el("dl", {},
      el("dt", { text: t("iv.priority") }), el("dd", { text: t(`prio.${iv.priority}`) }),
      el("dt", { text: t("common.status") }), el("dd", { text: t(`state.${iv.state}`) }),
      el("dt", { text: t("iv.sla") }), el("dd", { text: overdue(iv) ? t("iv.overdue") : fmtDate(iv.deadlines?.resolved) })),
    el("a", { href: `/interventions#${iv.id}`, text: t("iv.open") }));
}

function styleLum(l) {
  return { radius: l.state === "fault" ? 5 : 3.5, weight: l.state === "fault" ? 2 : 0.5, color: "#ffffff",
    fillColor: LUM_COLOURS[l.state], fillOpacity: 0.95 };
}

function styleIv(iv) {
  const late = overdue(iv);
  return { radius: 9, weight: late ? 4 : 2, color: late ? "#111827" : "#ffffff", dashArray: late ? "3 2" : null,
    fillColor: PRIORITY_COLOURS[iv.priority] || PRIORITY_COLOURS.normal, fillOpacity: 0.9 };
}

function count(key, n) {
  const box = document.querySelector(`[data-layer-count="${key}"]`);
  if (box) box.textContent = String(n);
}

function countLums() {
  const by = Object.fromEntries(LUM_STATES.map((s) => [s, 0]));
  for (const { data } of lums.values()) by[data.state] += 1;
  for (const s of LUM_STATES) count(`lum-${s}`, by[s]);
  document.body.dataset.mapLuminaires = String(lums.size);
}

function countIvs() {
  const by = Object.fromEntries(PRIORITIES.map((p) => [p, 0]));
  let late = 0;
  for (const { data } of ivs.values()) {
    by[data.priority] = (by[data.priority] || 0) + 1;
    if (overdue(data)) late += 1;
  }
  for (const p of PRIORITIES) count(`iv-${p}`, by[p]);
  count("iv-overdue", late);
  document.body.dataset.mapInterventions = String(ivs.size);
}

export function setupLayers(map) {
  const renderer = L.canvas({ padding: 0.3 });
  const lumLayer = L.layerGroup();
  const ivLayer = L.layerGroup();

  function putLum(l) {
    const key = `${l.device_id}/${l.lum_id}`;
    const known = lums.get(key);
    if (l.lat === null || l.lon === null) return;
    if (known) {
      known.data = l;
      known.marker.setStyle(styleLum(l));
      known.marker.setPopupContent(() => lumPopup(known.data));
      return;
    }
    const marker = L.circleMarker([l.lat, l.lon], { renderer, ...styleLum(l) }).bindPopup(() => lumPopup(lums.get(key).data));
    lums.set(key, { data: l, marker });
    marker.addTo(lumLayer);
  }

  /** The luminaires of the layer's columns (`/lighting/map`) as the objects `/lighting/luminaires` returns. */
  function fromColumns(layer) {
    return layer.lum.map((lum, i) => ({
      device_id: layer.devices[layer.device[i]], lum_id: lum, site: layer.sites[layer.site[i]],
      lat: layer.lat[i], lon: layer.lon[i], state: layer.states[layer.state[i]], level: layer.level[i],
      target: layer.target[i], faults: layer.faults[String(i)] || [], telemetry_ms: layer.telemetry_ms[layer.device[i]],
    }));
  }

  /** Every luminaire in one compact response; one cabinet's, page by page, after a change there. */
  async function loadLums(device = null) {
    if (!device) {
      for (const l of fromColumns(await api("GET", "/lighting/map"))) putLum(l);
      countLums();
      return;
    }
    const base = new URLSearchParams({ limit: String(PAGE), device });
    const first = await api("GET", `/lighting/luminaires?${base}`);
    const pages = [first];
    const rest = [];
    for (let offset = PAGE; offset < first.total; offset += PAGE) {
      const p = new URLSearchParams(base);
      p.set("offset", String(offset));
      rest.push(api("GET", `/lighting/luminaires?${p}`));
    }
    pages.push(...await Promise.all(rest));
    for (const page of pages) for (const l of page.luminaires) putLum(l);
    countLums();
  }

  async function loadIvs() {
    const res = await api("GET", `/interventions?state=${OPEN.join(",")}&limit=500`);
    const seen = new Set();
    for (const iv of res.interventions) {
      if (iv.lat === null || iv.lon === null) continue;
      seen.add(iv.id);
      const known = ivs.get(iv.id);
      if (known) {
        known.data = iv;
        known.marker.setStyle(styleIv(iv));
        continue;
      }
      const marker = L.circleMarker([iv.lat, iv.lon], { renderer, ...styleIv(iv) }).bindPopup(() => ivPopup(ivs.get(iv.id).data));
      ivs.set(iv.id, { data: iv, marker });
      marker.addTo(ivLayer);
    }
    for (const [id, { marker }] of [...ivs]) {
      if (!seen.has(id)) {
        ivLayer.removeLayer(marker);
        ivs.delete(id);
      }
    }
    countIvs();
  }

  const toggles = { luminaires: lumLayer, interventions: ivLayer };
  for (const box of document.querySelectorAll('#layers input[name="layer"]')) {
    const layer = toggles[box.value];
    if (box.checked) layer.addTo(map);
    box.addEventListener("change", () => (box.checked ? layer.addTo(map) : map.removeLayer(layer)));
  }

  // Live: a fault turns its luminaire red at once; its cabinet and the interventions are read again.
  let refreshIvs = null;
  const stream = new EventSource(`${boot.api}/events/stream?type=lamp_fault`);
  stream.addEventListener("event", (msg) => {
    const ev = JSON.parse(msg.data);
    const known = lums.get(`${ev.device_id}/${ev.body.lum}`);
    if (known && ev.body.active) {
      putLum({ ...known.data, state: "fault", faults: [...new Set([...known.data.faults, ev.body.fault])] });
      countLums();
    }
    loadLums(ev.device_id).catch(showError);
    clearTimeout(refreshIvs);
    refreshIvs = setTimeout(() => loadIvs().catch(showError), 300);
  });

  const loadAll = () => Promise.all([loadLums(), loadIvs()]).then(() => {
    document.body.dataset.layersReady = "1";
  }).catch(showError);
  loadAll();
  setInterval(loadAll, REFRESH_MS);

  return {
    visible: () => ({ luminaires: map.hasLayer(lumLayer), interventions: map.hasLayer(ivLayer) }),
    luminaires: () => [...lums.values()].map(({ data }) => ({ id: `${data.device_id}/${data.lum_id}`, state: data.state })),
    interventions: () => [...ivs.values()].map(({ data }) => ({ id: data.id, priority: data.priority, overdue: overdue(data),
      title: interventionTitle(data) })),
    openLuminaire: (id) => {
      map.closePopup();
      lums.get(id)?.marker.openPopup();
    },
    openIntervention: (id) => {
      map.closePopup();
      ivs.get(id)?.marker.openPopup();
    },
  };
}
