#!/usr/bin/env bash
# Start `tutor` in tmux with a fresh home, measure the time to first paint, type a question and
# wait for a cited answer on screen. Prints the figures; exit status 0 when the answer showed.
#
#   scripts/tmux_first_paint.sh ["question"]    (env: TUTOR_BIN, TIMEOUT seconds, KEEP_HOME=1)
set -euo pipefail
cd "$(dirname "$0")/.."

QUESTION=${1:-"What does claim 1 say about scaling laws?"}
TUTOR_BIN=${TUTOR_BIN:-.venv/bin/tutor}
TIMEOUT=${TIMEOUT:-600}
SESSION="tutor-first-paint-$$"
HOME_DIR=$(mktemp -d)
CONFIG="$HOME_DIR/config.toml"   # not the learner's config: defaults only
OUT=${OUT:-benchmarks/out}
mkdir -p "$OUT"

command -v tmux >/dev/null || { echo "error: tmux: not installed (apt-get install -y tmux)" >&2; exit 2; }

# Python caches compiled modules after the first run, unless PYTHONDONTWRITEBYTECODE is set (as
# on the dev machines): compile once, as an install or a first run would (NO_COMPILE=1 skips).
if [ "${NO_COMPILE:-0}" != 1 ]; then
    "$(dirname "$TUTOR_BIN")/python" -m compileall -q tutor >/dev/null 2>&1 || true
fi

SOCKET="tutor-first-paint-$$"  # a private tmux server: other sessions are left alone
tmux() { command tmux -L "$SOCKET" "$@"; }
# a keeper session holds the server up between runs (its start is not part of any figure)
tmux new-session -d -s keeper "sleep 3600"

now() { date +%s.%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
screen() { tmux capture-pane -p -t "$SESSION" 2>/dev/null || true; }
cleanup() {
    tmux kill-server 2>/dev/null || true
    [ "${KEEP_HOME:-0}" = 1 ] || rm -rf "$HOME_DIR"
}
trap cleanup EXIT

# wait_for PATTERN SECONDS: poll the pane every 10 ms until PATTERN (grep -E) shows
wait_for() {
    local pattern=$1 limit=$2 start
    start=$(now)
    while ! screen | grep -Eq -- "$pattern"; do
        if awk -v a="$start" -v b="$(now)" -v l="$limit" 'BEGIN { exit !((b - a) > l) }'; then
            return 1
        fi
        sleep 0.01
    done
}

# Optional warm-up statistics: PAINT_RUNS=N launches N times, measures first paint, quits.
for i in $(seq 1 "${PAINT_RUNS:-0}"); do
    T=$(now)
    tmux new-session -d -s "$SESSION-p$i" -x 160 -y 45 \
        "env TUTOR_HOME='$HOME_DIR/p$i' TUTOR_CONFIG='$CONFIG' TERM=xterm-256color $TUTOR_BIN"
    while ! tmux capture-pane -p -t "$SESSION-p$i" 2>/dev/null | grep -q "Eight things to know"; do
        sleep 0.01
    done
    echo "first paint (run $i): $(ms_since "$T") ms"
    tmux send-keys -t "$SESSION-p$i" C-q  # quit, and wait for the process to be gone
    for _ in $(seq 1 200); do tmux has-session -t "$SESSION-p$i" 2>/dev/null || break; sleep 0.05; done
    tmux kill-session -t "$SESSION-p$i" 2>/dev/null || true
    sleep 0.5
done

T0=$(now)
tmux new-session -d -s "$SESSION" -x 160 -y 45 \
    "env TUTOR_HOME='$HOME_DIR/home' TUTOR_CONFIG='$CONFIG' TERM=xterm-256color $TUTOR_BIN"
# First paint: the claims sidebar and the question box are on screen.
if ! wait_for "Eight things to know" 20; then
    echo "error: no first paint within 20 s" >&2; screen >&2; exit 1
fi
FIRST_PAINT_MS=$(ms_since "$T0")
echo "first paint: ${FIRST_PAINT_MS} ms"

# Type while the engine is still loading (the app queues the question).
tmux send-keys -t "$SESSION" -l "$QUESTION"
tmux send-keys -t "$SESSION" Enter
T_ASKED=$(now)

if wait_for "● ready|▲ model unavailable|✖ error" "$TIMEOUT"; then
    echo "engine ready: $(ms_since "$T0") ms after launch (fresh home: includes indexing the corpus)"
fi
# A finished answer has its sources line ("Sources: [1] ...") under it.
if ! wait_for "Sources: \[[0-9]+\]" "$TIMEOUT"; then
    echo "error: no cited answer within ${TIMEOUT} s" >&2; screen >&2; exit 1
fi
ANSWER_MS=$(ms_since "$T_ASKED")
screen > "$OUT/tmux_first_paint_screen.txt"
echo "cited answer on screen: ${ANSWER_MS} ms after Enter"

# The answer is about the question: "[1]" and a word of it ("scaling"/"claim") on screen.
if grep -q "\[1\]" "$OUT/tmux_first_paint_screen.txt" \
        && grep -Eiq "scaling|claim 1|スケーリング" "$OUT/tmux_first_paint_screen.txt"; then
    echo "answer check: [1] and text about the question are on screen"
else
    echo "error: the screen lacks [1] or text about the question" >&2
    cat "$OUT/tmux_first_paint_screen.txt" >&2
    exit 1
fi
echo "screen saved to $OUT/tmux_first_paint_screen.txt"
printf '{"first_paint_ms": %s, "answer_ms": %s}\n' "$FIRST_PAINT_MS" "$ANSWER_MS" \
    > "$OUT/tmux_first_paint.json"
tmux send-keys -t "$SESSION" C-q
