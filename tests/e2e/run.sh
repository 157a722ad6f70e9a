#!/usr/bin/env bash
# The nested-KVM end-to-end tests (`make e2e`; design/E2E.md, tests/e2e/README.md).
# Builds L1 once (Debian 6.1 cloud kernel + busybox + kvm-amd + ./ktstr + both
# L2 kernels), boots it under QEMU/TCG with AMD SVM, runs every case in
# tests/e2e/cases/ against each L2 kernel inside it, and prints per case
#   PASS <case>@<kernel> (<seconds>)   or   FAIL <case>@<kernel> (<reason>)
# then, as the last line:  e2e: N passed, M failed
#
# Options: --bench         boot L1 with qemu-system-x86_64 inside and run every
#                          tests/e2e/bench/*.sh instead (`make bench-e2e`)
#          --kernel LABEL  only this L2 kernel (6.1 or 7.2; repeatable)
#          --case SUBSTR   only cases whose file name contains SUBSTR (repeatable)
#          --timeout S     host limit for the whole run (default 2400)
#          --case-limit S  a case that shows no result for S seconds (default 240)
#                          is stopped with L1; like a case during which L1
#                          crashes, it is run again in a fresh L1, up to
#                          4 times ("RETRY <case> (<why>)"), then failed;
#                          L1 silent for 40 s (no heartbeat) is stopped at
#                          once and the case retried the same way; L1 not
#                          ready in 180 s or silent for 60 s between two
#                          cases is restarted where it was ("RETRY L1")
#          -v              also print L1's console and every case's output
# Environment: KTSTR_E2E_VM_ARGS  extra arguments for every `ktstr vm` call
#              KTSTR_E2E_THP     L1's THP mode for the cases (default never;
#                                the benchmarks keep the kernel's default)
#              KTSTR_CACHE       download cache (default ~/.cache/ktstr)
#              KTSTR_BIN         the ktstr binary put into L1 (default ./ktstr)
#              KTSTR_E2E_WITH_QEMU=1  put qemu-system-x86_64 into L1 as well
# Exit: 0 if every case passed; 1 if any failed or did not run; the
# environment missing (QEMU, busybox, ...) is one line and exit 1.
set -euo pipefail
E2E_PROG=e2e
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

bench=0
verbose=0
limit=2400
case_limit=${KTSTR_E2E_CASE_LIMIT:-240}
gap_limit=60   # the longest silence allowed between one case's result and the next case
alive_limit=40 # L1 prints a heartbeat every 10 s while the cases run
kernels=()
cases=()
while [ $# -gt 0 ]; do
	case "$1" in
	--bench) bench=1 ;;
	--kernel)
		kernels+=("${2:?--kernel needs 6.1 or 7.2}")
		shift
		;;
	--case)
		cases+=("${2:?--case needs a name part}")
		shift
		;;
	--timeout)
		limit=${2:?--timeout needs seconds}
		shift
		;;
	--case-limit)
		case_limit=${2:?--case-limit needs seconds}
		shift
		;;
	-v) verbose=1 ;;
	-h | --help) e2e_help ;;
	*) e2e_die "unknown argument '$1' (try --help)" ;;
	esac
	shift
done
[ ${#kernels[@]} -gt 0 ] || kernels=(6.1 7.2)

tools=(qemu-system-x86_64 busybox cpio gzip xz zstd timeout ldd dpkg-deb apt-get setsid tail flock)
# `make e2e` installs what it needs: try install-deps once, then insist.
if ! (e2e_require_tools "${tools[@]}") 2>/dev/null; then
	"$REPO_DIR/scripts/install-deps.sh" >&2 || true
fi
e2e_require_tools "${tools[@]}"
[ -x "$KTSTR_BIN" ] || e2e_die "missing $KTSTR_BIN (run 'make ktstr' first)"

if [ $bench -eq 1 ]; then
	show=()
	[ $verbose -eq 1 ] && show=(--console)
	KTSTR_E2E_RUN_NAME=bench exec "$E2E_DIR/l1-run.sh" --qemu --timeout "$limit" "${show[@]}" \
		'sh /e2e/run-bench.sh'
fi

# Single-quote a value for L1's busybox sh.
shq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# The results the run must produce, in the order L1 runs them.
expected=()
for k in "${kernels[@]}"; do
	for f in "$E2E_DIR"/cases/*.sh; do
		base=${f##*/}
		if [ ${#cases[@]} -gt 0 ]; then
			sel=0
			for p in "${cases[@]}"; do [[ "$base" == *"$p"* ]] && sel=1; done
			[ $sel -eq 1 ] || continue
		fi
		# The case's name is its case_begin argument.
		n=$(sed -n 's/^case_begin \([^ ]*\) .*/\1/p' "$f" | head -n1)
		expected+=("${n:-${base%.sh}}@$k")
	done
done
[ ${#expected[@]} -gt 0 ] || e2e_die "no case matches"

start=$(date +%s)
# The checker itself first (host only, < 1 s): a broken checker would make
# every topology case meaningless.
pass=0
failn=0
if st=$("$E2E_DIR/selftest.sh" 2>&1); then
	echo "PASS checker-selftest (${st##*: })"
	pass=1
else
	echo "FAIL checker-selftest ($(echo "$st" | tail -n 1))"
	while IFS= read -r l; do echo "  | $l"; done <<<"$st"
	failn=1
fi

mkdir -p "$E2E_BUILD"
# One run per build tree at a time: the files below are shared, and two L1s
# on the same two cores would only slow each other down.
exec 8>"$E2E_BUILD/e2e.lock"
if ! flock -n 8; then
	e2e_log "another e2e run uses $E2E_BUILD: waiting for it to finish"
	flock 8
	start=$(date +%s) # the wait does not count against --timeout
fi
cmdfile=$E2E_BUILD/e2e.cmd
{
	printf 'E2E_KERNELS=%s E2E_CASES=%s ' "$(shq "${kernels[*]}")" "$(shq "${cases[*]:-}")"
	printf 'E2E_VM_ARGS=%s sh /e2e/run-cases.sh\n' "$(shq "${KTSTR_E2E_VM_ARGS:-}")"
} >"$cmdfile"
cpio=$E2E_BUILD/e2e.cpio
e2e_build_l1 "$cpio" "$cmdfile" "${KTSTR_E2E_WITH_QEMU:-0}"
e2e_log "L1 image built in $(($(date +%s) - start))s; ${#expected[@]} cases"

results=$E2E_BUILD/e2e.results # one "PASS|FAIL name" line per finished case, in order
log=$E2E_BUILD/e2e.log         # L1 consoles of every boot, one after the other
state=$E2E_BUILD/e2e.state     # what the reader saw in the current boot
: >"$results"
: >"$log"

# Read one L1 boot's console (QEMU pid $1, console file $2), print results
# as they arrive, and stop L1 when a case or the boot stalls. Writes what it
# saw to $state: "ready", "done", "nokvm <why>", "stalled <case> <why>",
# "current <case>".
watch_l1() {
	local qpid=$1 console=$2 line partial="" now t_case t_boot cur="" w rest t_stop=""
	local ready=0 finished=0 prev="" t_alive
	# Stop L1 once: SIGTERM to QEMU's process group now, SIGKILL if it is
	# still there 10 s later (a QEMU whose vCPU threads spin may not get to
	# its SIGTERM handler). The group may be gone already: never fail on it.
	stop_l1() {
		[ -n "$t_stop" ] && return 0
		t_stop=$(date +%s)
		kill -TERM -- -"$qpid" 2>/dev/null || true
	}
	t_boot=$(date +%s)
	t_case=$t_boot
	t_alive=$t_boot
	: >"$state"
	while :; do
		if IFS= read -r -t 5 line; then
			line=$partial$line
			partial=""
		else
			[ $? -gt 128 ] || break # EOF: QEMU is gone and tail ended
			partial=$partial$line
			line=""
		fi
		if [ -n "$line" ]; then
			line=${line%$'\r'}
			t_alive=$(date +%s)
			printf '%s\n' "$line" >>"$log"
			case "$line" in
			"KTSTR-L1-READY"*)
				echo ready >>"$state"
				ready=1
				t_case=$(date +%s)
				;;
			"KTSTR-L1-NOKVM "*) echo "nokvm ${line#KTSTR-L1-NOKVM }" >>"$state" ;;
			"KTSTR-E2E-CASE "*)
				cur=${line#KTSTR-E2E-CASE }
				t_case=$(date +%s)
				echo "current $cur" >>"$state"
				[ $verbose -eq 1 ] && echo "---- $cur"
				;;
			"KTSTR-E2E-RESULT PASS "*)
				read -r -a w <<<"${line#KTSTR-E2E-RESULT PASS }"
				echo "PASS ${w[0]}${w[1]:+ (${w[1]})}"
				echo "PASS ${w[0]}" >>"$results"
				prev=${w[0]}
				cur=""
				t_case=$(date +%s)
				;;
			"KTSTR-E2E-RESULT FAIL "*)
				rest=${line#KTSTR-E2E-RESULT FAIL }
				echo "FAIL ${rest%% *} (${rest#* })"
				echo "FAIL ${rest%% *}" >>"$results"
				prev=${rest%% *}
				cur=""
				t_case=$(date +%s)
				;;
			"KTSTR-E2E-ATTEMPT FAIL "*)
				rest=${line#KTSTR-E2E-ATTEMPT FAIL }
				echo "ATTEMPT FAIL ${rest%% *} (${rest#* }; L1 runs it once more only if the guest kernel crashed)"
				;;
			"KTSTR-E2E-NOTE "*) echo "${line#KTSTR-E2E-NOTE }" ;;
			"KTSTR-E2E-ALIVE"*) ;; # run-cases.sh's heartbeat: t_alive is all it is for
			"KTSTR-E2E-DONE"*)
				echo "done" >>"$state"
				finished=1
				;;
			"["*"] watchdog: BUG: soft lockup"*) # L1's printk, not a mirrored L2 line
				# L1 never recovered from one of these here: stop it now
				# rather than at the case limit.
				[ $verbose -eq 1 ] && printf '%s\n' "$line"
				if [ -n "$cur" ]; then
					echo "stalled $cur L1 wedged (${line#*watchdog: BUG: })" >>"$state"
					stop_l1
					cur=""
				fi
				;;
			"  | "*) printf '%s\n' "$line" ;;
			"  > "*) [ $verbose -eq 1 ] && printf '%s\n' "$line" ;;
			*) [ $verbose -eq 1 ] && printf '%s\n' "$line" ;;
			esac
		fi
		now=$(date +%s)
		# Stall rules: a case without a result for case_limit seconds, L1
		# silent for alive_limit seconds (its heartbeat stopped), no next case
		# gap_limit seconds after a result, L1 not ready after 180 s, or the
		# whole run over its limit. A wedged L2 can stop L1 itself, so only
		# the host can end it.
		if [ -n "$t_stop" ]; then
			[ $((now - t_stop)) -lt 10 ] || kill -KILL -- -"$qpid" 2>/dev/null || true
		elif [ -n "$cur" ] && [ $((now - t_case)) -ge "$case_limit" ]; then
			echo "stalled $cur no result after ${case_limit}s (L1: $(grep -a -m1 -o 'soft lockup.*' "$console" || echo 'no lockup reported'))" >>"$state"
			stop_l1
			cur=""
		elif [ $ready -eq 1 ] && [ $finished -eq 0 ] && [ $((now - t_alive)) -ge "$alive_limit" ]; then
			# run-cases.sh prints a heartbeat every 10 s; none for this long
			# means L1 itself no longer runs its processes (a vCPU of the
			# guest spinning while L1's timer interrupt stays pending: see
			# README). Waiting for the case limit would only burn time.
			echo "stalled ${cur:--} L1 stopped (no console line for ${alive_limit}s)" >>"$state"
			stop_l1
			cur=""
		elif [ $ready -eq 1 ] && [ $finished -eq 0 ] && [ -z "$cur" ] &&
			[ $((now - t_case)) -ge "$gap_limit" ]; then
			# Between two cases L1 only forks the next script (< 1 s): no
			# next case this long after a result means the case runner is
			# stuck (e.g. a leftover process holding the case's output pipe)
			# even though L1 itself still prints its heartbeat.
			w="before the first case"
			[ -z "$prev" ] || w="after $prev"
			echo "stalled - L1 silent for ${gap_limit}s $w" >>"$state"
			stop_l1
		elif [ $ready -eq 0 ] && [ $((now - t_boot)) -ge 180 ]; then
			echo "stalled - L1 not ready after 180s (last line: $(grep -a -v '^$' "$console" | tail -n 1 | tr -d '\r'))" >>"$state"
			stop_l1
		elif [ $((now - start)) -ge "$limit" ]; then
			echo "stalled ${cur:--} the ${limit}s run limit was reached" >>"$state"
			stop_l1
			cur=""
		fi
	done < <(tail -n +1 -F --pid="$qpid" "$console" 2>/dev/null)
}

# QEMU runs in its own session (so a stall can kill its whole group): take
# it down with us if the run is interrupted.
qpid=""
trap '[ -n "$qpid" ] && kill -KILL -- -"$qpid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

boots=0
retried=()     # one entry per retry, so a case retried twice is there twice
max_retries=4 # L1 stalls or crashes in the middle of a case (environment, see README)
while :; do
	done_n=$(wc -l <"$results")
	[ "$done_n" -lt ${#expected[@]} ] || break
	[ $(($(date +%s) - start)) -lt "$limit" ] || break
	boots=$((boots + 1))
	console=$E2E_BUILD/e2e.boot$boots.log
	e2e_l1_cmd "$cpio" "E2E_SKIP=$done_n E2E_THP=${KTSTR_E2E_THP:-never}"
	setsid "${L1_CMD[@]}" >"$console" 2>&1 </dev/null &
	qpid=$!
	watch_l1 "$qpid" "$console"
	kill -KILL -- -"$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	qpid=""
	# What L1 said last, for a case it did not finish: its panic or lockup
	# line if there is one; and the end of the guest console it mirrored.
	l1last=$(grep -a -m1 -E 'Kernel panic|BUG:|soft lockup|Oops' "$console" ||
		grep -a -v '^$' "$console" | tail -n 1 || true)
	guesttail=$(awk '/^KTSTR-E2E-CASE / { n = 0 } /^  > / { sub(/\r$/, ""); l[n++ % 30] = $0 }
		END { for (i = (n > 30 ? n - 30 : 0); i < n; i++) print l[i % 30] }' "$console")
	rm -f "$console"
	cur=$(sed -n 's/^current //p' "$state" | tail -n1)
	if grep -q '^nokvm' "$state"; then
		why="KVM unavailable in L1: $(sed -n 's/^nokvm //p' "$state" | head -n1)"
		break
	fi
	if grep -q '^done' "$state"; then
		why="L1 ended the run without a result for it (see build/e2e/e2e.log)"
		break
	fi
	last=$(sed -n 's/^stalled //p' "$state" | tail -n1)
	# L1 stalled outside any case (while booting, or between two cases):
	# start a fresh L1 where this one stopped, a bounded number of times.
	if [[ "$last" == "- "* ]] && [[ "$last" != *"run limit"* ]]; then
		tries=0
		for t in "${retried[@]}"; do [ "$t" != "-" ] || tries=$((tries + 1)); done
		if [ "$tries" -lt "$max_retries" ]; then
			retried+=("-")
			echo "RETRY L1 (${last#- })"
			continue
		fi
	fi
	if ! grep -q '^ready' "$state"; then
		why="L1 did not start (${l1last:-no console output})"
		break
	fi
	# L1 ended or was stopped in the middle of a case. A process cannot
	# crash or wedge L1's kernel, so this is the nested environment (L1's KVM
	# on TCG's SVM) failing: run the case once more in a fresh L1, then fail
	# it and restart after it.
	if [ -n "$cur" ] && ! grep -q -e "^PASS $cur\$" -e "^FAIL $cur\$" "$results"; then
		if [ -n "$last" ]; then
			reason=${last#* }
		else
			reason="L1 ended during the case: ${l1last}"
		fi
		if [ -n "$guesttail" ]; then
			guesttail=$(while IFS= read -r l; do echo "  | ${l#  > }"; done <<<"$guesttail")
			guesttail="  | --- the case's ktstr output when L1 stopped (last 30 lines)"$'\n'"$guesttail"
		fi
		tries=0
		for t in "${retried[@]}"; do [ "$t" != "$cur" ] || tries=$((tries + 1)); done
		if [ "$tries" -lt "$max_retries" ] && [[ "$reason" != *"run limit"* ]]; then
			retried+=("$cur")
			echo "RETRY $cur ($reason)"
			[ -n "$guesttail" ] && echo "$guesttail"
			continue
		fi
		echo "FAIL $cur ($reason)"
		[ -n "$guesttail" ] && echo "$guesttail"
		echo "FAIL $cur" >>"$results"
	elif [ -n "$last" ]; then
		why=${last#* }
		break
	elif [ "$(wc -l <"$results")" -eq "$done_n" ]; then
		why="L1 ended without progress (${l1last:-no console output})"
		break
	fi
done
wall=$(($(date +%s) - start))

for e in "${expected[@]}"; do
	if grep -qx "PASS $e" "$results"; then
		pass=$((pass + 1))
	elif grep -qx "FAIL $e" "$results"; then
		failn=$((failn + 1))
	else
		echo "FAIL $e (not run: ${why:-the ${limit}s run limit was reached})"
		failn=$((failn + 1))
	fi
done
echo "e2e: wall time ${wall}s, $boots L1 boot(s), ${#retried[@]} retry(ies) after L1 failed (console: build/e2e/e2e.log)"
echo "e2e: $pass passed, $failn failed"
[ $failn -eq 0 ]
