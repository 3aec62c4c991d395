#!/usr/bin/env bash
# Runs every test of margan: the workspace's unit and integration tests (CPU backend), the wgpu
# tests (WGSL kernels; Mesa's lavapipe without a GPU) and the wasm32 build of the library
# (CPU and WebGPU backends). Installs what a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")"
step() { printf '\n== %s ==\n' "$*"; }

step "cargo test (workspace, release)"
cargo test --release --workspace

step "wgpu tests: WGSL kernels vs references, a penalised step on wgpu vs CPU"
.ci/wgpu-check

step "wasm32-unknown-unknown build of the margan crate (CPU + WebGPU)"
.ci/wasm-check

step "all tests passed"
