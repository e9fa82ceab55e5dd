# syntax=docker/dockerfile:1
# The worker process with ONNX Runtime's CUDA execution provider (ORT_EP=cuda): worker.Dockerfile on an NVIDIA CUDA
# runtime base with cuDNN 9. Needs the NVIDIA driver and container runtime on the host (Kubernetes: the NVIDIA device
# plugin; compose: `gpus: all`). docs/deploy.md "Containers" says which CUDA major the provider needs and how that is
# checked: the last stage runs `install.sh check worker --cuda`, which fails the build, naming the missing libraries,
# when CUDA_IMAGE does not carry the CUDA and cuDNN the provider was built against.
#
#   docker build -f infra/docker/worker-cuda.Dockerfile -t cocoop-worker:cuda .
#   docker build -f infra/docker/worker-cuda.Dockerfile --build-arg CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 -t cocoop-worker:cuda12 .
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

# Production dependencies plus onnxruntime-node's CUDA provider: its install script downloads it from NuGet,
# the one download from outside the npm registry, run here on purpose (install.sh --cuda).
FROM ${NODE_IMAGE} AS deps
RUN npm install -g npm@11.19.1
WORKDIR /app
COPY package.json package-lock.json ./
COPY infra/docker/install.sh infra/docker/install.sh
RUN infra/docker/install.sh worker --cuda

FROM ${NODE_IMAGE} AS node

FROM ${CUDA_IMAGE}
# Node itself (one static-enough binary: glibc and libstdc++ come from the CUDA image's Ubuntu).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    ORT_EP=cuda \
    MODEL_DIR=/app/models/toy-clip \
    WORK_DIR=/work \
    COCOOP_CACHE_DIR=/cache/onnx \
    COCOOP_TF_BACKEND=wasm \
    INFERENCE_HOST=0.0.0.0 \
    INFERENCE_PORT=8790 \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
# ORT_EP=cuda: a worker without a usable GPU fails its jobs with runtime_unavailable instead of training on the CPU
# unnoticed (unset it to fall back). TF.js has no GPU backend here (tfjs-node-gpu needs CUDA 11.2 / cuDNN 8.1).
RUN groupadd --system --gid 10001 cocoop \
 && useradd --system --uid 10001 --gid cocoop --home-dir /work --no-create-home --shell /usr/sbin/nologin cocoop \
 && mkdir -p /work /cache/onnx \
 && chown cocoop:cocoop /work /cache/onnx
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY package.json tsconfig.json ./
COPY bin bin
COPY shared shared
COPY gpu-worker gpu-worker
COPY models/toy-clip models/toy-clip
COPY infra/docker/install.sh infra/docker/install.sh
RUN infra/docker/install.sh check worker --cuda
USER 10001:10001
EXPOSE 8790
HEALTHCHECK --interval=20s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.INFERENCE_PORT || 8790) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/run-ts.mjs", "gpu-worker/worker-process.ts"]
