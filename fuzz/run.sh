#!/usr/bin/env bash
# Runs one fuzz target for a bounded time on the nightly toolchain, growing
# its committed corpus, then minimizes that corpus so it stays small.
#
#   fuzz/run.sh TARGET [SECONDS]    (default 120 seconds)
#   fuzz/run.sh all [SECONDS]       (each target in turn)
#
# Crash inputs land in fuzz/artifacts/TARGET/ (ignored by git); copy the
# ones worth keeping to fuzz/artifacts-kept/TARGET/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGETS=(catalog_parse code_normalize gateway_body status_details yaml_inject ext_proc_exchange)
target=${1:?usage: fuzz/run.sh TARGET|all [SECONDS]}
seconds=${2:-120}

# Catalog inputs are capped at 4 KiB (a dozen entries, enough for every
# rule) so that the corpus stays small; the embedded catalog itself is read
# from catalog/ as a seed on every run rather than kept in the corpus. The
# byte targets may go past the service's 64 KiB bound on bodies and details.
# YAML streams stop at 8 KiB: a few objects, enough for every path.
max_len() {
    case $1 in
    catalog_parse) echo 4096 ;;
    yaml_inject) echo 8192 ;;
    *) echo 70000 ;;
    esac
}

# Read-only seed directories besides the corpus.
seeds() {
    case $1 in
    catalog_parse) echo catalog ;;
    esac
}

run_one() {
    local name=$1
    local corpus="fuzz/corpus/$name"
    local limit
    limit=$(max_len "$name")
    mkdir -p "$corpus"
    # shellcheck disable=SC2046 # seeds is zero or more words
    cargo +nightly fuzz run "$name" "$corpus" $(seeds "$name") -- \
        -max_total_time="$seconds" -max_len="$limit" -print_final_stats=1
    # Keeps a small set of inputs that covers what the whole corpus covers
    # (libFuzzer's set-cover merge, which `cargo fuzz cmin` does not use;
    # without hit counters only new edges count), so the committed corpus
    # stays at a few hundred files rather than thousands.
    local merged="fuzz/corpus/.merging-$name"
    rm -rf "$merged"
    mkdir -p "$merged"
    cargo +nightly fuzz run "$name" "$merged" "$corpus" -- \
        -set_cover_merge=1 -use_counters=0 -max_len="$limit"
    if [[ -n "$(ls -A "$merged")" ]]; then
        rm -rf "$corpus"
        mv "$merged" "$corpus"
    else
        rm -rf "$merged"
    fi
    echo "$name: $(find "$corpus" -type f | wc -l) corpus files," \
        "$(du -sh --apparent-size "$corpus" | cut -f1)"
}

if [[ $target == all ]]; then
    for name in "${TARGETS[@]}"; do
        run_one "$name"
    done
else
    run_one "$target"
fi
