/*
 * sema_redirect.c -- phase 4 of the semantic pass (sema.c): redirect data
 * read at compile time (lsearch files, constant lists, constant 'file',
 * inline 'begin aliases' blocks) and checked; alias tables indexed by key,
 * their entries the nodes of the alias graph.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aliases.h"
#include "ast.h"
#include "diag.h"
#include "model.h"
#include "options.h"
#include "sb.h"
#include "sema_int.h"
#include "source.h"

/* ======================================================================
 * Phase 4: redirect data
 * ====================================================================== */

/* @path made relative to the main configuration's directory (malloc'd). */
static char *resolve_path(const struct sema *s, const char *path)
{
	size_t dl = path[0] == '/' ? 0 : strlen(s->cfgdir);
	size_t pl = strlen(path);
	char *p = malloc(dl + pl + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s->cfgdir, dl);
	memcpy(p + dl, path, pl + 1);
	return p;
}

/* Read the file @path whole; registers it in the source manager. */
static int read_source(struct sema *s, const char *path, const struct loc *from,
		       uint32_t *file)
{
	FILE *f = fopen(path, "rb");
	struct sb b = SB_INIT;
	char buf[65536];
	size_t n;

	if (f == NULL)
		goto fail;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_put(&b, buf, n);
	if (ferror(f)) {
		int err = errno;

		fclose(f);
		sb_free(&b);
		errno = err;
		goto fail;
	}
	fclose(f);
	if (b.err != SB_OK) {
		sb_free(&b);
		sema_oom(s);
		return -1;
	}
	*file = srcmgr_add(s->sm, path, sb_str(&b), b.len,
			   from && loc_valid(from) ? from->file : LOC_NONE_FILE, from);
	sb_free(&b);
	if (*file == LOC_NONE_FILE) {
		sema_oom(s);
		return -1;
	}
	return 0;
fail:
	S_ERROR(s, from, "cannot read '%s': %s", path, strerror(errno));
	return -1;
}

/** struct tloc - where target list text is: an option value or a file. */
struct tloc {
	const struct ast_option *o;   /* option, or NULL for a file */
	uint32_t file;
	const char *text;             /* file text */
	size_t off;                   /* incremental line tracking */
	uint32_t line;
	size_t lstart;
};

static struct loc tl_loc(const struct sema *s, struct tloc *tl, size_t pos, size_t len)
{
	if (tl->o != NULL)
		return sema_vloc(s, tl->o, pos, len);
	if (pos < tl->off) {
		tl->off = 0;
		tl->line = 1;
		tl->lstart = 0;
	}
	for (; tl->off < pos; tl->off++)
		if (tl->text[tl->off] == '\n') {
			tl->line++;
			tl->lstart = tl->off + 1;
		}
	size_t ll = 0;

	while (tl->text[pos + ll] != '\0' && tl->text[pos + ll] != '\n' && ll < len)
		ll++;
	return (struct loc){ tl->file, tl->line, (uint32_t)(pos - tl->lstart + 1),
			     (uint32_t)pos, (uint32_t)(ll ? ll : 1) };
}

struct itemv {
	struct alias_item *v;
	size_t n, cap;
};

static int push_item(struct sema *s, struct itemv *iv, enum mdl_target_kind k,
		     const char *text, size_t len, struct loc l)
{
	if (sema_grow(s, &iv->v, &iv->cap, iv->n + 1, sizeof(*iv->v)) < 0)
		return -1;
	char *t = arena_strndup(&s->m->arena, text, len);

	if (t == NULL) {
		sema_oom(s);
		return -1;
	}
	iv->v[iv->n++] = (struct alias_item){ k, t, l };
	return 0;
}

/* Check a :fail:, :defer: or :blackhole: target against the router's options. */
static void check_special(struct sema *s, const struct router *R,
			  enum mdl_target_kind k, const struct loc *l)
{
	if (k == AT_FAIL && !R->allow_fail)
		S_ERROR(s, l, "':fail:' needs allow_fail on router '%s' (as in Exim)", R->name);
	else if (k == AT_DEFER && !R->allow_defer)
		S_ERROR(s, l, "':defer:' needs allow_defer on router '%s' (as in Exim)", R->name);
	else if (k == AT_BLACKHOLE && R->forbid_blackhole)
		S_ERROR(s, l, "':blackhole:' is forbidden on router '%s' (forbid_blackhole)",
			R->name);
}

#define MAX_INCLUDE_DEPTH 8

/*
 * Check the redirection target @it (@il bytes) of router @R with the parser
 * noq uses at send time (Exim's rules: one mailbox, no group syntax): what
 * it would refuse -- deferring every message routed here -- is refused now.
 * @l is the target's location; with @tl, @it is at offset @b of the text
 * @tl describes, and the caret goes to the offending byte.  Returns true
 * when the target is good; otherwise reports an error (a warning under
 * skip_syntax_errors, as noq then skips it) and returns false.
 */
static bool target_ok(struct sema *s, const struct router *R, const char *it, size_t il,
		      struct loc l, struct tloc *tl, size_t b)
{
	struct addr_list al;

	/* "\name": Exim's "no more aliasing" mark, not part of the address. */
	if (il > 0 && it[0] == '\\') {
		it++;
		il--;
		b++;
	}
	addr_list_init(&al);
	if (addr_parse(&al, it, il, ADDR_SINGLE | ADDR_ALLOW_EMPTY) != ADDR_INVALID) {
		addr_list_free(&al);
		return true;
	}
	char why[sizeof(al.err[0].msg)] = "invalid address";
	struct loc el = l;

	if (al.nerr > 0) {
		/* The caret shows the place; the offset is not needed. */
		char *at = strstr(al.err[0].msg, " at offset ");

		snprintf(why, sizeof(why), "%.*s",
			 at ? (int)(at - al.err[0].msg) : (int)sizeof(why), al.err[0].msg);
		if (tl != NULL && al.err[0].pos < il)
			el = tl_loc(s, tl, b + al.err[0].pos, al.err[0].len ? al.err[0].len : 1);
	}
	if (sema_lbool(&R->ob, "skip_syntax_errors", false))
		diag_warning(s->dg, &el, "invalid address '%.*s' in the redirection list of "
			     "router '%s' (%s): skipped at send time (skip_syntax_errors)",
			     (int)il, it, R->name, why);
	else
		S_ERROR(s, &el, "invalid address '%.*s' in the redirection list of router "
			"'%s': %s", (int)il, it, R->name, why);
	addr_list_free(&al);
	return false;
}

/*
 * Whether alias target @t needs the full parser: the alias reader has
 * checked it already, and only what it lets through that is out of the
 * ordinary (quotes, escapes, domain literals, 8-bit bytes) is parsed again;
 * a million plain "user@example.org" targets cost a scan each.
 */
static bool unusual_target(const char *t)
{
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p == '"' || *p == '\\' || *p == '[' || *p == '(' || *p >= 0x80)
			return true;
	return false;
}

/*
 * Parse a redirection list (Exim's syntax for data, .forward files and
 * :include: files): items separated by commas or newlines, '#' comments
 * at the start of an item, "quoted local parts", <angle brackets>,
 * :fail: / :defer: (the rest is the message), :blackhole:, :include:FILE.
 * Pipes and files are errors.  *@changed is set when an include was read.
 */
static void parse_targets(struct sema *s, size_t ri, const char *text, size_t len,
			  struct tloc *tl, unsigned depth, struct itemv *iv, bool *changed)
{
	struct router *R = &s->r[ri];
	size_t i = 0;

	while (i < len) {
		while (i < len && (sema_is_blank(text[i]) || text[i] == ',' || text[i] == '\n' ||
				   text[i] == '\r'))
			i++;
		if (i >= len)
			break;
		if (text[i] == '#') {
			while (i < len && text[i] != '\n')
				i++;
			continue;
		}
		size_t b = i;
		bool fail = strncmp(text + b, ":fail:", 6) == 0;

		if (fail || strncmp(text + b, ":defer:", 7) == 0) {
			size_t m = b + (fail ? 6 : 7), e = len;

			while (m < e && (sema_is_blank(text[m]) || text[m] == '\n' ||
					 text[m] == '\r'))
				m++;
			while (e > m && (sema_is_blank(text[e - 1]) || text[e - 1] == '\n' ||
					 text[e - 1] == '\r'))
				e--;
			struct loc l = tl_loc(s, tl, b, fail ? 6 : 7);
			enum mdl_target_kind k = fail ? AT_FAIL : AT_DEFER;

			check_special(s, R, k, &l);
			push_item(s, iv, k, text + m, e - m, l);
			return;
		}
		bool inq = false;

		while (i < len && (inq || (text[i] != ',' && text[i] != '\n'))) {
			if (text[i] == '\\' && i + 1 < len)
				i++;
			else if (text[i] == '"')
				inq = !inq;
			i++;
		}
		size_t e = i;

		while (e > b && (sema_is_blank(text[e - 1]) || text[e - 1] == '\r'))
			e--;
		const char *it = text + b;
		size_t il = e - b;
		struct loc l = tl_loc(s, tl, b, il);

		if (il >= 11 && strncmp(it, ":blackhole:", 11) == 0) {
			check_special(s, R, AT_BLACKHOLE, &l);
			push_item(s, iv, AT_BLACKHOLE, "", 0, l);
		} else if (il >= 9 && strncmp(it, ":include:", 9) == 0) {
			size_t p = 9;

			while (p < il && sema_is_blank(it[p]))
				p++;
			char *name = sema_xstrndup(it + p, il - p);
			char *path = name ? resolve_path(s, name) : NULL;
			uint32_t f;

			*changed = true;
			if (path == NULL) {
				sema_oom(s);
			} else if (sema_lbool(&R->ob, "forbid_include", false)) {
				S_ERROR(s, &l, "':include:' is forbidden on router '%s' "
					"(forbid_include)", R->name);
			} else if (depth >= MAX_INCLUDE_DEPTH) {
				S_ERROR(s, &l, "':include:' lists nested too deeply (limit %d)",
					MAX_INCLUDE_DEPTH);
			} else if (read_source(s, path, &l, &f) == 0) {
				const struct src_file *sf = &s->sm->files[f];
				struct tloc sub = { NULL, f, sf->text, 0, 1, 0 };

				parse_targets(s, ri, sf->text, sf->len, &sub, depth + 1, iv,
					      changed);
			}
			free(name);
			free(path);
		} else if (it[0] == ':') {
			S_ERROR(s, &l, "unknown special item '%.*s' in the redirection list of "
				"router '%s'", (int)il, it, R->name);
		} else if (it[0] == '|') {
			S_ERROR(s, &l, "router '%s' redirects to the pipe '%.*s': noq cannot "
				"deliver to a command, it only relays to the smart host",
				R->name, (int)il, it);
		} else if (it[0] == '/') {
			S_ERROR(s, &l, "router '%s' redirects to the file '%.*s': noq cannot "
				"deliver to a file, it only relays to the smart host",
				R->name, (int)il, it);
		} else {
			const char *lt = memchr(it, '<', il);

			if (!target_ok(s, R, it, il, l, tl, b))
				continue;
			if (lt != NULL && it[il - 1] == '>') {
				il = (size_t)(it + il - 1 - (lt + 1));
				it = lt + 1;
			}
			if (il == 0)
				S_ERROR(s, &l, "empty address in the redirection list of router "
					"'%s'", R->name);
			else
				push_item(s, iv, AT_ADDRESS, it, il, l);
		}
	}
}

/*
 * Recognise ${lookup{$local_part}lsearch{FILE}} (also with
 * $local_part@$domain as the key, and with {$value} or "fail" after the
 * file).  On success sets *@fpos and *@flen to FILE in @v and *@full.
 */
static bool match_lsearch(const char *v, size_t *fpos, size_t *flen, bool *full)
{
	size_t i = 0;

#define SKIPB() do { while (sema_is_blank(v[i]) || v[i] == '\n') i++; } while (0)
#define LIT(str) (strncmp(v + i, (str), strlen(str)) == 0 ? (i += strlen(str), true) : false)
	SKIPB();
	if (!LIT("${lookup"))
		return false;
	SKIPB();
	if (!LIT("{"))
		return false;
	SKIPB();
	if (!LIT("$local_part") && !LIT("${local_part}"))
		return false;
	*full = false;
	if (LIT("@")) {
		if (!LIT("$domain") && !LIT("${domain}"))
			return false;
		*full = true;
	}
	SKIPB();
	if (!LIT("}"))
		return false;
	SKIPB();
	if (!LIT("lsearch"))
		return false;
	SKIPB();
	if (!LIT("{"))
		return false;
	size_t b = i;

	while (v[i] != '\0' && v[i] != '}' && v[i] != '{' && v[i] != '$')
		i++;
	if (v[i] != '}')
		return false;
	size_t e = i;

	i++;
	while (b < e && sema_is_blank(v[b]))
		b++;
	while (e > b && sema_is_blank(v[e - 1]))
		e--;
	if (e == b)
		return false;
	*fpos = b;
	*flen = e - b;
	SKIPB();
	if (LIT("{")) {
		SKIPB();
		if (!LIT("$value") && !LIT("${value}"))
			return false;
		SKIPB();
		if (!LIT("}"))
			return false;
		SKIPB();
		if (LIT("fail"))
			SKIPB();
		else if (LIT("{")) {
			SKIPB();
			if (!LIT("}"))
				return false;
			SKIPB();
		}
	}
	if (!LIT("}"))
		return false;
	SKIPB();
	return v[i] == '\0';
#undef SKIPB
#undef LIT
}

/* Canonical redirection list text for @iv (what the dump writes back). */
static char *canon_targets(const struct itemv *iv)
{
	struct sb b = SB_INIT;

	for (size_t i = 0; i < iv->n; i++) {
		const struct alias_item *it = &iv->v[i];

		if (i > 0)
			sb_puts(&b, ", ");
		switch (it->kind) {
		case AT_ADDRESS:
			/* As written: a quoted local part keeps its quotes,
			   which also protect any comma in it. */
			sb_puts(&b, it->text);
			break;
		case AT_FAIL:
			sb_printf(&b, ":fail: %s", it->text);
			break;
		case AT_DEFER:
			sb_printf(&b, ":defer: %s", it->text);
			break;
		case AT_BLACKHOLE:
			sb_puts(&b, ":blackhole:");
			break;
		}
	}
	return sb_take(&b);
}

/* Replace (or add) string option @name of model object @mo, dropping @drop. */
static void model_set_data(struct sema *s, struct mdl_obj *mo, const char *name,
			   const char *val, const char *drop)
{
	struct mdl_opt *v = arena_alloc(&s->m->arena, (mo->nopts + 1) * sizeof(*v));
	size_t n = 0;
	bool done = false;

	if (v == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < mo->nopts; i++) {
		if (strcmp(mo->opts[i].name, drop) == 0)
			continue;
		if (!done && strcmp(mo->opts[i].name, name) >= 0) {
			bool same = strcmp(mo->opts[i].name, name) == 0;

			v[n++] = (struct mdl_opt){ name, MT_STRING, 0, val,
						   same ? mo->opts[i].hide : false };
			done = true;
			if (same)
				continue;
		}
		v[n++] = mo->opts[i];
	}
	if (!done)
		v[n++] = (struct mdl_opt){ name, MT_STRING, 0, val, false };
	mo->opts = v;
	mo->nopts = n;
}

/* Whether @tag (lower case; a blank in it stands for any blanks, or
 * none) is at @t[@i..@n), in any case: Exim's match_tag(). */
static bool tag_at(const char *t, size_t n, size_t i, const char *tag)
{
	for (; *tag != '\0'; tag++) {
		if (*tag == ' ') {
			while (i < n && sema_is_blank(t[i]))
				i++;
			continue;
		}
		if (i >= n || tolower((unsigned char)t[i]) != *tag)
			return false;
		i++;
	}
	return true;
}

/*
 * Exim's test for a filter (rda_is_filter()): after any white space, the
 * text starts "# Exim filter" or "# Sieve filter".  Exim never reads such
 * text as a list of addresses: it runs it with allow_filter, and defers
 * the address without.  Returns the kind of filter, or NULL.
 */
static const char *filter_kind(const char *t, size_t n)
{
	size_t i = 0;

	while (i < n && isspace((unsigned char)t[i]))
		i++;
	if (tag_at(t, n, i, "# exim filter"))
		return "an Exim";
	if (tag_at(t, n, i, "# sieve filter"))
		return "a Sieve";
	return NULL;
}

/* Refuses a filter in @what (the data, or file @path, of router @R). */
static bool refuse_filter(struct sema *s, const struct router *R, const char *t,
			  size_t n, const char *path, const struct loc *at)
{
	const char *kind = filter_kind(t, n);

	if (kind == NULL)
		return false;
	if (path != NULL)
		S_ERROR(s, at, "the file '%s' of router '%s' is %s filter: noq runs no "
			"filters, it only redirects to addresses", path, R->name, kind);
	else
		S_ERROR(s, at, "the data of router '%s' is %s filter: noq runs no "
			"filters, it only redirects to addresses", R->name, kind);
	return true;
}

void sema_setup_redirect(struct sema *s, size_t ri)
{
	struct router *R = &s->r[ri];
	const struct lopt *data = sema_lfind(&R->ob, "data");
	const struct lopt *file = sema_lfind(&R->ob, "file");

	R->allow_fail = sema_lbool(&R->ob, "allow_fail", false);
	R->allow_defer = sema_lbool(&R->ob, "allow_defer", false);
	R->forbid_blackhole = sema_lbool(&R->ob, "forbid_blackhole", false);
	R->qualify_domain = sema_lstr(&R->ob, "qualify_domain");
	if (R->qualify_domain != NULL && (R->qualify_domain[0] == '\0' ||
					  sema_has_expansion(R->qualify_domain)))
		R->qualify_domain = NULL;
	if (data != NULL && file != NULL) {
		S_ERROR(s, &file->src->name_loc, "redirect router '%s' sets both data and "
			"file; it takes exactly one of them", R->name);
		diag_note(s->dg, &data->src->name_loc, "data is set here");
		return;
	}
	if (data == NULL && file == NULL) {
		S_ERROR(s, &R->d->loc, "redirect router '%s' needs data or file to say "
			"where addresses are redirected", R->name);
		return;
	}
	const struct lopt *l = data ? data : file;
	const char *v = l->o.str;
	size_t fpos, flen;
	bool full;

	if (v == NULL)
		return;
	R->src_o = l->src;
	if (data != NULL && !sema_has_expansion(v) &&
	    refuse_filter(s, R, v, strlen(v), NULL, &data->src->value_loc)) {
		R->rd = RD_CONST;
	} else if (data != NULL && !sema_has_expansion(v)) {
		struct tloc tl = { l->src, 0, NULL, 0, 1, 0 };
		struct itemv iv = { 0 };
		bool changed = false;

		parse_targets(s, ri, v, strlen(v), &tl, 0, &iv, &changed);
		R->citems = iv.v;
		R->ncitems = iv.n;
		R->rd = RD_CONST;
		if (changed) {
			char *c = canon_targets(&iv);
			const char *cv = c ? sema_mstrdup(s, c) : NULL;

			if (cv != NULL)
				model_set_data(s, &s->m->routers[ri], "data", cv, "file");
			free(c);
		}
	} else if (data != NULL && match_lsearch(v, &fpos, &flen, &full)) {
		R->rd = RD_TABLE;
		R->key_full = full;
		R->file = sema_xstrndup(v + fpos, flen);
		if (R->file == NULL)
			sema_oom(s);
	} else if (file != NULL && !sema_has_expansion(v)) {
		char *path = resolve_path(s, v);
		uint32_t f;
		struct loc from = file->src->value_loc;

		R->rd = RD_CONST;
		if (path == NULL) {
			sema_oom(s);
		} else if (read_source(s, path, &from, &f) == 0 &&
			   !refuse_filter(s, R, s->sm->files[f].text, s->sm->files[f].len,
					  v, &from)) {
			const struct src_file *sf = &s->sm->files[f];
			struct tloc tl = { NULL, f, sf->text, 0, 1, 0 };
			struct itemv iv = { 0 };
			bool changed = true;

			parse_targets(s, ri, sf->text, sf->len, &tl, 1, &iv, &changed);
			R->citems = iv.v;
			R->ncitems = iv.n;
			char *c = canon_targets(&iv);
			const char *cv = c ? sema_mstrdup(s, c) : NULL;

			if (cv != NULL)
				model_set_data(s, &s->m->routers[ri], "data", cv, "file");
			free(c);
		}
		free(path);
	} else if (data != NULL && strstr(v, "${lookup") != NULL) {
		/* Only lsearch lookups keyed by the address are compiled in;
		   noq does no lookups at send time. */
		S_ERROR(s, &data->src->value_loc, "redirect router '%s': noq cannot do this "
			"lookup; it compiles in lsearch files looked up by $local_part or "
			"$local_part@$domain (convert the table to an lsearch file)", R->name);
	} else {
		/* Depends on the recipient ($home/.forward, ...): read at send
		   time, where the runtime's check guards what it yields. */
		char what[160];

		snprintf(what, sizeof(what), "option '%s' of router '%s'",
			 data != NULL ? "data" : "file", R->name);
		sema_check_send_time(s, l->src, what, v, 0, false);
		R->rd = RD_RUNTIME;
	}
}

/* ---- alias tables ----------------------------------------------------- */

/* 'begin aliases': "ROUTER:" lines, each followed by its entries. */
void sema_read_inline_aliases(struct sema *s)
{
	long cur = -1;
	bool bad = false;

	for (const struct ast_rule *r = s->cfg->rules[SEC_ALIASES].head; r; r = r->next) {
		size_t tl = strlen(r->text);

		if (r->nwords == 1 && tl > 1 && r->text[tl - 1] == ':' && r->text[0] != '"') {
			char *name = sema_xstrndup(r->text, tl - 1);
			long ri = name ? sema_find_router(s, name) : -1;

			bad = true;
			cur = -1;
			if (name == NULL) {
				sema_oom(s);
			} else if (ri < 0) {
				sema_unknown_name(s, &r->loc, "router", name, "'begin aliases'",
						  false);
			} else if (s->r[ri].rd != RD_TABLE) {
				S_ERROR(s, &r->loc, "'begin aliases' gives a table for router '%s', "
					"which reads no alias file with "
					"${lookup{$local_part}lsearch{FILE}}", name);
			} else if (s->r[ri].inline_tab) {
				S_ERROR(s, &r->loc, "'begin aliases' gives router '%s' a second "
					"table", name);
			} else {
				cur = ri;
				bad = false;
				s->r[ri].inline_tab = true;
			}
			free(name);
			continue;
		}
		if (cur < 0) {
			if (!bad)
				S_ERROR(s, &r->loc, "alias entry before any router in 'begin "
					"aliases'; start a table with a line 'ROUTER:'");
			bad = true;
			continue;
		}
		alias_parse_line(s->dg, r->text, tl, &r->loc, &s->r[cur].tab);
	}
}

static uint32_t hash_ci(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)tolower((unsigned char)p[i]);
		h *= 16777619u;
	}
	return h;
}

int sema_add_node(struct sema *s, size_t ri, size_t entry)
{
	if (sema_grow(s, &s->nodes, &s->capnodes, s->nnodes + 1, sizeof(*s->nodes)) < 0)
		return -1;
	s->nodes[s->nnodes++] = (struct node){ (uint32_t)ri, (uint32_t)entry, 0, 0 };
	return 0;
}

/* The key of @n, or NULL for a constant list. */
const char *sema_node_key(const struct sema *s, const struct node *n)
{
	const struct router *R = &s->r[n->router];

	return R->rd == RD_TABLE ? R->tab.v[n->entry].key : NULL;
}

const struct alias_item *sema_node_items(const struct sema *s, const struct node *n,
					 size_t *count)
{
	const struct router *R = &s->r[n->router];

	if (R->rd == RD_TABLE) {
		*count = R->tab.v[n->entry].nitems;
		return R->tab.v[n->entry].items;
	}
	*count = R->ncitems;
	return R->citems;
}

struct loc sema_node_loc(const struct sema *s, const struct node *n)
{
	const struct router *R = &s->r[n->router];

	if (R->rd == RD_TABLE)
		return R->tab.v[n->entry].key_loc;
	return R->src_o ? R->src_o->name_loc : R->d->loc;
}

/* Read or take the table of RD_TABLE router @ri; index it by key. */
void sema_setup_table(struct sema *s, size_t ri)
{
	struct router *R = &s->r[ri];

	if (!R->inline_tab && R->file != NULL) {
		char *path = resolve_path(s, R->file);
		const struct ast_option *o = R->src_o;
		const char *v = sema_lstr(&R->ob, "data");
		size_t fpos = 0, flen = 0;
		bool full;

		if (v != NULL)
			match_lsearch(v, &fpos, &flen, &full);
		struct loc from = sema_vloc(s, o, fpos, flen);
		unsigned before = diag_errors(s->dg);

		if (path == NULL) {
			sema_oom(s);
			return;
		}
		if (alias_read_file(s->sm, s->dg, path, from.file, &from, &R->tab) < 0) {
			if (diag_errors(s->dg) == before)
				S_ERROR(s, &from, "cannot read the alias file '%s'", path);
			else
				s->errors++;
			free(path);
			return;
		}
		free(path);
	}
	R->node0 = (uint32_t)s->nnodes;
	if (sema_grow(s, &s->nodes, &s->capnodes, s->nnodes + R->tab.n, sizeof(*s->nodes)) < 0)
		return;
	for (size_t i = 0; i < R->tab.n; i++) {
		const struct alias_entry *e = &R->tab.v[i];

		for (size_t k = 0; k < e->nitems; k++) {
			const struct alias_item *it = &e->items[k];

			if (it->kind != AT_ADDRESS)
				check_special(s, R, it->kind, &it->loc);
			else if (unusual_target(it->text))
				target_ok(s, R, it->text, strlen(it->text), it->loc, NULL, 0);
		}
		if (sema_add_node(s, ri, i) < 0)
			return;
	}
	R->nnode = (uint32_t)(s->nnodes - R->node0);

	size_t cap = 16;

	while (cap < 2 * (size_t)R->nnode)
		cap *= 2;
	R->hash = calloc(cap, sizeof(*R->hash));
	if (R->hash == NULL) {
		sema_oom(s);
		return;
	}
	R->hmask = cap - 1;
	for (uint32_t i = 0; i < R->nnode; i++) {
		const char *k = R->tab.v[i].key;
		uint32_t hv = hash_ci(k, strlen(k));
		size_t h = hv & R->hmask;
		bool dup = false;

		while (R->hash[h].node1 != 0) {
			if (R->hash[h].h == hv &&
			    strcasecmp(R->tab.v[R->hash[h].node1 - 1 - R->node0].key, k) == 0) {
				dup = true;   /* the first one wins, as in lsearch */
				break;
			}
			h = (h + 1) & R->hmask;
		}
		if (!dup)
			R->hash[h] = (struct hslot){ hv, R->node0 + i + 1 };
	}
}

/* The node of @R's table whose key is @k (lowercase, @n bytes), or -1. */
long sema_table_lookup(const struct sema *s, const struct router *R, const char *k,
		       size_t n)
{
	if (R->hash == NULL)
		return -1;
	uint32_t hv = hash_ci(k, n);
	size_t h = hv & R->hmask;

	(void)s;
	while (R->hash[h].node1 != 0) {
		if (R->hash[h].h == hv) {
			const char *key = R->tab.v[R->hash[h].node1 - 1 - R->node0].key;

			if (strncasecmp(key, k, n) == 0 && key[n] == '\0')
				return (long)R->hash[h].node1 - 1;
		}
		h = (h + 1) & R->hmask;
	}
	return -1;
}
