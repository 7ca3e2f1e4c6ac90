// Judicial requisitions: record one (designated agents), approve or refuse (another supervisor), extract.

import { api, boot, el, fmtDate, notify, showError, t } from "./common.js";

const isSupervisor = ["supervisor", "admin"].includes(boot.user && boot.user.role);

async function loadAuthorities() {
  const { authorities } = await api("GET", "/authorities");
  document.getElementById("req-authority").replaceChildren(
    ...authorities.map((a) => el("option", { value: String(a.id), text: a.name })));
}

async function decide(id, approve) {
  try {
    const r = await api("POST", `/requisitions/${id}/decision`, { approve });
    notify(t("req.decided", { id, status: t(`req.status.${r.status}`) }));
    await load();
  } catch (err) {
    showError(err);
  }
}

async function extract(id) {
  try {
    const r = await api("POST", `/requisitions/${id}/package`, {});
    const box = document.getElementById("req-link");
    const url = `${window.location.origin}${r.download_path}`;
    box.replaceChildren(t("req.link", { until: fmtDate(r.expires_ms) }), " ", el("code", { text: url }));
    box.hidden = false;
    await load();
  } catch (err) {
    showError(err);
  }
}

function actions(r) {
  const cell = el("td");
  if (r.status === "pending" && isSupervisor && r.requested_by !== boot.user.username) {
    cell.append(el("button", { type: "button", onclick: () => decide(r.id, true), text: t("req.approve") }), " ",
      el("button", { type: "button", onclick: () => decide(r.id, false), text: t("req.refuse") }));
  }
  if (r.status === "approved") {
    cell.append(el("button", { type: "button", onclick: () => extract(r.id), text: t("req.extract") }));
  }
  return cell;
}

async function load() {
  try {
    const { requisitions } = await api("GET", "/requisitions");
    document.querySelector("#req-table tbody").replaceChildren(...requisitions.map((r) =>
      el("tr", { dataset: { id: String(r.id), status: r.status } },
        el("td", { text: String(r.id) }), el("td", { text: r.procedure }), el("td", { text: r.authority }),
        el("td", { text: r.legal_basis === "other" ? r.legal_basis_text : `CPP ${r.legal_basis}` }),
        el("td", { text: `${fmtDate(r.start_ms)} → ${fmtDate(r.end_ms)} (${r.cameras.join(", ")})` }),
        el("td", { text: t(`req.status.${r.status}`) }), el("td", { text: r.requested_by }),
        el("td", { text: r.decided_by ? `${r.decided_by}, ${fmtDate(r.decided_ms)}` : "—" }), actions(r))));
    document.body.dataset.loaded = "1";
  } catch (err) {
    showError(err);
  }
}

document.getElementById("req-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = {
    authority_id: Number(f.get("authority_id")), procedure: f.get("procedure"), legal_basis: f.get("legal_basis"),
    cameras: String(f.get("cameras")).split(/\s+/).filter(Boolean),
    start_ms: new Date(f.get("start")).getTime(), end_ms: new Date(f.get("end")).getTime(), reason: f.get("reason"),
  };
  if (f.get("legal_basis_text")) body.legal_basis_text = f.get("legal_basis_text");
  try {
    const r = await api("POST", "/requisitions", body);
    notify(t("req.created", { id: r.id }));
    ev.target.reset();
    await load();
  } catch (err) {
    showError(err);
  }
});

loadAuthorities().catch(showError);
load();
