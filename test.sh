#!/usr/bin/env bash
# Runs every test of margan: the workspace's unit and integration tests, built once with the
# trainer's wgpu and ndarray features (CPU-backend tests, and the WGSL kernels and a penalised
# step on wgpu, on Mesa's lavapipe without a GPU), one step of the GPU trainer, the f16
# tensor-core tests on a newer lavapipe that has cooperative matrices (.ci/coop-lavapipe), then
# the browser app: its wasm32 build with trunk (the margan crate with CPU and WebGPU backends
# inside), its wasm-bindgen-test unit tests and the end-to-end test in headless Chromium
# (WebGPU and CPU). Installs what a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")"
step() { printf '\n== %s ==  [%s]\n' "$*" "$(date +%T)"; }
start=$(date +%s)

step "Vulkan adapter for the wgpu tests"
source .ci/wgpu-env

step "browser app's tools and a lavapipe with cooperative matrices: installing what is missing, in the background (.ci/app-tools, .ci/coop-lavapipe)"
mkdir -p target
.ci/app-tools > target/app-tools.log 2>&1 &
tools=$!
.ci/coop-lavapipe --setup > target/coop-lavapipe.log 2>&1 &
coop=$!
# If a step below fails, do not leave the installations running.
trap 'pkill -P "$tools" 2>/dev/null; pkill -P "$coop" 2>/dev/null; kill "$tools" "$coop" 2>/dev/null; true' EXIT

step "PyTorch for the tests that check margan against it (.ci/torch-env)"
source .ci/torch-env

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

step "the f16 tensor-core product on cooperative matrices (Mesa 26's lavapipe, .ci/coop-lavapipe)"
# Debian 12's lavapipe has no cooperative matrices, so tests/f16_matmul.rs skips its tensor-core
# tests above; here the same test binary runs on sid's lavapipe, which has them (8×8×8 f16),
# and must not skip.
coop_rc=0
wait "$coop" || coop_rc=$?
cat target/coop-lavapipe.log
if [ "$coop_rc" = 3 ]; then
  echo "SKIPPED the tensor-core tests on cooperative matrices: .ci/coop-lavapipe could not set up (reason above)"
elif [ "$coop_rc" != 0 ]; then
  echo "test.sh: .ci/coop-lavapipe --setup failed (log above)" >&2
  exit 1
else
  f16_bin=$(cargo test --release --workspace --features margan-trainer/wgpu,margan-trainer/ndarray \
    --test f16_matmul --no-run 2>&1 | grep -o 'target/release/deps/f16_matmul-[0-9a-f]*' | head -1)
  .ci/coop-lavapipe "$f16_bin" --test-threads 1 --nocapture 2>&1 | tee target/coop-f16.log
  grep -q "^test result: ok\. " target/coop-f16.log
  if grep -q "SKIPPED" target/coop-f16.log; then
    echo "test.sh: a tensor-core test skipped on a lavapipe that has cooperative matrices" >&2
    exit 1
  fi
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
