"""Where accepted records wait before the sinks take them (see `tracker.spool.spool`).

records.py    Record (table, JSONEachRow line) and an entry's encoding
frame.py      the log's framing, `Entry` and the `Log` interface
memory.py     MemoryLog (SpoolMode memory)
segmented.py  SegmentedLog (SpoolMode durable): segment files, group commit
spool.py      LogSpool: append (the acknowledgement point), read, release
"""

from tracker.spool.frame import Entry
from tracker.spool.records import Record, decode, encode
from tracker.spool.spool import LogSpool, open_spool

__all__ = ["Entry", "LogSpool", "Record", "decode", "encode", "open_spool"]
