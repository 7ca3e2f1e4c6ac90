// What events and rule-opened interventions say, as sentences in the page's language.
//
// Boxes send codes (a wire type, a class index, a TALQ fault name) and rules store their
// findings as data (kind, device, zone or luminaire, detail). The templates live in the
// page's catalogue (coordinator/web/vocabulary.py); these functions only pick one and fill it,
// so a stored intervention is worded anew in whichever language the page is read.

import { communeName, fmtDate, fmtNumber, t } from "./common.js";

/** `key`'s label, or `fallback` when the catalogue has none (a newer box's type, say). */
function known(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

/** The singular or plural form of a "one|many" label. */
export function form(text, n) {
  const [one, many] = text.split("|");
  return n === 1 || many === undefined ? one : many;
}

/** A class index as a word: 0 -> "personne", (0, 3) -> "personnes". */
export function className(cls, n = 1) {
  const text = known(`cls.${cls}`, null) ?? t("evd.class_unknown", { n: cls });
  return form(text, n);
}

/** "3 personnes", "1 bus". */
export function countOf(cls, n) {
  return `${fmtNumber(n)} ${className(cls, n)}`;
}

/** A duration in ms as "12 s", "2 min 5 s", "1 h 20 min". */
export function duration(ms) {
  const total = Math.max(0, Math.round(Number(ms) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return t(m ? "dur.h_min" : "dur.h", { h, m });
  if (m) return t(s ? "dur.min_s" : "dur.min", { m, s });
  return t("dur.s", { s });
}

export function faultName(fault) {
  return known(`fault.${fault}`, fault);
}

/** The label of an event type ("line_crossing" -> "Franchissement de ligne"). */
export function eventLabel(type) {
  return known(`ev.${type}`, t("ev.unknown"));
}

function cam(index) {
  return t("evd.cam", { n: Number(index) + 1 });
}

function countsRow(r) {
  const params = { target: r.target, cls: className(r.cls, 2) };
  if (r.outbound) return t("evd.counts_line", { ...params, inbound: fmtNumber(r.inbound), outbound: fmtNumber(r.outbound) });
  return t("evd.counts_zone", { ...params, n: fmtNumber(r.inbound) });
}

/** What an event says, in words; the wire fields by their wire names (vigie_wire.events). */
export function eventDetail(type, b) {
  const body = b || {};
  switch (type) {
    case "detection":
      return t("evd.detection", { cls: className(body.cls), conf: body.conf, cam: cam(body.cam) });
    case "track_end":
      return t("evd.track_end", { cls: className(body.cls), dur: duration(body.seen_ms), cam: cam(body.cam) });
    case "zone_enter":
      return t("evd.zone_enter", { zone: body.zone, cls: className(body.cls), cam: cam(body.cam) });
    case "zone_leave":
      return t(body.lost ? "evd.zone_leave_lost" : "evd.zone_leave",
        { zone: body.zone, cls: className(body.cls), dur: duration(body.dwell_ms), cam: cam(body.cam) });
    case "occupancy": {
      const counts = (body.counts || []).map(([cls, n]) => countOf(cls, n));
      return counts.length ? t("evd.occupancy", { zone: body.zone, counts: counts.join(t("evd.list_sep")) })
        : t("evd.occupancy_empty", { zone: body.zone });
    }
    case "line_crossing":
      return t("evd.line_crossing", { line: body.line, dir: t(body.inbound ? "evd.dir_in" : "evd.dir_out"),
        cls: className(body.cls) });
    case "loitering":
      return t("evd.loitering", { zone: body.zone, cls: className(body.cls), dur: duration(body.dwell_ms) });
    case "counts": {
      const dur = duration((body.interval_s || 0) * 1000);
      const rows = (body.rows || []).map(countsRow);
      return rows.length ? t("evd.counts", { dur, rows: rows.join(t("evd.rows_sep")) }) : t("evd.counts_empty", { dur });
    }
    case "lamp_fault":
      return t(body.active ? "evd.lamp_fault_on" : "evd.lamp_fault_off", { lum: body.lum, fault: faultName(body.fault) });
    case "cabinet_fault":
      return t(body.active ? "evd.cabinet_fault_on" : "evd.cabinet_fault_off",
        { part: cabinetPart(body.part), fault: faultName(body.fault) });
    case "recording":
      return t(body.on ? "evd.recording_on" : "evd.recording_off", { camera: body.camera, reason: body.reason });
    case "segment_destroyed":
      return t("evd.segment_destroyed", { camera: body.camera, reason: body.reason });
    default:
      return t("evd.unknown", { code: body.type_code ?? type });
  }
}

/** The template parameters of a rule-opened intervention, from what was stored with it. */
function ruleParams(iv) {
  const d = iv.detail || {};
  const p = { device: iv.device_id ?? "—", zone: iv.target ?? "—", lum: iv.target ?? "—", track: d.track,
    count: d.count === undefined ? "—" : fmtNumber(d.count), threshold: d.threshold === undefined ? "—" : fmtNumber(d.threshold) };
  if (d.cls !== undefined) p.cls = className(d.cls);
  if (d.dwell_ms !== undefined) p.dur = duration(d.dwell_ms);
  if (d.fault !== undefined) p.fault = faultName(d.fault);
  if (d.part !== undefined) p.part = cabinetPart(d.part);
  if (iv.kind === "device_offline") {
    p.status = known(`status.${d.status}`, d.status ?? "—").toLowerCase();
    if (d.last_seen_ms !== null && d.last_seen_ms !== undefined) {
      p.dur = duration(iv.first_ms - d.last_seen_ms);
      p.last = fmtDate(d.last_seen_ms);
    }
  }
  return p;
}

/** The templates' key suffix: the offline rule words a box never heard from apart. */
function ruleVariant(iv) {
  const d = iv.detail || {};
  return iv.kind === "device_offline" && (d.last_seen_ms === null || d.last_seen_ms === undefined) ? "_never" : "";
}

/** A cabinet fault's part: the cabinet as a whole, or one of its circuits. */
function cabinetPart(part) {
  return part === "cabinet" ? t("evd.part_cabinet") : t("evd.part_circuit", { part });
}

function worded(iv) {
  return iv.source === "rule" && t(`ivt.${iv.kind}`) !== `ivt.${iv.kind}`;
}

/** An intervention's title: a rule's finding worded in the page's language; a person's words as written. */
export function interventionTitle(iv) {
  if (!worded(iv)) return iv.title;
  return t(`ivt.${iv.kind}${ruleVariant(iv)}`, ruleParams(iv));
}

/** An intervention's description: worded for a rule's finding, as written otherwise. */
export function interventionDescription(iv) {
  if (!worded(iv)) return iv.description;
  return t(`ivd.${iv.kind}${ruleVariant(iv)}`, ruleParams(iv));
}

// The assignment proposal's reasons, as coordinator.interventions.assignment writes them.
const REASONS = [
  [/^has skill (\S+) \((\S+)\)$/, "why.has_skill", (m) => ({ skill: known(`skill.${m[1]}`, m[1]), pts: m[2] })],
  [/^lacks skill (\S+) \((\S+)\)$/, "why.lacks_skill", (m) => ({ skill: known(`skill.${m[1]}`, m[1]), pts: m[2] })],
  [/^based in (\S+) \((\S+)\)$/, "why.based_in", (m) => ({ commune: communeName(m[1]), pts: m[2] })],
  [/^(\S+) km away \((\S+)\)$/, "why.km", (m) => ({ km: fmtNumber(Number(m[1]), 1), pts: m[2] })],
  [/^distance unknown \((\S+)\)$/, "why.no_distance", (m) => ({ pts: m[1] })],
  [/^(\d+) intervention\(s\) in hand \((\S+)\)$/, "why.load", (m) => ({ n: m[1], pts: m[2] })],
  [/^free \((\S+)\)$/, "why.free", (m) => ({ pts: m[1] })],
];

/** One reason of a team proposal in the page's language (an unknown one as the API wrote it). */
export function reasonText(reason) {
  for (const [re, key, params] of REASONS) {
    const m = re.exec(reason);
    if (m) return t(key, params(m));
  }
  return reason;
}
