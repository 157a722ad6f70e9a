#!/bin/sh
# Case 11: `ktstr vm --exec` with virtio-blk disks (issue 7), one boot, four disks:
#   vda  64 MiB: the guest writes a seeded pseudo-random pattern (patgen),
#        drops its page cache, reads it back and compares; L1 checks that the
#        backing file holds exactly that pattern.
#   vdb  64 MiB: the real mke2fs (ext4), mount, files written, sync, umount,
#        mounted again and the files checked; L1 runs e2fsck -fn on the image.
#   vdc  ,ro: the guest's writes fail and the file's checksum is unchanged.
#   vdd  ,iops=200: 4 KiB direct reads show about that rate in the guest
#        (reported, not checked) and the host counters show throttle stalls.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin exec-blk "$1"
# shellcheck source=tests/e2e/tools/exec-lib.sh
. /e2e/tools/exec-lib.sh
MB64=67108864
SEED=20261121
NFILES=16

dd if=/dev/zero of="$WORK/pat.img" bs=1M count=64 2>/dev/null
dd if=/dev/zero of="$WORK/fs.img" bs=1M count=64 2>/dev/null
"$T"/patgen 7 4194304 >"$WORK/ro.img"
dd if=/dev/zero of="$WORK/thr.img" bs=1M count=8 2>/dev/null
ro_md5=$(md5sum <"$WORK/ro.img")
want_md5=$("$T"/patgen $SEED $MB64 | md5sum | cut -d' ' -f1)

# Guest side. Every finding is a "key value" line on stdout.
# shellcheck disable=SC2016 # expanded in the guest
script='
P=/include/patgen
/include/patgen '$SEED' '$MB64' | dd of=/dev/vda bs=1M iflag=fullblock oflag=direct 2>/tmp/dd.err
echo "pat-write $?"
sync
echo 3 >/proc/sys/vm/drop_caches
echo "pat-read $(dd if=/dev/vda bs=1M 2>/dev/null | md5sum | cut -d" " -f1)"
echo "pat-want $($P '$SEED' '$MB64' | md5sum | cut -d" " -f1)"

/include/mke2fs -q -F -t ext4 -L ktstr-e2e /dev/vdb >/tmp/mkfs.log 2>&1; echo "mkfs $?"
mkdir -p /mnt
mount -t ext4 /dev/vdb /mnt; echo "mount $?"
mkdir -p /mnt/d
i=1
while [ $i -le '$NFILES' ]; do $P $i $((i * 12289)) >/mnt/d/f$i; i=$((i + 1)); done
sync
(cd /mnt/d && md5sum f*) >/tmp/sums
umount /mnt; echo "umount $?"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro /dev/vdb /mnt; echo "remount $?"
i=1
bad=0
while [ $i -le '$NFILES' ]; do
	[ "$(md5sum </mnt/d/f$i)" = "$($P $i $((i * 12289)) | md5sum)" ] || bad=$((bad + 1))
	i=$((i + 1))
done
echo "fs-files $(ls /mnt/d | wc -l) bad $bad"
umount /mnt; echo "umount2 $?"

echo "ro-flag $(blockdev --getro /dev/vdc)"
echo garbage | dd of=/dev/vdc bs=512 count=1 conv=notrunc,fsync 2>/dev/null; echo "ro-write $?"
echo garbage | dd of=/dev/vdc bs=512 count=1 conv=notrunc oflag=direct 2>/dev/null; echo "ro-write-direct $?"
echo "ro-read $(dd if=/dev/vdc bs=1M 2>/dev/null | md5sum | cut -d" " -f1)"

read t0 _ </proc/uptime
dd if=/dev/vdd of=/dev/null bs=4096 count=1000 iflag=direct 2>/dev/null; echo "thr-read $?"
read t1 _ </proc/uptime
echo "thr-iops $(awk -v a=$t0 -v b=$t1 "BEGIN { d = b - a; if (d <= 0) d = 0.01; printf \"%.0f %.2f\", 1000 / d, d }")"
'
# shellcheck disable=SC2086 # EXEC_BASE is a word list
vm_run blk 400 $EXEC_BASE --disk "$WORK/pat.img" --disk "$WORK/fs.img" --disk "$WORK/ro.img,ro" \
	--disk "$WORK/thr.img,iops=200" --include $T/patgen --include $T/mke2fs \
	--stats "$WORK/stats.json" --exec "$script"
expect_rc blk 0
show "$WORK/stats.json" 80

# vda: the guest's read-back and the backing file both hold the pattern.
[ "$(field pat-write)" = 0 ] || fail "pat: the guest's dd to /dev/vda failed ($(field pat-write))"
[ "$(field pat-want)" = "$want_md5" ] ||
	fail "pat: patgen in the guest gives $(field pat-want), in L1 $want_md5 (tool mismatch)"
[ "$(field pat-read)" = "$want_md5" ] ||
	fail "pat: /dev/vda read back in the guest has md5 $(field pat-read), written $want_md5"
file_md5=$(md5sum <"$WORK/pat.img" | cut -d' ' -f1)
[ "$file_md5" = "$want_md5" ] || fail "pat: the backing file has md5 $file_md5, the pattern $want_md5"

# vdb: ext4 made, written, read back after a remount, clean for e2fsck.
for k in mkfs mount umount remount umount2; do
	[ "$(field $k)" = 0 ] || fail "fs: $k in the guest: status '$(field $k)'"
done
[ "$(field fs-files)" = "$NFILES bad 0" ] ||
	fail "fs: after the remount: '$(field fs-files)', expected $NFILES files, none bad"
"$T"/e2fsck -fn "$WORK/fs.img" >"$WORK/e2fsck.log" 2>&1
fsck_rc=$?
if [ $fsck_rc -ne 0 ]; then
	show "$WORK/e2fsck.log" 30
	fail "fs: e2fsck -fn on the image: status $fsck_rc ($(tail -n 1 "$WORK/e2fsck.log"))"
fi

# vdc: read-only.
[ "$(field ro-flag)" = 1 ] || fail "ro: blockdev --getro /dev/vdc says '$(field ro-flag)', expected 1"
[ "$(field ro-write)" != 0 ] || fail "ro: a buffered write to /dev/vdc succeeded"
[ "$(field ro-write-direct)" != 0 ] || fail "ro: a direct write to /dev/vdc succeeded"
[ "$(field ro-read)" = "${ro_md5%% *}" ] ||
	fail "ro: the guest reads md5 $(field ro-read) from /dev/vdc, the file has ${ro_md5%% *}"
[ "$(md5sum <"$WORK/ro.img")" = "$ro_md5" ] || fail "ro: the read-only backing file changed"

# vdd: throttled to 200 IOPS; report the rate, require stalls on the host.
[ "$(field thr-read)" = 0 ] || fail "thr: the guest's reads of /dev/vdd failed"
expect_stat thr "$WORK/stats.json" disks throttled_count -gt 0 3
expect_stat thr "$WORK/stats.json" disks reads_completed -ge 1000 3
for d in 0 1 2 3; do
	expect_stat io "$WORK/stats.json" disks io_errors -eq 0 $d
done
expect_stat pat "$WORK/stats.json" disks bytes_written -ge $MB64 0
read -r iops secs <<EOT
$(field thr-iops)
EOT
echo "exec-blk@$KLABEL: iops=200 disk: $iops IOPS in the guest (1000 x 4 KiB direct reads in ${secs}s);" \
	"throttled_count $(stat_get "$WORK/stats.json" disks throttled_count 3); whole run ${VM_SECS}s"
rm -f "$WORK"/*.img
case_end
