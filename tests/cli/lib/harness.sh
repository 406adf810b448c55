# The shared part of the command-line tests, sourced by each script with
# the script's arguments:   . "$(dirname "$0")/lib/harness.sh" "$@"
# Gives DECONV (the program), DATA (tests/data), T (a scratch folder,
# removed at exit), the counters and ok / bad, and finish, which prints the
# closing "N passed, N failed" line and gives the exit status.
set -u
DECONV=${1:?usage: $(basename "$0") DECONV DATA}
DATA=${2:?usage: $(basename "$0") DECONV DATA}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
