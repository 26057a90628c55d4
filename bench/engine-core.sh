#!/usr/bin/env bash
# bench/engine-core.sh - the engine-core figures, berth side by side with dockerd (+containerd,
# runc) and podman (+crun) in one run, on the same busybox image, --network none:
#   * run --rm busybox true: docker CLI -> berth, berth CLI -> berth, docker -> dockerd, podman
#   * create, and exec ... true into a running container
#   * 20 `run -d ... sleep` launched at once
#   * memory: berth daemon idle RSS; per-container shim PSS with 20 running
# Uses ../shared/peers-bench (installs and starts the peers, hyperfine timing helpers).
# Usage: sudo bash bench/engine-core.sh   (RUNS/WARMUP/TRIALS as in peers-bench/common.sh)
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
peers=${PEERS_BENCH:-$repo/../shared/peers-bench}
[ -d "$peers" ] || peers=/work/shared/peers-bench
. "$peers/common.sh"
out=$RESULTS/berth-engine-core.txt
: > "$out"
say() { echo "$*" | tee -a "$out"; }

"$peers/00-setup.sh" >/dev/null 2>&1 || { log "peers setup failed (see $PEERS_STATE)"; }
(cd "$repo" && cargo build --release -p berth >/dev/null 2>&1) || { log "berth build failed"; exit 1; }
BERTH=$repo/target/release/berth
bdir=$(mktemp -d /tmp/berth-bench.XXXXXX)
bsock=$bdir/berth.sock
"$BERTH" daemon -H "unix://$bsock" --data-root "$bdir/data" --exec-root "$bdir/exec" \
    --cgroup-parent /berth-bench >"$bdir/daemon.log" 2>&1 &
bpid=$!
trap 'B rm -f $(B ps -aq) >/dev/null 2>&1; kill $bpid; wait $bpid 2>/dev/null; rm -rf "$bdir"' EXIT
for _ in $(seq 100); do [ -S "$bsock" ] && break; sleep 0.05; done
B() { "$BERTH" -H "unix://$bsock" "$@"; }
DB() { DOCKER_HOST="unix://$bsock" "$DOCKER" "$@"; }
B import "$PEERS_STATE/busybox-rootfs.tar" busybox:latest >/dev/null
sleep 2
say "berth daemon idle RSS $(rss_kib $bpid) KiB PSS $(pss_kib $bpid) KiB"

U=("${PODMAN_ULIMITS_ARR[@]}")
measure berth-cli-run           "$RUNS" "$WARMUP" "$BERTH" -H "unix://$bsock" run --rm --network none busybox true
measure docker-cli-to-berth-run "$RUNS" "$WARMUP" env DOCKER_HOST="unix://$bsock" "$DOCKER" run --rm --network none busybox true
measure dockerd-run             "$RUNS" "$WARMUP" "$DOCKER" run --rm --network none busybox true
measure podman-run              "$RUNS" "$WARMUP" "$PODMAN" run --rm --network none "${U[@]}" busybox true

measure berth-cli-create "$RUNS" "$WARMUP" "$BERTH" -H "unix://$bsock" create --label bench=1 --network none busybox true
measure berth-create  "$RUNS" "$WARMUP" env DOCKER_HOST="unix://$bsock" "$DOCKER" create --label bench=1 --network none busybox true
measure dockerd-create "$RUNS" "$WARMUP" "$DOCKER" create --label peers-bench=lifecycle --network none busybox true
DB rm -f $(DB ps -aq --filter label=bench=1) >/dev/null
DB run -d --name bench-exec --network none busybox sleep 100000 >/dev/null
"$DOCKER" run -d --label peers-bench=lifecycle --name peers-exec-b --network none busybox sleep 100000 >/dev/null
measure berth-cli-exec "$RUNS" "$WARMUP" "$BERTH" -H "unix://$bsock" exec bench-exec true
measure berth-exec   "$RUNS" "$WARMUP" env DOCKER_HOST="unix://$bsock" "$DOCKER" exec bench-exec true
measure dockerd-exec "$RUNS" "$WARMUP" "$DOCKER" exec peers-exec-b true
DB rm -f bench-exec >/dev/null; "$DOCKER" rm -f peers-exec-b >/dev/null
"$DOCKER" ps -aq --filter label=peers-bench=lifecycle | xargs -r "$DOCKER" rm -f >/dev/null

conc() { # engine-args...
    local t0 t1
    t0=$(now_ns)
    for i in $(seq 1 20); do "$@" run -d --label bench=conc --network none busybox sleep 1000 >/dev/null & done
    wait
    t1=$(now_ns)
    python3 -c "print('%.3f' % (($t1-$t0)/1e9))"
}
bt=(); dt=()
for t in $(seq 1 "$TRIALS"); do
    bt+=("$(conc env DOCKER_HOST="unix://$bsock" "$DOCKER")")
    if [ "$t" = 1 ]; then
        sleep 2
        shims=$(pgrep -f "$BERTH shim $bdir" | tr '\n' ' ')
        n=$(echo $shims | wc -w)
        say "berth with 20 running: daemon RSS $(rss_kib $bpid) KiB; $n shims PSS sum $(pss_kib $shims) KiB (per shim $(( $(pss_kib $shims) / (n > 0 ? n : 1) )) KiB)"
    fi
    DB rm -f $(DB ps -aq --filter label=bench=conc) >/dev/null
    dt+=("$(conc "$DOCKER")")
    "$DOCKER" rm -f $("$DOCKER" ps -aq --filter label=bench=conc) >/dev/null
done
stats "berth (docker CLI) 20 concurrent run -d" "${bt[@]}" | tee -a "$out"
stats "dockerd 20 concurrent run -d" "${dt[@]}" | tee -a "$out"
say "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)"
