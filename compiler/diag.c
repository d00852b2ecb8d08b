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
	/* The current check (one configuration, see diag_begin_check()). */
	const char *config;     /* its file name, NULL if not known */
	bool open;              /* begun and not yet ended */
	unsigned errors;
	unsigned warnings;
	unsigned hidden_errors;
	unsigned hidden_warnings;
	bool last_hidden;       /* the last error/warning was not shown */
	uint32_t last_file;     /* file of the last shown diagnostic */
	enum diag_format format;
	struct diag_rec *recs;  /* JSON/SARIF: this check's diagnostics */
	size_t nrecs, caprecs;
	/* JSON/SARIF: the one document, written as the checks end. */
	bool doc_started;       /* its head is written */
	bool doc_any;           /* at least one result is written */
	unsigned tot_errors;    /* diag_errors() of every check, added up */
	unsigned tot_warnings;
	unsigned tot_hidden;
	struct diag_cut *cuts;  /* SARIF: checks whose output was cut */
	size_t ncuts;
};

/* A diagnostic kept for JSON/SARIF output; notes follow their parent. */
struct diag_rec {
	enum diag_level lvl;
	struct loc loc;
	char *msg;
};

/* A check that hid diagnostics past --max-errors (a SARIF notification). */
struct diag_cut {
	char *config;
	unsigned errors, warnings;
};

struct diag *diag_new(const struct srcmgr *sm, FILE *out, const char *prog)
{
	struct diag *dg = calloc(1, sizeof(*dg));

	if (dg == NULL)
		return NULL;
	dg->out = out;
	dg->prog = prog;
	dg->max_errors = DIAG_DEFAULT_MAX_ERRORS;
	dg->last_file = LOC_NONE_FILE;
	if (sm != NULL)
		diag_begin_check(dg, sm, NULL);
	return dg;
}

static void drop_records(struct diag *dg)
{
	for (size_t i = 0; i < dg->nrecs; i++)
		free(dg->recs[i].msg);
	dg->nrecs = 0;
}

void diag_free(struct diag *dg)
{
	if (dg == NULL)
		return;
	drop_records(dg);
	free(dg->recs);
	for (size_t i = 0; i < dg->ncuts; i++)
		free(dg->cuts[i].config);
	free(dg->cuts);
	free(dg);
}

void diag_begin_check(struct diag *dg, const struct srcmgr *sm, const char *config)
{
	if (dg->open)
		diag_end_check(dg);
	dg->sm = sm;
	dg->config = config;
	dg->open = true;
	dg->errors = 0;
	dg->warnings = 0;
	dg->hidden_errors = 0;
	dg->hidden_warnings = 0;
	dg->last_hidden = false;
	dg->last_file = LOC_NONE_FILE;
	drop_records(dg);
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
	bool located = loc != NULL && loc_valid(loc) && dg->sm != NULL &&
		       loc->file < dg->sm->n;

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

/*
 * The next character of the @avail bytes at @p (@avail > 0): returns the
 * bytes it takes and sets *ok.  A valid UTF-8 sequence is one character;
 * anything else reads as one U+FFFD per maximal subpart (a head with the
 * tail bytes that fit it, or one stray byte), as the WHATWG and Python
 * decoders, and so the viewers of SARIF, read it.  A NUL ends a sequence.
 */
static size_t utf8_step(const unsigned char *p, size_t avail, bool *ok)
{
	unsigned char c = p[0];
	size_t n, k;

	*ok = true;
	if (c < 0x80)
		return 1;
	n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
	    c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	*ok = false;
	if (n == 0)
		return 1;
	for (k = 1; k < n && k < avail; k++) {
		/* No overlong form, no surrogate, nothing past U+10FFFF. */
		unsigned char lo = 0x80, hi = 0xbf;

		if (k == 1 && c == 0xe0)
			lo = 0xa0;
		else if (k == 1 && c == 0xed)
			hi = 0x9f;
		else if (k == 1 && c == 0xf0)
			lo = 0x90;
		else if (k == 1 && c == 0xf4)
			hi = 0x8f;
		if (p[k] < lo || p[k] > hi)
			return k;
	}
	if (k < n)
		return k;
	*ok = true;
	return n;
}

/*
 * The inside of a JSON string: escapes, control bytes as \u00XX, and what
 * is not UTF-8 as U+FFFD (see utf8_step()).
 */
static void put_json_chars(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned char c = *p;

		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc(c, out);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			p++;
		} else {
			bool ok;
			/* The string's NUL stops a sequence before its end. */
			size_t n = utf8_step(p, 4, &ok);

			if (ok)
				fwrite(p, 1, n, out);
			else
				fputs("\\ufffd", out);
			p += n;
		}
	}
}

static void put_json_string(FILE *out, const char *s)
{
	putc('"', out);
	put_json_chars(out, s);
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

static void json_head(struct diag *dg)
{
	fputs("{\n  \"tool\": ", dg->out);
	put_json_string(dg->out, dg->prog);
	fputs(",\n  \"diagnostics\": [", dg->out);
}

/* The diagnostics of the check that ends. */
static void json_check(struct diag *dg)
{
	FILE *out = dg->out;

	for (size_t i = 0; i < dg->nrecs; i++) {
		const struct diag_rec *r = &dg->recs[i];

		if (r->lvl == DIAG_NOTE)
			continue;
		fputs(dg->doc_any ? ",\n    { " : "\n    { ", out);
		dg->doc_any = true;
		fprintf(out, "\"level\": \"%s\", ", level_name(r->lvl));
		/* Which of several configurations checked it is about. */
		if (dg->config != NULL) {
			fputs("\"config\": ", out);
			put_json_string(out, dg->config);
			fputs(", ", out);
		}
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
}

static void json_foot(struct diag *dg)
{
	fprintf(dg->out, "%s],\n  \"errors\": %u,\n  \"warnings\": %u,\n"
		"  \"not_shown\": %u\n}\n", dg->doc_any ? "\n  " : "", dg->tot_errors,
		dg->tot_warnings, dg->tot_hidden);
}

/*
 * A file name as a SARIF artifact URI: a relative name stays relative (code
 * scanning reads it against the root of the repository; a leading "./" is
 * dropped), an absolute one becomes a file: URI.  Bytes that may not stand
 * in a URI path are percent-encoded, as is a ':' before the first '/' of a
 * relative name, which would otherwise read as a scheme.
 */
static void put_sarif_uri(FILE *out, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	bool first_segment = true;

	putc('"', out);
	if (path[0] == '/') {
		fputs("file://", out);
		first_segment = false;
	} else {
		while (path[0] == '.' && path[1] == '/') {
			path += 2;
			while (*path == '/')
				path++;
		}
	}
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		unsigned char c = *p;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("-._~/!$&'()*+,;=@", c) ||
			     (c == ':' && !first_segment);

		if (c == '/')
			first_segment = false;
		if (plain) {
			putc(c, out);
		} else {
			putc('%', out);
			putc(hex[c >> 4], out);
			putc(hex[c & 15], out);
		}
	}
	putc('"', out);
}

/*
 * The SARIF column of 1-based byte column @col in @line (@len bytes, the
 * first line of its file if @first): columns count UTF-16 code units, as
 * code scanning and editors do.  A character outside the Basic Multilingual
 * Plane is two units; what is not UTF-8 is one for each U+FFFD a reader
 * shows for it (see utf8_step()); the byte order mark that may open a file
 * is none.  Bytes past the end of the line count one each.
 */
static unsigned utf16_column(const char *line, size_t len, size_t col, bool first)
{
	const unsigned char *p = (const unsigned char *)line;
	size_t end = col > 0 ? col - 1 : 0;
	size_t stop = end < len ? end : len;
	size_t i = 0;
	unsigned units = 1;

	if (first && stop >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < stop) {
		bool ok;
		size_t n = utf8_step(p + i, stop - i, &ok);

		units += ok && n == 4 ? 2 : 1;
		i += n;
	}
	return units + (unsigned)(end - stop);
}

/* A SARIF region for @loc: its line, and its span in UTF-16 columns. */
static void put_sarif_region(const struct diag *dg, const struct loc *loc)
{
	FILE *out = dg->out;
	const char *line;
	size_t len;
	unsigned start, end;

	fprintf(out, "\"region\": { \"startLine\": %u", loc->line ? (unsigned)loc->line : 1u);
	if (loc->col == 0) {
		fputs(" }", out);
		return;
	}
	size_t col = loc->col;
	size_t stop = col + (loc->len ? loc->len : 1);

	if (srcmgr_line(dg->sm, loc, &line, &len)) {
		/* A span that runs past its line ends with the line. */
		if (col <= len && stop > len + 1)
			stop = len + 1;
		start = utf16_column(line, len, col, loc->line == 1);
		end = utf16_column(line, len, stop, loc->line == 1);
	} else {
		start = (unsigned)col;
		end = (unsigned)stop;
	}
	fprintf(out, ", \"startColumn\": %u, \"endColumn\": %u }", start, end);
}

/* A SARIF physicalLocation: file @path, and @loc's region if @loc is given. */
static void put_sarif_physical(const struct diag *dg, const char *path,
			       const struct loc *loc)
{
	fputs("\"physicalLocation\": { \"artifactLocation\": { \"uri\": ", dg->out);
	put_sarif_uri(dg->out, path);
	fputs(" }, ", dg->out);
	if (loc != NULL)
		put_sarif_region(dg, loc);
	else
		fputs("\"region\": { \"startLine\": 1 }", dg->out);
	fputs(" }", dg->out);
}

static void sarif_head(struct diag *dg)
{
	fputs("{\n"
	      "  \"$schema\": \"https://docs.oasis-open.org/sarif/sarif/v2.1.0/"
	      "errata01/os/schemas/sarif-schema-2.1.0.json\",\n"
	      "  \"version\": \"2.1.0\",\n"
	      "  \"runs\": [ {\n"
	      "    \"tool\": { \"driver\": { \"name\": ", dg->out);
	put_json_string(dg->out, dg->prog);
	fputs(", \"version\": \"" PACKAGE_VERSION "\",\n"
	      "      \"rules\": [\n"
	      "        { \"id\": \"noqc.error\", \"name\": \"ConfigurationError\", "
	      "\"shortDescription\": { \"text\": \"The configuration cannot be "
	      "compiled\" }, \"fullDescription\": { \"text\": \"Something in the "
	      "configuration is wrong, or cannot work in noq: noqc will not compile "
	      "it into a policy.\" }, \"defaultConfiguration\": { \"level\": "
	      "\"error\" }, \"help\": { \"text\": \"Fix the configuration where the "
	      "result points; related locations show the other places involved. "
	      "noqc(1) and noq.conf(5) describe the checks.\" } },\n"
	      "        { \"id\": \"noqc.warning\", \"name\": \"ConfigurationWarning\", "
	      "\"shortDescription\": { \"text\": \"The configuration compiles, but "
	      "something in it has no effect or looks wrong\" }, \"fullDescription\": "
	      "{ \"text\": \"noqc compiles the configuration, but a setting in it is "
	      "ignored by noq or looks like a mistake. With -Werror it fails the "
	      "check as an error does.\" }, \"defaultConfiguration\": { \"level\": "
	      "\"warning\" }, \"help\": { \"text\": \"Remove or correct the setting "
	      "where the result points. noqc(1) and noq.conf(5) describe the "
	      "checks.\" } }\n"
	      "      ] } },\n"
	      "    \"columnKind\": \"utf16CodeUnits\",\n"
	      "    \"results\": [", dg->out);
}

/* The results of the check that ends. */
static void sarif_check(struct diag *dg)
{
	FILE *out = dg->out;

	for (size_t i = 0; i < dg->nrecs; i++) {
		const struct diag_rec *r = &dg->recs[i];
		bool is_error = r->lvl == DIAG_ERROR;
		unsigned id = 0;

		if (r->lvl == DIAG_NOTE)
			continue;
		fputs(dg->doc_any ? ",\n      { " : "\n      { ", out);
		dg->doc_any = true;
		fprintf(out, "\"ruleId\": \"%s\", \"ruleIndex\": %d, \"level\": \"%s\", "
			"\"message\": { \"text\": ", is_error ? "noqc.error" : "noqc.warning",
			is_error ? 0 : 1, is_error || dg->werror ? "error" : "warning");
		put_json_string(out, r->msg);
		fputs(" }", out);
		/* Code scanning wants a place for every result: one outside any
		 * file (an unreadable configuration) goes to the top of the
		 * configuration checked. */
		if (loc_valid(&r->loc) || dg->config != NULL) {
			fputs(", \"locations\": [ { ", out);
			if (loc_valid(&r->loc))
				put_sarif_physical(dg, rec_path(dg, r), &r->loc);
			else
				put_sarif_physical(dg, dg->config, NULL);
			fputs(" } ]", out);
		}
		/* Notes, then the .include lines that lead to the file. */
		for (size_t j = i + 1; j < dg->nrecs && dg->recs[j].lvl == DIAG_NOTE; j++) {
			const struct diag_rec *n = &dg->recs[j];

			if (!loc_valid(&n->loc))
				continue;
			fputs(id == 0 ? ", \"relatedLocations\": [ " : ", ", out);
			fprintf(out, "{ \"id\": %u, \"message\": { \"text\": ", ++id);
			put_json_string(out, n->msg);
			fputs(" }, ", out);
			put_sarif_physical(dg, rec_path(dg, n), &n->loc);
			fputs(" }", out);
		}
		if (loc_valid(&r->loc)) {
			const struct src_file *f = &dg->sm->files[r->loc.file];

			while (f->parent != LOC_NONE_FILE) {
				const struct src_file *p = &dg->sm->files[f->parent];

				fputs(id == 0 ? ", \"relatedLocations\": [ " : ", ", out);
				fprintf(out, "{ \"id\": %u, \"message\": { \"text\": \"", ++id);
				put_json_chars(out, f->path);
				fputs(" is included here\" }, ", out);
				put_sarif_physical(dg, p->path, &f->incl_loc);
				fputs(" }", out);
				f = p;
			}
		}
		if (id != 0)
			fputs(" ]", out);
		fputs(" }", out);
	}
}

static void sarif_foot(struct diag *dg)
{
	FILE *out = dg->out;

	fprintf(out, "%s],\n    \"invocations\": [ { \"executionSuccessful\": true",
		dg->doc_any ? "\n    " : "");
	/* Each check cut short by --max-errors says so, as the text does. */
	for (size_t i = 0; i < dg->ncuts; i++) {
		const struct diag_cut *c = &dg->cuts[i];

		fputs(i == 0 ? ",\n      \"toolExecutionNotifications\": [\n        "
		      : ",\n        ", out);
		fprintf(out, "{ \"level\": \"note\", \"message\": { \"text\": \"%u more "
			"error%s and %u more warning%s not shown (limit %u; see "
			"--max-errors)\" }", c->errors, c->errors == 1 ? "" : "s",
			c->warnings, c->warnings == 1 ? "" : "s", dg->max_errors);
		if (c->config != NULL) {
			fputs(", \"locations\": [ { \"physicalLocation\": { "
			      "\"artifactLocation\": { \"uri\": ", out);
			put_sarif_uri(out, c->config);
			fputs(" } } } ]", out);
		}
		fputs(" }", out);
	}
	fprintf(out, "%s } ]\n  } ]\n}\n", dg->ncuts ? "\n      ]" : "");
}

/* Remember that the check that ends hid diagnostics (for SARIF). */
static void keep_cut(struct diag *dg)
{
	struct diag_cut *nc = realloc(dg->cuts, (dg->ncuts + 1) * sizeof(*nc));

	if (nc == NULL)
		return;
	dg->cuts = nc;
	nc[dg->ncuts].config = dg->config ? strdup(dg->config) : NULL;
	nc[dg->ncuts].errors = dg->hidden_errors;
	nc[dg->ncuts].warnings = dg->hidden_warnings;
	dg->ncuts++;
}

/* The head of the JSON or SARIF document, once, before the first check's results. */
static void doc_start(struct diag *dg)
{
	if (dg->doc_started)
		return;
	dg->doc_started = true;
	if (dg->format == DIAG_JSON)
		json_head(dg);
	else
		sarif_head(dg);
}

void diag_end_check(struct diag *dg)
{
	if (!dg->open)
		return;
	dg->open = false;
	dg->tot_errors += diag_errors(dg);
	dg->tot_warnings += dg->warnings;
	dg->tot_hidden += dg->hidden_errors + dg->hidden_warnings;
	if (dg->format == DIAG_JSON || dg->format == DIAG_SARIF) {
		doc_start(dg);
		if (dg->format == DIAG_JSON) {
			json_check(dg);
		} else {
			sarif_check(dg);
			if (dg->hidden_errors != 0 || dg->hidden_warnings != 0)
				keep_cut(dg);
		}
		drop_records(dg);
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

void diag_finish(struct diag *dg)
{
	diag_end_check(dg);
	if (dg->format == DIAG_TEXT)
		return;
	doc_start(dg);
	if (dg->format == DIAG_JSON)
		json_foot(dg);
	else
		sarif_foot(dg);
}
