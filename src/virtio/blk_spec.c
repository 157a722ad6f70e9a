// SPDX-License-Identifier: MIT
/*
 * Parser for the command-line disk syntax FILE[,ro][,iops=N][,bps=N]
 * [,iops_burst=N][,bps_burst=N]. Every error names the part that is wrong,
 * so a typo in a long command line is found without guessing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk.h"

static int spec_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int spec_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A positive decimal integer that fits in 64 bits; no sign, no suffix, no blanks. */
static int parse_rate(const char *key, const char *val, size_t len, uint64_t *out, char *err,
		      size_t errlen)
{
	uint64_t v = 0;

	if (!len)
		return spec_err(err, errlen, "disk option '%s=' has no value", key);
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(val[i] - '0');

		if (d > 9)
			return spec_err(err, errlen,
					"disk option '%s=%.*s': not a positive decimal integer",
					key, (int)len, val);
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
			return spec_err(err, errlen, "disk option '%s=%.*s': value too large", key,
					(int)len, val);
	}
	if (!v)
		return spec_err(err, errlen,
				"disk option '%s=0': a rate of zero would block all I/O; leave "
				"the option out for no limit",
				key);
	*out = v;
	return 0;
}

static int parse_option(const char *opt, size_t len, struct vblk_spec *out, char *err,
			size_t errlen)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"iops", offsetof(struct vblk_throttle, iops)},
		{"bps", offsetof(struct vblk_throttle, bytes_per_sec)},
		{"iops_burst", offsetof(struct vblk_throttle, iops_burst)},
		{"bps_burst", offsetof(struct vblk_throttle, bytes_burst)},
	};
	const char *eq = memchr(opt, '=', len);
	size_t klen = eq ? (size_t)(eq - opt) : len;

	if (!len)
		return spec_err(err, errlen, "empty disk option (doubled or trailing ',')");
	if (!eq) {
		if (len == 2 && !memcmp(opt, "ro", 2)) {
			out->read_only = true;
			return 0;
		}
		return spec_err(err, errlen,
				"unknown disk option '%.*s' (expected ro, iops=N, bps=N, "
				"iops_burst=N or bps_burst=N)",
				(int)len, opt);
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strlen(keys[i].key) == klen && !memcmp(opt, keys[i].key, klen))
			return parse_rate(keys[i].key, eq + 1, len - klen - 1,
					  (uint64_t *)((char *)&out->throttle + keys[i].off), err,
					  errlen);
	}
	return spec_err(err, errlen,
			"unknown disk option '%.*s' (expected ro, iops=N, bps=N, iops_burst=N or "
			"bps_burst=N)",
			(int)len, opt);
}

int vblk_parse_spec(const char *spec, struct vblk_spec *out, char *err, size_t errlen)
{
	const char *p, *comma;
	size_t plen;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		return spec_err(err, errlen,
				"empty disk specification (expected FILE[,ro][,iops=N][,bps=N])");
	comma = strchr(spec, ',');
	plen = comma ? (size_t)(comma - spec) : strlen(spec);
	if (!plen)
		return spec_err(err, errlen, "disk specification '%s' has no file name before ','",
				spec);
	if (plen >= sizeof(out->path))
		return spec_err(err, errlen, "disk file name is longer than %zu bytes",
				sizeof(out->path) - 1);
	memcpy(out->path, spec, plen);
	for (p = comma; p; p = comma) {
		p++;
		comma = strchr(p, ',');
		rc = parse_option(p, comma ? (size_t)(comma - p) : strlen(p), out, err, errlen);
		if (rc)
			return rc;
	}
	return vblk_throttle_validate(&out->throttle, err, errlen);
}
