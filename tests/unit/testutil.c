/* testutil.c -- see testutil.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/CUnit.h>

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "frontend.h"
#include "model.h"
#include "sema.h"
#include "source.h"
#include "testutil.h"

static struct tu_run *tu_run(const char *path, const char *text,
			     const char *const *defines, int flags)
{
	struct tu_run *r = calloc(1, sizeof(*r));
	FILE *mem;

	if (r == NULL)
		abort();
	mem = open_memstream(&r->diags, &r->diagslen);
	r->sm = srcmgr_new();
	r->dg = diag_new(r->sm, mem, "noqc");
	r->pp = pp_new(r->sm, r->dg);
	if (mem == NULL || r->pp == NULL)
		abort();
	diag_set_max_errors(r->dg, 0);
	for (size_t i = 0; defines && defines[i]; i++) {
		const char *eq = strchr(defines[i], '=');
		char *name = strndup(defines[i], eq ? (size_t)(eq - defines[i]) : strlen(defines[i]));

		pp_define(r->pp, name, eq ? eq + 1 : "");
		free(name);
	}
	int ok = text ? pp_run_buffer(r->pp, path, text, strlen(text))
		      : pp_run_file(r->pp, path);
	r->pptext = pp_output(r->pp, &r->pplen);
	if (ok == 0 && (flags & (TU_PARSE | TU_CHECK | TU_SEMA))) {
		r->cfg = fe_parse(r->pp, r->dg);
		if (r->cfg && (flags & (TU_CHECK | TU_SEMA)) &&
		    check_config(r->cfg, r->dg) == 0 && (flags & TU_SEMA) &&
		    diag_errors(r->dg) == 0) {
			struct sema_opts so = { .config_path = path };

			r->model = sema_build(r->cfg, r->sm, r->dg, &so);
		}
	}
	diag_finish(r->dg);
	r->errors = diag_errors(r->dg);
	r->warnings = diag_warnings(r->dg);
	fclose(mem);
	return r;
}

struct tu_run *tu_run_text(const char *text, const char *const *defines, int flags)
{
	return tu_run("test.conf", text, defines, flags);
}

struct tu_run *tu_run_file(const char *path, const char *const *defines, int flags)
{
	return tu_run(path, NULL, defines, flags);
}

void tu_free(struct tu_run *r)
{
	if (r == NULL)
		return;
	model_free(r->model);
	ast_config_free(r->cfg);
	pp_free(r->pp);
	diag_free(r->dg);
	srcmgr_free(r->sm);
	free(r->diags);
	free(r);
}

bool tu_has(const struct tu_run *r, const char *s)
{
	return r->diags != NULL && strstr(r->diags, s) != NULL;
}

char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&t, "%s/noq-test.XXXXXX", base) < 0)
		abort();
	if (mkdtemp(t) == NULL)
		abort();
	return t;
}

char *tu_write(const char *dir, const char *name, const char *content)
{
	char *p;
	FILE *f;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	f = fopen(p, "w");
	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
	return p;
}

void tu_rmdir(char *dir)
{
	char *cmd;

	/* Test directories hold a few flat files; rm -rf keeps this short. */
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "testutil: could not remove %s\n", dir);
		free(cmd);
	}
	free(dir);
}

/* Record one assertion; CUnit copies @msg. */
static void tu_assert(bool ok, const char *msg, const char *where, unsigned at)
{
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, at, msg, where, "", CU_FALSE);
}

void tu_check_loc(struct loc l, unsigned file, unsigned line,
		  unsigned col, unsigned len, const char *where, unsigned at)
{
	char msg[160];
	bool ok = l.file == file && l.line == line && l.col == col && l.len == len;

	snprintf(msg, sizeof(msg), "loc is file %u %u:%u len %u, want file %u %u:%u len %u",
		 (unsigned)l.file, (unsigned)l.line, (unsigned)l.col,
		 (unsigned)l.len, file, line, col, len);
	tu_assert(ok, msg, where, at);
}

void tu_check_diags(const struct tu_run *r, const char *text, int how,
		    const char *where, unsigned at)
{
	static const char *const what[] = {
		"diagnostics are not", "diagnostics lack", "diagnostics contain",
	};
	const char *got = r->diags ? r->diags : "";
	bool ok = how == 0 ? strcmp(got, text) == 0 :
		  how == 1 ? strstr(got, text) != NULL : strstr(got, text) == NULL;
	char msg[2048];

	snprintf(msg, sizeof(msg), "%s:\n%s\n--- they are:\n%s", what[how], text, got);
	tu_assert(ok, msg, where, at);
}

void tu_check_str(const char *got, const char *want, const char *where,
		  unsigned at)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "string is %s%s%s, want \"%s\"",
		 got ? "\"" : "", got ? got : "NULL", got ? "\"" : "", want);
	tu_assert(got != NULL && strcmp(got, want) == 0, msg, where, at);
}
