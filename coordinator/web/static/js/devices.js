// The fleet's map layer (GET /map/devices): parallel arrays, coordinates in 1e-5 degree.
//
// The last layer is kept in localStorage (per user) so that a returning operator gets a map at
// once, drawn from it, while the page asks the server whether the fleet changed (ETag).

import { boot } from "./common.js";

export const LAYER_URL = `${boot.api}/map/devices`;
const CACHE_KEY = `vigie.map-layer.${boot.user ? boot.user.username : "anonymous"}`;

/** The layer stored by the last visit, as {etag, layer}, or null. */
export function cachedLayer() {
  try {
    const text = window.localStorage.getItem(CACHE_KEY);
    if (!text) return null;
    const cut = text.indexOf("\n");
    return { etag: text.slice(0, cut), layer: JSON.parse(text.slice(cut + 1)) };
  } catch {
    return null;
  }
}

function store(etag, text) {
  try {
    window.localStorage.setItem(CACHE_KEY, `${etag}\n${text}`);
  } catch {
    // Storage full or disabled: the next visit fetches again, nothing else changes.
  }
}

/** The current layer from the server as {etag, layer}; ``layer`` is null when it is ``knownEtag``'s. */
export async function fetchLayer(knownEtag) {
  // Same request as the <link rel="preload"> of the page, so the browser reuses its response.
  const resp = await fetch(LAYER_URL, { credentials: "same-origin" });
  if (resp.status === 401) window.location.assign("/login?next=/map");
  if (!resp.ok) throw new Error(`GET /map/devices: HTTP ${resp.status}`);
  const etag = resp.headers.get("ETag") || "";
  if (knownEtag && etag === knownEtag) return { etag, layer: null };
  const text = await resp.text();
  const layer = JSON.parse(text);
  // Written once the map is drawn: a 1.5 MB write must not delay the first picture.
  setTimeout(() => store(etag, text), 1000);
  return { etag, layer };
}

export function decodeLayer(layer) {
  const scale = layer.scale || 1;
  // Role lists are shared by every device with the same bits: no array per device.
  const roleSets = [];
  for (let bits = 0; bits < 1 << layer.roles.length; bits += 1) {
    roleSets.push(layer.roles.filter((_, b) => bits & (1 << b)));
  }
  const sites = layer.sites;
  const statuses = layer.statuses;
  const out = [];
  for (let i = 0; i < layer.id.length; i += 1) {
    const lat = layer.lat[i];
    const lon = layer.lon[i];
    if (lat === null || lon === null) continue;
    out.push({
      id: layer.id[i], site: sites[layer.site[i]], status: statuses[layer.status[i]] || "unknown",
      roles: roleSets[layer.role[i]] || [], lat: lat / scale, lon: lon / scale,
    });
  }
  return out;
}
