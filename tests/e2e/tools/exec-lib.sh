# shellcheck shell=sh
# Helpers of the `ktstr vm --exec` cases (cases/1*-exec-*.sh), sourced after
# /e2e/lib.sh inside L1 (installed as /e2e/tools/exec-lib.sh by l1-tools.sh).

# shellcheck disable=SC2034 # used by the case scripts
T=/e2e/tools
# Guest deadlines are tuned for real hardware; nested TCG is ~20x slower.
: "${E2E_EXEC_SCALE:=20}"
# shellcheck disable=SC2034 # used by the case scripts
EXEC_BASE="--kernel $KERNEL --scale $E2E_EXEC_SCALE"

# stat_get FILE SECTION KEY [INDEX]: a number from a `ktstr vm --stats` file
# (pretty JSON). SECTION is net, console or disks (INDEX = the disk's
# position, 0 for /dev/vda). Prints nothing when the key is absent.
stat_get() {
	awk -v sec="$2" -v key="\"$3\":" -v want="${4:-0}" '
		/^  "[a-z_]*":/ {
			cur = $0; sub(/^  "/, "", cur); sub(/".*/, "", cur)
			depth = 0; idx = -1
		}
		cur == "disks" && /^    \{/ { idx++ }
		cur == sec && (sec != "disks" || idx == want) && index($0, key) {
			v = substr($0, index($0, key) + length(key)); sub(/[^0-9].*/, "", v)
			print v; exit
		}' "$1"
}

# expect_stat TAG FILE SECTION KEY OP VALUE [INDEX]: a --stats counter
# compares (test(1) OP: -eq, -gt, ...) with VALUE.
expect_stat() {
	v=$(stat_get "$2" "$3" "$4" "${7:-0}")
	if [ -z "$v" ]; then
		fail "$1: no $3${7:+[$7]}.$4 in --stats"
		return 1
	fi
	test "$v" "$5" "$6" && return 0
	fail "$1: --stats $3${7:+[$7]}.$4 = $v, expected $5 $6"
	return 1
}

# field KEY [FILE]: the rest of the first output line "KEY value..." (the
# guest command prints its findings that way); empty when absent.
field() {
	sed -n "s/^$1 //p" "${2:-$VM_OUT}" | head -n 1
}
