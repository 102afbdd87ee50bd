#!/usr/bin/env bash
# Runs a dumpscan command inside a memory control group capped at a share of the dump's size,
# as a container with a memory limit would, and says whether it finished, in how long against
# the same command without the cap, and whether its output equals the uncapped run's. Creates and removes the group (root needed):
# cgroup v1's memory controller where it is mounted, else v2.
#
#   bench/capped.sh DUMP [PERCENT] [-- COMMAND ARGS...]   # default 25%, the full report as JSON
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dumpscan="${DUMPSCAN:-$here/../target/release/dumpscan}"
dump="$1"; shift
share="${1:-25}"; [ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
args=("$@"); [ ${#args[@]} -eq 0 ] && args=(report --format json)
limit=$(( $(stat -c %s "$dump") * share / 100 ))
group="dumpscan-capped-$$"
if [ -d /sys/fs/cgroup/memory ]; then
    dir="/sys/fs/cgroup/memory/$group"; mkdir "$dir"; echo "$limit" > "$dir/memory.limit_in_bytes"
    killed() { awk '/^oom_kill /{print $2}' "$dir/memory.oom_control"; }
else
    dir="/sys/fs/cgroup/$group"; mkdir "$dir"; echo "$limit" > "$dir/memory.max"; echo 0 > "$dir/memory.swap.max" || true
    killed() { awk '/^oom_kill /{print $2}' "$dir/memory.events"; }
fi
out="$(mktemp -d)"
trap 'rmdir "$dir" 2>/dev/null || true; rm -rf "$out"' EXIT
cat "$dump" > /dev/null
start=$(date +%s.%N)
"$dumpscan" "${args[0]}" "$dump" "${args[@]:1}" > "$out/uncapped" 2>/dev/null
uncapped=$(echo "$(date +%s.%N) - $start" | bc)
cat "$dump" > /dev/null
start=$(date +%s.%N)
status=0
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$dir" "$dumpscan" "${args[0]}" "$dump" "${args[@]:1}" -v \
    > "$out/capped" 2> "$out/stderr" || status=$?
seconds=$(echo "$(date +%s.%N) - $start" | bc)
same=$(cmp -s "$out/uncapped" "$out/capped" && echo yes || echo no)
printf '{"dump": "%s", "command": "%s", "cap_bytes": %d, "cap_percent": %d, "seconds": %.2f, "uncapped_seconds": %.2f, "exit": %d, "oom_kills": %s, "same_output": "%s"}\n' \
    "$dump" "${args[*]}" "$limit" "$share" "$seconds" "$uncapped" "$status" "$(killed)" "$same"
grep -E "memory budget|in files at the most" "$out/stderr" >&2 || true
