/** Vigie v1 topics: `vigie/v1/<site>/<device>/<kind>`, group commands, team topics and `vigie/v1/STATE/<host>`. */
import { WireError } from "./errors.js";

export const ROOT = "vigie/v1";
export const DEVICE_KINDS = Object.freeze(["birth", "death", "meta", "event", "telemetry", "cmd", "ack", "snapshot"]);
export const TEAM_KINDS = Object.freeze(["dispatch", "status"]);
const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function id(what, value, topic) {
  if (!ID.test(value)) throw new WireError("topic", `invalid ${what} ${JSON.stringify(value)} in ${topic}`);
  return value;
}

/** `{kind, site, device?, group?, team?, host?}`; throws WireError("topic") on anything else. */
export function parseTopic(topic) {
  const parts = topic.split("/");
  if (parts.length < 4 || `${parts[0]}/${parts[1]}` !== ROOT) throw new WireError("topic", `not a ${ROOT} topic: ${topic}`);
  const rest = parts.slice(2);
  if (rest.length === 2 && rest[0] === "STATE") return { kind: "state", host: id("host id", rest[1], topic) };
  if (rest.length === 4 && rest[1] === "group" && rest[3] === "cmd") {
    return { kind: "cmd", site: id("site", rest[0], topic), group: id("group", rest[2], topic) };
  }
  if (rest.length === 4 && rest[1] === "team" && TEAM_KINDS.includes(rest[3])) {
    return { kind: rest[3], site: id("site", rest[0], topic), team: id("team", rest[2], topic) };
  }
  if (rest.length === 3 && DEVICE_KINDS.includes(rest[2]) && rest[1] !== "group") {
    return { kind: rest[2], site: id("site", rest[0], topic), device: id("device id", rest[1], topic) };
  }
  throw new WireError("topic", `unexpected topic ${topic}`);
}
