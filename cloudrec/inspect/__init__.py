"""Inspecting recordings from the event log, in Jupyter or a script.

```python
from cloudrec.inspect import Log, plots

log = Log.open("sqlite:///.cloudrec/events.db")      # or "kafka://host:9092"
session = log.sessions(channel="room42", state="ended")[-1]
session.query(at="2026-11-26 16:09:10")             # the `query` view as it was then
session.slices(), session.uploads(), session.failovers()   # pandas DataFrames
plots.timeline(session)
```

`Log` holds a log's events and finds sessions; a `Session` gives its events and every view of
them (all projections from `cloudrec.projections`); `fleet` summarises many sessions; `media`
reads the recorded files back; `plots` draws them with matplotlib. Needs the `notebooks` extra
(`pip install 'cloudrec[notebooks]'`: pandas and matplotlib); the service never imports this.
"""

from cloudrec.inspect.log import Log, Sessions
from cloudrec.inspect.session import EventCard, Events, Session

__all__ = ["EventCard", "Events", "Log", "Session", "Sessions"]
