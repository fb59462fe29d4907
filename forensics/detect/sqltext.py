"""Text for the SQL the detection engines write (DuckDB: backslashes are literal in strings)."""

from __future__ import annotations


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
