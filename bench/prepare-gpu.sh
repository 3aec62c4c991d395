#!/usr/bin/env bash
# Prepares what `bench/gpu-compare.sh` needs on a GPU machine that has no Rust toolchain and no
# Vulkan loader, on this (build) machine, in the repository root:
#   .gpu/margan.xz                 the trainer (release, --features wgpu,ndarray: the build
#                                  ./test.sh makes, so nothing is rebuilt), stripped and xz-compressed
#                                  (a third smaller than gzip: four binaries fit a device call)
#   .gpu/matmul_kernel.xz,         the test binaries of the tiled products (every variant), of
#   .gpu/f16_matmul.xz,            the f16 ones with their effect on a penalised step, and of a
#   .gpu/wgpu_step.xz              penalised step on wgpu against the CPU (every WGSL kernel of a
#                                  step: BatchNorm, losses, critic batch, norms; same build)
#   .gl/*.deb                      the Vulkan/EGL loader packages (amd64), unless already there
# Then, on the GPU machine (carrying .gpu and .gl):  bash bench/gpu-compare.sh 20 SECONDS
# `--fusion` also builds .gpu/margan-fusion.xz (burn's fusion, a separate target directory:
# ~20 min the first time on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
features=margan-trainer/wgpu,margan-trainer/ndarray
# Start clean: a stale binary left from an older build would be carried and run.
rm -rf .gpu && mkdir -p .gpu

echo "== trainer (release, $features) =="
cargo build --release -p margan-trainer --features wgpu,ndarray
strip -o .gpu/margan target/release/margan
xz -9 -f .gpu/margan

tests="matmul_kernel f16_matmul wgpu_step"
echo "== test binaries: $tests =="
# cargo names each test executable in its JSON messages; take those asked for.
cargo test --release --workspace --features "$features" --no-run \
    $(printf -- '--test %s ' $tests) --message-format=json-render-diagnostics \
    | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    exe = m.get("executable")
    if m.get("reason") == "compiler-artifact" and exe and m["target"]["name"] in sys.argv[1:]:
        print(m["target"]["name"], exe)
' $tests | while read -r name exe; do
    strip -o ".gpu/$name" "$exe"
    xz -9 -f ".gpu/$name"
done
for t in $tests; do
    [ -f ".gpu/$t.xz" ] || { echo "missing .gpu/$t.xz"; exit 1; }
done

if [ "${1:-}" = "--fusion" ]; then
    echo "== trainer with burn's fusion (separate target dir) =="
    CARGO_TARGET_DIR=${FUSION_TARGET:-/tmp/fusion-target} \
        cargo build --release -p margan-trainer --features wgpu,fusion
    strip -o .gpu/margan-fusion "${FUSION_TARGET:-/tmp/fusion-target}/release/margan"
    xz -9 -f .gpu/margan-fusion
fi

if ! ls .gl/*.deb >/dev/null 2>&1; then
    echo "== Vulkan/EGL loader packages (amd64) into .gl =="
    mkdir -p .gl /tmp/amd64/partial
    o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${o[@]}" update
    (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
ls -la .gpu .gl
total=$(du -cb .gpu .gl | tail -1 | cut -f1)
echo "carried: $((total / 1048576)) MiB (a device call carries at most 64 MiB)"
if [ "$total" -gt $((62 * 1048576)) ]; then
    echo "too much to carry: leave out .gpu/margan-fusion.xz or the test binaries"
    exit 1
fi
echo "ready: run \`bash bench/gpu-compare.sh 20 300\` on the GPU machine, carrying .gpu and .gl"
