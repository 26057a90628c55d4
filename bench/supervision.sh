#!/usr/bin/env bash
# bench/supervision.sh - the stats and supervision figures (issue 5), berth side by side with
# dockerd (+containerd, runc) and podman (+crun) in one run, on the same busybox image:
#   1. `stats --no-stream` with 20 running containers (`sleep 1000` on the default network, so
#      network stats are read too): docker CLI (Debian's 20.10 and 28.x) -> berth, berth CLI,
#      docker CLI 20.10 -> dockerd, podman; hyperfine medians over ROUNDS rounds interleaved across engines.
#   2. memory with 20 running containers that each have a health check every second
#      (`--health-cmd true --health-interval 1s`): after HEALTH_SETTLE seconds, VmRSS of the
#      berth daemon and of dockerd + containerd sampled every second for HEALTH_SAMPLE seconds
#      (median and max), plus the per-container supervisors' PSS (berth shims,
#      containerd-shim-runc-v2). Podman is left out of part 2: its health checks run from
#      systemd timers and this VM has no systemd.
# berth runs as its own daemon (socket, roots in a temp dir, bridge bsv0 with 10.79.0.1/24).
# Usage: sudo bash bench/supervision.sh   (RUNS/WARMUP as in peers-bench/common.sh; ROUNDS=3,
#   N=20, HEALTH_SETTLE=20, HEALTH_SAMPLE=30; KEEP_PEERS=1 leaves dockerd running)
# Log: $RESULTS/berth-supervision.txt.
set -u -o pipefail
BENCH_NAME=svbench BENCH_BRIDGE=bsv0 BENCH_BIP=10.79.0.1/24
. "$(dirname "$0")/berth-daemon.sh"
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
N=${N:-20}
HEALTH_SETTLE=${HEALTH_SETTLE:-20}
HEALTH_SAMPLE=${HEALTH_SAMPLE:-30}
out=$RESULTS/berth-supervision.txt
: > "$out"
say() { echo "$*" | tee -a "$out"; }
LABEL=peers-bench=supervision

cleanup() {
    set +e
    if timeout 10 "$DOCKER" version >/dev/null 2>&1; then
        "$DOCKER" ps -aq --filter "label=$LABEL" | xargs -r "$DOCKER" rm -f >/dev/null
    fi
    "$PODMAN" ps -aq --filter "label=$LABEL" | xargs -r "$PODMAN" rm -f -t 0 >/dev/null
    [ "${KEEP_PEERS:-0}" = 1 ] || "$peers/99-teardown.sh" >"$RESULTS/sv-99-teardown.log" 2>&1
    berth_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

"$peers/00-setup.sh" >"$RESULTS/sv-00-setup.log" 2>&1 || { log "peers setup failed (see $RESULTS/sv-00-setup.log)"; exit 1; }
build_berth || exit 1
U=("${PODMAN_ULIMITS_ARR[@]}")
# the docker CLI berth targets (28.x, first on PATH here) beside Debian's 20.10 client ($DOCKER)
DOCKER28=${DOCKER28:-$(command -v docker)}
berth_start || exit 1
B import "$PEERS_STATE/busybox-rootfs.tar" busybox:latest >/dev/null || { log "berth import failed"; exit 1; }

say "# berth supervision benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
say "docker CLIs: $("$DOCKER28" version --format '{{.Client.Version}}' 2>/dev/null) ($DOCKER28) and $("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null), dockerd $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null), podman $("$PODMAN" version --format '{{.Client.Version}}' 2>/dev/null), hyperfine $(hyperfine --version | cut -d' ' -f2)"
say "load at start: $(cat /proc/loadavg)"

# starts N containers on each engine (extra run flags given), all at once per engine
start_all() { # engine run-flags...
    local eng=$1 i pids=()
    shift
    for i in $(seq 1 "$N"); do
        case $eng in
        berth) B run -d --label "$LABEL" --name "sv-$i" "$@" busybox sleep 1000 ;;
        docker) "$DOCKER" run -d --label "$LABEL" --name "sv-$i" "$@" busybox sleep 1000 ;;
        podman) "$PODMAN" run -d --label "$LABEL" --name "sv-$i" "${U[@]}" "$@" busybox sleep 1000 ;;
        esac >/dev/null 2>>"$bdir/start-errors.log" &
        pids+=($!)
    done
    wait "${pids[@]}" # not a bare `wait`: the berth daemon is a child too
}
remove_all() {
    B rm -f $(B ps -aq --filter "label=$LABEL") >/dev/null 2>&1
    "$DOCKER" ps -aq --filter "label=$LABEL" | xargs -r "$DOCKER" rm -f >/dev/null
    "$PODMAN" ps -aq --filter "label=$LABEL" | xargs -r "$PODMAN" rm -f -t 0 >/dev/null
}
running() { # engine -> running containers
    case $1 in
    berth) B ps -q | wc -l ;;
    docker) "$DOCKER" ps -q | wc -l ;;
    podman) "$PODMAN" ps -q | wc -l ;;
    esac
}

# ---------------------------------------------------------------- 1. stats --no-stream
ensure_docker0
start_all berth
start_all docker
start_all podman
say "running: berth $(running berth), dockerd $(running docker), podman $(running podman) (stats covers all running ones)"
{ echo "one line of each:"
  echo "  berth:   $(B stats --no-stream | sed -n 2p)"
  echo "  dockerd: $("$DOCKER" stats --no-stream | sed -n 2p)"
  echo "  podman:  $("$PODMAN" stats --no-stream | sed -n 2p)"
} | tee -a "$out"
for r in $(seq 1 "$ROUNDS"); do
    log "stats --no-stream, round $r/$ROUNDS"
    {
        measure "sv-stats-berth-docker-cli-r$r" "$RUNS" "$WARMUP" env DOCKER_HOST="unix://$bsock" "$DOCKER" stats --no-stream
        measure "sv-stats-berth-docker28-cli-r$r" "$RUNS" "$WARMUP" env DOCKER_HOST="unix://$bsock" "$DOCKER28" stats --no-stream
        measure "sv-stats-berth-cli-r$r" "$RUNS" "$WARMUP" "$BERTH" -H "unix://$bsock" stats --no-stream
        measure "sv-stats-dockerd-r$r" "$RUNS" "$WARMUP" "$DOCKER" stats --no-stream
        measure "sv-stats-podman-r$r" "$RUNS" "$WARMUP" "$PODMAN" stats --no-stream
    } 2>&1 | tee -a "$out"
done
remove_all

# ---------------------------------------------------------------- 2. memory with health checks
HC=(--health-cmd true --health-interval 1s --health-timeout 5s --health-retries 3)
idle_berth=$(rss_kib "$bpid")
idle_dockerd=$(rss_kib "$(dockerd_pid)") idle_containerd=$(rss_kib "$(containerd_pid)")
ensure_docker0
start_all berth "${HC[@]}"
start_all docker "${HC[@]}"
say "health-checked containers running: berth $(running berth), dockerd $(running docker); settling ${HEALTH_SETTLE} s"
sleep "$HEALTH_SETTLE"
say "health: berth $(B ps --filter health=healthy -q | wc -l) healthy, dockerd $("$DOCKER" ps --filter health=healthy -q | wc -l) healthy"
samples=$bdir/rss.tsv
: > "$samples"
for _ in $(seq 1 "$HEALTH_SAMPLE"); do
    printf '%s\t%s\t%s\n' "$(rss_kib "$bpid")" "$(rss_kib "$(dockerd_pid)")" "$(rss_kib "$(containerd_pid)")" >> "$samples"
    sleep 1
done
shims=$(pids_with_cmdline "$BERTH" shim)
dshims=()
for id in $("$DOCKER" ps -q --no-trunc --filter "label=$LABEL"); do dshims+=($(pids_with_cmdline containerd-shim "$id")); done
say "health checks run meanwhile: berth $(B inspect -f '{{len .State.Health.Log}} {{.State.Health.Status}}' sv-1), dockerd $("$DOCKER" inspect -f '{{len .State.Health.Log}} {{.State.Health.Status}}' sv-1) (last 5 kept, status)"
python3 - "$samples" "$idle_berth" "$idle_dockerd" "$idle_containerd" <<'PY' | tee -a "$out"
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
ib, idd, ic = (int(x) for x in sys.argv[2:5])
b = [r[0] for r in rows]; d = [r[1] + r[2] for r in rows]
mib = lambda k: k / 1024
print("idle before: berth daemon %.1f MiB; dockerd %.1f + containerd %.1f MiB" % (mib(ib), mib(idd), mib(ic)))
print("with the health-checked containers, %d samples 1 s apart:" % len(rows))
print("  berth daemon RSS       median %.1f MiB  max %.1f MiB" % (mib(statistics.median(b)), mib(max(b))))
print("  dockerd+containerd RSS median %.1f MiB  max %.1f MiB" % (mib(statistics.median(d)), mib(max(d))))
print("  ratio of medians: %.2f" % (statistics.median(b) / statistics.median(d)))
PY
# shellcheck disable=SC2086
say "per-container supervisors: berth shims $(echo $shims | wc -w), PSS sum $(pss_kib $shims) KiB; containerd-shim ${#dshims[@]}, PSS sum $(pss_kib "${dshims[@]}") KiB"
remove_all

python3 - "$RESULTS" "$ROUNDS" <<'PY' | tee -a "$out"
import json, statistics, sys
res, rounds = sys.argv[1], int(sys.argv[2])
def med(name):
    return statistics.median(json.load(open("%s/sv-stats-%s-r%d.json" % (res, name, r)))["results"][0]["median"]
                             for r in range(1, rounds + 1))
m = {k: med(k) for k in ("berth-docker-cli", "berth-docker28-cli", "berth-cli", "dockerd", "podman")}
print("\nstats --no-stream, %d running, median of %d round medians:" % (20, rounds))
for k, v in m.items():
    print("  %-18s %.3f s  (%.2f of dockerd)" % (k, v, v / m["dockerd"]))
PY
