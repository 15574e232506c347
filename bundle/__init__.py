"""The bundle format: the contract between ``export`` (writes) and ``service`` (serves).

- ``format``: file names, format version, checksums
- ``manifest``: the typed ``manifest.json`` (model, encoder inputs and outputs,
  index, semantics, optional user table, room for stateful and re-ranker parts)
- ``history``: the one history type (``Sequences``) and policy (``cut_history``)
- ``inputs``: the vocabulary of encoder inputs and ``build_inputs``
- ``items`` / ``users``: the item and user tables
- ``encoder``: the onnxruntime user encoder
- ``loader``: verify a folder and load it read-only (``Bundle.load``)

It imports neither ``export`` nor ``service`` nor ``training``.
"""
