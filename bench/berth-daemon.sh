# bench/berth-daemon.sh - sourced by the bench scripts: loads ../shared/peers-bench's common.sh
# (paths, hyperfine `measure`, rss/pss helpers) and runs a berth daemon of the benchmark's own.
# Before sourcing, set BENCH_NAME (temp dir prefix, cgroup parent /berth-$BENCH_NAME),
# BENCH_BRIDGE and BENCH_BIP (its default bridge, away from docker0/podman's subnets).
# Gives: $repo, $peers, $BERTH, $bdir, $bsock, $bpid, B (the berth CLI on that socket),
# berth_start [daemon flags...], berth_stop, berth_cleanup (for the script's EXIT trap).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
peers=${PEERS_BENCH:-$repo/../shared/peers-bench}
[ -d "$peers" ] || peers=/work/shared/peers-bench
. "$peers/common.sh"

BERTH=$repo/target/release/berth
bdir=$(mktemp -d "/tmp/berth-$BENCH_NAME.XXXXXX")
bsock=$bdir/berth.sock
bpid=""
B() { "$BERTH" -H "unix://$bsock" "$@"; }

berth_start() { # extra daemon flags...
    rm -f "$bsock"
    "$BERTH" daemon -H "unix://$bsock" --data-root "$bdir/data" --exec-root "$bdir/exec" \
        --cgroup-parent "/berth-$BENCH_NAME" --bridge "$BENCH_BRIDGE" --bip "$BENCH_BIP" "$@" \
        >>"$bdir/daemon.log" 2>&1 &
    bpid=$!
    for _ in $(seq 200); do
        [ -S "$bsock" ] && B version >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    log "berth daemon did not come up:"; tail -20 "$bdir/daemon.log" >&2
    return 1
}

berth_stop() {
    [ -n "$bpid" ] || return 0
    local ids
    ids=$(B ps -aq 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && B rm -f $ids >/dev/null 2>&1
    kill -TERM "$bpid" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$bpid" 2>/dev/null && { log "berth daemon $bpid alive 30 s after SIGTERM: SIGKILL"; kill -KILL "$bpid"; }
    wait "$bpid" 2>/dev/null
    bpid=""
    if ip link show "$BENCH_BRIDGE" >/dev/null 2>&1 || nft list table inet "berth-$BENCH_BRIDGE" >/dev/null 2>&1; then
        log "berth daemon stopped but $BENCH_BRIDGE or its nftables table (inet berth-$BENCH_BRIDGE) is still there"
    fi
}

# Stops berth, then removes what it could have left: mounts under the temp dir, the temp dir,
# the (empty) cgroups under its cgroup parent.
berth_cleanup() {
    berth_stop
    findmnt -rno TARGET | grep "^$bdir/" | sort -r | xargs -r -n1 umount -l
    rm -rf --one-file-system "$bdir"
    for d in "/sys/fs/cgroup/berth-$BENCH_NAME" /sys/fs/cgroup/*/"berth-$BENCH_NAME"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
}

build_berth() {
    (cd "$repo" && cargo build --release -p berth >/dev/null 2>&1) || { log "berth build failed"; return 1; }
}
