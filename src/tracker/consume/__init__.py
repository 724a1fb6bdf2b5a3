"""Sources that pull events from a broker (beside `tracker.http`, which is pushed to).

nats.py   the NATS consumer: `count`, `update` and `log` subjects into counters, updates, logs
"""

from tracker.consume.nats import NatsConsumer, consumers

__all__ = ["NatsConsumer", "consumers"]
