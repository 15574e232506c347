# recserve serving image: no torch, no compilers in the final stage, non-root.
#
#   docker build -t recserve .                      # CPU serving image
#   docker build -t recserve:gpu --target gpu .     # onnxruntime-gpu (CUDA provider)
#   docker run -p 50051:50051 -p 8000:8000 -v $PWD/bundles/demo:/bundles/demo:ro \
#       -e RECSERVE_BUNDLE=/bundles/demo recserve
#
# The install commands are the ones `make serving-image-check` runs in CI
# (there is no Docker engine on CI): build wheels, install them into a clean
# environment without the train extra, start `recserve serve --help`.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
# Compilers for hnswlib's wheel; this stage is thrown away, so no pins.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY clients/python clients/python
COPY recserve recserve
COPY bundle bundle
COPY service service
COPY export export
COPY training training
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels ./clients/python .

FROM python:${PYTHON_VERSION}-slim AS serve
RUN useradd --create-home --uid 10001 recserve
COPY --from=build /wheels /wheels
# Only the wheels built above are reachable (--no-index), so no pins.
# hadolint ignore=DL3013
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels recserve \
    && rm -rf /wheels
USER 10001
WORKDIR /home/recserve
# All interfaces, so tokens are required: mount the tokens file (recserve token new)
# as the secret recserve-tokens; without it the server refuses to start. The variable
# holds the file's path, not a secret (DL3064 reads "TOKENS" in the name).
# hadolint ignore=DL3064
ENV RECSERVE_HOST=0.0.0.0 \
    RECSERVE_TOKENS_FILE=/run/secrets/recserve-tokens \
    RECSERVE_GRPC_PORT=50051 \
    RECSERVE_HTTP_PORT=8000 \
    RECSERVE_BUNDLE=/bundles/current \
    RECSERVE_STORE=file:///home/recserve/var
EXPOSE 50051 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["recserve", "serve"]

# GPU target: the same image with onnxruntime-gpu; the encoder picks the CUDA
# provider at start-up when a GPU is visible (reported in /readyz and /metrics).
FROM serve AS gpu
ARG ONNXRUNTIME_GPU_VERSION=1.31.1
USER 0
RUN python -m pip uninstall -y onnxruntime \
    && python -m pip install --no-cache-dir "onnxruntime-gpu[cuda,cudnn]==${ONNXRUNTIME_GPU_VERSION}"
USER 10001
