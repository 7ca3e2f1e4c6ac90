// The fleet's map layer (GET /map/devices): parallel arrays, coordinates in 1e-5 degree.

import { api } from "./common.js";

/** Every device the caller may see, as {id, site, status, roles, lat, lon}; unplaced ones are left out. */
export async function loadDevices(site) {
  const layer = await api("GET", site ? `/map/devices?site=${encodeURIComponent(site)}` : "/map/devices");
  return decodeLayer(layer);
}

export function decodeLayer(layer) {
  const scale = layer.scale || 1;
  const out = [];
  for (let i = 0; i < layer.id.length; i += 1) {
    const lat = layer.lat[i];
    const lon = layer.lon[i];
    if (lat === null || lon === null) continue;
    const bits = layer.role[i];
    out.push({
      id: layer.id[i],
      site: layer.sites[layer.site[i]],
      status: layer.statuses[layer.status[i]] || "unknown",
      roles: layer.roles.filter((_, b) => bits & (1 << b)),
      lat: lat / scale,
      lon: lon / scale,
    });
  }
  return out;
}
