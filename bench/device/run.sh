#!/bin/bash
# Runs on a lent machine (see prepare.sh): unpacks Node and node_modules, picks the native
# kernels this CPU can run, then bench:scaling, bench:kernels and bench:peer as JSON into $OUT.
cd "$(dirname "$0")/../.."
set -x
unxz() { xz -dc "$1" 2>/dev/null || python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)" "$1"; }
unxz .device/node.xz > /tmp/node && chmod +x /tmp/node
mkdir -p node_modules && unxz .device/nm.tar.xz | tar xf - -C node_modules
mkdir -p build/Release
if grep -qw avx512f /proc/cpuinfo; then v=v4; else v=v3; fi
cp .device/native-$v.node build/Release/streamroll_native.node
{ lscpu; nproc; /tmp/node --version; echo "native build x86-64-$v"; } > "$OUT/machine.txt" 2>&1
timeout 300 /tmp/node dist/bench/scaling.js --json > "$OUT/scaling.json" 2> "$OUT/scaling.err"; echo "scaling rc $?"
timeout 200 /tmp/node dist/bench/kernels.js --json > "$OUT/kernels.json" 2> "$OUT/kernels.err"; echo "kernels rc $?"
timeout 200 /tmp/node dist/bench/peer.js --json > "$OUT/peer.json" 2> "$OUT/peer.err"; echo "peer rc $?"
tail -n 3 "$OUT/scaling.err" "$OUT/kernels.err" "$OUT/peer.err"
