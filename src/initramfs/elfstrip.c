// SPDX-License-Identifier: MIT
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "initramfs/elfstrip.h"

static bool is_debug_name(const char *n)
{
	return !strncmp(n, ".debug", 6) || !strncmp(n, ".zdebug", 7) ||
	       !strncmp(n, ".rela.debug", 11) || !strncmp(n, ".rel.debug", 10);
}

static size_t align_up(size_t v, size_t a)
{
	return a > 1 ? (v + a - 1) / a * a : v;
}

/* sh_info names a section for relocation sections and when SHF_INFO_LINK says so. */
static bool info_is_section(const Elf64_Shdr *s)
{
	return s->sh_type == SHT_REL || s->sh_type == SHT_RELA || (s->sh_flags & SHF_INFO_LINK);
}

struct strip {
	const uint8_t *in;
	size_t len;
	Elf64_Ehdr eh;
	Elf64_Shdr *sh;	  /* copies of the input headers */
	bool *drop;	  /* per section */
	uint32_t *newidx; /* old index -> new index */
	size_t cut;	  /* everything from here on is rewritten */
};

static int strip_load(struct strip *s)
{
	const char *names;
	const Elf64_Shdr *shstr;

	if (s->len < sizeof(s->eh))
		return -ENOEXEC;
	memcpy(&s->eh, s->in, sizeof(s->eh));
	if (memcmp(s->eh.e_ident, ELFMAG, SELFMAG) || s->eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    s->eh.e_ident[EI_DATA] != ELFDATA2LSB || s->eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    (s->eh.e_phnum && s->eh.e_phentsize != sizeof(Elf64_Phdr)))
		return -ENOEXEC;
	/* extended numbering (e_shnum 0 with many sections) is left alone */
	if (!s->eh.e_shnum || s->eh.e_shstrndx == SHN_UNDEF || s->eh.e_shstrndx >= s->eh.e_shnum)
		return -ENOTSUP;
	if (s->eh.e_shoff > s->len ||
	    (size_t)s->eh.e_shnum * sizeof(Elf64_Shdr) > s->len - s->eh.e_shoff ||
	    s->eh.e_phoff > s->len ||
	    (size_t)s->eh.e_phnum * sizeof(Elf64_Phdr) > s->len - s->eh.e_phoff)
		return -ENOEXEC;
	s->sh = malloc(s->eh.e_shnum * sizeof(*s->sh));
	s->drop = calloc(s->eh.e_shnum, sizeof(*s->drop));
	s->newidx = calloc(s->eh.e_shnum, sizeof(*s->newidx));
	if (!s->sh || !s->drop || !s->newidx)
		return -ENOMEM;
	memcpy(s->sh, s->in + s->eh.e_shoff, s->eh.e_shnum * sizeof(*s->sh));
	for (size_t i = 0; i < s->eh.e_shnum; i++) {
		const Elf64_Shdr *x = &s->sh[i];

		if (x->sh_type != SHT_NOBITS &&
		    (x->sh_offset > s->len || x->sh_size > s->len - x->sh_offset))
			return -ENOEXEC;
	}
	shstr = &s->sh[s->eh.e_shstrndx];
	names = (const char *)s->in + shstr->sh_offset;
	/* the name table must end with a NUL so every sh_name lookup stays inside it */
	if (!shstr->sh_size || names[shstr->sh_size - 1])
		return -ENOEXEC;
	for (size_t i = 1; i < s->eh.e_shnum; i++)
		if (s->sh[i].sh_name < shstr->sh_size && !(s->sh[i].sh_flags & SHF_ALLOC) &&
		    is_debug_name(names + s->sh[i].sh_name))
			s->drop[i] = true;
	return 0;
}

/*
 * The cut is the start of the first removed section; nothing loaded may lie
 * at or after it, and no kept section may refer to a removed one.
 */
static int strip_plan(struct strip *s)
{
	size_t cut = SIZE_MAX, head;
	uint32_t n = 0;

	for (size_t i = 1; i < s->eh.e_shnum; i++)
		if (s->drop[i] && s->sh[i].sh_offset < cut)
			cut = s->sh[i].sh_offset;
	if (cut == SIZE_MAX)
		return 0; /* nothing to drop */
	head = sizeof(Elf64_Ehdr);
	if (s->eh.e_phnum && s->eh.e_phoff + (size_t)s->eh.e_phnum * sizeof(Elf64_Phdr) > cut)
		return -ENOTSUP;
	for (size_t i = 0; i < s->eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, s->in + s->eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_filesz && ph.p_offset + ph.p_filesz > cut)
			return -ENOTSUP;
	}
	if (cut < head)
		return -ENOEXEC;
	for (size_t i = 0; i < s->eh.e_shnum; i++) {
		const Elf64_Shdr *x = &s->sh[i];

		if (s->drop[i])
			continue;
		if ((x->sh_flags & SHF_ALLOC) && x->sh_type != SHT_NOBITS &&
		    x->sh_offset + x->sh_size > cut)
			return -ENOTSUP;
		if ((x->sh_link && s->drop[x->sh_link < s->eh.e_shnum ? x->sh_link : 0]) ||
		    x->sh_link >= s->eh.e_shnum)
			return -ENOTSUP;
		if (info_is_section(x) && (x->sh_info >= s->eh.e_shnum || s->drop[x->sh_info]))
			return -ENOTSUP;
		/* keeps the rewritten file no larger than the input plus small gaps */
		if (x->sh_addralign > 4096)
			return -ENOTSUP;
		s->newidx[i] = n++;
	}
	s->cut = cut;
	return 1;
}

/*
 * Lay out the kept sections that lie past the cut (symbol and name tables),
 * packed down from the cut with their alignment; returns the end offset.
 * With buf NULL it only measures.
 */
static size_t strip_layout(const struct strip *s, uint8_t *buf, Elf64_Shdr *nsh, size_t *nkept)
{
	size_t o = s->cut;

	*nkept = 0;
	for (size_t i = 0; i < s->eh.e_shnum; i++) {
		Elf64_Shdr x = s->sh[i];

		if (s->drop[i])
			continue;
		if (x.sh_type != SHT_NOBITS && x.sh_size && x.sh_offset + x.sh_size > s->cut) {
			o = align_up(o, x.sh_addralign ? x.sh_addralign : 1);
			if (buf)
				memcpy(buf + o, s->in + x.sh_offset, x.sh_size);
			x.sh_offset = o;
			o += x.sh_size;
		} else if (x.sh_offset > s->cut) {
			x.sh_offset = o;
		}
		x.sh_link = s->newidx[x.sh_link];
		if (info_is_section(&x))
			x.sh_info = s->newidx[x.sh_info];
		if (nsh)
			nsh[*nkept] = x;
		(*nkept)++;
	}
	return align_up(o, 8);
}

static int strip_write(struct strip *s, uint8_t **out, size_t *out_len)
{
	size_t nkept, end = strip_layout(s, NULL, NULL, &nkept);
	Elf64_Shdr *nsh = calloc(nkept, sizeof(*nsh));
	uint8_t *buf = malloc(end + nkept * sizeof(*nsh));

	if (!nsh || !buf) {
		free(nsh);
		free(buf);
		return -ENOMEM;
	}
	/* alignment gaps are zero, like a linker leaves them */
	memset(buf + s->cut, 0, end - s->cut);
	memcpy(buf, s->in, s->cut);
	strip_layout(s, buf, nsh, &nkept);
	memcpy(buf + end, nsh, nkept * sizeof(*nsh));
	s->eh.e_shoff = end;
	s->eh.e_shnum = (uint16_t)nkept;
	s->eh.e_shstrndx = (uint16_t)s->newidx[s->eh.e_shstrndx];
	memcpy(buf, &s->eh, sizeof(s->eh));
	free(nsh);
	*out = buf;
	*out_len = end + nkept * sizeof(Elf64_Shdr);
	return 0;
}

int elfstrip_debug(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	struct strip s = {.in = in, .len = len};
	int ret;

	ret = strip_load(&s);
	if (!ret)
		ret = strip_plan(&s);
	if (ret == 0) {
		/* no debug sections: hand back a plain copy */
		*out = malloc(len ? len : 1);
		if (*out) {
			memcpy(*out, in, len);
			*out_len = len;
		} else {
			ret = -ENOMEM;
		}
	} else if (ret == 1) {
		ret = strip_write(&s, out, out_len);
	}
	free(s.sh);
	free(s.drop);
	free(s.newidx);
	return ret;
}
