"""Why an export was refused."""


class ExportError(RuntimeError):
    """The bundle failed one of its self-checks and was not written."""
