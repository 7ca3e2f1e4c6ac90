// City map: every device, clustered with supercluster, drawn on one canvas over Leaflet.
// Thousands of DOM markers would not stay fast at 35,000 points; one canvas redrawn on each
// move, with the clusters supercluster returns for the view, does.

import { api, apiHas, boot, el, fmtDate, notify, showError, statusLabel, t } from "./common.js";
import { cachedLayer, decodeLayer, fetchLayer } from "./devices.js";

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

for (const c of boot.communes) {
  L.marker([c.lat, c.lon], {
    icon: L.divIcon({ className: "commune-label", html: "", iconSize: null }),
    interactive: false, keyboard: false,
  }).addTo(map).getElement().textContent = c.name;
}

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
    if (!m || !state.index) return;
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
    const features = state.index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], zoom);
    state.drawn = [];
    ctx.font = "bold 12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const f of features) {
      const [lon, lat] = f.geometry.coordinates;
      const p = m.latLngToContainerPoint([lat, lon]);
      if (f.properties.cluster) {
        const n = f.properties.point_count;
        const r = Math.min(34, 12 + Math.log2(n) * 2.2);
        drawCluster(ctx, p.x, p.y, r, f.properties, n);
        state.drawn.push({ x: p.x, y: p.y, r, feature: f });
      } else {
        const d = state.devices[f.properties.i];
        const r = d.id === state.selected ? 8 : 5.5;
        ctx.beginPath();
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
        ctx.fillStyle = COLOURS[d.status] || COLOURS.unknown;
        ctx.fill();
        ctx.lineWidth = d.id === state.selected ? 3 : 1.5;
        ctx.strokeStyle = d.id === state.selected ? "#111827" : "#ffffff";
        ctx.stroke();
        state.drawn.push({ x: p.x, y: p.y, r: Math.max(r, 8), feature: f });
      }
    }
    if (document.activeElement === m.getContainer()) drawCrosshair(ctx, size);
    document.body.dataset.mapZoom = String(zoom);
    document.body.dataset.mapDrawn = String(state.drawn.length);
    marks.lastDraw = performance.now();
    if (marks.clusterOpened && !marks.clusterDrawn) marks.clusterDrawn = marks.lastDraw;
  },
});

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
};

start();
