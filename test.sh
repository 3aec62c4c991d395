#!/usr/bin/env bash
# Runs every test of margan: the workspace's unit and integration tests, built once with the
# trainer's wgpu and ndarray features (CPU-backend tests, and the WGSL kernels and a penalised
# step on wgpu, on Mesa's lavapipe without a GPU), one step of the GPU trainer, then
# the browser app: its wasm32 build with trunk (the margan crate with CPU and WebGPU backends
# inside), its wasm-bindgen-test unit tests and the end-to-end test in headless Chromium
# (WebGPU and CPU). Installs what a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")"
step() { printf '\n== %s ==  [%s]\n' "$*" "$(date +%T)"; }
start=$(date +%s)

step "Vulkan adapter for the wgpu tests"
source .ci/wgpu-env

step "browser app's tools: installing what is missing, in the background (.ci/app-tools)"
mkdir -p target
.ci/app-tools > target/app-tools.log 2>&1 &
tools=$!
# If a step below fails, do not leave the installation running.
trap 'pkill -P "$tools" 2>/dev/null; kill "$tools" 2>/dev/null; true' EXIT

step "cargo test (workspace, release, the trainer's wgpu and ndarray features)"
# The trainer as GPU users build it (`--features wgpu`: margan's wgpu backend with burn's
# autotune), plus ndarray: burn's ndarray CPU backend, checked against flex and benchmarked
# beside it (`bench --device cpu,ndarray`). One build for all: a second build with other burn
# features would recompile burn's GPU crates and everything above them (~10 min on 2 cores).
# The wgpu tests therefore run under autotune, whose first-use timing of candidate kernels
# costs ~3 min on lavapipe.
cargo test --release --workspace --features margan-trainer/wgpu,margan-trainer/ndarray

step "the GPU trainer a user builds (--features wgpu), one penalised step on wgpu"
# Already built by the tests above (same features); the build below only confirms it is fresh.
# On lavapipe, autotune's first-use timing of every candidate kernel takes ~1.5 min.
cargo build --release -p margan-trainer --features wgpu,ndarray
# It runs with CubeCL's kernel profile on (bench/kernel_profile.py --setup writes the
# cubecl.toml in its working directory), which that script, run by bench/gpu-compare.sh on a
# GPU, must then be able to sum.
prof=target/kernel-profile
rm -rf "$prof" && mkdir -p "$prof"
have_python=$(command -v python3 || true)
[ -n "$have_python" ] && python3 bench/kernel_profile.py --setup "$prof"
(cd "$prof" && ../release/margan bench --device wgpu --preset shapes --batch 8 --penalty linf \
  --warmup 1 --iterations 1) | tee target/gpu-trainer-smoke.log
grep -q "autotune on" target/gpu-trainer-smoke.log
if [ -n "$have_python" ]; then
  python3 bench/kernel_profile.py "$prof/kernels.log" --top 8 | tee target/kernel-profile.txt
  grep -Eq "^all kernels +[1-9][0-9]+ " target/kernel-profile.txt
else
  echo "SKIPPED the kernel-profile summary check: python3 is not installed (bench/kernel_profile.py needs it)"
fi
# On a software adapter (lavapipe here), `--device auto` must pick the CPU and say why.
if grep -q "software rasterizer" target/gpu-trainer-smoke.log; then
  target/release/margan bench --preset shapes --batch 8 --penalty none --warmup 1 --iterations 1 \
    | tee target/auto-device.log
  grep -q "device cpu (flex); the wgpu adapter .* is a software rasterizer" target/auto-device.log
else
  echo "SKIPPED the --device auto check on a software adapter: this machine's adapter is hardware"
fi

step "browser app's tools"
if ! wait "$tools"; then
  cat target/app-tools.log
  echo "test.sh: installing the browser app's tools failed (log above)" >&2
  exit 1
fi
trap - EXIT
cat target/app-tools.log

step "browser app: trunk build, unit tests, end-to-end in headless Chromium"
.ci/app-check

step "all tests passed in $(( $(date +%s) - start )) s"
