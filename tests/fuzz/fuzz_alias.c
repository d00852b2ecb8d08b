/*
 * fuzz_alias.c -- libFuzzer target for the policy loader together with
 * alias lookups (policy/load.c, policy.h): what noq does with a policy
 * file each time a redirect router looks a local part up.
 *
 * Input: a policy file, optionally followed by "\n#keys\n" and keys to
 * look up, one a line (the seeds are the examples' compiled policies
 * with their alias keys: tests/fuzz/smoke.sh).  The policy goes through
 * pol_load() from memory (an exact-size copy, so that ASan sees any read
 * past it) and through pol_open() from a memfd, whose lookups read the
 * alias data with pread() in windows rather than from memory; when the
 * header checksum refuses it, it is tried again with that checksum
 * recomputed over what its own header says (only the header: nothing
 * here knows the layout of the alias tables, which may change).
 *
 * Then every router index (and two past the last) is asked for keys:
 * fixed ones ("", "root", long, with a NUL), the input's, every key of
 * the decoded model when pol_verify() passes, and variants of those (in
 * upper case, one octet longer, one shorter).  Checked:
 *   - pol_alias_lookup() returns 1, 0, POL_EFORMAT or POL_ENOMEM, never
 *     finds anything for a router without a table (pol_alias_has()) or
 *     for a key with a NUL;
 *   - what it finds is the key asked for, with targets of a known kind
 *     and a text (ASan checks it is all inside the arena);
 *   - the memory and the file lookups give the same answers;
 *   - a policy that pol_verify() passes gives, for each key of each
 *     table of pol_to_model(), exactly the model's targets.
 * Any violation aborts, printing the input.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "model.h"
#include "policy.h"
#include "sb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK "\n#keys\n"
#define MARKLEN 7

/** struct found - the answer to one lookup. */
struct found {
	int rc;
	struct pol_alias a;
};

static void lookup(const struct pol *p, uint32_t r, const char *key, size_t len,
		   struct arena *ar, struct found *f)
{
	char err[POL_ERRLEN] = "";

	memset(f, 0, sizeof(*f));
	f->rc = pol_alias_lookup(p, r, key, len, ar, &f->a, err);
	/* POL_ECHECKSUM: a block of the table that does not match its check
	   (policy 5.0); a verified policy never gives it (against_model()). */
	if (f->rc != 0 && f->rc != 1 && f->rc != POL_EFORMAT && f->rc != POL_ECHECKSUM &&
	    f->rc != POL_ENOMEM)
		fz_fail("pol_alias_lookup returned %d", f->rc);
	if (f->rc < 0 && err[0] == '\0')
		fz_fail("pol_alias_lookup refused without a reason");
	if (f->rc != 1)
		return;
	if (!pol_alias_has(p, r))
		fz_fail("router %u has no table, but a lookup found something", r);
	if (memchr(key, '\0', len) != NULL)
		fz_fail("a key with a NUL was found");
	if (f->a.key == NULL || strlen(f->a.key) != len || memcmp(f->a.key, key, len) != 0)
		fz_fail("looked up \"%.*s\", found \"%s\"", (int)len, key,
			f->a.key ? f->a.key : "(null)");
	for (size_t i = 0; i < f->a.ntargets; i++) {
		const struct mdl_target *t = &f->a.targets[i];

		if (t->kind < AT_ADDRESS || t->kind > AT_BLACKHOLE || t->text == NULL)
			fz_fail("\"%s\": target %zu of kind %d", f->a.key, i, (int)t->kind);
		(void)strlen(t->text);
	}
}

static bool same_targets(const struct mdl_target *a, size_t na, const struct mdl_target *b,
			 size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].kind != b[i].kind || strcmp(a[i].text, b[i].text) != 0)
			return false;
	return true;
}

/** struct keys - the keys to ask for. */
struct keys {
	struct sb text;       /* each key and a NUL */
	size_t *off, *len;
	size_t n, cap;
};

static void add_key(struct keys *k, const char *s, size_t n)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 64;
		k->off = realloc(k->off, k->cap * sizeof(*k->off));
		k->len = realloc(k->len, k->cap * sizeof(*k->len));
		if (k->off == NULL || k->len == NULL)
			abort();
	}
	k->off[k->n] = k->text.len;
	k->len[k->n++] = n;
	if (sb_put(&k->text, s, n) != 0 || sb_putc(&k->text, '\0') != 0)
		abort();
}

/* @s and its variants: upper case, one octet more, one less. */
static void add_variants(struct keys *k, const char *s, size_t n)
{
	char *v = malloc(n + 2);

	if (v == NULL)
		abort();
	add_key(k, s, n);
	for (size_t i = 0; i < n; i++)
		v[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A') : s[i];
	add_key(k, v, n);
	memcpy(v, s, n);
	v[n] = 'x';
	add_key(k, v, n + 1);
	if (n > 0)
		add_key(k, s, n - 1);
	free(v);
}

/* Ask @mem (and @file, when there is one) for every key of every router. */
static void ask(const struct pol *mem, const struct pol *file, uint32_t nrouters,
		const struct keys *k)
{
	for (uint32_t r = 0; r <= nrouters + 1; r++)
		for (size_t i = 0; i < k->n; i++) {
			const char *key = k->text.p + k->off[i];
			struct arena a1 = { 0 }, a2 = { 0 };
			struct found f1, f2;

			lookup(mem, r, key, k->len[i], &a1, &f1);
			if (file != NULL) {
				lookup(file, r, key, k->len[i], &a2, &f2);
				if (f1.rc != f2.rc ||
				    (f1.rc == 1 && !same_targets(f1.a.targets, f1.a.ntargets,
								 f2.a.targets, f2.a.ntargets)))
					fz_fail("router %u, \"%.*s\": %d in memory, %d from the file",
						r, (int)k->len[i], key, f1.rc, f2.rc);
			}
			arena_free(&a1);
			arena_free(&a2);
		}
}

/* A verified policy: each key of the model gives the model's targets. */
static void against_model(const struct pol *p, const struct model *m)
{
	for (size_t t = 0; t < m->naliases; t++) {
		const struct mdl_aliases *at = &m->aliases[t];

		if (!pol_alias_has(p, at->router))
			fz_fail("router %u has a table in the model, not in the policy", at->router);
		for (size_t i = 0; i < at->n; i++) {
			const struct mdl_alias *al = &at->v[i];
			struct arena ar = { 0 };
			struct found f;

			lookup(p, at->router, al->key, strlen(al->key), &ar, &f);
			if (f.rc != 1 || !same_targets(f.a.targets, f.a.ntargets, al->targets,
						       al->ntargets))
				fz_fail("router %u, \"%s\": lookup %d, not the model's %zu targets",
					at->router, al->key, f.rc, al->ntargets);
			arena_free(&ar);
		}
	}
}

/* The policy @b (@n bytes) through pol_open(), from a memfd. */
static struct pol *open_file(const unsigned char *b, size_t n, int *fdp)
{
	char path[64], err[POL_ERRLEN];
	struct pol *p = NULL;
	int fd = memfd_create("fuzz_alias", MFD_CLOEXEC);

	if (fd < 0 || (n > 0 && write(fd, b, n) != (ssize_t)n))
		fz_fail("memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (pol_open(path, 0, &p, err) != 0)
		p = NULL;
	*fdp = fd;
	return p;
}

static void run(const unsigned char *b, size_t n, const struct keys *input)
{
	static const char *const fixed[] = { "", "root", "postmaster", "a", "webmaster",
					     "nobody", "k00001", "alice@example.org" };
	char err[POL_ERRLEN];
	struct pol *p = NULL, *f;
	struct model *core = NULL, *m = NULL;
	struct keys k = { .text = SB_INIT };
	char longkey[300];
	int fd;

	if (pol_load(b, n, &p, err) != 0)
		return;
	f = open_file(b, n, &fd);
	if (f == NULL)
		fz_fail("pol_load accepts, pol_open refuses");
	if (pol_core_model(p, &core, err) != 0)
		fz_fail("pol_core_model: %s", err);
	for (size_t i = 0; i < FZ_NEL(fixed); i++)
		add_variants(&k, fixed[i], strlen(fixed[i]));
	memset(longkey, 'a', sizeof(longkey));
	add_key(&k, longkey, sizeof(longkey));
	add_key(&k, "ro\0ot", 5);
	for (size_t i = 0; i < input->n; i++)
		add_variants(&k, input->text.p + input->off[i], input->len[i]);
	if (pol_verify(p, err) == 0) {
		if (pol_to_model(p, &m, err) != 0)
			fz_fail("pol_to_model of a verified policy: %s", err);
		for (size_t t = 0; t < m->naliases; t++)
			for (size_t i = 0; i < m->aliases[t].n && i < 200; i++)
				add_variants(&k, m->aliases[t].v[i].key,
					     strlen(m->aliases[t].v[i].key));
		against_model(p, m);
		against_model(f, m);
	}
	ask(p, f, (uint32_t)core->nrouters, &k);
	model_free(m);
	model_free(core);
	pol_close(f);
	close(fd);
	pol_close(p);
	sb_free(&k.text);
	free(k.off);
	free(k.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *mark = NULL;
	struct keys input = { .text = SB_INIT };
	size_t n = size;
	unsigned char *copy;

	fz_input(data, size);
	/* The keys after the last mark, one a line. */
	for (const uint8_t *q = data; size >= MARKLEN &&
	     (q = memmem(q, size - (size_t)(q - data), MARK, MARKLEN)) != NULL; q++)
		mark = q;
	if (mark != NULL) {
		n = (size_t)(mark - data);
		for (const uint8_t *q = mark + MARKLEN, *end = data + size; q < end;) {
			const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
			size_t len = nl ? (size_t)(nl - q) : (size_t)(end - q);

			if (input.n < 64)
				add_key(&input, (const char *)q, len);
			q += len + 1;
		}
	}
	copy = malloc(n ? n : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, n);
	run(copy, n, &input);
	/* Again with the header checksum made right, when it changes it. */
	fz_reseal_header(copy, n);
	if (n > 0 && memcmp(copy, data, n) != 0)
		run(copy, n, &input);
	free(copy);
	sb_free(&input.text);
	free(input.off);
	free(input.len);
	return 0;
}
