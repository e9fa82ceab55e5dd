#!/usr/bin/env bash
# The install step of the container images (infra/docker/*.Dockerfile; docs/deploy.md "Containers"), run in the
# image's /app once package.json and package-lock.json are there. test/infra/docker-install.test.ts runs it too.
#
#   infra/docker/install.sh worker [--cuda]   production dependencies of a worker process, then a check
#   infra/docker/install.sh edge              production dependencies of the edge on Node, then a check
#   infra/docker/install.sh check worker|edge [--cuda]
#                                             only the check (an image whose last stage has another base runs it there)
#
# Dependencies: `npm ci --omit=dev`, exactly as locked, from the npm registry only.
# - worker: no install script runs (--ignore-scripts). The worker needs none: onnxruntime-node and sharp ship their
#   CPU binaries in registry packages, and better-sqlite3 (the only script package.json "allowScripts" allows) is the
#   edge's. --cuda then runs onnxruntime-node's own install script, which downloads its CUDA provider from NuGet —
#   the one download from outside the npm registry, asked for explicitly (ONNXRUNTIME_NODE_INSTALL=cuda12; the
#   script's name for its Linux GPU package).
# - edge: install scripts as "allowScripts" decides, strictly (an unreviewed script fails the install); better-sqlite3
#   is compiled from source (no prebuilt download), with the Node headers that ship beside node when present.
# Then what the image never loads is removed, and the native modules it does load are loaded once.
set -euo pipefail

usage() {
  echo "usage: $0 worker [--cuda] | edge | check worker|edge [--cuda]" >&2
  exit 2
}

mode=install
if [[ "${1:-}" == check ]]; then
  mode=check
  shift
fi
kind=${1:-}
shift || true
cuda=0
for arg in "$@"; do
  case "$arg" in
    --cuda) cuda=1 ;;
    *) usage ;;
  esac
done
[[ "$kind" == worker || "$kind" == edge ]] || usage
if [[ $cuda == 1 && "$kind" != worker ]]; then
  echo "$0: --cuda is for the worker image only" >&2
  exit 2
fi
if [[ $mode == install ]]; then
  [[ -f package.json && -f package-lock.json ]] || { echo "$0: run me where package.json and package-lock.json are (the image's /app)" >&2; exit 2; }
else
  [[ -d node_modules ]] || { echo "$0: run me where node_modules is (the image's /app)" >&2; exit 2; }
fi

log() { echo "install.sh: $*"; }

ort_bin_dir() {
  node -p "require('node:path').join('node_modules/onnxruntime-node/bin/napi-v6', process.platform, process.arch)"
}

# Node ≥ 20.19 (package.json engines) and npm ≥ 11.16, the first npm that reads package.json "allowScripts".
check_versions() {
  node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    if (maj < 20 || (maj === 20 && min < 19)) { console.error(`install.sh: Node ${process.versions.node} is older than 20.19`); process.exit(1); }'
  local npm_version
  npm_version=$(npm --version)
  node -e '
    const [maj, min] = process.argv[1].split(".").map(Number);
    if (maj < 11 || (maj === 11 && min < 16)) {
      console.error(`install.sh: npm ${process.argv[1]} does not read package.json "allowScripts" (npm >= 11.16 does): npm install -g npm@11 first`);
      process.exit(1);
    }' "$npm_version"
}

install_worker() {
  log "npm ci --omit=dev --ignore-scripts (worker: no install script runs)"
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund
  if [[ $cuda == 1 ]]; then
    log "onnxruntime-node's CUDA provider (its install script, downloading from NuGet)"
    ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --dangerously-allow-all-scripts
    [[ -f "$(ort_bin_dir)/libonnxruntime_providers_cuda.so" ]] || { echo "install.sh: libonnxruntime_providers_cuda.so was not installed" >&2; exit 1; }
  fi
  # onnxruntime-node ships binaries for every platform (~290 MB); keep this one's.
  local keep
  keep=$(ort_bin_dir)
  for dir in node_modules/onnxruntime-node/bin/napi-v6/*/*; do
    [[ "$dir" == "$keep" ]] || rm -rf "$dir"
  done
  find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 1 -type d -empty -delete
  # The edge's SQLite; never loaded by a worker process (and not compiled: no install script ran).
  rm -rf node_modules/better-sqlite3
}

install_edge() {
  local prefix
  prefix=$(node -p "require('node:path').resolve(process.execPath, '../..')")
  if [[ -f "$prefix/include/node/common.gypi" ]]; then
    export npm_config_nodedir="$prefix" # node-gyp uses these headers instead of downloading them
  fi
  log "npm ci --omit=dev (edge: install scripts as package.json allowScripts decides, strictly; better-sqlite3 from source)"
  # npm warns that it does not know build-from-source: prebuild-install (better-sqlite3's script) reads it.
  ONNXRUNTIME_NODE_INSTALL=skip npm_config_build_from_source=true npm_config_strict_allow_scripts=true \
    npm ci --omit=dev --no-audit --no-fund
  # What only a worker process loads (the edge imports none of it; architecture.test.ts keeps edge/ off gpu-worker/).
  rm -rf node_modules/onnxruntime-node node_modules/onnxruntime-common node_modules/@tensorflow node_modules/sharp node_modules/@img
}

# Source maps of dependencies (about 200 MB, mostly TF.js bundles): Node reads none of them unless run with
# --enable-source-maps, which the images do not use.
drop_source_maps() {
  find node_modules -type f -name '*.map' -delete
}

check_native() {
  if [[ "$kind" == edge ]]; then
    node -e '
      const Database = require("better-sqlite3");
      const db = new Database(":memory:");
      const { v } = db.prepare("select sqlite_version() as v").get();
      db.close();
      console.log(`install.sh: better-sqlite3 loads (SQLite ${v})`);'
  else
    node -e '
      const ort = require("onnxruntime-node");
      const backends = ort.listSupportedBackends().map((b) => b.name);
      if (!backends.includes("cpu")) throw new Error(`onnxruntime-node has no CPU backend: ${backends}`);
      const sharp = require("sharp");
      sharp({ create: { width: 2, height: 2, channels: 3, background: "#ff0000" } }).png().toBuffer().then((png) => {
        console.log(`install.sh: onnxruntime-node loads (backends ${backends.join(", ")}); sharp ${sharp.versions.sharp} made a ${png.length}-byte PNG`);
      }, (err) => { console.error(err); process.exit(1); });'
  fi
}

# Every library the CUDA provider links against must resolve in this image (libcuda.so.1, the driver, comes from the
# host at run time through the NVIDIA container runtime). A CUDA major or cuDNN that does not match fails here.
check_cuda_libs() {
  local dir lib missing
  dir=$(ort_bin_dir)
  lib="$dir/libonnxruntime_providers_cuda.so"
  [[ -f "$lib" ]] || { echo "install.sh: $lib is missing" >&2; exit 1; }
  missing=$(LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$lib" | grep 'not found' | grep -v 'libcuda\.so\.1' || true)
  if [[ -n "$missing" ]]; then
    echo "install.sh: the CUDA provider needs libraries this image lacks (choose a CUDA_IMAGE with the CUDA major and cuDNN it was built for, docs/deploy.md \"Containers\"):" >&2
    echo "$missing" >&2
    exit 1
  fi
  log "the CUDA provider's libraries all resolve"
}

if [[ $mode == install ]]; then
  check_versions
  "install_$kind"
  drop_source_maps
  check_native
else
  check_native
  if [[ $cuda == 1 ]]; then check_cuda_libs; fi
fi
