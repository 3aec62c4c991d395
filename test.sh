#!/usr/bin/env bash
# Runs every test of margan: the workspace's unit and integration tests (CPU backend) and the
# wasm32 build of the library. Installs what a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")"
step() { printf '\n== %s ==\n' "$*"; }

step "cargo test (workspace, release)"
cargo test --release --workspace

step "wasm32-unknown-unknown build of the margan crate"
.ci/wasm-check

step "all tests passed"
