#!/usr/bin/env bash
# bench/registry-server.sh - push and pull of an image with one 200 MiB random (incompressible)
# gzip layer through berth's registry server and Debian's docker-registry (distribution 2.8),
# with skopeo on loopback, plus each server's peak RSS (VmHWM).
#   * the image is an OCI layout made here (random data in a tar, gzip -1), so skopeo copies
#     the blobs as they are and neither side spends time compressing;
#   * per trial each server starts with an empty root: push = skopeo copy oci: -> docker://,
#     pull = skopeo copy docker:// -> a fresh oci: dir; shell clock, medians reported;
#   * docker-registry runs as in ../shared/peers-bench/50-registry.sh (filesystem storage in a
#     temp dir, inmemory blob descriptor cache, delete enabled, loopback).
# Usage: bash bench/registry-server.sh   (needs target/release/berth: cargo build --release;
#   SIZE_MIB=200 TRIALS=5 BERTH_ADDR=127.0.0.1:5091 REG_ADDR=127.0.0.1:5092)
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BERTH=${BERTH:-$repo/target/release/berth}
REGISTRY=${REGISTRY:-/usr/bin/docker-registry}
SIZE_MIB=${SIZE_MIB:-200}
TRIALS=${TRIALS:-5}
BERTH_ADDR=${BERTH_ADDR:-127.0.0.1:5091}
REG_ADDR=${REG_ADDR:-127.0.0.1:5092}
for t in "$BERTH" "$REGISTRY" skopeo python3 curl; do
    command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
W=$(mktemp -d "${TMPDIR:-/tmp}/berth-regbench.XXXXXX")
PID=""
stop() {
    [ -n "$PID" ] || return 0
    kill "$PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=""
}
trap 'stop; rm -rf "$W"' EXIT
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$W/policy.json"

# The image: one gzip'd tar of random bytes.
mkdir -p "$W/ctx" "$W/src/blobs/sha256"
head -c "${SIZE_MIB}M" /dev/urandom > "$W/ctx/rand"
tar -C "$W/ctx" -cf "$W/layer.tar" rand
rm -f "$W/ctx/rand"
python3 - "$W" <<'PY'
import gzip, hashlib, json, os, shutil, sys
w = sys.argv[1]
blobs = os.path.join(w, "src/blobs/sha256")
def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
diff_id = sha(os.path.join(w, "layer.tar"))
gz = os.path.join(w, "layer.tar.gz")
with open(os.path.join(w, "layer.tar"), "rb") as i, gzip.open(gz, "wb", compresslevel=1) as o:
    shutil.copyfileobj(i, o, 1 << 20)
os.remove(os.path.join(w, "layer.tar"))
layer = sha(gz)
os.rename(gz, os.path.join(blobs, layer))
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return d, len(data)
cfg, cfg_size = put(json.dumps({"architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]}}).encode())
man, man_size = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cfg, "size": cfg_size},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + layer,
                "size": os.path.getsize(os.path.join(blobs, layer))}]}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:" + man, "size": man_size, "annotations": {"org.opencontainers.image.ref.name": "big"}}]},
    open(os.path.join(w, "src/index.json"), "w"))
open(os.path.join(w, "src/oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
echo "image: $(du -sb "$W/src" | cut -f1) bytes in the OCI layout"

cat > "$W/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $W/data
  delete:
    enabled: true
http:
  addr: $REG_ADDR
YML

start() { # start NAME
    rm -rf "$W/data"; mkdir -p "$W/data"
    case $1 in
        berth) "$BERTH" registry serve --addr "$BERTH_ADDR" --root "$W/data" --log-level warn >>"$W/server.log" 2>&1 </dev/null & ;;
        docker-registry) "$REGISTRY" serve "$W/config.yml" >>"$W/server.log" 2>&1 </dev/null & ;;
    esac
    PID=$!
    for _ in $(seq 1 100); do
        curl -fs "http://$ADDR/v2/" >/dev/null && return 0
        sleep 0.1
    done
    echo "$1 did not start" >&2; tail "$W/server.log" >&2; return 1
}
timed() { # prints seconds of the command
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>>"$W/skopeo.log" || { echo "failed: $*" >&2; tail -3 "$W/skopeo.log" >&2; return 1; }
    t1=$(date +%s.%N)
    python3 -c "print('%.3f' % ($t1 - $t0))"
}
median() { python3 -c 'import sys, statistics; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

for name in berth docker-registry; do
    case $name in berth) ADDR=$BERTH_ADDR ;; *) ADDR=$REG_ADDR ;; esac
    push=(); pull=(); rss=()
    for _ in $(seq 1 "$TRIALS"); do
        start "$name" || exit 1
        sync
        push+=("$(timed skopeo --policy "$W/policy.json" copy --dest-tls-verify=false "oci:$W/src:big" "docker://$ADDR/bench/big:1")") || exit 1
        rm -rf "$W/out"
        sync
        pull+=("$(timed skopeo --policy "$W/policy.json" copy --src-tls-verify=false "docker://$ADDR/bench/big:1" "oci:$W/out:big")") || exit 1
        rss+=("$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")")
        stop
    done
    mb=$(python3 -c "print('%.1f' % ($SIZE_MIB * 1.048576))")
    echo "$name: push median $(median "${push[@]}") s [${push[*]}], pull median $(median "${pull[@]}") s [${pull[*]}] (~$mb MB each way), peak RSS median $(median "${rss[@]}") KiB [${rss[*]}]"
done
