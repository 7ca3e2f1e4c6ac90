// Recording status per camera: retention, disk used, oldest segment, legal holds (from the boxes' telemetry).

import { api, el, fmtDate, fmtNumber, showError, t } from "./common.js";

function size(bytes) {
  if (bytes >= 1024 ** 3) return `${fmtNumber(bytes / 1024 ** 3, 1)} Gio`;
  if (bytes >= 1024 ** 2) return `${fmtNumber(bytes / 1024 ** 2, 1)} Mio`;
  return `${fmtNumber(bytes / 1024, 0)} kio`;
}

async function load() {
  try {
    const { boxes } = await api("GET", "/recording/status");
    const rows = [];
    for (const box of boxes) {
      const quota = box.quota_bytes ? t("rec.of_quota", { used: size(box.bytes), quota: size(box.quota_bytes) }) : "";
      for (const cam of box.cameras) {
        rows.push(el("tr", { dataset: { camera: cam.camera } },
          el("th", { scope: "row", text: cam.camera }),
          el("td", { text: cam.retention_days === null ? "—" : t("rec.days", { n: fmtNumber(cam.retention_days, 0) }) }),
          el("td", { text: size(cam.bytes) }), el("td", { text: String(cam.segments) }),
          el("td", { text: cam.oldest_ms === null ? "—" : fmtDate(cam.oldest_ms) }),
          el("td", { text: String(cam.held) }), el("td", { text: String(cam.destroyed_expired) }),
          el("td", { text: String(cam.evicted_quota) }), el("td", { text: quota }),
          el("td", { text: `${fmtDate(box.reported_ms)}${box.stale ? ` (${t("rec.stale")})` : ""}` })));
      }
    }
    document.querySelector("#rec-table tbody").replaceChildren(...rows);
    document.getElementById("rec-empty").hidden = rows.length > 0;
    document.body.dataset.loaded = "1";
  } catch (err) {
    showError(err);
  }
}

load();
