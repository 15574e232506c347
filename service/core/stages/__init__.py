"""The named stages of the request path (ARCHITECTURE.md, "The request path").

history -> encode -> retrieve -> score -> select, each an object with a ``name`` and a
``run(call)`` (``stages.base``) that the pipeline times into
``recserve_pipeline_stage_seconds{stage=...}``; a bundle with a second stage would add
``rerank`` after ``select``.
"""
