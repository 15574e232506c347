"""The one error type raised for unusable input data."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """An input file cannot be read as interaction data.

    The message always names the file, and the line and column when one is to
    blame, so a user can open the file at the right place. Lines are counted
    from 1 and include the header line, as an editor shows them.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        where = self.path if line is None else f"{self.path}:{line}"
        what = message if column is None else f"column '{column}': {message}"
        super().__init__(f"{where}: {what}")
