#!/bin/sh
# Case 12: `ktstr vm --exec --net` (issue 7): the guest sends 1,000 frames on
# eth0 through an AF_PACKET socket (tools/pktloop.c) and gets all 1,000 back
# with identical bytes from the loopback NIC; the host's counters (--stats)
# show tx_packets = rx_packets = 1,000 and no error or drop.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin exec-net "$1"
# shellcheck source=tests/e2e/tools/exec-lib.sh
. /e2e/tools/exec-lib.sh
N=1000

# IPv6 off before the link goes up: its autoconfiguration (DAD, router and
# MLD solicitations) would add frames of its own to the device counters.
# shellcheck disable=SC2016 # expanded in the guest
script='
for c in all default; do echo 1 >/proc/sys/net/ipv6/conf/$c/disable_ipv6; done
echo "mac $(cat /sys/class/net/eth0/address)"
/include/pktloop -i eth0 -n '$N' -w 16 -t 20000
echo "pktloop $?"
s=/sys/class/net/eth0/statistics
echo "guest-stats tx $(cat $s/tx_packets) rx $(cat $s/rx_packets) rx_dropped $(cat $s/rx_dropped) tx_dropped $(cat $s/tx_dropped)"
'
# shellcheck disable=SC2086 # EXEC_BASE is a word list
vm_run net 300 $EXEC_BASE --net --include $T/pktloop --stats "$WORK/stats.json" --exec "$script"
expect_rc net 0
show "$WORK/stats.json" 40
[ "$(field pktloop)" = 0 ] || fail "net: pktloop failed: $(grep '^pktloop:' "$VM_OUT" | head -n 1)"
expect_line net "^pktloop: sent $N received $N corrupt 0 duplicate 0 missing 0 "
expect_stat net "$WORK/stats.json" net tx_packets -eq $N
expect_stat net "$WORK/stats.json" net rx_packets -eq $N
for k in tx_dropped_no_rx_buffer tx_dropped_rx_poisoned tx_chain_invalid tx_oversize_dropped \
	rx_chain_invalid rx_write_failed tx_add_used_failures rx_add_used_failures \
	invalid_avail_idx_count; do
	expect_stat net "$WORK/stats.json" net $k -eq 0
done
tb=$(stat_get "$WORK/stats.json" net tx_bytes)
rb=$(stat_get "$WORK/stats.json" net rx_bytes)
[ "$tb" = "$rb" ] || fail "net: --stats tx_bytes $tb != rx_bytes $rb"
echo "exec-net@$KLABEL: $N frames round trip, $tb bytes each way, $(field guest-stats); whole run ${VM_SECS}s"
case_end
