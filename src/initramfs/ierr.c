// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>

#include "initramfs/ierr.h"

int ierr_set(struct ierr *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}
