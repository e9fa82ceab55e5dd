# syntax=docker/dockerfile:1
# The worker process on CPU: gpu-worker/worker-process.ts, one trainer and one inference server sharing one loaded
# model — what each pod of infra/k8s/worker-deployment.yaml and each `worker` of infra/docker/compose.yaml runs.
# The bundled toy CLIP (models/toy-clip) is the default model; mount a real one read-only and point MODEL_DIR at it.
# Nothing is downloaded at run time. GPU: worker-cuda.Dockerfile. docs/deploy.md "Containers".
#
#   docker build -f infra/docker/worker.Dockerfile -t cocoop-worker .      (from the repository root)
ARG NODE_IMAGE=node:20-bookworm-slim

# Production dependencies, with npm >= 11.16 (it reads package.json "allowScripts"); npm and its cache stay here.
FROM ${NODE_IMAGE} AS deps
RUN npm install -g npm@11.19.1
WORKDIR /app
COPY package.json package-lock.json ./
COPY infra/docker/install.sh infra/docker/install.sh
RUN infra/docker/install.sh worker

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    ORT_EP=cpu \
    MODEL_DIR=/app/models/toy-clip \
    WORK_DIR=/work \
    COCOOP_CACHE_DIR=/cache/onnx \
    COCOOP_TF_BACKEND=wasm \
    INFERENCE_HOST=0.0.0.0 \
    INFERENCE_PORT=8790 \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
# WORK_DIR: datasets and checkpoints of the job in hand (a volume or emptyDir in production);
# COCOOP_CACHE_DIR: the ONNX graphs built from the model's weights on first use (the model folder may be read-only).
# ORT_EP=cpu: this image has no CUDA provider (worker-cuda.Dockerfile has);
# COCOOP_TF_BACKEND=wasm: the native TF.js backends are not installed (their download is denied); training runs on
# ONNX Runtime by default anyway (TRAIN_ENGINE=ort).
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
USER 10001:10001
EXPOSE 8790
HEALTHCHECK --interval=20s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.INFERENCE_PORT || 8790) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/run-ts.mjs", "gpu-worker/worker-process.ts"]
