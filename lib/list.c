/*
 * list.c -- Exim's lists, read one item at a time (list.h).
 */
#include "config.h"

#include <stdbool.h>

#include "list.h"

/* The C locale's classes, whatever the process's locale. */
static bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool is_cntrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool is_punct(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !(c >= '0' && c <= '9') &&
	       !((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

void list_init(struct list_iter *it, const char *list, int sep)
{
	it->base = list;
	it->i = 0;
	it->sep = sep;
	it->pos = 0;
}

int list_next(struct list_iter *it, struct sb *item)
{
	const unsigned char *s = (const unsigned char *)it->base;
	size_t i = it->i;
	int sep = it->sep;

	sb_clear(item);
	while (is_space(s[i]) && s[i] != sep)
		i++;
	if (sep <= 0) {
		if (s[i] == '<' && (is_punct(s[i + 1]) || is_cntrl(s[i + 1]))) {
			sep = s[i + 1];
			i++;
			if (s[i] != '\0')
				i++;
			while (is_space(s[i]) && s[i] != sep)
				i++;
		} else {
			sep = sep != 0 ? -sep : ':';
		}
		it->sep = sep;
	}
	if (s[i] == '\0') {
		it->i = i;
		return 0;
	}

	bool special = is_cntrl((unsigned char)sep);

	it->pos = i;
	if (s[i] == sep) {
		i++;
		if (s[i] != sep || special) {
			it->i = i;      /* an empty item */
			return sb_put(item, "", 0) == 0 ? 1 : -1;
		}
		/* A doubled separator opens the item: s[i] is data. */
	}
	for (;;) {
		size_t run = i + 1;

		while (s[run] != '\0' && s[run] != sep)
			run++;
		sb_put(item, s + i, run - i);   /* a failure is sticky */
		i = run;
		if (s[i] == '\0')
			break;
		i++;
		if (s[i] != sep || special)
			break;
	}
	it->i = i;
	if (item->err != SB_OK)
		return -1;
	/* Trailing blanks go, unless the last is escaped. */
	size_t n = item->len;

	while (n > 0 && is_space((unsigned char)item->p[n - 1]) &&
	       (n == 1 || item->p[n - 2] != '\\'))
		n--;
	sb_truncate(item, n);
	return 1;
}
