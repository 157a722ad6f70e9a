# shellcheck shell=sh
# L1 side of the e2e harness: sourced by the case scripts (/e2e/cases/*.sh)
# running under busybox sh inside L1. A case runs `ktstr vm` against one L2
# kernel, checks its exit status and output, and reports one result line that
# the host harness (run.sh) reads from the serial console:
#   KTSTR-E2E-RESULT PASS <case>@<kernel> <seconds>
#   KTSTR-E2E-RESULT FAIL <case>@<kernel> <reason>
# (KTSTR-E2E-ATTEMPT FAIL ... instead when E2E_FIRST_ATTEMPT is set: see
# run-cases.sh)
# followed, for a failure, by "  | " detail lines (ktstr's output tail).
#
# Usage in a case:  . /e2e/lib.sh; case_begin NAME "$1"; vm_run ...; check_...; case_end

# Exit codes of `ktstr vm` (its --help: 2 usage, 3 guest panic, 4 --timeout;
# with --exec, bad usage or input is a host-side failure, 125).
: "${E2E_RC_USAGE:=2}"
: "${E2E_RC_EXEC_HOST:=125}"
: "${E2E_RC_PANIC:=3}"
: "${E2E_RC_TIMEOUT:=4}"
# --timeout for boots that should end by themselves: a guest that hangs is
# then stopped by ktstr (exit 4, with its vCPU registers) long before the
# case's own limit; a normal boot here takes 10-40 s.
: "${E2E_BOOT_TIMEOUT:=150}"
# Extra arguments for every `ktstr vm` call (KTSTR_E2E_VM_ARGS on the host).
: "${E2E_VM_ARGS:=}"

# shellcheck disable=SC2034 # used by the case scripts
L2_INITRAMFS=/l2/initramfs.cpio.gz
# shellcheck disable=SC2034
L2_INITRAMFS_PANIC=/l2/initramfs-panic.cpio.gz
# shellcheck disable=SC2034
L2_INITRAMFS_HANG=/l2/initramfs-hang.cpio.gz

now_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# case_begin NAME KERNEL_LABEL: sets CASE, KLABEL, KERNEL and a work dir.
case_begin() {
	CASE=$1
	KLABEL=$2
	# shellcheck disable=SC2034
	KERNEL=/l2/$KLABEL/vmlinuz
	WORK=/tmp/e2e/$CASE@$KLABEL
	FAILS=""
	DETAIL=""
	rm -rf "$WORK"
	mkdir -p "$WORK"
	CASE_T0=$(now_cs)
	echo "KTSTR-E2E-CASE $CASE@$KLABEL"
}

# fail REASON: record a failed check (the case goes on, so one run shows all).
fail() {
	if [ -z "$FAILS" ]; then FAILS=$1; else FAILS="$FAILS; $1"; fi
}

# show FILE [LINES]: attach FILE's last LINES (default 40) lines to the failure report.
show() {
	DETAIL="$DETAIL $1:${2:-40}"
}

case_end() {
	secs=$((($(now_cs) - CASE_T0) / 100))
	if [ -z "$FAILS" ]; then
		echo "KTSTR-E2E-RESULT PASS $CASE@$KLABEL ${secs}s"
		return 0
	fi
	# The result line stays readable; the full list goes with the details.
	if [ ${#FAILS} -gt 300 ]; then
		echo "$FAILS" | sed 's/; /\n/g' >"$WORK/failed-checks"
		DETAIL="$WORK/failed-checks:100 $DETAIL"
		FAILS="$(echo "$FAILS" | cut -c 1-300) ..."
	fi
	# A first attempt that run-cases.sh may repeat reports ATTEMPT, not RESULT.
	kind=RESULT
	[ -z "${E2E_FIRST_ATTEMPT:-}" ] || kind=ATTEMPT
	echo "KTSTR-E2E-$kind FAIL $CASE@$KLABEL $FAILS"
	for d in $DETAIL; do
		f=${d%:*}
		n=${d##*:}
		[ -s "$f" ] || continue
		echo "  | --- ${f##*/} (last $n lines)"
		tail -n "$n" "$f" | tr -d '\r' | sed 's/^/  | /'
	done
	return 1
}

# vm_run TAG LIMIT ARGS...: run `ktstr vm ARGS` (plus E2E_VM_ARGS) with
# stdout and stderr in $WORK/TAG.out / TAG.err and both, interleaved as
# written, in $WORK/TAG.log; LIMIT seconds at most (then SIGKILL). Sets
# VM_RC, VM_SECS (wall, centiseconds in VM_CS) and VM_OUT (the .log file).
vm_run() {
	tag=$1
	limit=$2
	shift 2
	VM_OUT=$WORK/$tag.log
	echo "ktstr vm $* $E2E_VM_ARGS" >"$WORK/$tag.cmd"
	: >"$WORK/$tag.out"
	: >"$WORK/$tag.err"
	# Mirror what ktstr prints to L1's console as "  > " lines while it runs:
	# if the run wedges L1, the host still has the guest's console up to
	# that point (run.sh shows its end for a case that never finished).
	rm -f "$WORK/$tag.fifo"
	mkfifo "$WORK/$tag.fifo"
	# Capped and made printable: a case may print megabytes of binary data,
	# which must not crawl through L1's emulated UART.
	awk '{
		if (++n > 1000) { if (n == 1001) print "  > [mirror stopped after 1000 lines]"; next }
		gsub(/[^[:print:]\t]/, "?"); print "  > " substr($0, 1, 240); fflush()
	}' <"$WORK/$tag.fifo" &
	awkpid=$!
	tail -q -n +1 -f "$WORK/$tag.out" "$WORK/$tag.err" 2>/dev/null >"$WORK/$tag.fifo" &
	tailpid=$!
	t0=$(now_cs)
	# stdin is /dev/null, as under CI: no run may depend on a terminal.
	# shellcheck disable=SC2086 # E2E_VM_ARGS is a word list on purpose
	timeout -s KILL "$limit" ktstr vm "$@" $E2E_VM_ARGS >"$WORK/$tag.out" 2>"$WORK/$tag.err" </dev/null
	VM_RC=$?
	# The mirror may miss the last poll of tail -f; the files have it all.
	# awk ends at EOF once tail is gone, but if tail was killed before it
	# opened the FIFO, awk still blocks in its open() and would keep this
	# case (and the case's output pipe) alive for ever: give it a second.
	kill "$tailpid" 2>/dev/null
	i=0
	while kill -0 "$awkpid" 2>/dev/null && [ $i -lt 10 ]; do
		usleep 100000
		i=$((i + 1))
	done
	kill "$awkpid" 2>/dev/null
	wait 2>/dev/null
	VM_CS=$(($(now_cs) - t0))
	VM_SECS=$((VM_CS / 100))
	cat "$WORK/$tag.out" "$WORK/$tag.err" | tr -d '\r' >"$VM_OUT"
	show "$WORK/$tag.cmd"
	show "$VM_OUT"
	if [ $VM_RC -eq 137 ] && [ $VM_SECS -ge "$limit" ]; then
		fail "$tag: ktstr vm still running after ${limit}s (killed)"
		return 1
	fi
	return 0
}

# expect_rc TAG WANT: the last vm_run exited with WANT.
expect_rc() {
	[ "$VM_RC" -eq "$2" ] && return 0
	fail "$1: exit $VM_RC, expected $2"
	return 1
}

# expect_line TAG REGEX [FILE]: some line of the output matches REGEX (grep -E).
expect_line() {
	grep -q -E -e "$2" "${3:-$VM_OUT}" && return 0
	fail "$1: no line matching '$2' in ktstr's output"
	return 1
}

# expect_no_line TAG REGEX [FILE]: no line of the output matches REGEX.
expect_no_line() {
	grep -q -E -e "$2" "${3:-$VM_OUT}" || return 0
	fail "$1: unexpected '$(grep -m1 -E -e "$2" "${3:-$VM_OUT}")'"
	return 1
}

# check_report TAG TOPOLOGY: the E2E: lines the report initramfs printed
# describe exactly the topology asked for (specs/vmm-x86.md §2.2, §2.3, §2.9):
# CPU count, SMT siblings, core ids, one package per node, L3 groups, sched
# domain names and spans, NUMA nodes' CPUs, memory and SLIT distances.
check_report() {
	tag=$1
	if ! grep -q '^E2E:END' "$VM_OUT"; then
		fail "$tag: the guest's report is missing or incomplete (no E2E:END)"
		return 1
	fi
	grep '^E2E:' "$VM_OUT" >"$WORK/$tag.report"
	# On failure show the whole report and only the console lines around it.
	grep -v '^E2E:' "$VM_OUT" >"$WORK/$tag.console"
	DETAIL=$(echo "$DETAIL" | sed "s| $VM_OUT:[0-9]*| $WORK/$tag.console:25|")
	res=$(awk -v topo="$2" -f /e2e/check-report.awk "$WORK/$tag.report")
	[ -z "$res" ] && return 0
	echo "$res" >"$WORK/$tag.mismatch"
	show "$WORK/$tag.report" 200
	show "$WORK/$tag.mismatch" 60
	fail "$tag: $(echo "$res" | head -n 3 | tr '\n' ';' | sed 's/;$//; s/;/; /g')$([ "$(echo "$res" | wc -l)" -gt 3 ] && echo " ...")"
	return 1
}

# expect_input_error TAG RC ARGS...: `ktstr vm ARGS` refuses bad input fast with
# exit RC ($E2E_RC_USAGE, or $E2E_RC_EXEC_HOST with --exec) and a one-line
# "ktstr: ..." message (plus at most a "Try ... --help" hint), no crash.
expect_input_error() {
	tag=$1
	want_rc=$2
	shift 2
	vm_run "$tag" 60 "$@" || return 1
	expect_rc "$tag" "$want_rc"
	first=$(head -n 1 "$WORK/$tag.err")
	lines=$(grep -c -v -e '^Try ' "$WORK/$tag.err")
	case "$first" in
	ktstr:?*) ;;
	*) fail "$tag: first stderr line is '$first', expected 'ktstr: <message>'" ;;
	esac
	[ "$lines" -le 1 ] || fail "$tag: $lines lines of error message, expected one"
	expect_no_line "$tag" 'Segmentation|Aborted|AddressSanitizer|runtime error|core dumped|Kernel panic'
}
