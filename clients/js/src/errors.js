/**
 * The one error this client throws on bad input: `reason` is a short code (as the reference decoder's
 * `WireError`: msgpack, size, version, schema, field, topic, mismatch), `path` the position it is about.
 */
export class WireError extends Error {
  constructor(reason, detail, path = "") {
    super(path ? `${reason}: ${path}: ${detail}` : `${reason}: ${detail}`);
    this.name = "WireError";
    this.reason = reason;
    this.detail = detail;
    this.path = path;
  }
}
