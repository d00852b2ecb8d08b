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
	enum diag_format format;
	struct diag_rec *recs;  /* JSON/SARIF: collected diagnostics */
	size_t nrecs, caprecs;
};

/* A diagnostic kept for JSON/SARIF output; notes follow their parent. */
struct diag_rec {
	enum diag_level lvl;
	struct loc loc;
	char *msg;
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
	if (dg == NULL)
		return;
	for (size_t i = 0; i < dg->nrecs; i++)
		free(dg->recs[i].msg);
	free(dg->recs);
	free(dg);
}

void diag_set_format(struct diag *dg, enum diag_format f)
{
	dg->format = f;
}

static void keep_record(struct diag *dg, enum diag_level lvl, const struct loc *loc,
			const char *msg, size_t mlen)
{
	if (dg->nrecs == dg->caprecs) {
		size_t ncap = dg->caprecs ? dg->caprecs * 2 : 32;
		struct diag_rec *nr = realloc(dg->recs, ncap * sizeof(*nr));

		if (nr == NULL)
			return;
		dg->recs = nr;
		dg->caprecs = ncap;
	}
	char *m = strndup(msg, mlen);
	if (m == NULL)
		return;
	dg->recs[dg->nrecs].lvl = lvl;
	dg->recs[dg->nrecs].loc = loc ? *loc : LOC_NONE;
	dg->recs[dg->nrecs].msg = m;
	dg->nrecs++;
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

	if (dg->format != DIAG_TEXT) {
		keep_record(dg, lvl, located ? loc : NULL, msg, mlen);
		return;
	}
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

/* ---- JSON and SARIF ---------------------------------------------------- */

/* A JSON string: escapes, control bytes as \u00XX, invalid UTF-8 as U+FFFD. */
static void put_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', out);
	while (*p) {
		unsigned char c = *p;

		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc(c, out);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			putc(c, out);
			p++;
		} else {
			size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
			size_t k = 1;

			while (n && k < n && (p[k] & 0xc0) == 0x80)
				k++;
			if (n == 0 || k != n) {
				fputs("\\ufffd", out);
				p += n == 0 ? 1 : k;
			} else {
				fwrite(p, 1, n, out);
				p += n;
			}
		}
	}
	putc('"', out);
}

static const char *rec_path(const struct diag *dg, const struct diag_rec *r)
{
	return loc_valid(&r->loc) ? dg->sm->files[r->loc.file].path : NULL;
}

static void put_json_loc(const struct diag *dg, const struct diag_rec *r)
{
	fputs("\"file\": ", dg->out);
	put_json_string(dg->out, rec_path(dg, r));
	fprintf(dg->out, ", \"line\": %u, \"column\": %u, \"length\": %u",
		(unsigned)r->loc.line, (unsigned)r->loc.col, (unsigned)r->loc.len);
}

static void finish_json(struct diag *dg)
{
	FILE *out = dg->out;
	bool first = true;

	fputs("{\n  \"tool\": ", out);
	put_json_string(out, dg->prog);
	fputs(",\n  \"diagnostics\": [", out);
	for (size_t i = 0; i < dg->nrecs; i++) {
		const struct diag_rec *r = &dg->recs[i];

		if (r->lvl == DIAG_NOTE)
			continue;
		fputs(first ? "\n    { " : ",\n    { ", out);
		first = false;
		fprintf(out, "\"level\": \"%s\", ", level_name(r->lvl));
		if (loc_valid(&r->loc)) {
			put_json_loc(dg, r);
			fputs(", ", out);
			/* The chain of files that included this one. */
			fputs("\"included_from\": [", out);
			const struct src_file *f = &dg->sm->files[r->loc.file];
			bool f1 = true;
			while (f->parent != LOC_NONE_FILE) {
				fputs(f1 ? "{ \"file\": " : ", { \"file\": ", out);
				f1 = false;
				put_json_string(out, dg->sm->files[f->parent].path);
				fprintf(out, ", \"line\": %u }", (unsigned)f->incl_loc.line);
				f = &dg->sm->files[f->parent];
			}
			fputs("], ", out);
		}
		fputs("\"message\": ", out);
		put_json_string(out, r->msg);
		fputs(", \"notes\": [", out);
		for (size_t j = i + 1; j < dg->nrecs && dg->recs[j].lvl == DIAG_NOTE; j++) {
			const struct diag_rec *n = &dg->recs[j];

			fputs(j == i + 1 ? "{ " : ", { ", out);
			if (loc_valid(&n->loc)) {
				put_json_loc(dg, n);
				fputs(", ", out);
			}
			fputs("\"message\": ", out);
			put_json_string(out, n->msg);
			fputs(" }", out);
		}
		fputs("] }", out);
	}
	fprintf(out, "%s],\n  \"errors\": %u,\n  \"warnings\": %u,\n"
		"  \"not_shown\": %u\n}\n", first ? "" : "\n  ", diag_errors(dg),
		dg->warnings, dg->hidden_errors + dg->hidden_warnings);
}

static void put_sarif_location(const struct diag *dg, const struct diag_rec *r)
{
	fputs("{ \"physicalLocation\": { \"artifactLocation\": { \"uri\": ", dg->out);
	put_json_string(dg->out, rec_path(dg, r));
	fprintf(dg->out, " }, \"region\": { \"startLine\": %u, \"startColumn\": %u, "
		"\"endColumn\": %u } } }", (unsigned)r->loc.line, (unsigned)r->loc.col,
		(unsigned)(r->loc.col + (r->loc.len ? r->loc.len : 1)));
}

static void finish_sarif(struct diag *dg)
{
	FILE *out = dg->out;
	bool first = true;

	fputs("{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
	      "  \"version\": \"2.1.0\",\n  \"runs\": [ {\n"
	      "    \"tool\": { \"driver\": { \"name\": ", out);
	put_json_string(out, dg->prog);
	fputs(", \"version\": \"" PACKAGE_VERSION "\",\n      \"rules\": [ "
	      "{ \"id\": \"noqc.error\", \"shortDescription\": { \"text\": "
	      "\"The configuration cannot be compiled\" } }, "
	      "{ \"id\": \"noqc.warning\", \"shortDescription\": { \"text\": "
	      "\"The configuration compiles, but something in it has no effect or "
	      "looks wrong\" } } ] } },\n"
	      "    \"columnKind\": \"unicodeCodePoints\",\n"
	      "    \"results\": [", out);
	for (size_t i = 0; i < dg->nrecs; i++) {
		const struct diag_rec *r = &dg->recs[i];
		bool err = r->lvl == DIAG_ERROR || dg->werror;

		if (r->lvl == DIAG_NOTE)
			continue;
		fputs(first ? "\n      { " : ",\n      { ", out);
		first = false;
		fprintf(out, "\"ruleId\": \"%s\", \"ruleIndex\": %d, \"level\": \"%s\", "
			"\"message\": { \"text\": ", r->lvl == DIAG_ERROR ? "noqc.error" :
			"noqc.warning", r->lvl == DIAG_ERROR ? 0 : 1,
			err ? "error" : "warning");
		put_json_string(out, r->msg);
		fputs(" }", out);
		if (loc_valid(&r->loc)) {
			fputs(", \"locations\": [ ", out);
			put_sarif_location(dg, r);
			fputs(" ]", out);
		}
		bool any = false;
		for (size_t j = i + 1; j < dg->nrecs && dg->recs[j].lvl == DIAG_NOTE; j++) {
			const struct diag_rec *n = &dg->recs[j];

			if (!loc_valid(&n->loc))
				continue;
			fputs(any ? ", " : ", \"relatedLocations\": [ ", out);
			any = true;
			/* A related location is a location with an id and a message. */
			fputs("{ \"id\": ", out);
			fprintf(out, "%zu, \"message\": { \"text\": ", j - i);
			put_json_string(out, n->msg);
			fputs(" }, \"physicalLocation\": { \"artifactLocation\": "
			      "{ \"uri\": ", out);
			put_json_string(out, rec_path(dg, n));
			fprintf(out, " }, \"region\": { \"startLine\": %u, \"startColumn\": "
				"%u } } }", (unsigned)n->loc.line, (unsigned)n->loc.col);
		}
		if (any)
			fputs(" ]", out);
		fputs(" }", out);
	}
	fprintf(out, "%s]\n  } ]\n}\n", first ? "" : "\n    ");
}

void diag_finish(struct diag *dg)
{
	if (dg->format == DIAG_JSON) {
		finish_json(dg);
		return;
	}
	if (dg->format == DIAG_SARIF) {
		finish_sarif(dg);
		return;
	}
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
