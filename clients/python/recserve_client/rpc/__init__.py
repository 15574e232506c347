"""Generated gRPC stubs (``python protos/generate.py``); do not edit by hand."""
