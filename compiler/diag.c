/*
 * diag.c -- diagnostics in GNU style with source lines and carets.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "source.h"

/* A source line longer than this is shown as a window around the caret. */
#define DIAG_LINE_WINDOW 160
#define DIAG_LINE_BEFORE 40

struct diag {
	const struct srcmgr *sm;
	FILE *out;
	const char *prog;
	unsigned max_errors;
	bool werror;
	unsigned errors;
	unsigned warnings;
	unsigned hidden_errors;
	unsigned hidden_warnings;
	bool last_hidden;       /* the last error/warning was not shown */
	uint32_t last_file;     /* file of the last shown diagnostic */
};

struct diag *diag_new(const struct srcmgr *sm, FILE *out, const char *prog)
{
	struct diag *dg = calloc(1, sizeof(*dg));

	if (dg == NULL)
		return NULL;
	dg->sm = sm;
	dg->out = out;
	dg->prog = prog;
	dg->max_errors = DIAG_DEFAULT_MAX_ERRORS;
	dg->last_file = LOC_NONE_FILE;
	return dg;
}

void diag_free(struct diag *dg)
{
	free(dg);
}

void diag_set_max_errors(struct diag *dg, unsigned n)
{
	dg->max_errors = n;
}

void diag_set_werror(struct diag *dg, bool on)
{
	dg->werror = on;
}

unsigned diag_errors(const struct diag *dg)
{
	return dg->errors + (dg->werror ? dg->warnings : 0);
}

unsigned diag_warnings(const struct diag *dg)
{
	return dg->warnings;
}

/* Print @s, @n bytes, with control bytes (other than tab) replaced by '?'. */
static void put_clean(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			c = '?';
		putc(c, out);
	}
}

static const char *level_name(enum diag_level lvl)
{
	switch (lvl) {
	case DIAG_ERROR:
		return "error";
	case DIAG_WARNING:
		return "warning";
	case DIAG_NOTE:
		break;
	}
	return "note";
}

static void print_include_chain(struct diag *dg, uint32_t file)
{
	const struct src_file *f = &dg->sm->files[file];
	const char *lead = "In file included from ";

	if (f->parent == LOC_NONE_FILE)
		return;
	while (f->parent != LOC_NONE_FILE) {
		const struct src_file *p = &dg->sm->files[f->parent];

		fputs(lead, dg->out);
		put_clean(dg->out, p->path, strlen(p->path));
		fprintf(dg->out, ":%u", (unsigned)f->incl_loc.line);
		f = p;
		fputs(f->parent != LOC_NONE_FILE ? ",\n" : ":\n", dg->out);
		lead = "                 from ";
	}
}

/*
 * A UTF-8 continuation byte shares its character's column: the caret line
 * skips it so that the caret stays under the text on a UTF-8 terminal.
 */
static bool utf8_cont(char c)
{
	return ((unsigned char)c & 0xc0) == 0x80;
}

/* The source line with a gutter, then the caret line under the span. */
static void print_excerpt(struct diag *dg, const struct loc *loc)
{
	const char *line;
	size_t len;

	if (!srcmgr_line(dg->sm, loc, &line, &len))
		return;

	size_t col = loc->col ? loc->col - 1 : 0;  /* 0-based byte column */
	size_t span = loc->len ? loc->len : 1;
	size_t from = 0, to = len;
	bool cut_left = false, cut_right = false;

	if (col > len)
		col = len;
	if (len > DIAG_LINE_WINDOW) {
		if (col > DIAG_LINE_BEFORE) {
			from = col - DIAG_LINE_BEFORE;
			cut_left = true;
		}
		if (len - from > DIAG_LINE_WINDOW) {
			to = from + DIAG_LINE_WINDOW;
			cut_right = true;
		}
	}
	/* The preprocessor skips a byte order mark; do not show it either. */
	if (!cut_left && col >= 3 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		from = 3;
	/* Cut the window at character boundaries. */
	while (cut_left && from < col && utf8_cont(line[from]))
		from++;
	while (cut_right && to > col + 1 && utf8_cont(line[to]))
		to--;
	if (col + span > to)
		span = to > col ? to - col : 1;

	/* The caret line's gutter is as wide as the line number's. */
	int gutter = fprintf(dg->out, " %5u", (unsigned)loc->line);

	fputs(" | ", dg->out);
	if (cut_left)
		fputs("...", dg->out);
	put_clean(dg->out, line + from, to - from);
	if (cut_right)
		fputs("...", dg->out);
	putc('\n', dg->out);
	fprintf(dg->out, "%*s | ", gutter > 0 ? gutter : 0, "");
	if (cut_left)
		fputs("   ", dg->out);
	for (size_t i = from; i < col; i++)
		if (!utf8_cont(line[i]))
			putc(line[i] == '\t' ? '\t' : ' ', dg->out);
	putc('^', dg->out);
	for (size_t i = col + 1; i < col + span; i++)
		if (!utf8_cont(line[i]))
			putc('~', dg->out);
	putc('\n', dg->out);
}

void diag_vreport(struct diag *dg, enum diag_level lvl, const struct loc *loc,
		  const char *fmt, va_list ap)
{
	bool hidden;

	if (lvl == DIAG_NOTE) {
		hidden = dg->last_hidden;
	} else {
		bool capped = dg->max_errors != 0 && dg->errors >= dg->max_errors;

		if (lvl == DIAG_ERROR)
			dg->errors++;
		else
			dg->warnings++;
		hidden = capped;
		if (hidden) {
			if (lvl == DIAG_ERROR)
				dg->hidden_errors++;
			else
				dg->hidden_warnings++;
		}
		dg->last_hidden = hidden;
	}
	if (hidden)
		return;

	char msg[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t mlen = n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n;
	bool located = loc != NULL && loc_valid(loc) && loc->file < dg->sm->n;

	if (located) {
		if (lvl != DIAG_NOTE && loc->file != dg->last_file)
			print_include_chain(dg, loc->file);
		const char *path = dg->sm->files[loc->file].path;
		put_clean(dg->out, path, strlen(path));
		fprintf(dg->out, ":%u:%u: %s: ", (unsigned)loc->line,
			(unsigned)loc->col, level_name(lvl));
	} else {
		fprintf(dg->out, "%s: %s: ", dg->prog, level_name(lvl));
	}
	put_clean(dg->out, msg, mlen);
	putc('\n', dg->out);
	if (located) {
		print_excerpt(dg, loc);
		if (lvl != DIAG_NOTE)
			dg->last_file = loc->file;
	}
}

void diag_report(struct diag *dg, enum diag_level lvl, const struct loc *loc,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vreport(dg, lvl, loc, fmt, ap);
	va_end(ap);
}

bool diag_capped(const struct diag *dg)
{
	return dg->max_errors != 0 && dg->errors >= dg->max_errors;
}

void diag_finish(struct diag *dg)
{
	if (dg->hidden_errors != 0 || dg->hidden_warnings != 0)
		fprintf(dg->out, "%s: note: %u more error%s and %u more warning%s not "
			"shown (limit %u; see --max-errors)\n", dg->prog,
			dg->hidden_errors, dg->hidden_errors == 1 ? "" : "s",
			dg->hidden_warnings, dg->hidden_warnings == 1 ? "" : "s",
			dg->max_errors);
	/* Otherwise a run that printed only warnings fails with no word why. */
	if (dg->werror && dg->warnings != 0)
		fprintf(dg->out, "%s: note: warnings are treated as errors (-Werror)\n",
			dg->prog);
}
