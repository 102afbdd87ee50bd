#!/usr/bin/env bash
# The benchmark: generates a multi-gigabyte heap dump with a Java program, then times dumpscan
# against its peers from crates.io (hprof-slurp, hprof-analyzer) on the same file in the same
# run, and measures each one's peak memory. Writes bench/work/results.md.
#
#   bench/run.sh                    # a dump of about 4 GB (2.7 GB of heap)
#   BENCH_HEAP_BYTES=1000000000 bench/run.sh
#   BENCH_RUNS=3 bench/run.sh       # fewer timed runs
# Times `dumpscan histogram` (issue 2), `dumpscan dominators` (the whole heap model, issue 3)
# and the full off-heap report `dumpscan DUMP` (issue 4) against hprof-slurp, and the report of
# the same heap dumped by `jcmd GC.heap_dump -gz=1` (inflate and report, issue 17); then runs
# the heavy commands under a memory cap of a quarter of the dump (issue 15, bench/capped.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
work="$here/work"
mkdir -p "$work"
heap_bytes="${BENCH_HEAP_BYTES:-2700000000}"
runs="${BENCH_RUNS:-5}"
dump="$work/bench-$heap_bytes.hprof"

# 1. Tools: the peers from crates.io (with their published lockfiles: hprof-analyzer 0.3.2
# does not build against the newest zip 2.x), hyperfine from Debian.
for peer in hprof-slurp hprof-analyzer; do
    if [ ! -x "$work/tools/bin/$peer" ]; then
        nice cargo install --quiet --locked --root "$work/tools" "$peer" || echo "could not install $peer" >&2
    fi
done
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }

# 2. The dumps, each generated once: generate HEAP_BYTES FILE [gz] (gz: dumped by jcmd in
# its gzip members).
generate() {
    [ -f "$2" ] && return
    local classes
    classes="$(mktemp -d)"
    javac -d "$classes" "$here/GenerateHeap.java"
    java -Xmx12g -XX:+UseParallelGC -cp "$classes" GenerateHeap "$@"
    rm -rf "$classes"
}
generate "$heap_bytes" "$dump"
# The same heap (the same seed) in another JVM, compressed by jcmd.
gz_dump="$work/bench-$heap_bytes.hprof.gz"
generate "$heap_bytes" "$gz_dump" gz
# A smaller one for the capped runs.
small_dump="$work/bench-1000000000.hprof"
generate 1000000000 "$small_dump"
dump_bytes=$(stat -c %s "$dump")

# 3. dumpscan itself.
(cd "$root" && cargo build --release --quiet)
dumpscan="$root/target/release/dumpscan"
slurp="$work/tools/bin/hprof-slurp"
analyzer="$work/tools/bin/hprof-analyzer"

# 4. Timing in one hyperfine run, with the dump in the page cache.
cat "$dump" "$gz_dump" >/dev/null
hyperfine --warmup 1 --runs "$runs" --export-json "$work/times.json" \
    -n "dumpscan histogram" "$dumpscan histogram $dump --top 20" \
    -n "hprof-slurp" "$slurp $dump --top 20" \
    -n "dumpscan dominators" "$dumpscan dominators $dump --top 20" \
    -n "dumpscan report" "$dumpscan $dump --format json -o /dev/null" \
    -n "dumpscan report, jcmd -gz=1" "$dumpscan $gz_dump --format json -o /dev/null"

# 5. Peak memory, sampled from /proc (anonymous apart from the dump's mapped pages); the
# slower peer is timed here once, with a limit, rather than several times above.
: >"$work/memory.jsonl"
for label_command in \
    "dumpscan histogram|$dumpscan histogram $dump --top 20" \
    "hprof-slurp|$slurp $dump --top 20" \
    "dumpscan dominators|$dumpscan dominators $dump --top 20" \
    "dumpscan report|$dumpscan $dump --format json -o /dev/null" \
    "dumpscan report, jcmd -gz=1|$dumpscan $gz_dump --format json -o /dev/null" \
    "hprof-analyzer|timeout 900 $analyzer $dump"; do
    label="${label_command%%|*}"
    if [ "$label" = hprof-analyzer ] && [ ! -x "$analyzer" ]; then
        continue
    fi
    # shellcheck disable=SC2086
    python3 "$here/measure.py" "$label" ${label_command#*|} >>"$work/memory.jsonl"
done

# 6. Under a memory cap of a quarter of the dump, as in a container: each heavy command on
# both plain dumps, against the same command without the cap, with the
# output compared (bench/capped.sh creates and removes the control group; root needed).
: >"$work/capped.jsonl"
for capped_dump in "$dump" "$small_dump"; do
    for command in "report --format json" "dominators --top 20" "paths --class java.nio.DirectByteBuffer" \
        "histogram --retained --top 20"; do
        # shellcheck disable=SC2086
        DUMPSCAN="$dumpscan" "$here/capped.sh" "$capped_dump" 25 -- $command >>"$work/capped.jsonl" 2>/dev/null
    done
done

# 7. The same instance counts as hprof-slurp.
"$dumpscan" histogram "$dump" --format json --top 0 >"$work/dumpscan-histogram.json"
(cd "$work" && "$slurp" "$dump" --top 1000 --json -o "$work/slurp.json" >/dev/null)

python3 - "$work" "$dump_bytes" <<'EOF'
import json, statistics, sys
work, dump_bytes = sys.argv[1], int(sys.argv[2])
times = {r["command"]: r for r in json.load(open(f"{work}/times.json"))["results"]}
memory = {m["label"]: m for m in map(json.loads, open(f"{work}/memory.jsonl"))}
ours = {c["name"]: c["instances"] for c in json.load(open(f"{work}/dumpscan-histogram.json"))["classes"]}
# hprof-slurp writes hidden classes as the dump does (`Foo$$Lambda+0x...`), Java and dumpscan
# as `Foo$$Lambda/0x...`; and it counts only instances of java.lang.Class, not class objects.
theirs = {c["class_name"].replace("+0x", "/0x"): c["instance_count"]
          for c in json.load(open(f"{work}/slurp.json"))["heap"]["top_allocated_classes"]
          if c["class_name"] != "java.lang.Class"}
mismatches = {k: (ours.get(k), v) for k, v in theirs.items() if ours.get(k) != v}
slurp = statistics.median(times["hprof-slurp"]["times"])
lines = [
    f"dump: {dump_bytes / 1e9:.2f} GB, {sum(ours.values()):,} objects",
    "",
    "| command | median s | min s | max s | vs hprof-slurp | peak anon RSS | % of dump | peak RSS incl. mapped dump |",
    "|---|---|---|---|---|---|---|---|",
]
for name, m in memory.items():
    runs = times.get(name, {}).get("times") or [m["seconds"]]
    median = statistics.median(runs)
    anon = m.get("peak_anon_bytes", 0)
    note = "" if m.get("exit") == 0 else f" (exit {m.get('exit')})"
    lines.append(
        f"| {name}{note} | {median:.2f} | {min(runs):.2f} | {max(runs):.2f} | {median / slurp:.2f}x "
        f"| {anon / 2**20:,.0f} MiB | {100 * anon / dump_bytes:.1f}% | {m.get('peak_rss_bytes', 0) / 2**20:,.0f} MiB |"
    )
lines += ["", f"instance counts compared with hprof-slurp for {len(theirs)} classes: {len(mismatches)} differ {mismatches or ''}"]
lines += [
    "",
    "capped at 25% of the dump (a memory control group):",
    "",
    "| dump | command | cap | uncapped s | capped s | ratio | exit | same output |",
    "|---|---|---|---|---|---|---|---|",
]
for c in map(json.loads, open(f"{work}/capped.jsonl")):
    ratio = c["seconds"] / c["uncapped_seconds"] if c["uncapped_seconds"] else 0
    lines.append(
        f"| {c['dump'].rsplit('/', 1)[-1]} | `{c['command']}` | {c['cap_bytes'] / 2**20:,.0f} MiB | {c['uncapped_seconds']:.1f} "
        f"| {c['seconds']:.1f} | {ratio:.1f}x | {c['exit']} | {c['same_output']} |"
    )
open(f"{work}/results.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
