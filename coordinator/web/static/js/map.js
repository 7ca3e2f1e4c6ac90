// City map: every device, clustered with supercluster, drawn on one canvas over Leaflet.
// Thousands of DOM markers would not stay fast at 35,000 points; one canvas redrawn on each
// move, with the clusters supercluster returns for the view, does.

import { api, apiHas, boot, el, fmtDate, notify, showError, statusLabel, t } from "./common.js";
import { cachedLayer, decodeLayer, fetchLayer } from "./devices.js";
import { fillCameraCard } from "./map_cards.js";
import { setupLayers } from "./map_layers.js";

const L = window.L;
const STATUSES = ["online", "stale", "offline", "unknown"];
const COLOURS = { online: "#1b7f3b", stale: "#c27c00", offline: "#c62828", unknown: "#6b7280" };
const marks = { start: performance.now() };

const state = {
  devices: [], // {id, site, lat, lon, status, roles, ...}
  byId: new Map(),
  index: null,
  shown: new Set(STATUSES),
  drawn: [], // what is on the canvas: {x, y, r, feature}
  labels: [], // the commune names drawn: {name, slug, box: {x, y, w, h}, centre: {x, y}}
  selected: null,
};

const map = L.map("map", {
  zoomControl: true, preferCanvas: true, attributionControl: Boolean(boot.tiles), minZoom: 9, maxZoom: 19,
  keyboardPanDelta: 120,
});

if (boot.tiles) {
  L.tileLayer(boot.tiles.url, { attribution: boot.tiles.attribution, maxZoom: boot.tiles.maxZoom }).addTo(map);
  document.getElementById("no-tiles-hint").hidden = true;
  document.getElementById("map").classList.add("with-tiles");
}

const communeBounds = L.latLngBounds(boot.communes.map((c) => [c.lat, c.lon]));
map.fitBounds(communeBounds.pad(0.08));


const select = document.getElementById("commune-select");
for (const c of boot.communes) select.append(el("option", { value: c.slug, text: c.name }));
select.addEventListener("change", () => {
  const c = boot.communes.find((x) => x.slug === select.value);
  if (c) map.setView([c.lat, c.lon], 14);
  else map.fitBounds(communeBounds.pad(0.08));
});

// --- the cluster layer ------------------------------------------------------------------

const ClusterLayer = L.Layer.extend({
  onAdd(m) {
    this._canvas = L.DomUtil.create("canvas", "vigie-clusters leaflet-zoom-hide");
    m.getPanes().overlayPane.appendChild(this._canvas);
    m.on("moveend resize", this.redraw, this);
    m.on("zoomstart", this._hide, this);
    this.redraw();
  },
  onRemove(m) {
    L.DomUtil.remove(this._canvas);
    m.off("moveend resize", this.redraw, this);
    m.off("zoomstart", this._hide, this);
  },
  _hide() {
    this._canvas.style.visibility = "hidden";
  },
  redraw() {
    const m = this._map;
    if (!m) return;
    const size = m.getSize();
    const dpr = window.devicePixelRatio || 1;
    const canvas = this._canvas;
    canvas.width = size.x * dpr;
    canvas.height = size.y * dpr;
    canvas.style.width = `${size.x}px`;
    canvas.style.height = `${size.y}px`;
    L.DomUtil.setPosition(canvas, m.containerPointToLayerPoint([0, 0]));
    canvas.style.visibility = "visible";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    const b = m.getBounds().pad(0.1);
    const zoom = Math.round(m.getZoom());
    const features = state.index
      ? state.index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], zoom) : [];
    state.drawn = [];
    const pending = [];
    for (const f of features) {
      const [lon, lat] = f.geometry.coordinates;
      const p = m.latLngToContainerPoint([lat, lon]);
      if (f.properties.cluster) {
        const n = f.properties.point_count;
        const r = Math.min(34, 12 + Math.log2(n) * 2.2);
        state.drawn.push({ x: p.x, y: p.y, r, feature: f });
        pending.push(() => drawCluster(ctx, p.x, p.y, r, f.properties, n));
      } else {
        const d = state.devices[f.properties.i];
        const r = d.id === state.selected ? 8 : 5.5;
        state.drawn.push({ x: p.x, y: p.y, r: Math.max(r, 8), feature: f });
        pending.push(() => {
          symbolPath(ctx, d.roles, p.x, p.y, r);
          ctx.fillStyle = COLOURS[d.status] || COLOURS.unknown;
          ctx.fill();
          ctx.lineWidth = d.id === state.selected ? 3 : 1.5;
          ctx.strokeStyle = d.id === state.selected ? "#111827" : "#ffffff";
          ctx.stroke();
        });
      }
    }
    // Commune names first, underneath: they are placed where no cluster or point is drawn.
    drawCommuneLabels(ctx, m, size);
    ctx.font = "bold 12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const draw of pending) draw();
    if (document.activeElement === m.getContainer()) drawCrosshair(ctx, size);
    document.body.dataset.mapZoom = String(zoom);
    document.body.dataset.mapDrawn = String(state.drawn.length);
    marks.lastDraw = performance.now();
    if (marks.clusterOpened && !marks.clusterDrawn) marks.clusterDrawn = marks.lastDraw;
  },
});

/** A device's symbol: a triangle for a camera box, a square for a lighting cabinet, a circle otherwise. */
function symbolPath(ctx, roles, x, y, r) {
  ctx.beginPath();
  if ((roles || []).includes("camera")) {
    const h = r * 1.35;
    ctx.moveTo(x, y - h);
    ctx.lineTo(x + h, y + h * 0.8);
    ctx.lineTo(x - h, y + h * 0.8);
    ctx.closePath();
  } else if ((roles || []).includes("light")) {
    ctx.rect(x - r, y - r, 2 * r, 2 * r);
  } else {
    ctx.arc(x, y, r, 0, Math.PI * 2);
  }
}

function drawCluster(ctx, x, y, r, props, n) {
  // A ring of status shares around the count: an offline share is visible at any zoom.
  let angle = -Math.PI / 2;
  for (const s of STATUSES) {
    const share = (props[s] || 0) / n;
    if (share <= 0) continue;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.arc(x, y, r, angle, angle + share * Math.PI * 2);
    ctx.closePath();
    ctx.fillStyle = COLOURS[s];
    ctx.fill();
    angle += share * Math.PI * 2;
  }
  ctx.beginPath();
  ctx.arc(x, y, r * 0.68, 0, Math.PI * 2);
  ctx.fillStyle = "#ffffff";
  ctx.fill();
  ctx.fillStyle = "#111827";
  ctx.fillText(n >= 10000 ? `${Math.round(n / 1000)}k` : String(n), x, y);
}

// --- commune names ---------------------------------------------------------------------------
// Each name goes beside its commune's centre, below it if there is room, else above, right or
// left; a name that would cover a cluster, a point or another name is left out at this zoom.

const LABEL_FONT = "600 11px system-ui, sans-serif";
const LABEL_H = 13;

function overlapsCircle(box, c) {
  const nx = Math.max(box.x, Math.min(c.x, box.x + box.w));
  const ny = Math.max(box.y, Math.min(c.y, box.y + box.h));
  return Math.hypot(nx - c.x, ny - c.y) < c.r + 2;
}

function overlapsBox(a, b) {
  return a.x < b.x + b.w + 4 && b.x < a.x + a.w + 4 && a.y < b.y + b.h + 2 && b.y < a.y + a.h + 2;
}

function drawCommuneLabels(ctx, m, size) {
  ctx.font = LABEL_FONT;
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  const placed = [];
  for (const c of boot.communes) {
    const p = m.latLngToContainerPoint([c.lat, c.lon]);
    if (p.x < -100 || p.y < -20 || p.x > size.x + 100 || p.y > size.y + 20) continue;
    const w = Math.ceil(ctx.measureText(c.name).width);
    const gap = 5;
    const candidates = [
      { x: p.x - w / 2, y: p.y + gap }, { x: p.x - w / 2, y: p.y - gap - LABEL_H },
      { x: p.x + gap + 2, y: p.y - LABEL_H / 2 }, { x: p.x - gap - 2 - w, y: p.y - LABEL_H / 2 },
    ];
    // A centre under a cluster: the name goes just below (or above) that cluster's ring.
    const under = state.drawn.find((d) => Math.hypot(d.x - p.x, d.y - p.y) < d.r);
    if (under) {
      candidates.push({ x: under.x - w / 2, y: under.y + under.r + 3 },
        { x: under.x - w / 2, y: under.y - under.r - 3 - LABEL_H });
    }
    const box = candidates.map((q) => ({ x: q.x, y: q.y, w, h: LABEL_H })).find((bx) =>
      bx.x >= 2 && bx.y >= 2 && bx.x + bx.w <= size.x - 2 && bx.y + bx.h <= size.y - 2
      && !state.drawn.some((d) => overlapsCircle(bx, d)) && !placed.some((o) => overlapsBox(bx, o.box)));
    if (!box) continue;
    placed.push({ name: c.name, slug: c.slug, box, centre: { x: p.x, y: p.y } });
  }
  for (const { name, box, centre } of placed) {
    if (!state.drawn.some((d) => Math.hypot(d.x - centre.x, d.y - centre.y) < d.r + 3)) {
      ctx.beginPath();
      ctx.arc(centre.x, centre.y, 2.5, 0, Math.PI * 2);
      ctx.fillStyle = "#64748b";
      ctx.fill();
    }
    ctx.lineJoin = "round";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
    ctx.strokeText(name, box.x, box.y);
    ctx.fillStyle = "#475569";
    ctx.fillText(name, box.x, box.y);
  }
  state.labels = placed;
}

function drawCrosshair(ctx, size) {
  const cx = size.x / 2;
  const cy = size.y / 2;
  ctx.strokeStyle = "#1d4ed8";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(cx - 12, cy);
  ctx.lineTo(cx + 12, cy);
  ctx.moveTo(cx, cy - 12);
  ctx.lineTo(cx, cy + 12);
  ctx.stroke();
}

const clusterLayer = new ClusterLayer();
clusterLayer.addTo(map); // the commune names show before the devices arrive

function hit(point, slack = 4) {
  let best = null;
  let bestD = Infinity;
  for (const d of state.drawn) {
    const dist = Math.hypot(d.x - point.x, d.y - point.y);
    if (dist <= d.r + slack && dist < bestD) {
      best = d;
      bestD = dist;
    }
  }
  return best;
}

/** Open what is drawn at `item`: a cluster zooms in, a device shows its details. */
function open(item) {
  const f = item.feature;
  if (f.properties.cluster) {
    const zoom = Math.min(state.index.getClusterExpansionZoom(f.properties.cluster_id), map.getMaxZoom());
    const [lon, lat] = f.geometry.coordinates;
    marks.clusterOpened = performance.now();
    map.setView([lat, lon], zoom, { animate: false });
  } else {
    showDevice(state.devices[f.properties.i]);
  }
}

map.on("click", (ev) => {
  const item = hit(ev.containerPoint);
  if (item) open(item);
});
// A cluster wins a click over the layers' markers drawn above it (luminaires, interventions): its ring and count
// are what the operator aims at, and a marker's card would otherwise open instead of the zoom. Captured on the
// map's container, before Leaflet's own canvas sees it.
map.getContainer().addEventListener("click", (ev) => {
  if (map.dragging?.moved()) return;
  const rect = map.getContainer().getBoundingClientRect();
  const item = hit({ x: ev.clientX - rect.left, y: ev.clientY - rect.top }, 0);
  if (!item || !item.feature.properties.cluster) return;
  ev.stopPropagation();
  open(item);
}, true);
map.on("mousemove", (ev) => {
  map.getContainer().style.cursor = hit(ev.containerPoint) ? "pointer" : "";
});
map.getContainer().addEventListener("keydown", (ev) => {
  if (ev.key !== "Enter" && ev.key !== " ") return;
  const size = map.getSize();
  const item = hit({ x: size.x / 2, y: size.y / 2 }, 40);
  if (item) {
    ev.preventDefault();
    open(item);
  }
});
map.getContainer().addEventListener("focus", () => clusterLayer.redraw());
map.getContainer().addEventListener("blur", () => clusterLayer.redraw());

// --- details ------------------------------------------------------------------------------

const details = document.getElementById("device-details");
document.getElementById("details-close").addEventListener("click", () => {
  details.hidden = true;
  state.selected = null;
  clusterLayer.redraw();
  map.getContainer().focus();
});

async function showDevice(d) {
  state.selected = d.id;
  clusterLayer.redraw();
  document.getElementById("details-id").textContent = d.id;
  const list = document.getElementById("details-list");
  const rows = [
    ["device.id", d.id],
    ["device.site", boot.communes.find((c) => c.slug === d.site)?.name || d.site],
    ["device.status", statusLabel(d.status)],
    ["device.roles", (d.roles || []).map((r) => t(`role.${r}`)).join(", ") || "—"],
    ["device.position", `${d.lat.toFixed(5)}, ${d.lon.toFixed(5)}`],
  ];
  const render = (extra) => {
    list.replaceChildren(...[...rows, ...extra].flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", { text: v })]));
  };
  render([]);
  details.hidden = false;
  details.dataset.device = d.id;
  details.focus();
  const activity = document.getElementById("device-activity");
  activity.hidden = !(d.roles || []).includes("camera");
  if (!activity.hidden) fillCameraCard(document.getElementById("device-activity-body"), d.id).catch(showError);
  if (await apiHas("/devices/{device_id}")) {
    try {
      const full = await api("GET", `/devices/${encodeURIComponent(d.id)}`);
      const dev = full.device || full;
      render([
        ["device.last_seen", fmtDate(dev.last_seen_ms)],
        ["device.firmware", dev.firmware || "—"],
        ["device.config", dev.config_hash ? dev.config_hash.slice(0, 12) : "—"],
      ]);
    } catch (err) {
      showError(err);
    }
  }
}

document.getElementById("find-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = ev.target.elements.id.value.trim();
  const d = state.byId.get(id);
  if (!d) {
    notify(t("map.not_found"), "error");
    return;
  }
  map.setView([d.lat, d.lon], 18, { animate: false });
  showDevice(d);
});

// --- data ---------------------------------------------------------------------------------

function buildIndex() {
  const points = [];
  const counts = { online: 0, stale: 0, offline: 0, unknown: 0 };
  state.devices.forEach((d, i) => {
    counts[d.status] = (counts[d.status] || 0) + 1;
    if (!state.shown.has(d.status)) return;
    points.push({ type: "Feature", properties: { i, s: d.status }, geometry: { type: "Point", coordinates: [d.lon, d.lat] } });
  });
  const index = new window.Supercluster({
    radius: 64, extent: 256, maxZoom: 15, minZoom: 9,
    map: (p) => ({ online: p.s === "online" ? 1 : 0, stale: p.s === "stale" ? 1 : 0,
      offline: p.s === "offline" ? 1 : 0, unknown: p.s === "unknown" ? 1 : 0 }),
    reduce: (acc, p) => {
      acc.online += p.online; acc.stale += p.stale; acc.offline += p.offline; acc.unknown += p.unknown;
    },
  });
  index.load(points);
  state.index = index;
  for (const s of STATUSES) document.querySelector(`[data-count="${s}"]`).textContent = String(counts[s] || 0);
  document.getElementById("device-total").textContent = String(state.devices.length);
  document.body.dataset.mapDevices = String(state.devices.length);
  document.body.dataset.mapPoints = String(points.length);
}

for (const box of document.querySelectorAll('#legend input[name="status"]')) {
  box.addEventListener("change", () => {
    if (box.checked) state.shown.add(box.value);
    else state.shown.delete(box.value);
    buildIndex();
    clusterLayer.redraw();
  });
}

function show(layer, source) {
  state.devices = decodeLayer(layer);
  marks.decoded = performance.now();
  state.byId = new Map(state.devices.map((d) => [d.id, d]));
  buildIndex();
  marks.indexed = performance.now();
  if (!map.hasLayer(clusterLayer)) clusterLayer.addTo(map);
  else clusterLayer.redraw();
  document.body.dataset.mapSource = source;
}

async function start() {
  const cached = cachedLayer();
  marks.cacheRead = performance.now();
  const fresh = fetchLayer(cached ? cached.etag : null); // already requested by the page's preload
  try {
    if (cached) {
      show(cached.layer, "cache");
      marks.ready = performance.now();
      document.body.dataset.mapReady = "1";
    }
    const current = await fresh;
    marks.fetched = performance.now();
    if (current.layer) show(current.layer, "server");
    else document.body.dataset.mapSource = "server";
    if (!cached) marks.ready = performance.now();
    document.body.dataset.mapReady = "1";
    document.body.dataset.mapFresh = "1";
  } catch (err) {
    showError(err);
    if (!cached) document.body.dataset.mapReady = "error";
  }
}

// For tests and the benchmark: where the clusters are, and when things happened.
window.vigieMap = {
  marks,
  map,
  clusters: () => state.drawn.filter((d) => d.feature.properties.cluster)
    .map((d) => ({ x: d.x, y: d.y, count: d.feature.properties.point_count })),
  points: () => state.drawn.filter((d) => !d.feature.properties.cluster)
    .map((d) => ({ x: d.x, y: d.y, id: state.devices[d.feature.properties.i].id })),
  clusterCircles: () => state.drawn.filter((d) => d.feature.properties.cluster).map((d) => ({ x: d.x, y: d.y, r: d.r })),
  labels: () => state.labels.map((l) => ({ name: l.name, slug: l.slug, ...l.box })),
  layers: setupLayers(map, marks),
};

start();
