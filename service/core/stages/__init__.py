"""The named stages of the request path (ARCHITECTURE.md, "The request path").

history -> encode -> retrieve -> score -> rerank -> select, each an object with a
``name`` and a ``run(call)`` (``stages.base``) that the pipeline times into
``recserve_pipeline_stage_seconds{stage=...}``; ``rerank`` works only for a bundle
with a second stage.
"""
