// Layers over the device map: luminaires coloured by their measured state, open interventions by
// priority with their SLA standing; each can be toggled from the legend and follows the live
// event stream (a lamp fault turns its luminaire red as soon as it is stored).

import { api, boot, communeName, el, fmtDate, fmtTime, showError, t } from "./common.js";
import { luminaireRows } from "./map_cards.js";
import { geometryLayer } from "./map_geometry.js";
import { faultName, form as plural, interventionTitle } from "./wording.js";

const L = window.L;
export const LUM_STATES = ["on", "dimmed", "off", "fault", "no_data"];
export const LUM_COLOURS = { on: "#ca8a04", dimmed: "#92400e", off: "#1f2937", fault: "#dc2626", no_data: "#9ca3af" };
export const PRIORITIES = ["urgent", "high", "normal", "low"];
export const PRIORITY_COLOURS = { urgent: "#b91c1c", high: "#c2410c", normal: "#1d4ed8", low: "#4b5563" };
const OPEN = ["new", "acknowledged", "assigned", "en_route", "on_site", "resolved"];
const PAGE = 1000;
/** From this zoom every luminaire is drawn; below it only those at fault, over the device clusters (35,000 dots
 * at city scale would hide the clusters and take their clicks, while a fault must show at any scale). */
export const LUM_ALL_ZOOM = 14;
const REFRESH_MS = 30_000;

const lums = new Map(); // "device/lum" -> {data, marker}
const ivs = new Map(); // id -> {data, marker}
const teams = new Map(); // id -> {data, marker}
const TEAM_COLOUR = "#0f766e";

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
    el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
    el("dl", { class: "lum-card", dataset: { state: "loading" } }, el("dt", { text: t("card.loading") }), el("dd")));
}

/** Once its popup is open, a luminaire's card gets its cabinet, meter and energy of the day (one call). */
async function completeLumPopup(popup, l) {
  const rows = await luminaireRows(l.device_id, l.lum_id);
  const box = popup.getElement()?.querySelector(".lum-card");
  if (!box) return;
  box.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  box.dataset.state = "ready";
  // The popup's content becomes this very node, so the re-layout (size, pan into view) keeps the card instead of
  // calling the content function again; closing the popup gives the function back for the next opening.
  popup.setContent(box.closest(".popup"));
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

function teamPopup(team) {
  return el("div", { class: "popup", dataset: { team: team.id } },
    el("strong", { text: team.name }),
    el("dl", {},
      el("dt", { text: t("common.commune") }), el("dd", { text: communeName(team.commune) }),
      el("dt", { text: t("map.team_skills") }), el("dd", { text: team.skills.map((k) => t(`skill.${k}`)).join(", ") || "—" }),
      el("dt", { text: t("map.team_position") }),
      el("dd", { text: `${team.lat.toFixed(4)} N, ${team.lon.toFixed(4)} E` })));
}

/**
 * The keyboard's way to the markers: one button per point of a layer, which centres the map on it and opens
 * its card (canvas markers take no focus themselves).
 */
function listPoints(id, items, open) {
  const list = document.getElementById(id);
  if (!list) return;
  list.replaceChildren(...(items.length ? items.map(([key, text]) => el("li", {}, el("button", {
    type: "button", class: "secondary", dataset: { point: String(key) }, text, onclick: () => open(key) })))
    : [el("li", { text: t("map.list_empty") })]));
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

export function setupLayers(map, marks = {}) {
  const renderer = L.canvas({ padding: 0.3 });
  const faultGroup = L.layerGroup();
  const okGroup = L.layerGroup();
  const lumLayer = L.layerGroup([faultGroup]); // the legend's toggle; okGroup joins it from LUM_ALL_ZOOM
  const groupOf = (l) => (l.state === "fault" ? faultGroup : okGroup);
  const syncZoom = () => {
    if (map.getZoom() >= LUM_ALL_ZOOM) {
      for (const [key, entry] of lums) if (!entry.marker) addMarker(key, entry);
      lumLayer.addLayer(okGroup);
    } else {
      lumLayer.removeLayer(okGroup);
      for (const entry of lums.values()) if (entry.data.state !== "fault") dropMarker(entry);
    }
  };
  map.on("zoomend", syncZoom);
  syncZoom();
  const ivLayer = L.layerGroup();
  const teamLayer = L.layerGroup();
  const geometry = geometryLayer(map, renderer, (items) => listPoints("list-geo", items,
    (key) => focusOn(geometry.shape(key))));

  /**
   * A luminaire's marker is made when it is first drawn: a fault at once, the others once the map reaches
   * LUM_ALL_ZOOM. Below it, 35,000 markers nobody sees would cost the first seconds of the page.
   */
  function addMarker(key, entry) {
    const marker = L.circleMarker([entry.data.lat, entry.data.lon], { renderer, ...styleLum(entry.data) })
      .bindPopup(() => lumPopup(lums.get(key).data), { minWidth: 280, maxWidth: 340 });
    marker.on("popupopen", (ev) => completeLumPopup(ev.popup, lums.get(key).data).catch(showError));
    marker.on("popupclose", () => marker.setPopupContent(() => lumPopup(lums.get(key).data)));
    entry.marker = marker;
    groupOf(entry.data).addLayer(marker);
    return marker;
  }

  /** Below LUM_ALL_ZOOM only faults keep a marker: a repaired lamp's goes, so the tab holds as many markers as
   * there are faults, not every luminaire that ever failed during the night. */
  function dropMarker(entry) {
    if (!entry.marker || entry.marker.isPopupOpen()) return;
    faultGroup.removeLayer(entry.marker);
    okGroup.removeLayer(entry.marker);
    entry.marker = null;
  }

  function putLum(l) {
    const key = `${l.device_id}/${l.lum_id}`;
    const known = lums.get(key);
    if (l.lat === null || l.lon === null) return;
    if (known && known.marker && l.state !== "fault" && map.getZoom() < LUM_ALL_ZOOM) {
      known.data = l;
      dropMarker(known);
    }
    if (known && known.marker) {
      if (groupOf(known.data) !== groupOf(l)) {
        groupOf(known.data).removeLayer(known.marker);
        groupOf(l).addLayer(known.marker);
      }
      known.data = l;
      known.marker.setStyle(styleLum(l));
      known.marker.setPopupContent(() => lumPopup(known.data));
      if (known.marker.isPopupOpen()) completeLumPopup(known.marker.getPopup(), l).catch(showError);
      return;
    }
    const entry = known || { data: l, marker: null };
    entry.data = l;
    lums.set(key, entry);
    if (l.state === "fault" || map.getZoom() >= LUM_ALL_ZOOM) addMarker(key, entry);
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
      const layer = await api("GET", "/lighting/map");
      if (!marks.lumsFetched) marks.lumsFetched = performance.now();
      for (const l of fromColumns(layer)) putLum(l);
      countLums();
      if (!marks.lumsBuilt) marks.lumsBuilt = performance.now();
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
    listPoints("list-ivs", [...ivs.values()].map(({ data }) => [data.id, `#${data.id} ${interventionTitle(data)}`]),
      (id) => focusOn(ivs.get(id)?.marker));
  }

  /** Active teams with a known position (the last one they or a supervisor reported). */
  async function loadTeams() {
    const res = await api("GET", "/teams");
    const seen = new Set();
    for (const team of res.teams) {
      if (!team.active || team.lat === null || team.lon === null) continue;
      seen.add(team.id);
      const known = teams.get(team.id);
      if (known) {
        known.data = team;
        known.marker.setLatLng([team.lat, team.lon]);
        continue;
      }
      const marker = L.circleMarker([team.lat, team.lon], { renderer, radius: 7, weight: 2, color: "#ffffff",
        fillColor: TEAM_COLOUR, fillOpacity: 0.95 }).bindPopup(() => teamPopup(teams.get(team.id).data));
      teams.set(team.id, { data: team, marker });
      marker.addTo(teamLayer);
    }
    for (const [id, { marker }] of [...teams]) {
      if (!seen.has(id)) {
        teamLayer.removeLayer(marker);
        teams.delete(id);
      }
    }
    count("teams", teams.size);
    document.body.dataset.mapTeams = String(teams.size);
    listPoints("list-teams", [...teams.values()].map(({ data }) => [data.id, `${data.name} (${communeName(data.commune)})`]),
      (id) => focusOn(teams.get(id)?.marker));
  }

  /** Centre the map on a marker and open its card; its layer is shown first if it was hidden. */
  function focusOn(marker) {
    if (!marker) return;
    for (const [name, layer] of Object.entries(toggles)) {
      if (layer.hasLayer(marker) && !map.hasLayer(layer)) {
        layer.addTo(map);
        const box = document.querySelector(`#layers input[name="layer"][value="${name}"]`);
        if (box) box.checked = true;
      }
    }
    map.closePopup();
    if (marker.getBounds) {
      map.fitBounds(marker.getBounds(), { maxZoom: 18, padding: [40, 40], animate: false });
      marker.openPopup(marker.getBounds().getCenter());
      return;
    }
    map.setView(marker.getLatLng(), Math.max(map.getZoom(), 15));
    marker.openPopup();
  }

  const toggles = { luminaires: lumLayer, interventions: ivLayer, teams: teamLayer, geometry: geometry.layer };
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

  // From an intervention's detail: /map#iv-42 centres the map on intervention 42 and opens its card, once.
  let linked = /^#iv-(\d+)$/.exec(window.location.hash);
  const loadAll = () => Promise.all([loadLums(), loadIvs(), loadTeams(), geometry.load()]).then(() => {
    if (linked) focusOn(ivs.get(Number(linked[1]))?.marker);
    linked = null;
    if (!marks.layersReady) marks.layersReady = performance.now();
    document.body.dataset.layersReady = "1";
  }).catch(showError);
  loadAll();
  setInterval(loadAll, REFRESH_MS);

  return {
    visible: () => ({ luminaires: map.hasLayer(lumLayer), interventions: map.hasLayer(ivLayer) }),
    teamsVisible: () => map.hasLayer(teamLayer),
    geometryVisible: () => map.hasLayer(geometry.layer),
    geometry: () => geometry.items(),
    openGeometry: (key) => focusOn(geometry.shape(key)),
    teams: () => [...teams.values()].map(({ data }) => ({ id: data.id, lat: data.lat, lon: data.lon })),
    luminaires: () => [...lums.values()].map(({ data }) => ({ id: `${data.device_id}/${data.lum_id}`, state: data.state })),
    interventions: () => [...ivs.values()].map(({ data }) => ({ id: data.id, priority: data.priority, overdue: overdue(data),
      title: interventionTitle(data) })),
    openLuminaire: (id) => {
      map.closePopup();
      const entry = lums.get(id);
      if (!entry) return;
      const marker = entry.marker || addMarker(id, entry);
      map.setView(marker.getLatLng(), Math.max(map.getZoom(), LUM_ALL_ZOOM), { animate: false });
      marker.openPopup();
    },
    /** How many luminaire markers are on the map now (faults only below LUM_ALL_ZOOM). */
    luminairesDrawn: () => (map.hasLayer(lumLayer) ? faultGroup.getLayers().length
      + (lumLayer.hasLayer(okGroup) ? okGroup.getLayers().length : 0) : 0),
    openIntervention: (id) => {
      map.closePopup();
      ivs.get(id)?.marker.openPopup();
    },
  };
}
