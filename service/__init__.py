"""The online side of recserve: reads bundles, keeps live history, answers top-k.

Never imports torch or ``training``: a serving image carries numpy,
onnxruntime, hnswlib and the transports only.
"""
