#!/usr/bin/env bash
# One-call GPU benchmark of visioneval against PyTorch, for a lent machine
# with an NVIDIA GPU (Linux x86-64, python3 with torch + torchvision, no
# network). In one run, under 8 minutes:
#   - checks that Deno's WebGPU sees a hardware adapter (GPU kernel path);
#   - writes random-init torchvision ResNet-50, ViT-B/16 and ConvNeXt-T
#     weights, a fixed input and PyTorch's logits (bench/gpu/torch_models.py);
#   - PyTorch eager fp32 images/s (TF32 off, cudnn.benchmark on) and
#     visioneval images/s at batch 1, 32 and 128; logits of both engines
#     compared (fails above 1e-3 relative); GEMM 4096^3 GFLOP/s; one metrics
#     pass over 1,000,000 x 1,000 logits (bench/gpu/visioneval_run.ts);
#   - prints one table; writes table.md, results.json, torch.json, info.json
#     and log.txt under $OUT (default out/gpu-bench).
#
# Prepare once, on an x86-64 Linux machine, in the repo root (.device/ is
# git-ignored; it travels with the call as a carried path):
#   mkdir -p .device
#   xz -T0 -6 -c "$(command -v deno)" > .device/deno.xz   # the Deno that runs visioneval (~35 MB)
#   (cd .device && apt-get download libvulkan1)            # the Vulkan loader, if the GPU machine lacks it
#   mkdir -p .device/node_modules && for p in $(ls -A node_modules | grep -vxE \
#     'deno|@deno|@types|undici-types|\.bin'); do cp -rL node_modules/$p .device/node_modules/; done
#     # the npm dependencies without Deno itself, ~13 MB
# Then, through the device tool (from the repo root, 540 s leaves a margin):
#   run(command="bash bench/gpu/run.sh", carry=[".device"], timeout_s=540)
# and record the printed table in bench/RESULTS.md with the device named.
#
# Dry run on a software adapter (small sizes; here, without a GPU):
#   DRY_RUN=1 ALLOW_SOFTWARE=1 bash bench/gpu/run.sh
# Knobs: MODELS, BATCHES, ITERATIONS, GEMM_N, METRICS_ROWS, KERNELS
# (software|gpu|auto, passed as VISIONEVAL_KERNELS), WEIGHTS (f32|f16: linear
# weight storage, passed as VISIONEVAL_WEIGHTS), PYTHON (one with torch,
# default python3), WORK (scratch folder).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT="${OUT:-out/gpu-bench}"
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
t_start=$(date +%s)

if [ -n "${DRY_RUN:-}" ]; then
  BATCHES="${BATCHES:-1,2}"; ITERATIONS="${ITERATIONS:-1}"; GEMM_N="${GEMM_N:-256}"
  METRICS_ROWS="${METRICS_ROWS:-20000}"; PY_ITERATIONS=1
else
  BATCHES="${BATCHES:-1,32,128}"; ITERATIONS="${ITERATIONS:-10}"; GEMM_N="${GEMM_N:-4096}"
  METRICS_ROWS="${METRICS_ROWS:-1000000}"; PY_ITERATIONS=10
fi
MODELS="${MODELS:-resnet50,vit_b_16,convnext_tiny}"
PYTHON="${PYTHON:-python3}"
WORK="${WORK:-/tmp/visioneval-gpu-bench}"
mkdir -p "$WORK"
[ -n "${KERNELS:-}" ] && export VISIONEVAL_KERNELS="$KERNELS"
[ -n "${WEIGHTS:-}" ] && export VISIONEVAL_WEIGHTS="$WEIGHTS"
export VISIONEVAL_CACHE_DIR="$WORK/cache"   # tilings tuned by this run only

# 1. Deno: the carried binary, else the one on PATH.
if [ -f .device/deno.xz ]; then
  xz -d -c .device/deno.xz > "$WORK/deno" && chmod +x "$WORK/deno"
  DENO="$WORK/deno"
elif command -v deno >/dev/null; then
  DENO="$(command -v deno)"
else
  echo "run.sh: no .device/deno.xz and no deno on PATH (see this script's header)" >&2
  exit 1
fi
echo "deno: $("$DENO" --version | head -1)"

# The npm dependencies (node_modules is git-ignored, so it does not travel).
if [ ! -e node_modules/imagescript ] && [ -d .device/node_modules ]; then
  rm -rf node_modules && ln -s .device/node_modules node_modules
fi

# 2. Vulkan: the carried loader where the machine has none; the NVIDIA driver's ICD.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  found=0
  for f in .device/*.deb; do [ -f "$f" ] && dpkg -x "$f" / && found=1; done
  ldconfig || true
  [ "$found" = 1 ] || echo "run.sh: no Vulkan loader on this machine and none in .device/" >&2
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nvidia_icd" ] &&
  ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES="$nvidia_icd"
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

# 3. The adapter Deno sees must be a GPU (or a dry run must allow software).
"$DENO" run -A cli.ts info --json > "$OUT/info.json"
"$PYTHON" - "$OUT/info.json" "${ALLOW_SOFTWARE:-}" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
a, k = info["adapter"], info["kernels"]
print(f"adapter: {a['description']} (vendor {a['vendor']}); kernels: {k['path']} ({k['reason']})")
software = a["isFallbackAdapter"] or k["reason"].startswith("software")
if software and not sys.argv[2]:
    sys.exit("run.sh: Deno sees a software adapter, not the GPU (check the Vulkan loader and "
             "VK_DRIVER_FILES); set ALLOW_SOFTWARE=1 for a dry run")
PY

# 4. PyTorch: weights, the compared input and logits, eager fp32 images/s.
"$PYTHON" bench/gpu/torch_models.py "$WORK/models" --models "$MODELS" --batches "$BATCHES" \
  --iterations "$PY_ITERATIONS"
cp "$WORK/models/torch.json" "$OUT/torch.json"

# 5. visioneval: logits compared, images/s, GEMM, metrics pass; one table.
"$DENO" run -A bench/gpu/visioneval_run.ts "$WORK/models" --models "$MODELS" \
  --batches "$BATCHES" --iterations "$ITERATIONS" --gemm "$GEMM_N" \
  --metrics-rows "$METRICS_ROWS" --classes 1000 --json "$OUT/results.json" | tee "$OUT/table.md"
echo "run.sh: done in $(( $(date +%s) - t_start )) s; results under $OUT"
