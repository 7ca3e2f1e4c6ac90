// The cameras' zones and counting lines on the map, where their box configs place them on the ground
// (`/map/geometry`): a zone as a filled polygon, a line as a thick segment with an arrow across it that points
// to its "in" side (a crossing that way counts as inbound). Names in tooltips, details in popups, and one button
// per zone or line in the side panel for the keyboard.

import { api, el, t } from "./common.js";

const L = window.L;
export const ZONE_COLOUR = "#7c3aed";
export const LINE_COLOUR = "#0e7490";
const M_PER_DEG = 111_320;
const COMPASS = ["n", "ne", "e", "se", "s", "sw", "w", "nw"];

/** [lon, lat] (GeoJSON order, as in the box configs) to Leaflet's [lat, lon]. */
const ll = ([lon, lat]) => [lat, lon];

/**
 * The arrow of a line: from its middle, across it, towards its "in" side (right or left of A→B for someone
 * standing at A facing B, north up). Returned as the shaft's two ends and the head's three corners, [lat, lon],
 * with the compass point it shows; its length follows the line's (a quarter, 3 to 12 m).
 */
export function inArrow(a, b, inSide) {
  const k = Math.cos((a[1] * Math.PI) / 180);
  const east = (b[0] - a[0]) * k * M_PER_DEG;
  const north = (b[1] - a[1]) * M_PER_DEG;
  const length = Math.hypot(east, north) || 1;
  const [dx, dy] = [east / length, north / length];
  const [nx, ny] = inSide === "right" ? [dy, -dx] : [-dy, dx];
  const size = Math.min(12, Math.max(3, length / 4));
  const mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
  const at = (e, n) => [mid[1] + n / M_PER_DEG, mid[0] + e / (k * M_PER_DEG)];
  const head = size * 0.45;
  const bearing = ((Math.atan2(nx, ny) * 180) / Math.PI + 360) % 360;
  return {
    shaft: [at(-nx * size * 0.4, -ny * size * 0.4), at(nx * size, ny * size)],
    head: [at(nx * (size + head * 0.2), ny * (size + head * 0.2)),
      at(nx * (size - head) + dx * head * 0.6, ny * (size - head) + dy * head * 0.6),
      at(nx * (size - head) - dx * head * 0.6, ny * (size - head) - dy * head * 0.6)],
    towards: COMPASS[Math.round(bearing / 45) % 8],
  };
}

function popup(item, kind, extra = []) {
  const rows = [[t("map.geo.camera"), item.camera], [t("map.geo.box"), item.device_id], ...extra];
  return el("div", { class: "popup", dataset: { geo: `${item.device_id}/${item.cam}/${item.id}` } },
    el("strong", { text: `${t(`map.geo.${kind}`)} ${item.id}` }),
    el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])));
}

/** The layer (toggled from the legend) and its loader; `list` puts one button per zone or line in the panel. */
export function geometryLayer(map, renderer, list) {
  const layer = L.layerGroup();
  const shapes = new Map(); // "device/cam/id" -> {kind, item, shape}
  let last = null;

  function draw(body) {
    layer.clearLayers();
    shapes.clear();
    for (const z of body.zones) {
      const shape = L.polygon(z.ring.slice(0, -1).map(ll), { renderer, color: ZONE_COLOUR, weight: 2,
        fillColor: ZONE_COLOUR, fillOpacity: 0.18 });
      shape.bindTooltip(`${t("map.geo.zone")} ${z.id} (${z.device_id})`, { sticky: true });
      shape.bindPopup(() => popup(z, "zone"));
      shapes.set(`${z.device_id}/${z.cam}/${z.id}`, { kind: "zone", item: z, shape });
      layer.addLayer(shape);
    }
    for (const line of body.lines) {
      const arrow = inArrow(line.a, line.b, line.in_side);
      const way = t("map.geo.inbound", { dir: t(`map.dir.${arrow.towards}`) });
      const shape = L.featureGroup([
        L.polyline([ll(line.a), ll(line.b)], { renderer, color: LINE_COLOUR, weight: 5 }),
        L.polyline(arrow.shaft, { renderer, color: LINE_COLOUR, weight: 3 }),
        L.polygon(arrow.head, { renderer, color: LINE_COLOUR, weight: 1, fillColor: LINE_COLOUR, fillOpacity: 1 }),
      ]);
      shape.bindTooltip(`${t("map.geo.line")} ${line.id} (${line.device_id}), ${way}`, { sticky: true });
      shape.bindPopup(() => popup(line, "line", [[t("map.geo.in"), way]]));
      shapes.set(`${line.device_id}/${line.cam}/${line.id}`, { kind: "line", item: line, shape, towards: arrow.towards });
      layer.addLayer(shape);
    }
    document.body.dataset.mapZones = String(body.zones.length);
    document.body.dataset.mapLines = String(body.lines.length);
    for (const [key, n] of [["geo-zones", body.zones.length], ["geo-lines", body.lines.length]]) {
      const box = document.querySelector(`[data-layer-count="${key}"]`);
      if (box) box.textContent = String(n);
    }
    list([...shapes].map(([key, { kind, item }]) => [key, `${t(`map.geo.${kind}`)} ${item.id} (${item.device_id})`]));
  }

  /** Read the geometry again (the browser revalidates it by its ETag); the same answer leaves the drawing alone,
   * so a popup open on a zone stays open. */
  async function load() {
    const body = await api("GET", "/map/geometry");
    const text = JSON.stringify(body);
    if (text === last) return;
    last = text;
    draw(body);
  }

  return {
    layer,
    load,
    shape: (key) => shapes.get(key)?.shape,
    items: () => [...shapes].map(([key, { kind, item, towards }]) => ({ key, kind, id: item.id, device: item.device_id,
      towards: towards || null })),
  };
}
