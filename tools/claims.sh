#!/bin/sh
# tools/claims.sh [BUILD_DIR] - `make claims`: every essay claim (C1-C21 of
# docs/CLAIMS.md), its demo command run in the short configuration, and the
# lines of output that carry the figures, measured now on this machine.
#
#   tools/claims.sh              demos from build/demos
#   tools/claims.sh build/asm    demos from build/asm/demos
#   tools/claims.sh --list       only the claim IDs and their commands
#
# Exits non-zero if a command fails or no longer prints the line a claim
# points at, so the index cannot silently rot (tests/test_claims.c runs it).
# The full-size commands and the figures they gave are in docs/CLAIMS.md.
set -u

list_only=false
if [ "${1:-}" = --list ]; then
    list_only=true
    shift
fi
build=${1:-build}
demos=$build/demos
out=$(mktemp -d "${TMPDIR:-/tmp}/coloop-claims.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
failed=0

# Each short command runs once; claims that share it read the same output.
HEADLINE="headline -n 20 --delay-ms 200 --sample 5"
SMALL_N="headline -n 3 --delay-ms 200 --threads N"
PITFALLS="pitfalls --quick blocking cpu sequential errors references forgotten noyield"

# output_of CMD: run it (once) and print the file holding its output.
output_of() {
    key=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
    file=$out/$key
    if [ ! -e "$file.status" ]; then
        # shellcheck disable=SC2086  # the command is a word list on purpose
        (cd "$demos" && ./$1) >"$file" 2>&1
        echo $? >"$file.status"
    fi
    echo "$file"
}

# claim ID TITLE COMMAND PATTERN...: run COMMAND, show the first line that
# matches each PATTERN (an extended regular expression).
claim() {
    id=$1 title=$2 cmd=$3
    shift 3
    printf '%-4s %s\n     $ build/demos/%s\n' "$id" "$title" "$cmd"
    if $list_only; then
        return
    fi
    file=$(output_of "$cmd")
    status=$(cat "$file.status")
    if [ "$status" != 0 ]; then
        printf '     ! the command exited with %s; its last lines:\n' "$status"
        tail -5 "$file" | sed 's/^/       /'
        failed=1
        return
    fi
    for pattern in "$@"; do
        line=$(grep -m1 -E -- "$pattern" "$file")
        if [ -z "$line" ]; then
            printf '     ! no line matches /%s/\n' "$pattern"
            failed=1
        else
            printf '     > %s\n' "$(printf '%s' "$line" | sed 's/^ *//' | cut -c1-110)"
        fi
    done
}

if [ ! -x "$demos/headline" ] && ! $list_only; then
    echo "claims: $demos/headline not found; run make first (or make claims)" >&2
    exit 1
fi
echo "Every claim of docs/CLAIMS.md, short configuration, measured now:"
echo

claim C1 "Waiting, not speed" "$HEADLINE" \
    '^ *1 sequential, blocking' '^ *4 coroutines, all in flight' 'No request got'
claim C2 "20 x 200 ms" "$HEADLINE" '^ *4 coroutines, all in flight'
claim C3 "Threads almost as fast at 100" "$HEADLINE" \
    '^ *3 thread pool, 20 threads' '^ *4 coroutines, all in flight'
claim C4 "The sweep, diminishing returns" "sweep --quick --svg /dev/null" \
    '^sweep: N=100 +C=5 ' '^sweep: N=100 +unlimited' 'Waiting dominates'
claim C4 "... against a server that serves 5 at a time" \
    "sweep --quick --server-limit 5 --svg /dev/null" '^sweep: N=100 +C=5 ' '^sweep: N=100 +unlimited'
claim C5 "A pipeline of 40 sources" "pipeline --quick" 'speed-up' 'best possible speed-up'
claim C6 "Threads vs coroutines at scale" "threads_vs_tasks --quick" \
    '1000 +threads' '1000 +tasks'
claim C7 "Not worth it for 3 calls" "$SMALL_N" \
    '^ *1 sequential, blocking' '^ *[0-9] coroutines, all in flight'
claim C8 "Blocking the loop" "$PITFALLS" 'has held the loop' 'blocking, like time.sleep'
claim C9 "CPU-bound work" "$PITFALLS" 'inside the tasks' 'on the pool \(await_thread\)'
claim C10 "Awaiting one at a time" "$HEADLINE" \
    '^ *5 coroutines, awaited one by one'
claim C11 "Forgetting to await" "$PITFALLS" 'returned at once with' \
    "'compute_answer'.*never joined"
claim C12 "Fire-and-forget tasks" "$PITFALLS" "'forgotten-fetch'.*never joined"
claim C13 "Errors in gather" "$PITFALLS" 'await_all \(gather with return_exceptions' \
    'was cancelled' 'gather default'
claim C14 "time.sleep vs asyncio.sleep" "$PITFALLS" 'blocking, like time.sleep' \
    'like asyncio.sleep'
claim C15 "Mixing clients deadlocks" "mixing --quick" "'blocking-client'.*has held the loop" \
    'no answer' '-> 200 after'
claim C16 "Function colour" "colour --quick" 'same results'
claim C17 "The interop tax" "sync_async --quick" 'directly in the task' 'through the pool'
claim C18 "Sync outside, async inside" "sync_async --quick" 'answered 200' 'returned -10004'
claim C19 "Debugging is harder" "debugview --quick" 'SIGQUIT: task dump' \
    'stuck-fetch +waiting' "'crawl' joins 'stuck-fetch'" "'indexer'.*has held the loop"
claim C20 "Where async pays: many connections" "serverbench 0 1000 1" 'once: +served 1000 of 1000' 'again: +served 1000 of 1000'
claim C21 "Where it does not" "$PITFALLS" 'inside the tasks'

if [ "$failed" != 0 ]; then
    echo "claims: some commands failed or changed their output (see ! above)" >&2
    exit 1
fi
