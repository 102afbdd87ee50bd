#!/bin/sh
# Runs both fuzz targets side by side for SECONDS (default 600) each, from the seed corpus,
# and prints each one's executions, coverage and crashes. Needs cargo-fuzz and a nightly
# toolchain (`cargo install cargo-fuzz`, `rustup toolchain install nightly`).
# Corpora grow in fuzz/corpus/TARGET; crashes land in fuzz/artifacts/TARGET.
set -eu
seconds=${1:-600}
cd "$(dirname "$0")"
[ -d seeds ] || cargo run --quiet --release --bin seeds -- seeds
for target in parse_dump analyze; do
    mkdir -p "corpus/$target" "artifacts/$target"
    cargo +nightly fuzz build "$target"
done
for target in parse_dump analyze; do
    cargo +nightly fuzz run "$target" "corpus/$target" seeds -- \
        -max_total_time="$seconds" -max_len=1048576 -rss_limit_mb=4096 -print_final_stats=1 \
        -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
        >"log-$target.txt" 2>&1 &
done
wait || true
for target in parse_dump analyze; do
    log="log-$target.txt"
    runs=$(grep -o "^#[0-9]*" "$log" | tail -1 | tr -d "#")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    corpus=$(ls "corpus/$target" | wc -l)
    crashes=$(ls "artifacts/$target" | wc -l)
    echo "$target: $runs executions in ${seconds}s, coverage $cov edges ($features features), corpus $corpus, crashes $crashes"
done
