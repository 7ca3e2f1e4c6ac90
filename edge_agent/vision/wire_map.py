"""Translate analytics observations (pixels, seconds, names) into wire events (pure).

The wire carries boxes in thousandths of the frame, durations in ms, scores in percent and
classes as indices in the model's class list (announced in the birth), which keeps a
detection event around 40 bytes.
"""

from __future__ import annotations

import vigie_wire as wire

from . import observations as obs


def _permille(value: float, size: int) -> int:
    return max(0, min(1000, round(1000 * value / size))) if size > 0 else 0


def box_permille(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` in pixels to ``(x, y, w, h)`` in thousandths of the frame."""
    x0, y0, x1, y1 = box
    x, y = _permille(x0, width), _permille(y0, height)
    return x, y, min(1000 - x, _permille(x1 - x0, width)), min(1000 - y, _permille(y1 - y0, height))


def _ms(seconds: float) -> int:
    return max(0, min(wire.limits.UINT32_MAX, round(seconds * 1000)))


def to_wire(event: obs.AnalyticsEvent, cam: int, width: int, height: int) -> wire.Event:
    """The wire event for one observation of camera ``cam`` (frame ``width`` x ``height``)."""
    match event:
        case obs.TrackNew():
            conf = max(0, min(100, round(event.score * 100)))
            return wire.Detection(cam, event.track_id, event.class_id, conf, box_permille(event.box, width, height))
        case obs.TrackEnd():
            return wire.TrackEnd(cam, event.track_id, event.class_id, _ms(event.last_seen - event.first_seen))
        case obs.ZoneEnter():
            return wire.ZoneEnter(cam, event.zone, event.track_id, event.class_id)
        case obs.ZoneLeave():
            return wire.ZoneLeave(cam, event.zone, event.track_id, event.class_id, _ms(event.dwell_s), event.lost)
        case obs.Occupancy():
            return wire.Occupancy(cam, event.zone, tuple((c, n) for c, n in event.counts))
        case obs.LineCrossing():
            return wire.LineCrossing(cam, event.line, event.track_id, event.class_id,
                                     event.direction is obs.Direction.IN)
        case obs.Loitering():
            return wire.Loitering(cam, event.zone, event.track_id, event.class_id, _ms(event.dwell_s))
        case obs.IntervalCounts():
            rows = [wire.CountRow(z.zone, z.class_id, z.entries, 0) for z in event.zones]
            rows += [wire.CountRow(ln.line, ln.class_id, ln.crossings_in, ln.crossings_out) for ln in event.lines]
            seconds = max(1, round(event.t_end - event.t_start))
            return wire.IntervalCounts(cam, seconds, tuple(rows))
    raise TypeError(f"no wire form for {type(event).__name__}")  # a new observation type was added


def event_time(event: obs.AnalyticsEvent) -> float:
    """When the observation happened (the end of the interval for counts)."""
    return event.t_end if isinstance(event, obs.IntervalCounts) else event.t
