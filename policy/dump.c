/*
 * dump.c -- print a model as canonical configuration text.
 *
 * The text is what noqc compiles back to the same model: the layout, the
 * order and the quoting rules are fixed (noqc(1), --dump), so that
 * compile -> dump -> compile gives identical policy bytes.  Quoted strings
 * use only escapes that the configuration reader decodes: \\ \" \n \r \t
 * and three-digit octal.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "policy.h"

static bool is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static bool is_ctl(int c)
{
	return c < 0x20 || c == 0x7f;
}

static bool has_ctl(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (is_ctl(*p))
			return true;
	return false;
}

static void put_quoted(FILE *out, const char *s)
{
	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '\\': fputs("\\\\", out); break;
		case '"':  fputs("\\\"", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (is_ctl(*p))
				fprintf(out, "\\%03o", *p);
			else
				putc(*p, out);
		}
	}
	putc('"', out);
}

/* An option's string value: bare unless that would change it when read. */
static void put_value(FILE *out, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || is_blank((unsigned char)s[0]) ||
	    is_blank((unsigned char)s[n - 1]) || s[0] == '"' ||
	    s[n - 1] == '\\' || has_ctl(s))
		put_quoted(out, s);
	else
		fputs(s, out);
}

/* A field quoted when empty, or when it holds a control character or a byte
   of @special, or starts with a byte of @first. */
static void put_field(FILE *out, const char *s, const char *special,
		      const char *first)
{
	if (s[0] == '\0' || has_ctl(s) || strpbrk(s, special) != NULL ||
	    strchr(first, s[0]) != NULL)
		put_quoted(out, s);
	else
		fputs(s, out);
}

static void put_time(FILE *out, int64_t v)
{
	static const struct { char unit; int64_t secs; } units[] = {
		{ 'w', 604800 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 },
		{ 's', 1 },
	};

	if (v == 0) {
		fputs("0s", out);
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (v >= units[i].secs) {
			fprintf(out, "%" PRId64 "%c", v / units[i].secs, units[i].unit);
			v %= units[i].secs;
		}
}

static int put_opts(FILE *out, const struct mdl_obj *o, const char *indent)
{
	for (size_t i = 0; i < o->nopts; i++) {
		const struct mdl_opt *op = &o->opts[i];

		if (op->name == NULL || pol_check_opt(op) != NULL)
			return POL_EFORMAT;
		fprintf(out, "%s%s", indent, op->hide ? "hide " : "");
		switch (op->type) {
		case MT_BOOL:
			fprintf(out, "%s%s\n", op->num ? "" : "no_", op->name);
			continue;
		case MT_INT:
			fprintf(out, "%s = %" PRId64, op->name, op->num);
			break;
		case MT_OCTAL:
			fprintf(out, op->num ? "%s = 0%" PRIo64 : "%s = %" PRIo64,
				op->name, (uint64_t)op->num);
			break;
		case MT_TIME:
			fprintf(out, "%s = ", op->name);
			put_time(out, op->num);
			break;
		case MT_STRING:
		case MT_LIST:
			fprintf(out, "%s = ", op->name);
			put_value(out, op->str);
			break;
		}
		putc('\n', out);
	}
	return 0;
}

static int put_section(FILE *out, const char *name, const struct mdl_obj *v,
		       size_t n)
{
	if (n == 0)
		return 0;
	fprintf(out, "begin %s\n", name);
	for (size_t i = 0; i < n; i++) {
		if (v[i].name == NULL || v[i].driver == NULL)
			return POL_EFORMAT;
		fprintf(out, "\n%s:\n  driver = %s\n", v[i].name, v[i].driver);
		if (put_opts(out, &v[i], "  ") != 0)
			return POL_EFORMAT;
	}
	return 0;
}

static int put_rewrites(FILE *out, const struct model *m)
{
	static const char letters[] = "EFTbcfhrstqwSQR";

	if (m->nrewrites == 0)
		return 0;
	fputs("begin rewrite\n", out);
	for (size_t i = 0; i < m->nrewrites; i++) {
		const struct mdl_rewrite *w = &m->rewrites[i];

		if (w->pattern == NULL || w->replacement == NULL ||
		    (w->flags & ~(uint32_t)POL_RW_ALL))
			return POL_EFORMAT;
		if (w->pattern[0] == '^') {
			/* The policy holds a regular expression as Exim's
			   expansion made it: protected, it reads back the same. */
			size_t pl = strlen(w->pattern);
			char *q = malloc(pl + 5);

			if (q == NULL)
				return POL_ENOMEM;
			memcpy(q, "\\N", 2);
			memcpy(q + 2, w->pattern, pl);
			memcpy(q + 2 + pl, "\\N", 3);
			put_field(out, q, " \t\"\\", "\"");
			free(q);
		} else {
			put_field(out, w->pattern, " \t\"\\", "\"");
		}
		putc(' ', out);
		put_field(out, w->replacement, " \t\"\\", "\"");
		if (w->flags != 0) {
			putc(' ', out);
			for (unsigned b = 0; b < sizeof(letters) - 1; b++)
				if (w->flags & (1u << b))
					putc(letters[b], out);
		}
		putc('\n', out);
	}
	return 0;
}

static int put_aliases(FILE *out, const struct model *m)
{
	if (m->naliases == 0)
		return 0;
	fputs("begin aliases\n", out);
	for (size_t t = 0; t < m->naliases; t++) {
		const struct mdl_aliases *a = &m->aliases[t];

		if (a->router >= m->nrouters || m->routers[a->router].name == NULL)
			return POL_EFORMAT;
		fprintf(out, "%s:\n", m->routers[a->router].name);
		for (size_t i = 0; i < a->n; i++) {
			const struct mdl_alias *al = &a->v[i];

			if (al->key == NULL ||
			    pol_check_targets(al->targets, al->ntargets) != NULL)
				return POL_EFORMAT;
			fputs("  ", out);
			put_field(out, al->key, " \t:,\"\\#", "");
			putc(':', out);
			for (size_t j = 0; j < al->ntargets; j++) {
				const struct mdl_target *tg = &al->targets[j];

				fputs(j ? ", " : " ", out);
				switch (tg->kind) {
				case AT_ADDRESS:
					/* As the alias parser stored it (quoted local
					   parts keep their quotes), it reads back as is;
					   only a start that would read as a pipe, file,
					   special item or comment needs quotes. */
					if (tg->text[0] == '\0' || has_ctl(tg->text) ||
					    strchr("|/:<#", tg->text[0]) != NULL)
						put_quoted(out, tg->text);
					else
						fputs(tg->text, out);
					break;
				case AT_FAIL:
				case AT_DEFER:
					fputs(tg->kind == AT_FAIL ? ":fail:" : ":defer:", out);
					if (tg->text[0] != '\0')
						fprintf(out, " %s", tg->text);
					break;
				case AT_BLACKHOLE:
					fputs(":blackhole:", out);
					break;
				}
			}
			putc('\n', out);
		}
	}
	return 0;
}

static int put_sources(FILE *out, const struct model *m)
{
	if (m->nsources == 0)
		return 0;
	fputs("begin sources\n", out);
	for (size_t i = 0; i < m->nsources; i++) {
		const struct mdl_source *s = &m->sources[i];

		if (s->path == NULL)
			return POL_EFORMAT;
		fputs("sha256:", out);
		for (size_t j = 0; j < sizeof(s->sha256); j++)
			fprintf(out, "%02x", s->sha256[j]);
		putc(' ', out);
		put_field(out, s->path, " \t\"\\", "");
		putc('\n', out);
	}
	return 0;
}

int pol_dump(const struct model *m, FILE *out)
{
	int r;

	fputs("# noq policy dump\n", out);
	if ((r = put_opts(out, &m->main, "")) != 0 ||
	    (r = put_section(out, "routers", m->routers, m->nrouters)) != 0 ||
	    (r = put_section(out, "transports", m->transports, m->ntransports)) != 0 ||
	    (r = put_section(out, "authenticators", m->auths, m->nauths)) != 0 ||
	    (r = put_rewrites(out, m)) != 0 ||
	    (r = put_aliases(out, m)) != 0 ||
	    (r = put_sources(out, m)) != 0) {
		errno = EINVAL;
		return r;
	}
	if (ferror(out))
		return POL_EIO;
	return 0;
}
