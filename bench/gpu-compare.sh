#!/usr/bin/env bash
# The whole GPU comparison of issue #9 in one call on the GPU machine: margan (burn's and the
# GEMM convolutions) and its PyTorch twin on the same GPU, the full iteration and every
# convolution alone, then CubeCL's kernel-by-kernel profile of one margan iteration.
#
# Prepare on the build machine (repository root):
#   cargo build --release -p margan-trainer --features wgpu    (burn autotune on: the warm-up
#   iterations below also tune every matmul and convolution shape)
#   mkdir -p .gpu && strip -o .gpu/margan target/release/margan && gzip -f .gpu/margan
#   optional, the experimental fusion build as .gpu/margan-fusion.gz (same recipe with
#   `--features wgpu,fusion`; a separate target dir avoids rebuilding the other one)
#   Vulkan loader packages into .gl/ (../shared/notes/toolchain.md, "A GPU machine")
# Run there, carrying .gpu and .gl:   bash bench/gpu-compare.sh [ITERATIONS]
set -uo pipefail
cd "$(dirname "$0")/.."
iters=${1:-20}
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
gunzip -c .gpu/margan.gz >/tmp/margan && chmod +x /tmp/margan || { echo "no .gpu/margan.gz: build it first (see the top of $0)"; exit 1; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true

echo "== full iteration: margan =="
/tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv gemm,burn \
    --batch 64,256 --penalty none,l2,linf --warmup 3 --iterations "$iters" --phases
echo "== full iteration: PyTorch =="
python3 bench/torch_dcgan32.py --device cuda --batches 64,256 --penalties none,l2,linf \
    --warmup 10 --iterations "$((iters * 5))"
echo "== kernels: row norms vs plain tensors, BatchNorm kernels vs tensor ops, fused Adam vs burn's Adam =="
/tmp/margan bench --kernels --device wgpu --iterations "$iters"
echo "== per convolution: margan =="
/tmp/margan bench --layers --device wgpu --conv gemm,burn --batch 64,256 --iterations "$iters"
if [ -f .gpu/margan-fusion.gz ]; then
    echo "== full iteration: margan with burn's fusion (experimental) =="
    gunzip -c .gpu/margan-fusion.gz >/tmp/margan-fusion && chmod +x /tmp/margan-fusion
    /tmp/margan-fusion bench --preset cifar10-hinge-linf-hinge --device wgpu --conv gemm \
        --batch 64,256 --penalty none,linf --warmup 3 --iterations "$iters"
fi
echo "== per convolution: cuDNN, TF32 off =="
python3 bench/torch_dcgan32.py --device cuda --layers --batches 64,256 --iterations "$iters"
echo "== kernel profile: one b64 L-inf iteration (gemm), CubeCL timing every kernel =="
# What the GPU runs per iteration and how many launches: if kernels add up to far less than
# the iteration's wall time, launches and host work (not the kernels) are what to cut.
prof=$(mktemp -d)
python3 bench/kernel_profile.py --setup "$prof" >/dev/null
(cd "$prof" && /tmp/margan bench --preset cifar10-hinge-linf-hinge --device wgpu --conv gemm \
    --batch 64 --penalty linf --warmup 3 --iterations 1 --phases) | tail -3
python3 bench/kernel_profile.py "$prof/kernels.log" --table -9 --top 20
python3 bench/kernel_profile.py "$prof/kernels.log" --phases
if [ -n "${OUT:-}" ]; then cp "$prof/kernels.log" "$OUT/kernels-gemm.log"; fi
if [ -f .gpu/margan-fusion.gz ]; then
    echo "== kernel profile: the same iteration with burn's fusion =="
    python3 bench/kernel_profile.py --setup "$prof" >/dev/null   # a fresh log (see --setup)
    (cd "$prof" && /tmp/margan-fusion bench --preset cifar10-hinge-linf-hinge --device wgpu \
        --conv gemm --batch 64 --penalty linf --warmup 3 --iterations 1 --phases) | tail -3
    python3 bench/kernel_profile.py "$prof/kernels.log" --phases
    if [ -n "${OUT:-}" ]; then cp "$prof/kernels.log" "$OUT/kernels-fusion.log"; fi
fi
