"""How many threads the numeric libraries of a command may use: one setting for all.

BLAS (OpenBLAS, MKL), OpenMP and torch start one thread per core by default; on
a machine with other load they oversubscribe it (`recserve evaluate --models
ease` took 34.8 s by default and 4.1 s with one BLAS thread on a loaded
2-core machine). ``recserve --threads N`` (env ``RECSERVE_THREADS``) sets the
libraries' environment variables before they load (torch reads them) and limits
those already loaded through threadpoolctl; without it nothing is changed.
onnxruntime sessions are built with their own thread counts (one intra-op
thread for the serving encoder, ``encoder_threads``), hnswlib index builds use
``RECSERVE_THREADS`` unless ``recserve export --index-threads`` says otherwise.
"""

from __future__ import annotations

import os
import sys

VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def available() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def apply(threads: int | None) -> int:
    """Limit every numeric library of this process to ``threads`` (``None``: the
    ``RECSERVE_THREADS`` variable); returns the count. With neither, nothing is changed:
    the libraries' own default is the cores, and a user's own ``OMP_NUM_THREADS``
    and the like stay in force."""
    if threads is not None and threads < 1:
        raise ValueError(f"--threads: must be at least 1, got {threads}")
    chosen = threads or int(os.environ.get("RECSERVE_THREADS", 0) or 0)
    if not chosen:
        return available()
    os.environ["RECSERVE_THREADS"] = str(chosen)
    for variable in VARIABLES:
        os.environ[variable] = str(chosen)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=chosen)  # the libraries loaded already
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(chosen)
    return chosen


def current() -> int:
    """The count given by ``--threads`` or ``RECSERVE_THREADS``, else ``available()``."""
    return int(os.environ.get("RECSERVE_THREADS", 0) or 0) or available()
