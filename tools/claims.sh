#!/bin/sh
# tools/claims.sh [BUILD_DIR] - `make claims`: the table of docs/CLAIMS.md
# with fresh numbers. For every essay claim (C1-C21): its demo commands, run
# now in their short configuration, the figures read from their output, and
# the verdict the index gives.
#
#   tools/claims.sh              demos from build/demos
#   tools/claims.sh build/asm    demos from build/asm/demos
#   tools/claims.sh --list       run nothing; print "ID<TAB>command" per command
#
# Exits 1 if a command fails or no longer prints a line a figure is read
# from, so the index cannot silently rot (tests/test_claims.c runs it, and
# checks that every command of the index is run here). The full-size
# commands and the figures they gave are in docs/CLAIMS.md.
set -u

list_only=false
if [ "${1:-}" = --list ]; then
    list_only=true
    shift
fi
build=${1:-build}
demos=$build/demos
index=$(dirname "$0")/../docs/CLAIMS.md
out=$(mktemp -d "${TMPDIR:-/tmp}/coloop-claims.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT
trap 'exit 130' INT TERM
failed=0
sep=$(printf '\001')
tab=$(printf '\t')

# Short commands shared by several claims: each runs once.
HEADLINE="headline -n 20 --delay-ms 200 --sample 5"
SMALL_N="headline -n 3 --delay-ms 200 --threads N"
THREADS="threads_vs_tasks --quick"

# output_of CMD: run it (once) and print the file holding its output.
output_of() {
    key=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
    file=$out/$key
    if [ ! -e "$file.status" ]; then
        # shellcheck disable=SC2086  # the command is a word list on purpose
        (cd "$demos" && ./$1) >"$file" 2>&1 </dev/null
        echo $? >"$file.status"
    fi
    echo "$file"
}

complain() {
    printf '! %s: %s\n' "$row_id" "$*" >>"$out/complaints"
    failed=1
}

# The row being built: one per claim.
row_id='' row_title='' row_cmds='' row_figs='' cur_file=''

# flush: the row so far goes to the table, with the index's verdict (the
# bold part of the row's last column).
flush() {
    [ -n "$row_id" ] || return 0
    verdict=$(grep -m1 -F "| $row_id | " "$index" 2>/dev/null |
        awk -F'|' '{ print $6 }' | sed -n 's/^[^*]*\*\*\([^*]*\)\*\*.*/\1/p')
    if [ -z "$verdict" ]; then
        verdict='?'
        complain "no verdict for $row_id in docs/CLAIMS.md"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$row_id" "$row_title" "$row_cmds" "$row_figs" \
        "$verdict" >>"$out/table"
    row_id=''
}

# claim ID TITLE: start the claim's row.
claim() {
    flush
    row_id=$1 row_title=$2 row_cmds='' row_figs=''
}

# run COMMAND: run it (in build/demos) for the current claim; the figures
# that follow are read from its output.
run() {
    if $list_only; then
        printf '%s\t%s\n' "$row_id" "$1"
        return
    fi
    row_cmds=${row_cmds:+$row_cmds; }$1
    cur_file=$(output_of "$1")
    status=$(cat "$cur_file.status")
    if [ "$status" != 0 ]; then
        cur_file=''
        row_figs=${row_figs:+$row_figs; }"FAILED (exit $status)"
        complain "\`$1\` exited with $status; its last lines:"
        tail -5 "$(output_of "$1")" | sed 's/^/    /' >>"$out/complaints"
    fi
}

# fig LABEL REGEX [AFTER]: the first line of the output matching the
# extended REGEX (after the first line matching AFTER, if given) gives the
# figure LABEL, where \1, \2... stand for REGEX's groups.
fig() {
    $list_only && return
    [ -n "$cur_file" ] || return 0
    case $2 in
    ^*) re=$2 ;;
    *) re=".*$2" ;;
    esac
    range=''
    if [ -n "${3:-}" ]; then
        range="\\$sep$3$sep,\$"
    fi
    value=$(sed -E -n "$range s$sep$re.*$sep$1${sep}p" "$cur_file" | head -n1)
    if [ -z "$value" ]; then
        value='MISSING'
        complain "no line of its output matches /$2/"
    fi
    row_figs=${row_figs:+$row_figs; }$value
}

# count LABEL REGEX: the number of output lines matching REGEX (at least 1).
count() {
    $list_only && return
    [ -n "$cur_file" ] || return 0
    n=$(grep -c -E -- "$2" "$cur_file")
    if [ "$n" = 0 ]; then
        complain "no line of its output matches /$2/"
    fi
    row_figs=${row_figs:+$row_figs; }"$n $1"
}

if [ ! -x "$demos/headline" ] && ! $list_only; then
    echo "claims: $demos/headline not found; run make first (or make claims)" >&2
    exit 1
fi
if ! $list_only; then
    echo "docs/CLAIMS.md with fresh numbers: each claim's commands (in $demos), short"
    echo "configuration, run now on $(hostname) ($(nproc 2>/dev/null || echo ?) CPUs, Linux $(uname -r))."
    echo
fi

N=' +[0-9][0-9of ]* +'   # a table's requests ("20", "5 of 20"), between way and time

claim C1 "Waiting, not speed"
run "$HEADLINE"
fig 'in a row \1' '^ *1 sequential, blocking sockets'"$N"'(~?[0-9.]+ s)'
fig '20 coroutines \1 (\2)' '^ *4 coroutines, all in flight'"$N"'([0-9.]+ s) +([0-9.]+x)'
fig 'each request \1' 'each still took ([0-9.]+\.\.[0-9.]+ s)'

claim C2 "20 x 200 ms"
run "$HEADLINE"
fig 'in a row \1' '^ *1 sequential, blocking sockets'"$N"'(~?[0-9.]+ s)'
fig 'coroutines \1' '^ *4 coroutines, all in flight'"$N"'(~?[0-9.]+ s)'

claim C3 "Threads almost as fast"
run "$HEADLINE"
fig '20 threads \1, \2 threads, +\3 addr. space' \
    '^ *3 thread pool, 20 threads'"$N"'([0-9.]+ s) +[0-9.]+x +([0-9]+) +\+[0-9.]+ MiB +\+([0-9.]+ MiB)'
fig '5 threads \1' '^ *2 thread pool, 5 threads'"$N"'(~?[0-9.]+ s)'
fig 'coroutines \1, \2 thread, +\3' \
    '^ *4 coroutines, all in flight'"$N"'([0-9.]+ s) +[0-9.]+x +([0-9]+) +\+[0-9.]+ MiB +\+([0-9.]+ MiB)'

claim C4 "The sweep"
run "sweep --quick --svg /dev/null"
fig 'N=100: C=5 \1 s' '^sweep: N=100 +C=5 +([0-9.]+) s'
fig 'C=20 \1 s' '^sweep: N=100 +C=20 +([0-9.]+) s'
fig 'unlimited \1 s' '^sweep: N=100 +unlimited +([0-9.]+) s'
run "sweep --quick --server-limit 5 --svg /dev/null"
fig 'server serving 5: C=5 \1 s' '^sweep: N=100 +C=5 +([0-9.]+) s'
fig 'C=20 \1 s' '^sweep: N=100 +C=20 +([0-9.]+) s'
fig 'unlimited \1 s' '^sweep: N=100 +unlimited +([0-9.]+) s'

claim C5 "A pipeline of sources"
run "pipeline --quick"
fig 'in a row \1' 'one source after another \("sync"\) +([0-9.]+ s)'
fig 'concurrent \1' 'a task per source, all at once +([0-9.]+ s)'
fig '\1' '(speed-up [0-9.]+x)'
fig 'bound \1' 'sum / longest = ([0-9.]+x)'

claim C6 "Threads vs coroutines"
run "$THREADS"
fig '1000 threads: create \1, \2 each' '^ +1000 +threads +([0-9.]+ ms) .* ([0-9.]+ KiB) *$'
fig 'tasks \1, \2' '^ +1000 +tasks +([0-9.]+ ms) .* ([0-9.]+ KiB) *$'
fig 'threads would fail at ~\1 (\2)' 'about ([0-9]+), stopped by ([^:]+)'

claim C7 "3 calls: little gain"
run "$SMALL_N"
fig 'in a row \1' '^ *1 sequential, blocking sockets'"$N"'(~?[0-9.]+ s)'
fig '3 threads \1' '^ *2 thread pool, 3 threads'"$N"'(~?[0-9.]+ s)'
fig '3 coroutines \1' '^ *3 coroutines, all in flight'"$N"'(~?[0-9.]+ s)'

claim C8 "Blocking the loop"
run "pitfalls --quick blocking"
fig 'usleep: ticker \1 late' '^ *usleep\(\) - blocking.* ([0-9]+ ms) +[0-9]+ ms +[0-9]+ ms,'
fig 'connect(): \1' '^ *connect\(\) - blocking.* ([0-9]+ ms) +[0-9]+ ms +[0-9]+ ms,'
fig 'dial_await_tcp: \1' '^ *dial_await_tcp\(\) .* ([0-9]+ ms) +[0-9]+ ms +[0-9]+ ms,'
fig "watchdog named \\1 at \\2" "watchdog: task #[0-9]+ ('blocking-sleeper') .* has held the loop for ([0-9]+ ms)"

claim C9 "CPU-bound work"
run "pitfalls --quick cpu"
fig 'in tasks \1, lag p99/max \2/\3' '^ *inside the tasks +([0-9]+ ms) +[0-9]+ ms +([0-9]+) / +([0-9]+ ms)'
fig 'pool \1, lag \2/\3' '^ *on the pool \(await_thread\) +([0-9]+ ms) +[0-9]+ ms +([0-9]+) / +([0-9]+ ms)'

claim C10 "Awaiting one at a time"
run "pitfalls --quick sequential"
fig 'one by one \1' '^ *spawn, join, spawn, join\.\.\. +([0-9]+ ms)'
fig 'all at once \1' '^ *spawn all ten, then join all +([0-9]+ ms)'
run "$HEADLINE"
fig 'headline way 5 \1' '^ *5 coroutines, awaited one by one'"$N"'(~?[0-9.]+ s)'

claim C11 "Forgetting to await"
run "pitfalls --quick forgotten"
fig 'outside a task: \1 at once' 'returned at once with (-[0-9]+)'
fig '\1 never joined: reported' "('compute_answer') .*never joined"
fig 'unread failure \1: logged' "detached task #[0-9]+ ('background-refresh') .*failed"

claim C12 "Fire-and-forget tasks"
run "pitfalls --quick references"
fig 'dropped \1: reported, \2' "('forgotten-fetch') .*never joined.*returned (-[0-9]+)"
count 'fixes with no ownership report' 'no ownership report'

claim C13 "Errors in gather"
run "pitfalls --quick errors"
fig 'await_all waits \1' '^ *slow +finished +at +([0-9]+ ms)'
fig 'group cancels at \1' '^ *medium +was cancelled +at +([0-9]+ ms)'
fig 'gather raises at \1, others run on' "gather default: raised .* at ([0-9]+ ms); the others keep running"

claim C14 "time.sleep vs asyncio.sleep"
run "pitfalls --quick blocking"
fig 'usleep \1 late' '^ *usleep\(\) - blocking.* ([0-9]+ ms) +[0-9]+ ms +[0-9]+ ms,'
fig 'await_sleep_ms \1' '^ *await_sleep_ms\(\) .* ([0-9]+ ms) +[0-9]+ ms +[0-9]+ ms,'

claim C15 "Mixing clients deadlocks"
run "mixing --quick"
fig 'watchdog named \1 at \2' "watchdog: task #[0-9]+ ('blocking-client') .* has held the loop for ([0-9]+ ms)"
fig 'no answer (gave up at \1)' 'no answer: gave up after ([0-9]+ ms)'
fig 'coroutine client 200 in \1' '-> 200 after ([0-9]+ ms)'

claim C16 "Function colour"
run "colour --quick"
fig 'one task \1' 'one task \(sequential\) +total +[0-9.]+ +([0-9.]+ ms)'
fig 'a task per item \1' 'one task per item \(concurrent\) +total +[0-9.]+ +([0-9.]+ ms)'
fig 'same results: \1' 'same results: ([a-z]+)'

claim C17 "The interop tax"
run "sync_async --quick"
fig 'blocking call in the task \1' 'called directly in the task +([0-9]+ ms)'
fig 'via await_thread \1' 'through the pool, await_thread\(\) \(to_thread\) +([0-9]+ ms)'

claim C18 "Sync outside, async inside"
run "sync_async --quick"
fig 'co_run from plain code: \1 in \2' ' ([0-9]+ of [0-9]+) answered 200, .* in ([0-9]+ ms)'
fig 'inside a task: \1' 'fetch_all\(\) returned (-[0-9]+)'

claim C19 "Debugging is harder"
run "debugview --quick"
fig 'SIGQUIT dump: \1 tasks' 'coloop: ([0-9]+) task\(s\) alive'
fig 'stuck-fetch: \1' '^ *#[0-9]+ +stuck-fetch +waiting +(waiting for fd [0-9]+ readable)'
fig 'watchdog named \1 at \2' "watchdog: task #[0-9]+ ('indexer') .* has held the loop for ([0-9]+ ms)"

claim C20 "Where async pays"
run "serverbench 0 1000 1"
fig '1000 clients: once \1 of \2 in \3' 'once: +served ([0-9]+) of ([0-9]+), total ([0-9.]+ s)'
fig 'again \1 in \2' 'again: +served ([0-9]+) of [0-9]+, total ([0-9.]+ s)'
run "$THREADS"
fig '1000 waiters on sockets: threads \1' '^ +1000 +threads +[0-9.]+ ms +([0-9.]+ ms)' '^Variant 2, socket'
fig 'tasks \1' '^ +1000 +tasks +[0-9.]+ ms +([0-9.]+ ms)' '^Variant 2, socket'

claim C21 "Where it does not"
run "pitfalls --quick cpu"
fig 'CPU in tasks \1, loop lag \2' '^ *inside the tasks +([0-9]+ ms) +[0-9]+ ms +[0-9]+ / +([0-9]+ ms)'
run "$SMALL_N"
fig '3 threads \1' '^ *2 thread pool, 3 threads'"$N"'(~?[0-9.]+ s)'
fig '3 coroutines \1' '^ *3 coroutines, all in flight'"$N"'(~?[0-9.]+ s)'
flush

$list_only && exit 0

# The table, its columns aligned (it is also a Markdown table).
awk -F"$tab" '
    BEGIN { h[1] = "ID"; h[2] = "claim"; h[3] = "command (short)"; h[4] = "measured now"; h[5] = "verdict (docs/CLAIMS.md)" }
    { for (i = 1; i <= 5; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
    END {
        for (i = 1; i <= 5; i++) if (length(h[i]) > w[i]) w[i] = length(h[i])
        line = "|"; rule = "|"
        for (i = 1; i <= 5; i++) {
            line = line sprintf(" %-" w[i] "s |", h[i])
            dash = ""; for (k = 0; k < w[i] + 2; k++) dash = dash "-"
            rule = rule dash "|"
        }
        print line; print rule
        for (r = 1; r <= NR; r++) {
            line = "|"
            for (i = 1; i <= 5; i++) line = line sprintf(" %-" w[i] "s |", cell[r, i])
            print line
        }
    }' "$out/table"

if [ "$failed" != 0 ]; then
    echo
    cat "$out/complaints"
    echo "claims: some commands failed or changed their output (see ! above)" >&2
    exit 1
fi
