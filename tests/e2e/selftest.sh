#!/usr/bin/env bash
# Self-test of the e2e topology checker (tests/e2e/l1/check-report.awk),
# run on the host under busybox awk (the awk L1 has) in well under a second;
# run.sh runs it before booting anything.
#
# selftest/<kernel>-<topology>.report are real guest reports (E2E: lines of
# tests/e2e/l2/init-report) captured from `ktstr vm` on the Debian 6.1 and
# 7.2 kernels. Each must pass for its own topology, and each mutation below
# (a wrong sibling, core id, L3 group, domain, node, distance, ...) must be
# reported with the expected message.
set -euo pipefail
E2E_PROG=e2e-selftest
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

BB=$(command -v busybox) || e2e_die "missing busybox (package busybox-static)"
DIR=$E2E_DIR/selftest
pass=0
fails=0

# check REPORT_FILE TOPOLOGY EXPECTED: EXPECTED "" = no mismatch, else a
# substring of the checker's output.
check() {
	local out
	out=$("$BB" awk -v topo="$2" -f "$E2E_DIR/l1/check-report.awk" "$1")
	if [ -z "$3" ] && [ -z "$out" ]; then
		pass=$((pass + 1))
	elif [ -n "$3" ] && [[ "$out" == *"$3"* ]]; then
		pass=$((pass + 1))
	else
		fails=$((fails + 1))
		echo "selftest: ${1##*/} as $2: expected ${3:-no mismatch}, got: ${out:-no mismatch}" >&2
	fi
}

# mutate NAME SED_SCRIPT TOPOLOGY EXPECTED: check a modified copy of NAME.report.
mutate() {
	local tmp
	tmp=$(mktemp)
	sed "$2" "$DIR/$1.report" >"$tmp"
	cmp -s "$tmp" "$DIR/$1.report" && echo "selftest: mutation '$2' changed nothing in $1" >&2 &&
		fails=$((fails + 1))
	check "$tmp" "$3" "$4"
	rm -f "$tmp"
}

for f in "$DIR"/*.report; do
	t=${f##*-}
	check "$f" "${t%.report}" ""
done

mutate 7.2-1n2l2c2t 's/^E2E:cpu 5 \(.*\) sib=4-5/E2E:cpu 5 \1 sib=5/' 1n2l2c2t "cpu5: thread siblings 5, expected 4-5"
mutate 7.2-1n2l2c2t 's/^E2E:cpu 6 pkg=0 core=3/E2E:cpu 6 pkg=0 core=2/' 1n2l2c2t "cpu6: package/core id 0/2 also used by another core"
mutate 7.2-1n2l2c2t 's/^E2E:cpu 7 pkg=0 core=3/E2E:cpu 7 pkg=0 core=9/' 1n2l2c2t "cpu7: package/core id 0/9 differs from its sibling"
mutate 6.1-1n2l2c2t 's/^\(E2E:cpu 4 .*\) llc=4-7/\1 llc=0-7/' 1n2l2c2t "cpu4: L3 shared_cpu_list 0-7, expected 4-7"
mutate 6.1-1n2l2c2t '/^E2E:dom\(span\|name\) 0 2 /d' 1n2l2c2t "cpu0: 2 sched domains: SMT(0-1) MC(0-3); expected SMT(0-1) MC(0-3) PKG(0-7)"
mutate 7.2-1n2l2c2t 's/^E2E:domname 3 1 MC/E2E:domname 3 1 CLS/' 1n2l2c2t "cpu3: domain1 is CLS, expected MC"
mutate 7.2-1n2l2c2t 's/^E2E:domspan 6 1 .*/E2E:domspan 6 1 ff/' 1n2l2c2t "cpu6: domain1 (MC) spans 0-7, expected 4-7"
mutate 7.2-2n2l2c1t 's/dist=10,20/dist=10,10/' 2n2l2c1t "node0: distances 10,10, expected 10,20"
mutate 6.1-2n2l2c1t 's/^E2E:node 1 cpus=2-3/E2E:node 1 cpus=3/' 2n2l2c1t "node1: cpus 3, expected 2-3"
mutate 7.2-2n2l2c1t 's/^\(E2E:node 1 .*\) memkb=[0-9]*/\1 memkb=0/' 2n2l2c1t "node1: no memory"
mutate 7.2-2n2l2c1t 's/^\(E2E:node 1 .*\) memkb=[0-9]*/\1 memkb=9000000/' 2n2l2c1t "expected about an equal share"
mutate 7.2-2n2l2c1t 's/^E2E:cpu 2 pkg=1/E2E:cpu 2 pkg=0/' 2n2l2c1t "cpu2: package 0 spans nodes 0 and 1"
mutate 6.1-2n2l2c1t '/^E2E:node 1 /d' 2n2l2c1t "1 NUMA nodes, expected 2"
mutate 7.2-1n1l1c1t 's/^E2E:nproc 1/E2E:nproc 2/' 1n1l1c1t "nproc 2, expected 1"
# A right report for another topology is wrong for this one.
check "$DIR/7.2-1n2l2c2t.report" 1n2l4c1t "cpu1: thread siblings 0-1, expected 1"
check "$DIR/6.1-2n2l2c1t.report" 1n1l4c1t "2 NUMA nodes, expected 1"
check "$DIR/6.1-1n1l1c1t.report" banana "bad topology string"

if [ $fails -ne 0 ]; then
	echo "selftest: $fails of $((pass + fails)) checker tests failed" >&2
	exit 1
fi
echo "e2e-selftest: $pass checker tests passed" >&2
