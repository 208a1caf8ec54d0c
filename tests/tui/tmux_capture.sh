#!/usr/bin/env bash
# Run `leadsync demo` (sandbox CRM + agent + TUI) in a detached 100x30 tmux session, visit every screen
# (contacts, search, a contact, sync history/errors/conflicts/plan, settings and its confirmation, owners,
# smart lists, help, import) with the keys a person would press, and save what the terminal shows (capture-pane -p) to
# tests/tui/captures/<screen>.txt. A plain-text record of the real TUI in a real terminal, for review
# and for diffs between versions.
#
# Usage: tests/tui/tmux_capture.sh            (needs tmux: apt-get install -y tmux)
#        WIDTH=80 HEIGHT=24 OUT=tests/tui/captures/80x24 tests/tui/tmux_capture.sh   (the smallest terminal;
#        both sets are kept in the repository)
# Environment: LEADSYNC (default .venv/bin/leadsync), CONTACTS in the sandbox (default 2000),
#              WIDTH/HEIGHT (default 100x30), TIMEOUT_S for the demo to come up (default 180),
#              OUT for the captures (default tests/tui/captures), IMPORT_ROWS in the imported file (default 20000).
set -euo pipefail

cd "$(dirname "$0")/../.."
LEADSYNC=${LEADSYNC:-.venv/bin/leadsync}
CONTACTS=${CONTACTS:-2000}
WIDTH=${WIDTH:-100}
HEIGHT=${HEIGHT:-30}
TIMEOUT_S=${TIMEOUT_S:-180}
OUT=${OUT:-tests/tui/captures}
IMPORT_ROWS=${IMPORT_ROWS:-20000}
SESSION="leadsync-capture-$$"
IMPORT_FILE=/tmp/leadsync-capture/import-leads.csv   # a fixed path: the captures show it

command -v tmux >/dev/null || { echo "tmux_capture.sh: needs tmux (apt-get install -y tmux)" >&2; exit 2; }
[ -x "$LEADSYNC" ] || { echo "tmux_capture.sh: no $LEADSYNC (make the venv first: make test)" >&2; exit 2; }
mkdir -p "$OUT"

# The session's shell keeps the window open if the demo exits early, so its last words can be read.
tmux new-session -d -s "$SESSION" -x "$WIDTH" -y "$HEIGHT" \
    "$LEADSYNC demo --contacts $CONTACTS; echo \"[leadsync demo exited with \$?]\"; sleep 600"
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -f "$IMPORT_FILE"' EXIT

# The file the import screen reads: a report title, a bad email, a phone in scientific notation.
mkdir -p "$(dirname "$IMPORT_FILE")"
{
    echo "Leads from the fair"
    echo "Email,First Name,Last Name,Job Title,Phone,Booth"
    echo "not-an-email,Kim,Bad,,,"
    echo "lin@fair.example,Lin,Lu,CTO,4.41E+11,B12"
    for ((i = 0; i < IMPORT_ROWS; i++)); do echo "visitor$i@fair.example,Visitor,No $i,,,A$((i % 40))"; done
} > "$IMPORT_FILE"

screen() { tmux capture-pane -p -t "$SESSION"; }

# wait_for TEXT [SECONDS]: until the screen shows TEXT (a fixed string); on timeout show the screen and fail.
wait_for() {
    local text=$1 seconds=${2:-15} i
    for ((i = 0; i < seconds * 10; i++)); do
        if screen | grep -qF -- "$text"; then return 0; fi
        if screen | grep -qF -- "[leadsync demo exited"; then break; fi
        sleep 0.1
    done
    echo "tmux_capture.sh: gave up waiting for: $text" >&2
    screen >&2
    return 1
}

# capture NAME: let the screen settle, then save it.
capture() {
    sleep 0.5
    screen > "$OUT/$1.txt"
    echo "saved $OUT/$1.txt"
}

keys() { tmux send-keys -t "$SESSION" "$@"; }

wait_for "loaded, more…" "$TIMEOUT_S"          # the demo synced and the first page of contacts is in
capture contacts

keys /                                          # incremental search
wait_for "Search name, email"
keys -l "ann"
wait_for "matching"
capture contacts-search
keys Escape                                     # back to the table (a pause, so tmux does not read alt+…)
sleep 1
keys C-l                                        # clear the search and filters
wait_for "loaded, more…"

keys Enter                                      # the first contact in full
wait_for "CRM link"
capture contact-detail
keys Escape
wait_for "loaded, more…"

keys 2                                          # Sync: history of the demo's three runs
wait_for "Last run"
capture sync
keys p                                          # the plan (dry run)
wait_for "API calls" 60
capture sync-plan

keys e                                          # Sync › Errors (the e key reaches it from anywhere)
wait_for "Last seen (UTC)"
capture sync-errors
keys x                                          # Sync › Conflicts: base, local and CRM side by side
wait_for "Winner"
capture sync-conflicts
keys h                                          # back to Sync › History
wait_for "Trigger"

keys 3                                          # Settings: CRM connection, sync settings, field mapping
wait_for "connected as"
capture settings
# To the threshold field by Tab and type 0; the form can still be filling in on a loaded machine, so check
# the field shows the 0 and try again (at most 3 times) if not.
for attempt in 1 2 3; do
    keys 3
    sleep 1
    for _ in 1 2 3; do keys Tab; sleep 0.5; done  # from the form's scroll: interval, push switch, threshold
    keys C-u                                     # empty the threshold field (the cursor is at its end)
    keys -l "0"
    sleep 0.5
    if screen | grep -qE -- "Interest level threshold +0 "; then break; fi
    keys Escape
    sleep 1
done
keys C-s                                        # a lower threshold: what it would write, and a question
wait_for "would write" 120
capture settings-confirm
keys Escape                                     # Cancel: nothing saved
wait_for "Not saved"
sleep 1
keys Escape                                     # back to the form's scroll (pauses: no alt+… for tmux)
sleep 1

keys 4                                          # Owners: users and CRM owners, matched or not, contacts each
wait_for "CRM owner"
capture owners
keys 5                                          # Smart lists: the filter builder and its live count
wait_for "contacts match"
capture smart-lists
keys "?"                                        # every key, from the bindings
wait_for "ctrl+p finds every command"
capture help
keys Escape
sleep 1
keys 1
wait_for "loaded, more…"

keys i                                          # Import: the path, the first user, the preview
wait_for "Choose a file"
sleep 1
keys -l "$IMPORT_FILE"
sleep 0.5
for _ in 1 2; do keys Tab; sleep 0.5; done      # past Preview (Import waits for a preview) to the user
keys Enter                                      # open the list: the blank prompt, then the users
sleep 1.5                                       # (a busy machine draws the list late)
keys Down Enter                                 # the first user
sleep 1
keys C-r
wait_for "DRY RUN" 120
capture import-preview
keys Tab Tab Tab Down Down Down Down Down       # the columns table, the Booth column
keys Enter                                      # the form that changes its field
wait_for "or a custom field name"
capture import-field
keys Escape
sleep 0.5
keys C-s                                        # import for real, with progress
wait_for "Importing…" 30
capture import-running
wait_for "Imported:" 300
capture import-done
keys Escape                                     # back to the tab the import started from
sleep 1

keys 6                                          # Health: problems, connection, API budget, backlog, runs, errors
wait_for "API budget"
capture health

keys q
echo "captures in $OUT"
