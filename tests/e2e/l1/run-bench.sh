#!/bin/sh
# Run every benchmark script (/e2e/bench/*.sh) in L1, in name order.
# Benchmarks print figures; the status is the first failing script's.
rc=0
n=0
for b in /e2e/bench/*.sh; do
	[ -f "$b" ] || continue
	n=$((n + 1))
	echo "== ${b##*/}"
	sh "$b" || { st=$?; echo "== ${b##*/} exited $st"; [ $rc -ne 0 ] || rc=$st; }
done
[ $n -gt 0 ] || echo "no benchmark scripts in tests/e2e/bench/"
exit $rc
