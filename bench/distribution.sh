#!/usr/bin/env bash
# bench/distribution.sh - push, pull and save/load of an image with one 200 MiB random
# (incompressible) layer, berth side by side with dockerd and skopeo in one run (issue 6):
#   * the image: busybox plus /rand (SIZE_MIB of /dev/urandom); dockerd builds it with
#     `FROM busybox` + `COPY rand /rand` (as peers-bench's 50-registry.sh), berth with
#     create + cp + commit of the same file: two layers each, the same content;
#   * per trial and per engine a registry with empty storage on REG_ADDR: Debian's
#     docker-registry (distribution 2.8, as 50-registry.sh runs it), then berth's own
#     `berth registry serve`: push (timed), rmi, pull (timed); skopeo copy docker:// -> oci:
#     from docker-registry as the reference client;
#   * save -o and load -i (image absent) of the image, berth and dockerd.
# MB/s = the registry's blob bytes (config + compressed layers, from the pushed manifest) / s.
# Only loopback traffic. Usage: sudo bash bench/distribution.sh   (TRIALS=5, SIZE_MIB=200,
# REG_ADDR=127.0.0.1:5093; KEEP_PEERS=1 leaves dockerd running). Log:
# $RESULTS/berth-distribution.txt.
set -u -o pipefail
BENCH_NAME=distbench BENCH_BRIDGE=bdb0 BENCH_BIP=10.80.0.1/24
. "$(dirname "$0")/berth-daemon.sh"
SIZE_MIB=${SIZE_MIB:-200}
REG_ADDR=${REG_ADDR:-127.0.0.1:5093}
IMG=$REG_ADDR/bench-big:latest
out=$RESULTS/berth-distribution.txt
: > "$out"
say() { echo "$*" | tee -a "$out"; }
W=$bdir/work
mkdir -p "$W"
REGPID=""

start_registry() { # docker-registry|berth
    rm -rf "$W/reg"; mkdir -p "$W/reg"
    if [ "$1" = berth ]; then
        "$BERTH" registry serve --addr "$REG_ADDR" --root "$W/reg" >>"$W/registry.log" 2>&1 </dev/null &
    else
        cat > "$W/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $W/reg
  delete:
    enabled: true
http:
  addr: $REG_ADDR
YML
        "$REGISTRY" serve "$W/config.yml" >>"$W/registry.log" 2>&1 </dev/null &
    fi
    REGPID=$!
    for _ in $(seq 1 100); do
        curl -fs "http://$REG_ADDR/v2/" >/dev/null && return 0
        sleep 0.1
    done
    log "registry $1 did not start"; tail "$W/registry.log" >&2; return 1
}
stop_registry() {
    [ -n "$REGPID" ] || return 0
    kill "$REGPID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$REGPID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$REGPID" 2>/dev/null
    wait "$REGPID" 2>/dev/null
    REGPID=""
}
blob_bytes() { # bytes of config + layers of the pushed manifest
    python3 - "$REG_ADDR" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request("http://%s/v2/bench-big/manifests/latest" % sys.argv[1], headers={
    "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
m = json.load(urllib.request.urlopen(req))
print(m["config"]["size"] + sum(l["size"] for l in m["layers"]))
PY
}

cleanup() {
    set +e
    stop_registry
    timeout 10 "$DOCKER" rmi "$IMG" >/dev/null 2>&1
    [ "${KEEP_PEERS:-0}" = 1 ] || "$peers/99-teardown.sh" >"$RESULTS/dist-99-teardown.log" 2>&1
    berth_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

"$peers/00-setup.sh" >"$RESULTS/dist-00-setup.log" 2>&1 || { log "peers setup failed (see $RESULTS/dist-00-setup.log)"; exit 1; }
build_berth || exit 1
berth_start || exit 1
B import "$PEERS_STATE/busybox-rootfs.tar" busybox:latest >/dev/null || { log "berth import failed"; exit 1; }

say "# berth distribution benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
say "dockerd $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null), docker-registry $(dpkg-query -W -f='${Version}' docker-registry), skopeo $("$SKOPEO" --version | awk '{print $3}')"
say "load at start: $(cat /proc/loadavg)"

# the image, the same /rand for both engines
mkdir -p "$W/ctx"
head -c "${SIZE_MIB}M" /dev/urandom > "$W/ctx/rand"
printf 'FROM busybox\nCOPY rand /rand\n' > "$W/ctx/Dockerfile"
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$IMG" "$W/ctx" >/dev/null || { log "docker build failed"; exit 1; }
B create --name bench-mk busybox true >/dev/null && B cp "$W/ctx/rand" bench-mk:/rand &&
    B commit bench-mk "$IMG" >/dev/null && B rm bench-mk >/dev/null || { log "berth image failed"; exit 1; }
rm -f "$W/ctx/rand"
say "image $IMG: dockerd $("$DOCKER" image inspect -f '{{.Size}}' "$IMG") bytes, berth $(B image inspect -f '{{.Size}}' "$IMG") bytes"

data=$W/times.tsv
: > "$data"
row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$data"; } # name seconds bytes
for t in $(seq 1 "$TRIALS"); do
    log "trial $t/$TRIALS"
    for server in docker-registry berth; do
        # berth, then dockerd, each against an empty registry
        for eng in berth dockerd; do
            if [ $eng = berth ]; then E=("$BERTH" -H "unix://$bsock"); else E=("$DOCKER"); fi
            stop_registry; start_registry $server || exit 1
            sync; sleep 1
            s=$(timed "${E[@]}" push "$IMG") || say "$eng push to $server failed (trial $t)"
            bytes=$(blob_bytes)
            row "$eng-push-$server" "$s" "$bytes"
            "${E[@]}" rmi "$IMG" >/dev/null
            sync; sleep 1
            s=$(timed "${E[@]}" pull "$IMG") || say "$eng pull from $server failed (trial $t)"
            row "$eng-pull-$server" "$s" "$bytes"
            if [ $server = docker-registry ] && [ $eng = dockerd ]; then
                rm -rf "$W/oci"; sync; sleep 1
                s=$(timed "$SKOPEO" copy --src-tls-verify=false "docker://$IMG" "oci:$W/oci:latest") ||
                    say "skopeo copy failed (trial $t)"
                row "skopeo-copy-$server" "$s" "$bytes"
            fi
        done
    done
    stop_registry
    # save / load, image absent before each load
    for eng in berth dockerd; do
        if [ $eng = berth ]; then E=("$BERTH" -H "unix://$bsock"); else E=("$DOCKER"); fi
        rm -f "$W/$eng.tar"; sync
        s=$(timed "${E[@]}" save -o "$W/$eng.tar" "$IMG") || say "$eng save failed (trial $t)"
        row "$eng-save" "$s" "$(stat -c %s "$W/$eng.tar")"
        "${E[@]}" rmi "$IMG" >/dev/null
        sync; sleep 1
        s=$(timed "${E[@]}" load -i "$W/$eng.tar") || say "$eng load failed (trial $t)"
        row "$eng-load" "$s" "$(stat -c %s "$W/$eng.tar")"
    done
done
cp "$data" "$RESULTS/dist-times.tsv"

python3 - "$data" <<'PY' | tee -a "$out"
import collections, statistics, sys
rows = collections.defaultdict(list)
size = {}
for line in open(sys.argv[1]):
    name, s, b = line.split("\t")
    rows[name].append(float(s))
    size[name] = int(b)
med = {k: statistics.median(v) for k, v in rows.items()}
print("\nmedians (MB/s = blob or tar bytes / s, 1 MB = 1e6 B):")
for k in sorted(med):
    print("  %-30s %7.3f s  %7.1f MB/s  (n=%d, %d bytes)" % (k, med[k], size[k] / 1e6 / med[k], len(rows[k]), size[k]))
def ratio(a, b):
    if a in med and b in med:
        print("  %-50s %.2f" % ("%s speed / %s speed" % (a, b), (size[a] / med[a]) / (size[b] / med[b])))
print("\nratios (throughput):")
for server in ("docker-registry", "berth"):
    ratio("berth-pull-" + server, "dockerd-pull-" + server)
    ratio("berth-push-" + server, "dockerd-push-" + server)
ratio("berth-pull-docker-registry", "skopeo-copy-docker-registry")
ratio("berth-pull-berth", "berth-pull-docker-registry")
ratio("berth-push-berth", "berth-push-docker-registry")
print("  %-50s %.2f" % ("berth save time / dockerd save time", med["berth-save"] / med["dockerd-save"]))
print("  %-50s %.2f" % ("berth load time / dockerd load time", med["berth-load"] / med["dockerd-load"]))
PY
