/*
 * sema_lower.c -- phase 1 of the semantic pass (sema.c): every option
 * lowered into a typed struct mdl_opt, sorted by name, and the look-ups the
 * other phases read options through.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "model.h"
#include "options.h"
#include "sb.h"
#include "sema_int.h"
#include "values.h"
#include "xp.h"

/* ======================================================================
 * Phase 1: lowering options
 * ====================================================================== */

static int lopt_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lopt *)a)->o.name, ((const struct lopt *)b)->o.name);
}

static int lopt_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct lopt *)elem)->o.name);
}

const struct lopt *sema_lfind(const struct lobj *ob, const char *name)
{
	if (ob->n == 0)
		return NULL;
	return bsearch(name, ob->v, ob->n, sizeof(ob->v[0]), lopt_key_cmp);
}

bool sema_lbool(const struct lobj *ob, const char *name, bool dflt)
{
	const struct lopt *l = sema_lfind(ob, name);

	if (l == NULL || l->o.type != MT_BOOL)
		return dflt;
	return l->o.num != 0;
}

const char *sema_lstr(const struct lobj *ob, const char *name)
{
	const struct lopt *l = sema_lfind(ob, name);

	return l != NULL ? l->o.str : NULL;
}

const struct ast_option *sema_lsrc(const struct lobj *ob, const char *name)
{
	const struct lopt *l = sema_lfind(ob, name);

	return l != NULL ? l->src : NULL;
}

/*
 * The setting of @l's option that comes after @p, @l->src being the
 * first; NULL after the last.  Only an option that may be set again
 * has more than one.
 */
const struct ast_option *sema_lnext(const struct lopt *l, const struct ast_option *p)
{
	if (l->nsrc < 2)
		return NULL;
	for (p = p->next; p != NULL; p = p->next)
		if (p->list_kind == NULL && strcmp(p->name, l->o.name) == 0)
			return p;
	return NULL;
}

/* Parse an octal option: Exim reads it in base 8 with or without a 0. */
static int parse_octal(const char *raw, long long *out)
{
	struct val_err e;
	size_t sign = raw[0] == '+' || raw[0] == '-';
	size_t n = strlen(raw);
	char *t = malloc(n + 2);
	int r;

	if (t == NULL)
		return -1;
	memcpy(t, raw, sign);
	t[sign] = '0';
	memcpy(t + sign + 1, raw + sign, n - sign + 1);
	r = val_int(t, out, &e);
	free(t);
	return r;
}

/* Lower one setting into @lo; returns 1 if it belongs in the model. */
static int lower_one(struct sema *s, const struct ast_option *o,
		     const struct opt_table *priv, const struct opt_table *gen,
		     struct lopt *lo)
{
	const char *name = o->name;
	const struct opt_def *def = NULL;
	bool negated = false;
	struct val_err e;
	long long n;
	bool b;
	char *str = NULL;

	memset(lo, 0, sizeof(*lo));
	lo->src = o;
	lo->o.hide = o->hide;

	if (o->list_kind != NULL) {
		struct sb nb = SB_INIT;

		sb_printf(&nb, "%s %s", o->list_kind, o->name);
		str = sema_dequote(o);
		lo->o.name = nb.err != SB_OK ? NULL : sema_mstrdup(s, sb_str(&nb));
		sb_free(&nb);
		lo->o.type = MT_LIST;
		lo->o.str = str ? sema_mstrdup(s, str) : NULL;
		free(str);
		return lo->o.name != NULL && lo->o.str != NULL;
	}
	if (priv != NULL)
		def = opt_find(priv, name);
	if (def == NULL && gen != NULL)
		def = opt_find(gen, name);
	if (def == NULL) {
		size_t skip = strncmp(name, "no_", 3) == 0 ? 3 :
			      strncmp(name, "not_", 4) == 0 ? 4 : 0;

		if (skip != 0) {
			if (priv != NULL)
				def = opt_find(priv, name + skip);
			if (def == NULL && gen != NULL)
				def = opt_find(gen, name + skip);
			negated = def != NULL;
		}
	}
	/* Unknown names were reported by check_config(); ignored and forced
	   options were warned about there and mean nothing in a policy. */
	if (def == NULL || def->status != OPT_SUPPORTED)
		return 0;
	lo->o.name = def->name;   /* static table text outlives the model */
	lo->rep = def->rep;
	lo->nsrc = 1;
	if (negated) {
		lo->o.type = MT_BOOL;
		lo->o.num = 0;
		return 1;
	}
	if (def->type == OPT_BOOL && o->value == NULL) {
		lo->o.type = MT_BOOL;
		lo->o.num = 1;
		return 1;
	}
	if (o->value == NULL)
		return 0;
	if (def->expand && o->value[0] == '$') {
		lo->o.type = MT_STRING;
		lo->o.str = sema_mstrdup(s, o->value);
		return lo->o.str != NULL;
	}
	switch (def->type) {
	case OPT_BOOL:
		if (val_bool(o->value, &b, &e) < 0)
			return 0;
		lo->o.type = MT_BOOL;
		lo->o.num = b;
		return 1;
	case OPT_INT:
	case OPT_KINT:
		if ((def->type == OPT_KINT ? val_kint : val_int)(o->value, &n, &e) < 0)
			return 0;
		lo->o.type = MT_INT;
		lo->o.num = n;
		return 1;
	case OPT_OCTAL:
		if (parse_octal(o->value, &n) < 0)
			return 0;
		lo->o.type = MT_OCTAL;
		lo->o.num = n;
		return 1;
	case OPT_TIME:
		if (val_time(o->value, &n, &e) < 0)
			return 0;
		lo->o.type = MT_TIME;
		lo->o.num = n;
		return 1;
	case OPT_XINT: {
		/* A number when it is one; else the text, which noq then
		   reads as Exim does when it uses it. */
		char msg[200];

		if ((str = sema_dequote(o)) == NULL)
			return 0;
		if (!xp_expands(str) && xp_integer(str, true, &n, msg, sizeof(msg)) == 0) {
			lo->o.type = MT_INT;
			lo->o.num = n;
		} else {
			lo->o.type = MT_STRING;
			lo->o.str = sema_mstrdup(s, str);
		}
		free(str);
		return lo->o.type == MT_INT || lo->o.str != NULL;
	}
	case OPT_STRING:
	case OPT_RULES:
	case OPT_UID:
	case OPT_GID:
	case OPT_LIST:
		str = sema_dequote(o);
		if (str == NULL)
			return 0;
		lo->o.type = def->type == OPT_LIST ? MT_LIST : MT_STRING;
		if (def->rep != '\0' && def->rep != OPT_REP_AND) {
			/* Exim rewrites every setting of such a list. */
			struct sb acc = SB_INIT;
			bool set = false;

			if (val_rep_list(&acc, &set, str, def->rep) != 0) {
				sema_oom(s);
				set = false;
			}
			free(str);
			lo->o.str = set ? sema_mstrdup(s, sema_sb_text(&acc)) : NULL;
			sb_free(&acc);
			return lo->o.str != NULL;
		}
		lo->o.str = sema_mstrdup(s, str);
		free(str);
		return lo->o.str != NULL;
	}
	return 0;
}

/*
 * Another setting @o of the option @l, which may be set again: join it
 * to what @l holds as Exim does (readconf.c, opt_rep_con and opt_rep_str).
 */
static void lower_again(struct sema *s, struct lopt *l, const struct ast_option *o)
{
	char *str = sema_dequote(o), *j = NULL;
	struct sb b = SB_INIT;
	bool set = true;

	l->nsrc++;
	l->o.hide = l->o.hide || o->hide;
	if (str == NULL)
		return;         /* reported by check_config() */
	if (l->rep == OPT_REP_AND) {
		j = val_rep_and(l->o.str, str);
	} else {
		sb_puts(&b, l->o.str);
		if (val_rep_list(&b, &set, str, l->rep) == 0)
			j = sb_take(&b);
		sb_free(&b);
	}
	free(str);
	if (j == NULL) {
		sema_oom(s);
		return;
	}
	l->o.str = sema_mstrdup(s, j);
	free(j);
}

/*
 * Lower the settings @opts into @ob (sorted by name) and into the model
 * object @mo.  'driver' is not an option of the model: it is returned in
 * *@driver (model arena).
 */
void sema_lower_obj(struct sema *s, const struct ast_option *opts,
		    const struct opt_table *priv, const struct opt_table *gen,
		    struct lobj *ob, struct mdl_obj *mo, const char **driver)
{
	size_t n = 0;

	for (const struct ast_option *o = opts; o; o = o->next)
		n++;
	ob->v = calloc(n ? n : 1, sizeof(*ob->v));
	ob->n = 0;
	if (ob->v == NULL) {
		sema_oom(s);
		return;
	}
	for (const struct ast_option *o = opts; o; o = o->next) {
		if (driver != NULL && o->list_kind == NULL && strcmp(o->name, "driver") == 0) {
			char *v = sema_dequote(o);

			if (v != NULL)
				*driver = sema_mstrdup(s, v);
			free(v);
			continue;
		}
		if (lower_one(s, o, priv, gen, &ob->v[ob->n]) != 1)
			continue;

		struct lopt *prev = NULL;

		for (size_t i = 0; ob->v[ob->n].rep != '\0' && i < ob->n; i++)
			if (ob->v[i].o.name == ob->v[ob->n].o.name)
				prev = &ob->v[i];
		if (prev != NULL)
			lower_again(s, prev, o);
		else
			ob->n++;
	}
	qsort(ob->v, ob->n, sizeof(ob->v[0]), lopt_cmp);
	mo->nopts = ob->n;
	mo->opts = arena_alloc(&s->m->arena, (ob->n ? ob->n : 1) * sizeof(*mo->opts));
	if (mo->opts == NULL) {
		sema_oom(s);
		mo->nopts = 0;
		return;
	}
	for (size_t i = 0; i < ob->n; i++)
		mo->opts[i] = ob->v[i].o;
}
