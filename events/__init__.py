"""cloudrec events: frozen pydantic models, their catalog, and the event log port and backends."""

from cloudrec.events.catalog import AnyEvent, decode, encode
from cloudrec.events.envelope import Event
from cloudrec.events.log import EventLog, Fenced

__all__ = ["AnyEvent", "Event", "EventLog", "Fenced", "decode", "encode"]
