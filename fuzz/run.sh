#!/usr/bin/env bash
# Runs each fuzz target: first every committed seed once, whole, then fuzzing for
# FUZZ_SECONDS (default 60) per target from the seeds plus the corpus grown by earlier
# runs (fuzz/work/, not committed). Any crash stops the script with a non-zero status;
# the input that caused it is saved in fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh                    # both targets, 60 s each
#   FUZZ_SECONDS=3600 bash fuzz/run.sh  # longer
#   bash fuzz/run.sh codec              # one target
#
# Needs cargo-fuzz (`cargo install --locked cargo-fuzz`). cargo-fuzz builds with
# nightly-only flags (sanitizers); RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"

export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
# Inputs up to 8 KiB: large enough for several messages and every kind of header,
# small enough for many executions per second. The seeds run whole first.
max_len="${FUZZ_MAX_LEN:-8192}"
target_dir="${CARGO_TARGET_DIR:-target}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(codec connection)
fi

for target in "${targets[@]}"; do
    mkdir -p "work/$target"
    echo "==> fuzz $target: the ${seconds}s run, after the seeds once"
    cargo fuzz run --target-dir "$target_dir" "$target" "corpus/$target" -- -runs=0
    cargo fuzz run --target-dir "$target_dir" "$target" "work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1
done
