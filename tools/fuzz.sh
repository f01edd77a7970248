#!/usr/bin/env bash
# Builds mq's libFuzzer targets (Fuzz/, with ASan) and runs each on a copy of its committed seed
# corpus (Fuzz/Corpus/<target>), with its dictionary (Fuzz/Dictionaries/<target>.dict) if it has one,
# one fuzzer process at a time. Prints per target the inputs executed, exec/s, coverage and crashes;
# exits non-zero if any target crashed, printing the reproducer path.
#
# Usage: tools/fuzz.sh [--runs N | --seconds S] [--keep-corpus DIR] [--no-protobuf-c] [TARGET...]
#        tools/fuzz.sh --write-seeds          (regenerate Fuzz/Corpus from the encoders and fixtures)
#   TARGET         client-frame worker-frame data-frame safetensors-header config-json tokenizer-json
#                  (default: all)
#   --runs N       inputs per target (default 20000); --seconds S instead bounds each target's time
#   --keep-corpus  keep the grown working corpora under DIR/<target> (default: a temp dir, removed)
#   --no-protobuf-c  link Debian's uninstrumented libprotobuf-c instead of compiling protobuf-c.c
#                  (fetched with `apt-get source` into Fuzz/CProtobufC, gitignored) into the build
# Reproduce a crash: SWIFT_BACKTRACE=enable=no .build-fuzz/release/fuzz-<target> <crash file>
# Environment: FUZZ_JOBS (swift build -j), FUZZ_ARTIFACTS (where crash files go; default .build-fuzz/artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(client-frame worker-frame data-frame safetensors-header config-json tokenizer-json)
# Longest input the fuzzer may build, per target: frames are small; the file formats need room for
# a JSON header or a small tokenizer (seeds are up to ~8 KB, regression inputs up to 16 KB).
declare -A max_len=([client-frame]=4096 [worker-frame]=4096 [data-frame]=8192
                    [safetensors-header]=8192 [config-json]=4096 [tokenizer-json]=16384)

runs=20000 seconds="" keep="" protobuf_c=1 write_seeds=0 targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; seconds=""; shift 2 ;;
        --seconds) seconds="$2"; runs=""; shift 2 ;;
        --keep-corpus) keep="$2"; shift 2 ;;
        --no-protobuf-c) protobuf_c=0; shift ;;
        --write-seeds) write_seeds=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) [ -n "${max_len[$1]:-}" ] || { echo "fuzz.sh: unknown target $1 (known: ${all_targets[*]})" >&2; exit 2; }
           targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if [ "$write_seeds" = 1 ]; then
    python3 tools/make_fuzz_seeds.py --out Fuzz/Corpus
    MQ_WRITE_FUZZ_SEEDS="$PWD/Fuzz/Corpus" swift test --filter FuzzSeedWriter
    exit 0
fi

# protobuf-c.c of the installed libprotobuf-c version, from Debian's source package (fetched once).
fetch_protobuf_c() {
    [ -f Fuzz/CProtobufC/protobuf-c.c ] && return 0
    local version tmp
    version=$(dpkg-query -W -f='${source:Version}' libprotobuf-c-dev) || return 1
    tmp=$(mktemp -d)
    echo "deb-src http://deb.debian.org/debian $(. /etc/os-release && echo "$VERSION_CODENAME") main" >"$tmp/sources.list"
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
    local apt=(apt-get -qq -o Dir::Etc::SourceList="$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
    if (cd "$tmp" && "${apt[@]}" update && "${apt[@]}" source --download-only "protobuf-c=$version") >"$tmp/log" 2>&1 \
        && tar -xzf "$tmp"/protobuf-c_*.orig.tar.gz -C "$tmp" --wildcards '*/protobuf-c/protobuf-c.c'; then
        mkdir -p Fuzz/CProtobufC
        cp "$tmp"/protobuf-c-*/protobuf-c/protobuf-c.c Fuzz/CProtobufC/
        rm -rf "$tmp"
        return 0
    fi
    cat "$tmp/log" >&2
    rm -rf "$tmp"
    return 1
}

build_env=(FUZZ=1)
if [ "$protobuf_c" = 1 ]; then
    if fetch_protobuf_c; then
        build_env+=(FUZZ_PROTOBUF_C=1)
    else
        echo "fuzz.sh: could not fetch protobuf-c's source; the protocol targets use the uninstrumented library" >&2
    fi
fi

# SwiftPM's --sanitize flags reach swiftc as two -sanitize= options, and swiftc keeps only the last
# (address): the Swift code would get no coverage instrumentation. -Xswiftc restates both, last.
build_flags=(-c release --scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address)
[ -n "${FUZZ_JOBS:-}" ] && build_flags+=(-j "$FUZZ_JOBS")
start=$SECONDS
for target in "${targets[@]}"; do
    # One product at a time: with --sanitize=fuzzer every executable is compiled without a main.
    env "${build_env[@]}" swift build "${build_flags[@]}" --product "fuzz-$target" 2>&1 \
        | grep -v -e "prohibited flag" -e "Cannot export local symbol" -e '^\[' || true
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz.sh: building fuzz-$target failed" >&2; exit 1; }
done
echo "fuzz.sh: built ${#targets[@]} target(s) in $((SECONDS - start)) s"

artifacts=${FUZZ_ARTIFACTS:-$PWD/.build-fuzz/artifacts}
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SWIFT_BACKTRACE=enable=no   # let ASan and libFuzzer report the fault themselves
failed=()
printf '%-20s %10s %8s %8s %8s %8s  %s\n' target inputs seconds exec/s coverage crashes reproducer
for target in "${targets[@]}"; do
    corpus=${keep:+$keep/$target}
    corpus=${corpus:-$work/$target}
    mkdir -p "$corpus"
    cp Fuzz/Corpus/"$target"/* "$corpus"/
    options=(-runs="$runs")
    [ -n "$seconds" ] && options=(-max_total_time="$seconds")
    [ -f "Fuzz/Dictionaries/$target.dict" ] && options+=(-dict="Fuzz/Dictionaries/$target.dict")
    log="$work/$target.log"
    began=$(date +%s.%N)
    set +e
    nice ".build-fuzz/release/fuzz-$target" "$corpus" "${options[@]}" -max_len="${max_len[$target]}" \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$target-" >"$log" 2>&1
    status=$?
    set -e
    elapsed=$(awk "BEGIN { print $(date +%s.%N) - $began }")
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(awk "BEGIN { printf \"%d\", ${executed:-0} / $elapsed }")
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    crashes=0
    if [ "$status" != 0 ]; then
        crashes=1
        failed+=("$target")
        echo "---- fuzz-$target failed (exit $status); the end of its log:" >&2
        tail -40 "$log" >&2
    fi
    printf '%-20s %10s %8.1f %8s %8s %8s  %s\n' "$target" "${executed:-?}" "$elapsed" "$speed" "${coverage:-?}" "$crashes" "${reproducer:-}"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]} (reproducers in $artifacts)" >&2
    exit 1
fi
