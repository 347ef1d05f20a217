#!/bin/sh
# tests/fuzz/run.sh [SECONDS] - build every libFuzzer target (fuzz_*.c) with
# clang, ASan and UBSan into build/fuzz/, then run each for SECONDS (default
# 30) with the dictionary and the seed corpus.  Fails on the first crash,
# leak, sanitizer report or disagreement (the targets abort()); the input
# that did it is left in build/fuzz/crash-<target>-* -- turn it into a test
# case in tests/test_parse*.c / test_url.c, then fix.
#
# New inputs the fuzzer finds go to build/fuzz/corpus/<target>/ (the
# checked-in seeds in tests/fuzz/corpus/ are only read; regenerate them from
# the unit tests' vectors with tests/fuzz/mkcorpus.py).
# Needs clang and its libFuzzer runtime (Debian: apt-get install -y clang
# libclang-rt-14-dev).  FUZZ_CC overrides the compiler.
set -u
cd "$(dirname "$0")/../.." || exit 1

seconds=${1:-30}
cc=${FUZZ_CC:-clang}
out=build/fuzz
targets="response request url chunked"
# The library sources the targets need: the parser and URL code, nothing
# that does I/O (so a target builds even while other layers change).
srcs="http/parse.c http/framing.c http/chunked.c http/format.c http/url.c http/url_host.c
      http/httperr.c runtime/error.c"
flags="-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Wall -Wextra -Werror -I."

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (apt-get install -y clang libclang-rt-14-dev)" >&2
    exit 1
fi
mkdir -p "$out"
probe="$out/probe.c"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$probe"
if ! "$cc" -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
    echo "fuzz: $cc cannot link libFuzzer (apt-get install -y libclang-rt-14-dev)" >&2
    exit 1
fi

for t in $targets; do
    echo "== build fuzz_$t"
    # shellcheck disable=SC2086
    "$cc" $flags "tests/fuzz/fuzz_$t.c" $srcs -o "$out/fuzz_$t" || exit 1
done

status=0
for t in $targets; do
    echo "== fuzz_$t for ${seconds}s"
    mkdir -p "$out/corpus/$t"
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -max_len=8192 -print_final_stats=1 \
        -dict=tests/fuzz/http.dict -artifact_prefix="$out/crash-$t-" \
        "$out/corpus/$t" "tests/fuzz/corpus/$t" > "$out/fuzz_$t.log" 2>&1
    rc=$?
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ +DONE)' "$out/fuzz_$t.log"
    if [ $rc -ne 0 ]; then
        echo "fuzz_$t FAILED (exit $rc): see $out/fuzz_$t.log and $out/crash-$t-*" >&2
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$out/fuzz_$t.log" >&2
        status=1
    fi
done
exit $status
