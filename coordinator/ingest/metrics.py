"""Prometheus metrics of one ingest worker, on its own registry (served by ``--metrics-port``).

A registry per worker, not the process-global one: tests and benchmarks run several workers
in one process and read each one's counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.messages = Counter("vigie_ingest_messages", "Messages received, by topic kind ('invalid' if undecodable)",
                                ["kind"], registry=r)
        self.events_stored = Counter("vigie_ingest_events_stored", "Events stored for the first time", registry=r)
        self.duplicates = Counter("vigie_ingest_duplicates", "Messages (by seq) or events (by id) received again",
                                  ["stream"], registry=r)
        self.gaps = Counter("vigie_ingest_gaps", "Holes opened in a message or event numbering", ["stream"],
                            registry=r)
        self.missing = Counter("vigie_ingest_missing", "Numbers skipped when holes opened", ["stream"], registry=r)
        self.rejects = Counter("vigie_ingest_rejects", "Messages refused, by reason", ["reason"], registry=r)
        self.ignored = Counter("vigie_ingest_ignored", "Births and deaths that change nothing (stale or repeated)",
                               ["what"], registry=r)
        self.db_retries = Counter("vigie_ingest_db_retries", "Batches retried after a transient database error",
                                  registry=r)
        self.batch_seconds = Histogram("vigie_ingest_batch_seconds", "Decode + store + commit time of a batch",
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_messages = Histogram("vigie_ingest_batch_messages", "Messages per batch", buckets=_SIZE_BUCKETS,
                                        registry=r)
        self.queue_depth = Gauge("vigie_ingest_queue_depth", "Messages received, not yet in a batch", registry=r)

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample (``vigie_ingest_rejects_total``, reason=...), 0 if never set."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        start_http_server(port, addr=addr, registry=self.registry)
