"""``df.timeline``: the moves an investigator makes on a timeline DataFrame.

Registered as a pandas accessor when ``forensics`` is imported. It works on any frame with the
timeline's ``datetime`` column (a UTC timestamp), so filtered or joined frames keep it:

>>> import pandas as pd, forensics
>>> df = pd.DataFrame({"datetime": pd.to_datetime(["2024-05-01T10:00:00Z", "2024-05-01T10:03:00Z",
...                    "2024-05-01T12:00:00Z"]), "host_name": ["WS01", "ws01", "SRV01"],
...                    "process_executable": ["a.exe", "a.exe", "b.exe"]})
>>> len(df.timeline.around("2024-05-01T10:01:00Z", before="5min", after="5min"))
2
>>> df.timeline.stack("process_executable").to_dict("records")[0]
{'process_executable': 'b.exe', 'count': 1}
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

__all__ = ["TimelineAccessor"]


def _when(value: str | datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone: give UTC ('Z') or an offset")
    return stamp.tz_convert("UTC")


@pd.api.extensions.register_dataframe_accessor("timeline")
class TimelineAccessor:
    """Time-window, host and frequency views of a timeline frame."""

    def __init__(self, df: pd.DataFrame) -> None:
        if "datetime" not in df.columns:
            raise AttributeError("not a timeline frame: it has no 'datetime' column")
        if not isinstance(df["datetime"].dtype, pd.DatetimeTZDtype):
            raise AttributeError("not a timeline frame: 'datetime' is not a UTC timestamp column")
        self._df = df

    def between(self, start: str | datetime, end: str | datetime) -> pd.DataFrame:
        """Rows with start <= datetime <= end, in time order."""
        times = self._df["datetime"]
        mask = (times >= _when(start)) & (times <= _when(end))
        return self._df[mask].sort_values("datetime", kind="stable")

    def around(self, when: str | datetime, before: str = "5min", after: str = "5min") -> pd.DataFrame:
        """Rows in a window around one moment: what happened just before and after it."""
        centre = _when(when)
        return self.between(centre - pd.Timedelta(before), centre + pd.Timedelta(after))

    def for_host(self, host: str) -> pd.DataFrame:
        """Rows of one host (case-insensitive, as Windows host names are)."""
        return self._df[self._df["host_name"].str.lower() == host.lower()]

    def stack(self, columns: str | list[str], top: int | None = None) -> pd.DataFrame:
        """Frequency counts of values, the rarest first: stacking, the hunter's first look."""
        cols = [columns] if isinstance(columns, str) else list(columns)
        counts = self._df.groupby(cols, dropna=False, observed=True).size().reset_index(name="count")
        counts = counts.sort_values(["count", *cols], kind="stable").reset_index(drop=True)
        return counts if top is None else counts.head(top)
