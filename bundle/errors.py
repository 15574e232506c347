"""Why a bundle cannot be written, read or served."""


class BundleError(Exception):
    """A bundle that cannot be served; the message names the bundle, the file and why."""


class ManifestError(BundleError):
    """``manifest.json`` is not a manifest this version understands; names the field."""
