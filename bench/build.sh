#!/usr/bin/env bash
# bench/build.sh - building the issue's five-step Dockerfile, berth side by side with dockerd
# (classic builder and BuildKit) and podman build in one run (as peers-bench's 40-build.sh):
#     FROM busybox / RUN echo a > /a / COPY f /f / ENV X=1 / RUN cat /a
#   cold   = --no-cache (both RUN steps run a container each time)
#   cached = the same build again, every step from the cache
# berth through the berth CLI and through the docker CLI (DOCKER_BUILDKIT=0: the docker CLI
# here has no buildx, so it uses the API's POST /build either way). hyperfine medians of
# BUILD_RUNS runs after 2 warm-ups, ROUNDS rounds interleaved, median of the round medians.
# Usage: sudo bash bench/build.sh   (BUILD_RUNS=10 ROUNDS=3; KEEP_PEERS=1 leaves dockerd up)
# Log: $RESULTS/berth-build.txt.
set -u -o pipefail
BENCH_NAME=buildbench BENCH_BRIDGE=bbb0 BENCH_BIP=10.81.0.1/24
. "$(dirname "$0")/berth-daemon.sh"
BR=${BUILD_RUNS:-10}
ROUNDS=${ROUNDS:-3}
out=$RESULTS/berth-build.txt
: > "$out"
say() { echo "$*" | tee -a "$out"; }
ctx=$bdir/ctx
mkdir -p "$ctx"

cleanup() {
    set +e
    if timeout 10 "$DOCKER" version >/dev/null 2>&1; then
        "$DOCKER" rmi -f bench-build:latest >/dev/null 2>&1
        "$DOCKER" image prune -f >/dev/null 2>&1
        "$DOCKER" builder prune -af >/dev/null 2>&1
    fi
    "$PODMAN" rmi -f bench-build:latest >/dev/null 2>&1
    "$PODMAN" image prune -f >/dev/null 2>&1
    [ "${KEEP_PEERS:-0}" = 1 ] || "$peers/99-teardown.sh" >"$RESULTS/build-99-teardown.log" 2>&1
    berth_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

"$peers/00-setup.sh" >"$RESULTS/build-00-setup.log" 2>&1 || { log "peers setup failed (see $RESULTS/build-00-setup.log)"; exit 1; }
build_berth || exit 1
U=("${PODMAN_ULIMITS_ARR[@]}")
DOCKER28=${DOCKER28:-$(command -v docker)}
berth_start || exit 1
B import "$PEERS_STATE/busybox-rootfs.tar" busybox:latest >/dev/null || { log "berth import failed"; exit 1; }

printf 'hello from the build context\n' > "$ctx/f"
cat > "$ctx/Dockerfile" <<'DF'
FROM busybox
RUN echo a > /a
COPY f /f
ENV X=1
RUN cat /a
DF

say "# berth build benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
say "dockerd $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null) (docker CLI $("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null)), docker CLI $("$DOCKER28" version --format '{{.Client.Version}}' 2>/dev/null) for berth, podman $("$PODMAN" version --format '{{.Client.Version}}' 2>/dev/null), hyperfine $(hyperfine --version | cut -d' ' -f2)"
say "load at start: $(cat /proc/loadavg)"

# warm every builder's cache once, and check what each built
B build -q -t bench-build:latest "$ctx" >/dev/null || { log "berth build failed"; exit 1; }
B run --rm bench-build:latest sh -c 'test "$X" = 1 && cat /a /f' | tee -a "$out" || say "berth: built image check FAILED"
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t bench-build:latest "$ctx" >/dev/null
"$DOCKER" run --rm bench-build:latest sh -c 'test "$X" = 1 && cat /a /f' >/dev/null || say "dockerd: built image check FAILED"
DOCKER_BUILDKIT=1 "$DOCKER" build -q -t bench-build:latest "$ctx" >/dev/null
"$PODMAN" build -q "${U[@]}" -t bench-build:latest "$ctx" >/dev/null

for r in $(seq 1 "$ROUNDS"); do
    log "build, round $r/$ROUNDS"
    for mode in cold cached; do
        nc=(); [ $mode = cold ] && nc=(--no-cache)
        {
            measure "bb-berth-cli-$mode-r$r" "$BR" 2 "$BERTH" -H "unix://$bsock" build "${nc[@]}" -t bench-build:latest "$ctx"
            measure "bb-berth-docker-cli-$mode-r$r" "$BR" 2 env DOCKER_HOST="unix://$bsock" DOCKER_BUILDKIT=0 "$DOCKER28" build "${nc[@]}" -t bench-build:latest "$ctx"
            measure "bb-dockerd-classic-$mode-r$r" "$BR" 2 env DOCKER_BUILDKIT=0 "$DOCKER" build "${nc[@]}" -t bench-build:latest "$ctx"
            measure "bb-dockerd-buildkit-$mode-r$r" "$BR" 2 env DOCKER_BUILDKIT=1 "$DOCKER" build "${nc[@]}" -t bench-build:latest "$ctx"
            measure "bb-podman-$mode-r$r" "$BR" 2 "$PODMAN" build "${nc[@]}" "${U[@]}" -t bench-build:latest "$ctx"
        } 2>&1 | tee -a "$out"
    done
done

python3 - "$RESULTS" "$ROUNDS" <<'PY' | tee -a "$out"
import json, statistics, sys
res, rounds = sys.argv[1], int(sys.argv[2])
names = ["berth-cli", "berth-docker-cli", "dockerd-classic", "dockerd-buildkit", "podman"]
for mode in ("cold", "cached"):
    m = {n: statistics.median(json.load(open("%s/bb-%s-%s-r%d.json" % (res, n, mode, r)))["results"][0]["median"]
                              for r in range(1, rounds + 1)) for n in names}
    print("\n%s build, median of %d round medians:" % (mode, rounds))
    for n in names:
        print("  %-18s %.3f s  (%.2f of BuildKit, %.2f of podman)" % (
            n, m[n], m[n] / m["dockerd-buildkit"], m[n] / m["podman"]))
PY
