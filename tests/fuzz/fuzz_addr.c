/*
 * fuzz_addr.c -- libFuzzer target for the address parsers: lib/addr.c,
 * which reads every address noq is given (command-line recipients, -f,
 * the To/Cc/Bcc values -t reads, MAIL FROM and RCPT TO of -bs, the
 * targets of .forward files), and lib/eaddr.c, which reads an address as
 * Exim's parse_extract_address() does (alias targets, ${address:}).
 *
 * The first byte chooses addr_parse()'s options (enum addr_opt), whether
 * eaddr accepts 8-bit domains, and the domain addr_qualify() appends; the
 * rest is the text.  Checked, for addr_parse():
 *
 *   - the return value agrees with the errors recorded, at most
 *     ADDR_MAX_ERRORS of them are kept and nerr_total counts them all;
 *     ADDR_SINGLE gives one address or an error, never more;
 *   - each address is NUL-terminated and holds no control character, its
 *     local_len and domain agree with its text, its flags with the list's
 *     and with the options (no group without ADDR_HEADER, "<>" only with
 *     ADDR_ALLOW_EMPTY), its position lies in the input, its domain has
 *     at most ADDR_DOMAIN_MAX octets;
 *   - the canonical form parses again, alone, to itself (addr.h promises
 *     it), with the same local part length and the same UNQUALIFIED,
 *     EMPTY and UTF8 flags;
 *   - each error lies in the input, has a reason, and shows the element
 *     in printable ASCII only; addr_refusal() gives lines for them;
 *   - addr_qualify() leaves no unqualified address (but "<>") and what it
 *     qualified parses again.
 *
 * For eaddr_end() and eaddr_parse() on the text up to its first NUL,
 * blanks trimmed (as their callers give it): the address found ends
 * inside the text, the output fits the room the header promises (ASan
 * watches it), and an address read parses again to itself.
 *
 * Any violation aborts, printing the input; leaks and out-of-bounds reads
 * are ASan's.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "eaddr.h"
#include "fuzzutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The canonical form @a of an address parses again to itself. */
static void reparse(const struct addr *a)
{
	struct addr_list l;
	unsigned opts = ADDR_SINGLE | (a->flags & ADDR_F_EMPTY ? ADDR_ALLOW_EMPTY : 0);
	const unsigned same = ADDR_F_UNQUALIFIED | ADDR_F_EMPTY | ADDR_F_UTF8;
	int rc;

	addr_list_init(&l);
	rc = addr_parse(&l, a->addr, strlen(a->addr), opts);
	if (rc != ADDR_OK || l.n != 1)
		fz_fail("canonical <%s> does not parse again: %s", a->addr,
			l.nerr ? l.err[0].msg : "no address");
	if (strcmp(l.v[0].addr, a->addr) != 0)
		fz_fail("canonical <%s> parses again to <%s>", a->addr, l.v[0].addr);
	if (l.v[0].local_len != a->local_len)
		fz_fail("canonical <%s>: local part of %zu octets, then %zu", a->addr,
			a->local_len, l.v[0].local_len);
	if ((l.v[0].flags & same) != (a->flags & same))
		fz_fail("canonical <%s>: flags 0x%x, then 0x%x", a->addr, a->flags,
			l.v[0].flags);
	addr_list_free(&l);
}

static void check_addr(const struct addr_list *l, const struct addr *a, size_t len,
		       unsigned opts)
{
	size_t n = strlen(a->addr);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a->addr[i];

		if (c < 0x20 || c == 0x7f)
			fz_fail("address <%s> holds the control character 0x%02x", a->addr, c);
	}
	if (a->local_len > n)
		fz_fail("address <%s>: local_len %zu", a->addr, a->local_len);
	if ((a->flags & ~l->flags) != 0)
		fz_fail("address <%s>: flags 0x%x not in the list's 0x%x", a->addr, a->flags,
			l->flags);
	if (a->flags & ADDR_F_QUALIFIED)
		fz_fail("address <%s> qualified before addr_qualify()", a->addr);
	if (a->flags & ADDR_F_EMPTY) {
		if (!(opts & ADDR_ALLOW_EMPTY) || n != 0 || a->domain != NULL)
			fz_fail("null address <%s> with options 0x%x", a->addr, opts);
	} else if (a->flags & ADDR_F_UNQUALIFIED) {
		if (a->domain != NULL || a->local_len != n)
			fz_fail("unqualified <%s> has a domain", a->addr);
	} else {
		if (a->domain != a->addr + a->local_len + 1 || a->addr[a->local_len] != '@')
			fz_fail("address <%s>: domain does not follow the local part", a->addr);
		if (strlen(a->domain) == 0 || strlen(a->domain) > ADDR_DOMAIN_MAX)
			fz_fail("address <%s>: domain of %zu octets", a->addr, strlen(a->domain));
	}
	if (a->group != NULL && !(opts & ADDR_HEADER))
		fz_fail("address <%s> in group '%s' outside a header", a->addr, a->group);
	if (a->pos > len || a->len > len - a->pos)
		fz_fail("address <%s> at %zu+%zu of %zu", a->addr, a->pos, a->len, len);
	reparse(a);
}

static void check_err(const struct addr_err *e, size_t len)
{
	if (e->pos > len || e->len > len - e->pos || e->item_pos > len ||
	    e->item_len > len - e->item_pos)
		fz_fail("error '%s' at %zu+%zu (item %zu+%zu) of %zu", e->msg, e->pos, e->len,
			e->item_pos, e->item_len, len);
	if (e->msg[0] == '\0' || memchr(e->msg, '\0', sizeof(e->msg)) == NULL)
		fz_fail("an error without a reason");
	if (e->text == NULL)
		fz_fail("error '%s' without its text", e->msg);
	for (const char *t = e->text; *t != '\0'; t++)
		if (*t < ' ' || *t > '~')
			fz_fail("error '%s' shows the byte 0x%02x", e->msg, (unsigned char)*t);
}

static void check_list(const struct addr_list *l, int rc, size_t len, unsigned opts)
{
	if (rc == ADDR_NOMEM)
		fz_fail("out of memory");
	if (rc != (l->nerr_total == 0 ? ADDR_OK : ADDR_INVALID))
		fz_fail("addr_parse returned %d with %zu errors", rc, l->nerr_total);
	if (l->nerr != (l->nerr_total < ADDR_MAX_ERRORS ? l->nerr_total : ADDR_MAX_ERRORS))
		fz_fail("%zu errors kept of %zu", l->nerr, l->nerr_total);
	if ((opts & ADDR_SINGLE) && (l->n > 1 || l->n + l->nerr_total == 0))
		fz_fail("ADDR_SINGLE gave %zu addresses and %zu errors", l->n, l->nerr_total);
	for (size_t i = 0; i < l->n; i++)
		check_addr(l, &l->v[i], len, opts);
	for (size_t i = 0; i < l->nerr; i++)
		check_err(&l->err[i], len);

	char *r = addr_refusal(l);

	if (r == NULL)
		fz_fail("addr_refusal: out of memory");
	if ((r[0] == '\0') != (l->nerr == 0) || (r[0] != '\0' && r[strlen(r) - 1] != '\n'))
		fz_fail("addr_refusal gave \"%s\" for %zu errors", r, l->nerr);
	free(r);
}

static void qualify(struct addr_list *l, const char *domain)
{
	bool was[64];
	size_t n = l->n < 64 ? l->n : 64;
	int rc;

	for (size_t i = 0; i < n; i++)
		was[i] = (l->v[i].flags & ADDR_F_UNQUALIFIED) != 0;
	rc = addr_qualify(l, domain);
	if (rc == ADDR_INVALID)
		return;
	if (rc != ADDR_OK)
		fz_fail("addr_qualify(%s) returned %d", domain, rc);
	for (size_t i = 0; i < l->n; i++) {
		const struct addr *a = &l->v[i];

		if (a->flags & ADDR_F_EMPTY)
			continue;
		if ((a->flags & ADDR_F_UNQUALIFIED) || a->domain == NULL)
			fz_fail("<%s> still unqualified after addr_qualify(%s)", a->addr, domain);
		if (i < n && was[i] != ((a->flags & ADDR_F_QUALIFIED) != 0))
			fz_fail("<%s>: ADDR_F_QUALIFIED 0x%x after addr_qualify(%s)", a->addr,
				a->flags, domain);
		reparse(a);
	}
}

static bool eaddr_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* eaddr on @s (@n bytes, no NUL), as xp's ${address:} reads its text. */
static void eaddr_run(const char *s, size_t n, bool utf8)
{
	struct eaddr a = { 0 };
	size_t lt, end;
	enum eaddr_status st;

	while (n > 0 && eaddr_space((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && eaddr_space((unsigned char)s[n - 1]))
		n--;
	end = eaddr_end(s, 0, n, &lt);
	if (end > n || (lt != SIZE_MAX && lt >= end))
		fz_fail("eaddr_end gave %zu ('<' at %zu) of %zu", end, lt, n);
	/* The whole text, as ${address:} gives it (an exact-size buffer). */
	a.p = (const unsigned char *)s;
	a.n = n;
	a.utf8_domains = utf8;
	a.out = malloc(n + 1);
	if (a.out == NULL)
		abort();
	st = eaddr_parse(&a, lt);
	if (st == EADDR_BAD && (a.why[0] == '\0' || memchr(a.why, '\0', sizeof(a.why)) == NULL))
		fz_fail("eaddr_parse refused without a reason");
	if (st == EADDR_OK) {
		struct eaddr b = { 0 };

		if (a.outlen > n)
			fz_fail("eaddr_parse wrote %zu octets from %zu", a.outlen, n);
		end = eaddr_end(a.out, 0, a.outlen, &lt);
		if (end != a.outlen || lt != SIZE_MAX)
			fz_fail("eaddr's <%.*s> ends at %zu, '<' at %zu", (int)a.outlen, a.out, end,
				lt);
		b.p = (const unsigned char *)a.out;
		b.n = a.outlen;
		b.utf8_domains = utf8;
		b.out = malloc(a.outlen + 1);
		if (b.out == NULL)
			abort();
		st = eaddr_parse(&b, SIZE_MAX);
		if (st != EADDR_OK || b.outlen != a.outlen ||
		    memcmp(b.out, a.out, a.outlen) != 0 || b.domain != a.domain)
			fz_fail("eaddr's <%.*s> parses again to %d <%.*s>: %s", (int)a.outlen,
				a.out, (int)st, st == EADDR_OK ? (int)b.outlen : 0, b.out,
				st == EADDR_BAD ? b.why : "");
		free(b.out);
	}
	free(a.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const domains[] = {
		"example.org", "[192.0.2.1]", "ex\xc3\xa4mple.org", "bad domain",
	};
	struct addr_list l;
	unsigned opts;
	char *s;
	size_t len;
	int rc;

	if (size == 0)
		return 0;
	opts = data[0] & 0x1f;
	len = size - 1;
	/* An exact-size copy, so that ASan sees any read past the end. */
	s = malloc(len ? len : 1);
	if (s == NULL)
		abort();
	memcpy(s, data + 1, len);
	fz_input(data, size);

	addr_list_init(&l);
	rc = addr_parse(&l, s, len, opts);
	check_list(&l, rc, len, opts);
	qualify(&l, domains[(data[0] >> 6) & 3]);
	addr_list_free(&l);

	const char *nul = memchr(s, '\0', len);

	eaddr_run(s, nul ? (size_t)(nul - s) : len, (data[0] & 0x20) != 0);
	free(s);
	return 0;
}
