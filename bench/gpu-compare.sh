#!/usr/bin/env bash
# The whole GPU comparison of issue #9 in one call on the GPU machine: margan (the `tiled` and
# `gemm` convolution paths, burn's convolutions last) and its PyTorch twin on the same GPU, the
# full iteration and every convolution alone (margan's tables end with the ratios to PyTorch's
# and the targets of issue #9, met or not: `margan bench --against`), the matrix products the
# `tiled` path measured (burn's matmul and each variant of margan's kernel per shape), then
# CubeCL's kernel-by-kernel profile of one margan iteration.
#
# Prepare on the build machine (repository root): `bash bench/prepare-gpu.sh` (add --fusion for
# the experimental fusion build) writes .gpu/ — the trainer built as ./test.sh builds it (burn
# autotune on: the warm-up iterations below also tune every matmul and convolution shape) and the
# test binaries of the matrix products and of the step — and the Vulkan loader packages to .gl/
# (../shared/notes/toolchain.md, "A GPU machine").
# Run there, carrying .gpu and .gl:   bash bench/gpu-compare.sh [ITERATIONS] [SECONDS]
#
# BATCHES (default 64,256) and TORCH_DEVICE (default cuda) change what is run, for a dry run of
# this script on a machine without a GPU (e.g. lavapipe, batch 2, PyTorch on the CPU):
#   BATCHES=2 TORCH_DEVICE=cpu VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json \
#     bash bench/gpu-compare.sh 1
#
# Sections run most important first; with SECONDS (a GPU machine is lent for minutes), each
# section is cut at the deadline and the ones that no longer fit are skipped, saying so.
set -uo pipefail
cd "$(dirname "$0")/.."
iters=${1:-20}
budget=${2:-0}
export batches=${BATCHES:-64,256}
torch_device=${TORCH_DEVICE:-cuda}
start=$(date +%s)
# On the device machine everything written under $OUT comes back: keep the whole output there
# (the call's reply shows only its tail), and the kernel logs below.
if [ -n "${OUT:-}" ]; then
    exec > >(tee "$OUT/gpu-compare.txt") 2>&1
fi
if ! ldconfig -p | grep -q libvulkan; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
export PYTHONUNBUFFERED=1
# unxz_to FILE.xz OUT: with Python's lzma (the machine has Python for the PyTorch twin; xz
# itself may be missing).
unxz_to() {
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" \
        && chmod +x "$2"
}
unxz_to .gpu/margan.xz /tmp/margan || { echo "no .gpu/margan.xz: build it first (see the top of $0)"; exit 1; }
for t in matmul_kernel f16_matmul wgpu_step; do
    [ -f ".gpu/$t.xz" ] && unxz_to ".gpu/$t.xz" "/tmp/$t"
done
fusion=false
if [ -f .gpu/margan-fusion.xz ]; then
    unxz_to .gpu/margan-fusion.xz /tmp/margan-fusion && fusion=true
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true

# section TITLE MAX_SECONDS COMMAND...: runs COMMAND under the smaller of MAX_SECONDS and what
# is left of the budget; prints how long it took.
section() {
    local title=$1 max=$2
    shift 2
    local now left t0
    now=$(date +%s)
    if [ "$budget" -gt 0 ]; then
        left=$((budget - (now - start)))
        if [ "$left" -lt 15 ]; then
            echo "== $title: skipped, ${left}s of the ${budget}s budget left =="
            return
        fi
        [ "$left" -lt "$max" ] && max=$left
    fi
    echo "== $title (at most ${max}s) =="
    t0=$(date +%s)
    if declare -F "$1" >/dev/null; then
        timeout "$max" bash -c '"$@"' _ "$@"   # a function of this script (exported below)
    else
        timeout "$max" "$@"
    fi
    local rc=$?
    [ $rc -eq 124 ] && echo "   (cut at ${max}s)"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "   (exit status $rc)"
    echo "   [$(($(date +%s) - t0))s]"
}

profile() { # BINARY PATH [TUNING]: CubeCL's timing of every kernel in one L-inf iteration (the first batch)
    local prof tuning=${3:-measure}
    prof=$(mktemp -d)
    python3 bench/kernel_profile.py --setup "$prof" >/dev/null
    (cd "$prof" && "$1" bench --preset cifar10-hinge-linf-hinge --device wgpu --conv "$2" \
        --matmul-tuning "$tuning" --batch "${batches%%,*}" --penalty linf --warmup 3 \
        --iterations 1 --phases) | tail -3
    python3 bench/kernel_profile.py "$prof/kernels.log" --table -9 --top 20
    python3 bench/kernel_profile.py "$prof/kernels.log" --phases
    if [ -n "${OUT:-}" ]; then cp "$prof/kernels.log" "$OUT/kernels-$(basename "$1")-$2-$tuning.log"; fi
}
export -f profile

# Sections in the order of what is still open (issue #9, after stop 26): the iteration, the
# per-convolution target, the GPU-only tests, then what was measured before.
# PyTorch first: its rows (--json) let margan's bench print the ratios and the targets of
# issue #9 (--against) right under its own table.
section "full iteration: PyTorch" 90 \
    python3 bench/torch_dcgan32.py --device "$torch_device" --batches "$batches" --penalties none,l2,linf \
    --warmup 10 --iterations "$((iters * 5))" --json /tmp/torch-iteration.json
# `--against FILE` when the PyTorch section wrote FILE.
against() { [ -s "$1" ] && echo --against "$1"; }
section "full iteration: margan, tiled GEMM convolutions (products measured per shape)" 100 \
    /tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv tiled \
    --batch "$batches" --penalty none,l2,linf --warmup 3 --iterations "$iters" --phases --matmul \
    $(against /tmp/torch-iteration.json)
# Each op's time: the mean of 10 launches between two waits on the device, on both sides (a
# lone op waited on also pays the round trip, which an iteration does not). margan's also says
# what share of each op the host spent issuing it.
section "per convolution: cuDNN, TF32 off" 60 \
    python3 bench/torch_dcgan32.py --device "$torch_device" --layers --batches "$batches" --iterations "$iters" \
    --repeat 10 --json /tmp/torch-layers.json
section "per convolution: margan" 60 \
    /tmp/margan bench --layers --device wgpu --conv tiled --batch "$batches" --iterations "$iters" \
    --repeat 10 $(against /tmp/torch-layers.json)
# Every variant of the f32 kernel as this GPU's driver compiles it (the tuner may pick any), the
# f16 products (the emulation's rounding first: it failed on NVIDIA at stop 26), and a penalised
# step on this GPU against the CPU (every other WGSL kernel of a step). Each binary in a section
# of its own, so that a slow one does not take the others' time.
gpu_test() { # NAME [FILTER]
    [ -x "/tmp/$1" ] || { echo "no .gpu/$1.xz: tests not carried (bench/prepare-gpu.sh)"; return; }
    MARGAN_REQUIRE_GPU=1 "/tmp/$1" ${2:+"$2"} --nocapture 2>&1 | grep -E "SKIPPED|f16|test |panicked|result|relative|bits"
}
export -f gpu_test
section "tests: the f16 emulation on this GPU" 40 gpu_test f16_matmul f16_emulated
section "tests: every f32 kernel variant on this GPU" 60 gpu_test matmul_kernel
section "tests: a penalised step on this GPU against the CPU" 60 gpu_test wgpu_step
section "full iteration: PyTorch with TF32 off (convolutions in f32, as margan's)" 30 \
    python3 bench/torch_dcgan32.py --device "$torch_device" --fp32 --batches "$batches" --penalties linf \
    --warmup 10 --iterations "$((iters * 5))"
# Host work: CubeCL submits a command buffer every 32 launches (CUBECL_WGPU_MAX_TASKS). Fewer,
# longer ones cost the host less per launch (on lavapipe, 17 against 23 ms of the runtime
# thread per b1 iteration with 512) but let the GPU start later; which wins here?
tasks() { for t in 128 512; do echo "CUBECL_WGPU_MAX_TASKS=$t"; CUBECL_WGPU_MAX_TASKS=$t "$@" | tail -2; done; }
export -f tasks
section "full iteration: margan tiled, 128 and 512 launches per command buffer (default 32)" 60 \
    tasks /tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv tiled \
    --batch "$batches" --penalty linf --warmup 3 --iterations "$iters"
# What the GPU runs per iteration and how many launches: if kernels add up to far less than
# the iteration's wall time, launches and host work (not the kernels) are what to cut.
section "kernel profile: one L-inf iteration (tiled, the first batch), CubeCL timing every kernel" 60 \
    profile /tmp/margan tiled
section "tests: the f16 tensor-core and f16x3 products and steps on this GPU" 90 gpu_test f16_matmul
section "full iteration: margan, the gemm path (burn's matmul for every product)" 90 \
    /tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv gemm \
    --batch "$batches" --penalty none,linf --warmup 3 --iterations "$iters"
section "full iteration: margan with f16 tensor-core products among the measured (experimental)" 90 \
    /tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv tiled \
    --matmul-tuning measure-f16 --batch "$batches" --penalty linf --warmup 3 --iterations "$iters" \
    $(against /tmp/torch-iteration.json)
section "full iteration: margan tiled with the fixed rule of stop 10 (64x64 kernel for thin products)" 60 \
    /tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv tiled \
    --matmul-tuning heuristic --batch "$batches" --penalty linf --warmup 3 --iterations "$iters"
section "full iteration: margan tiled, critic passes per batch against one pass" 60 \
    /tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv tiled \
    --critic-pass separate,one --batch "$batches" --penalty linf --warmup 3 --iterations "$iters"
if $fusion; then
    section "full iteration: margan with burn's fusion (experimental)" 120 \
        /tmp/margan-fusion bench --preset cifar10-hinge-linf-hinge --device wgpu --conv tiled \
        --batch "$batches" --penalty none,linf --warmup 3 --iterations "$iters"
fi
section "kernels: row norms, BatchNorm, activation and Adam kernels vs tensor ops" 60 \
    /tmp/margan bench --kernels --device wgpu --iterations "$iters"
section "full iteration: margan, burn's own convolutions" 150 \
    /tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv burn \
    --batch "$batches" --penalty none,linf --warmup 2 --iterations "$((iters / 2 > 0 ? iters / 2 : 1))"
if $fusion; then
    section "kernel profile: the same iteration with burn's fusion" 60 profile /tmp/margan-fusion tiled
fi
echo "== done in $(($(date +%s) - start))s =="
