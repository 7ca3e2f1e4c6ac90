/**
 * Gap and duplicate detection per sender session, as the document describes it: within one `(dev, bd)`,
 * `seq` increases by one per message the sender publishes on its numbered topics.
 *
 * What it cannot know is what you did not subscribe to: a consumer of events only sees gaps where the box sent
 * telemetry, metadata, acknowledgements or snapshots. Give `observe` every kind you subscribe to and pass `numbered`
 * to say which kinds that is; a gap is then reported only when all the sender's numbered kinds are read.
 * A retained birth delivered at subscription time is an old `seq 0`: it starts the session's numbering.
 * A death (the will) carries `seq 0` outside the numbering and ends the session it names.
 */
const NUMBERED = ["birth", "meta", "event", "telemetry", "ack", "snapshot", "state", "dispatch", "status"];

export class SeqTracker {
  constructor({ numbered = NUMBERED } = {}) {
    this.numbered = new Set(numbered);
    this.complete = NUMBERED.filter((k) => k !== "state" && k !== "dispatch" && k !== "status").every((k) => this.numbered.has(k));
    this.sessions = new Map(); // dev -> {bd, seq}
    this.counts = { ok: 0, gaps: 0, missing: 0, duplicates: 0, stale: 0, sessions: 0 };
  }

  /** Record one decoded message; returns "ok", "new-session", "gap", "duplicate", "stale" or "skipped". */
  observe(msg) {
    if (msg.kind === "death") {
      const s = this.sessions.get(msg.dev);
      if (s && s.bd === msg.bd) s.ended = true;
      return "skipped";
    }
    if (!this.numbered.has(msg.kind)) return "skipped";
    const seq = Number(msg.seq);
    const s = this.sessions.get(msg.dev);
    if (s === undefined || msg.bd > s.bd) {
      this.sessions.set(msg.dev, { bd: msg.bd, seq });
      this.counts.sessions++;
      return "new-session";
    }
    if (msg.bd < s.bd) {
      this.counts.stale++; // e.g. a QoS 1 message of an earlier connection re-sent after the new birth
      return "stale";
    }
    if (seq <= s.seq) {
      this.counts.duplicates++;
      return "duplicate";
    }
    const missing = seq - s.seq - 1;
    s.seq = seq;
    if (missing > 0 && this.complete) {
      this.counts.gaps++;
      this.counts.missing += missing;
      return "gap";
    }
    this.counts.ok++;
    return "ok";
  }
}
