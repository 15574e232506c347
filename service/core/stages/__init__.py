"""The named stages of the request path; the pipeline times each one.

history -> encode -> retrieve -> rescore -> select (ARCHITECTURE.md, "The request path").
"""
