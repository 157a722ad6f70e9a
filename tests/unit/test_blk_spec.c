// SPDX-License-Identifier: MIT
/*
 * virtio-blk user-facing entry points: the FILE[,ro][,iops=N][,bps=N]
 * parser and vblk_create's errors for bad backing files and options. Every
 * message must name the part the user got wrong.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_blk.h"

TestSuite(blk_spec, .fini = blk_fx_fini);

static char err[512];

static int parse(const char *s, struct vblk_spec *out)
{
	err[0] = 0;
	return vblk_parse_spec(s, out, err, sizeof(err));
}

Test(blk_spec, plain_file)
{
	struct vblk_spec s;

	cr_assert_eq(parse("/tmp/disk.img", &s), 0);
	cr_assert_str_eq(s.path, "/tmp/disk.img");
	cr_assert(!s.read_only);
	cr_assert(!vblk_throttle_enabled(&s.throttle));
}

Test(blk_spec, all_options_in_any_order)
{
	struct vblk_spec s;

	cr_assert_eq(parse("d.img,bps=1048576,ro,iops=200,iops_burst=400,bps_burst=2097152", &s), 0,
		     "%s", err);
	cr_assert_str_eq(s.path, "d.img");
	cr_assert(s.read_only);
	cr_assert_eq(s.throttle.iops, 200);
	cr_assert_eq(s.throttle.bytes_per_sec, 1048576);
	cr_assert_eq(s.throttle.iops_burst, 400);
	cr_assert_eq(s.throttle.bytes_burst, 2097152);
	cr_assert_eq(parse("d.img,iops=18446744073709551615", &s), 0);
	cr_assert_eq(s.throttle.iops, UINT64_MAX);
}

static void assert_rejected(const char *spec, const char *needle)
{
	struct vblk_spec s;

	cr_assert_eq(parse(spec, &s), -EINVAL, "%s accepted", spec);
	cr_assert(strstr(err, needle), "'%s' -> '%s' lacks '%s'", spec, err, needle);
}

Test(blk_spec, errors_name_the_bad_part)
{
	assert_rejected("", "empty");
	assert_rejected(",ro", "no file name");
	assert_rejected("d.img,iops=0", "iops=0");
	assert_rejected("d.img,bps=0", "bps=0");
	assert_rejected("d.img,iops=", "iops=");
	assert_rejected("d.img,iops=12k", "iops=12k");
	assert_rejected("d.img,iops=-5", "iops=-5");
	assert_rejected("d.img,bps= 5", "bps= 5");
	assert_rejected("d.img,iops=18446744073709551616", "too large");
	assert_rejected("d.img,rw", "'rw'");
	assert_rejected("d.img,RO", "'RO'");
	assert_rejected("d.img,speed=3", "'speed=3'");
	assert_rejected("d.img,,ro", "empty disk option");
	assert_rejected("d.img,ro,", "empty disk option");
	assert_rejected("d.img,iops_burst=10", "iops_burst");
	assert_rejected("d.img,iops=10,iops_burst=5", "iops_burst=5");
	assert_rejected("d.img,bps=100,bps_burst=50", "bps_burst=50");
}

Test(blk_spec, over_long_path_is_refused)
{
	static char big[PATH_MAX + 8];

	memset(big, 'a', sizeof(big) - 1);
	assert_rejected(big, "longer than");
}

/* ---- vblk_create: the backing file as the user gives it ---- */

static int create(const char *path, bool ro, uint64_t cap, struct vblk **vb)
{
	struct vblk_opts o;

	vblk_opts_init(&o);
	o.path = path;
	o.read_only = ro;
	o.capacity_bytes = cap;
	err[0] = 0;
	return vblk_create(&o, vb, err, sizeof(err));
}

Test(blk_spec, missing_backing_file)
{
	struct vblk *vb = (void *)1;

	blk_fx_default();
	cr_assert_eq(create("/tmp/ktstr-no-such-dir/disk.img", false, 0, &vb), -ENOENT);
	cr_assert_null(vb);
	cr_assert(strstr(err, "/tmp/ktstr-no-such-dir/disk.img"), "%s", err);
	cr_assert(strstr(err, "No such file"), "%s", err);
}

Test(blk_spec, backing_that_is_not_a_disk)
{
	struct vblk *vb;

	blk_fx_default();
	cr_assert_eq(create(blk_fx.dir, false, 0, &vb), -EISDIR, "%s", err);
	cr_assert(strstr(err, blk_fx.dir), "%s", err);
	cr_assert_eq(create(blk_fx.dir, true, 0, &vb), -EINVAL);
	cr_assert(strstr(err, "neither a regular file nor a block device"), "%s", err);
}

Test(blk_spec, unreadable_backing_file)
{
	struct vblk *vb;

	blk_fx_default();
	cr_assert_eq(chmod(blk_fx.path, 0), 0);
	if (access(blk_fx.path, R_OK) == 0)
		cr_skip_test("running with CAP_DAC_OVERRIDE: permissions are not enforced");
	cr_assert_eq(create(blk_fx.path, true, 0, &vb), -EACCES);
	cr_assert(strstr(err, "Permission denied"), "%s", err);
}

Test(blk_spec, read_only_capacity_beyond_the_file_is_refused)
{
	struct vblk *vb;

	blk_fx_default(); /* 4096-byte file */
	cr_assert_eq(create(blk_fx.path, true, 8192, &vb), -EINVAL);
	cr_assert(strstr(err, "8192") && strstr(err, "4096") && strstr(err, "read-only"), "%s",
		  err);
	cr_assert_eq(create(blk_fx.path, true, 4096, &vb), 0, "%s", err);
	vblk_destroy(vb);
	/* A writable disk may be larger than its file: the file grows on write. */
	cr_assert_eq(create(blk_fx.path, false, 8192, &vb), 0, "%s", err);
	cr_assert_eq(vblk_capacity_sectors(vb), 16);
	vblk_destroy(vb);
}

Test(blk_spec, empty_backing_file_is_refused)
{
	struct vblk *vb;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .file_len = UINT64_MAX});
	cr_assert_eq(create(blk_fx.path, false, 0, &vb), -EINVAL);
	cr_assert(strstr(err, "less than one 512-byte sector"), "%s", err);
}

Test(blk_spec, bad_throttle_options_are_refused_by_create)
{
	struct vblk_opts o;
	struct vblk *vb;

	blk_fx_default();
	vblk_opts_init(&o);
	o.path = blk_fx.path;
	o.throttle.bytes_burst = 10;
	cr_assert_eq(vblk_create(&o, &vb, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "bps_burst"), "%s", err);
}

Test(blk_spec, read_only_device_never_writes_its_file)
{
	struct vblk *vb;
	struct stat before, after;

	blk_fx_default();
	cr_assert_eq(create(blk_fx.path, true, 0, &vb), 0, "%s", err);
	cr_assert(vblk_read_only(vb));
	/* The descriptor itself is read-only: even a bug could not write. */
	int fd = (int)(intptr_t)vb->respawn_pending->backing.opaque;
	cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	cr_assert_eq(stat(blk_fx.path, &before), 0);
	vblk_destroy(vb);
	cr_assert_eq(stat(blk_fx.path, &after), 0);
	cr_assert_eq(before.st_size, after.st_size);
}
