/*
 * redir.c -- what a redirect router yields at send time (route_int.h).
 *
 * The data comes from the policy's alias table, from the router's "data"
 * option (constant, or expanded now), or from a file expanded now and read
 * (a .forward); :include: files are read as they are met.  Redirection data
 * follows Exim's parse_forward_list() and rda.c: the checks made on a
 * .forward file, the order of special items, and the words of the
 * messages.  Exim and Sieve filters are recognised and refused.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "addr.h"
#include "list.h"
#include "route.h"
#include "route_int.h"
#include "rwrt.h"
#include "sb.h"
#include "txt.h"

#define FILE_MAX (1024 * 1024)  /* Exim's MAX_FILTER_SIZE and MAX_INCLUDE_SIZE */
#define INCLUDE_MAX 16          /* :include: nesting, as noqc allows */

/* ======================================================================
 * Redirection
 * ====================================================================== */

/** struct rd - one redirection being evaluated. */
struct rd {
	struct st *s;
	const struct att *a;
	const struct rtr *R;
	const char *qualify;      /* for unqualified targets */
	bool is_file;
	char *msg;                /* MSG_MAX bytes */
};

static char *tdup(struct st *s, const char *p, size_t n)
{
	char *c = arena_strndup(&s->tmp, p, n);

	if (c == NULL)
		rt_oom(s);
	return c;
}

static int push_gen(struct st *s, enum gkind k, const char *text, bool skip, bool forbidden)
{
	if (s->ngv == s->capgv) {
		size_t c = s->capgv ? s->capgv * 2 : 16;
		struct gen *v = realloc(s->gv, c * sizeof(*v));

		if (v == NULL) {
			rt_oom(s);
			return -1;
		}
		s->gv = v;
		s->capgv = c;
	}
	s->gv[s->ngv++] = (struct gen){ k, text, skip, forbidden };
	return 0;
}

/*
 * Parse one address @t (@n bytes).  Returns 1 with *@out (in st.tmp) and
 * *@unq, 0 for an empty address (ignored, as Exim does), -1 when invalid
 * (@why set), -2 when out of memory.
 */
static int parse_one(struct st *s, const char *t, size_t n, const char **out, bool *unq,
		     char *why, size_t whylen)
{
	int r;

	addr_list_free(&s->al);
	r = addr_parse(&s->al, t, n, ADDR_SINGLE | ADDR_ALLOW_EMPTY);
	if (r == ADDR_NOMEM) {
		rt_oom(s);
		return -2;
	}
	if (r != ADDR_OK || s->al.n != 1) {
		const char *m = s->al.nerr > 0 ? s->al.err[0].msg : "invalid address";

		if (strncmp(m, "empty address", 13) == 0)
			return 0;
		rt_fmt(why, whylen, "%s", m);
		return -1;
	}
	if (s->al.v[0].flags & ADDR_F_EMPTY)
		return 0;
	*unq = (s->al.v[0].flags & ADDR_F_UNQUALIFIED) != 0;
	*out = tdup(s, s->al.v[0].addr, strlen(s->al.v[0].addr));
	return *out != NULL ? 1 : -2;
}

/*
 * Qualify and rewrite the address @t (a target of router @R, "\"-prefixed
 * when @bs) and add it to the generated list.  Returns 0, or -1 with the
 * outcome in *@k (@msg set).
 */
static int gen_address(struct rd *d, const char *t, size_t n, bool bs, enum rdkind *k)
{
	struct st *s = d->s;
	const char *a;
	bool unq;
	char why[200];
	int r = parse_one(s, t, n, &a, &unq, why, sizeof(why));

	if (r == -2)
		return -1;
	if (r == 0)
		return 0;
	if (r < 0) {
		if (d->R->skip_syntax_errors)
			return 0;
		rt_fmt(d->msg, MSG_MAX, "error in redirect %s: %s in \"%.*s%.*s\"",
		       d->is_file ? "file" : "data", why, bs ? 1 : 0, "\\", (int)n, t);
		*k = RD_ERROR;
		return -1;
	}
	if (unq) {
		/* "\name" takes the incoming domain (Exim), others the router's
		   qualify domain. */
		const char *q = bs ? d->a->domain : d->qualify;
		size_t al = strlen(a), ql = q ? strlen(q) : 0;
		char *x = arena_alloc(&s->tmp, al + ql + 2);

		if (x == NULL) {
			rt_oom(s);
			return -1;
		}
		memcpy(x, a, al);
		x[al] = '@';
		memcpy(x + al + 1, q ? q : "", ql + 1);
		a = x;
	}
	if (d->R->rewrite && s->m->nrewrites > 0) {
		char *rw = NULL, e[256];

		if (rw_address(s->m->rewrites, s->m->nrewrites, RW_WHERE_ENV_TO, a, &rw, NULL, e,
			       sizeof(e)) != 0) {
			rt_hard(s, "rewriting %s: %s", a, e);
			return -1;
		}
		if (rw != NULL) {
			a = tdup(s, rw, strlen(rw));
			free(rw);
			if (a == NULL)
				return -1;
		}
	}
	return push_gen(s, G_ADDR, a, bs, false);
}

/*
 * A special item, @item (@ilen bytes) as written, its message @text (@n
 * bytes): Exim refuses those the router does not allow.
 */
static enum rdkind special(struct rd *d, enum rdkind k, const char *item, size_t ilen,
			   const char *text, size_t n)
{
	bool ok = k == RD_FAIL ? d->R->allow_fail : k == RD_DEFER ? d->R->allow_defer
							      : !d->R->forbid_blackhole;

	if (!ok) {
		rt_fmt(d->msg, MSG_MAX, "error in redirect %s: \"%.*s\" is not permitted",
		       d->is_file ? "file" : "data", (int)ilen, item);
		return RD_ERROR;
	}
	while (n > 0 && rt_is_space((unsigned char)*text)) {
		text++;
		n--;
	}
	while (n > 0 && rt_is_space((unsigned char)text[n - 1]))
		n--;
	if (n == 0 && k != RD_BLACKHOLE)
		rt_fmt(d->msg, MSG_MAX, "%s", k == RD_FAIL ? "forced rejection" : "forced defer");
	else    /* Another user's text, on its way to the sender's terminal. */
		txt_clean(d->msg, MSG_MAX, text, n, TXT_UTF8);
	return k;
}

/* End of the item that starts at @i: a ',' or newline outside quotes,
   comments and angle brackets (Exim's parse_find_address_end()). */
static size_t item_end(const char *t, size_t i, size_t len)
{
	bool q = false, angle = false;
	int paren = 0;

	for (; i < len; i++) {
		char c = t[i];

		if (c == '\n')
			return i;          /* nothing spans lines */
		if (q) {
			if (c == '\\' && i + 1 < len && t[i + 1] != '\n')
				i++;
			else if (c == '"')
				q = false;
		} else if (paren > 0) {
			if (c == '\\' && i + 1 < len && t[i + 1] != '\n')
				i++;
			else if (c == '(')
				paren++;
			else if (c == ')')
				paren--;
		} else if (c == '"') {
			q = true;
		} else if (c == '(') {
			paren++;
		} else if (c == '<') {
			angle = true;
		} else if (c == '>') {
			angle = false;
		} else if (c == ',' && !angle) {
			return i;
		}
	}
	return len;
}

static bool has_kw(const char *p, size_t n, const char *kw)
{
	size_t kl = strlen(kw);

	return n >= kl && memcmp(p, kw, kl) == 0;
}

static enum rdkind parse_list(struct rd *d, const char *t, size_t len, unsigned depth);

/* Read a whole file the redirection names (:include: or .forward) into a
   malloc'd buffer; -1 with errno, or -2 when it is too big. */
static int read_fd(int fd, const struct stat *st, char **out, size_t *outlen)
{
	struct sb b = SB_INIT;

	if (st->st_size > FILE_MAX)
		return -2;
	b.max = FILE_MAX;
	if (sb_read_fd(&b, fd, (size_t)st->st_size) != 0) {
		int e = errno;

		sb_free(&b);
		errno = e;
		return e == EFBIG ? -2 : -1;
	}
	*outlen = b.len;
	if ((*out = sb_take(&b)) == NULL)
		return -1;
	return 0;
}

/*
 * Open @path, which must be inside @dir, as Exim does where it has openat():
 * the directory, then each component below it, none of them followed if it
 * is a symbolic link.  Returns the descriptor, or -1 with @msg set.
 */
static int open_under(const char *path, const char *dir, char *msg, size_t msglen)
{
	size_t dl = strlen(dir);
	char buf[PATH_MAX];
	int fd;

	while (dl > 0 && dir[dl - 1] == '/')
		dl--;
	if (strncmp(path, dir, dl) != 0 || path[dl] != '/') {
		rt_fmt(msg, msglen, "included file %s is not in directory %s", path, dir);
		return -1;
	}
	fd = open(dir, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rt_fmt(msg, msglen, "failed to open directory %s", dir);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	/* Exim's walk, step for step (repeated '/' included). */
	for (char *p = buf + dl; *p != '\0';) {
		char *q = p + 1, c;
		int fd2;

		while (*q == '/')
			q++;
		while (*++p != '\0' && *p != '/')
			;
		c = *p;
		*p = '\0';
		fd2 = openat(fd, q, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		close(fd);
		*p = c;
		if (fd2 < 0) {
			rt_fmt(msg, msglen, "failed to open %s (component of included file); could "
			       "be symbolic link", path);
			return -1;
		}
		fd = fd2;
	}
	return fd;
}

static enum rdkind include(struct rd *d, const char *p, size_t n, unsigned depth)
{
	char path[PATH_MAX], why[PATH_MAX + 200];
	const char *ff = d->is_file ? "file" : "data";
	const char *dir = d->R->include_directory;
	struct stat st;
	char *buf = NULL;
	size_t blen = 0;
	int fd, e;

	while (n > 0 && rt_is_space((unsigned char)*p)) {
		p++;
		n--;
	}
	why[0] = '\0';
	if (n == 0)
		rt_fmt(why, sizeof(why), "file name missing after :include:");
	else if (n >= sizeof(path))
		rt_fmt(why, sizeof(why), "included file name \"%.*s\" is too long", (int)n, p);
	if (why[0] == '\0') {
		memcpy(path, p, n);
		path[n] = '\0';
		if (path[0] != '/')
			rt_fmt(why, sizeof(why), "included file \"%s\" is not an absolute path",
			       path);
		else if (d->R->forbid_include)
			rt_fmt(why, sizeof(why), "included files not permitted");
		else if (depth >= INCLUDE_MAX)
			rt_fmt(why, sizeof(why), "included files nested too deeply (limit %d)",
			       INCLUDE_MAX);
	}
	if (why[0] != '\0') {
		rt_fmt(d->msg, MSG_MAX, "error in redirect %s: %s", ff, why);
		return RD_ERROR;
	}
	if (dir != NULL) {
		fd = open_under(path, dir, why, sizeof(why));
		if (fd < 0) {
			rt_fmt(d->msg, MSG_MAX, "error in redirect %s: %s", ff, why);
			return RD_ERROR;
		}
	} else {
		fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			rt_fmt(d->msg, MSG_MAX, "error in redirect %s: failed to open included "
			       "file %s: %s", ff, path, strerror(errno));
			return RD_ERROR;
		}
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rt_fmt(d->msg, MSG_MAX, "error in redirect %s: included file %s is not a regular "
		       "file%s%s%s", ff, path, dir ? " in the " : "", dir ? dir : "",
		       dir ? " directory" : "");
		close(fd);
		return RD_ERROR;
	}
	e = read_fd(fd, &st, &buf, &blen);
	close(fd);
	if (e == -2) {
		rt_fmt(d->msg, MSG_MAX, "error in redirect %s: included file %s is too big "
		       "(max %d)", ff, path, FILE_MAX);
		return RD_ERROR;
	}
	if (e < 0) {
		rt_fmt(d->msg, MSG_MAX, "error in redirect %s: error while reading included file "
		       "%s: %s", ff, path, strerror(errno));
		return RD_ERROR;
	}
	enum rdkind k = parse_list(d, buf, blen, depth + 1);

	free(buf);
	return k;
}

/*
 * An item that starts with '|' or '/': a pipe or a file unless it parses
 * as a qualified address (Exim's rule, for X.400-style local parts).
 * Returns 1 when it was one (added), 0 when it is an address, -1 on error
 * (s->hard).
 */
static int pipe_or_file(struct rd *d, const char *it, size_t n, bool inquote)
{
	struct st *s = d->s;
	const char *a;
	bool unq = true, pipe = it[0] == '|';
	char why[200];
	int r = parse_one(s, it, n, &a, &unq, why, sizeof(why));

	if (r == -2)
		return -1;
	if (r > 0 && !unq)
		return 0;

	char *x = arena_alloc(&s->tmp, n + 1);
	size_t xl = 0;

	if (x == NULL) {
		rt_oom(s);
		return -1;
	}
	/* A quoted item loses the backslashes that quoted within it. */
	for (size_t j = 0; j < n; j++) {
		if (inquote && it[j] == '\\' && j + 1 < n)
			j++;
		x[xl++] = it[j];
	}
	x[xl] = '\0';
	/* forbid_pipe and forbid_file do not stop the router: Exim fails the
	   item itself when it comes to deliver it. */
	return push_gen(s, pipe ? G_PIPE : G_FILE, x, false,
			pipe ? d->R->forbid_pipe : d->R->forbid_file) < 0 ? -1 : 1;
}

/*
 * Exim's parse_forward_list(): items separated by commas or newlines; '#'
 * where an item could start comments out the line; an item wholly in
 * quotes loses them; ":unknown:" is ignored; ":defer:", ":fail:" and
 * ":blackhole:" end the list (the message is the rest of the line);
 * ":include:" reads a file of the same syntax; "|cmd" and "/file" are
 * pipes and files unless they parse as qualified addresses; "\name"
 * qualifies with the incoming domain.  Returns RD_GEN when the list was
 * read to its end (whatever it yielded).
 */
static enum rdkind parse_list(struct rd *d, const char *t, size_t len, unsigned depth)
{
	struct st *s = d->s;
	size_t i = 0;

	for (;;) {
		for (;;) {
			while (i < len && (rt_is_space((unsigned char)t[i]) || t[i] == ','))
				i++;
			if (i < len && t[i] == '#') {
				while (i < len && t[i] != '\n')
					i++;
				continue;
			}
			break;
		}
		if (i >= len)
			return RD_GEN;

		size_t e = item_end(t, i, len), next = e, b = i;
		bool inquote = false;

		while (e > b && rt_is_space((unsigned char)t[e - 1]))
			e--;
		if (e - b >= 2 && t[b] == '"' && t[e - 1] == '"') {
			b++;
			e--;
			inquote = true;
			while (b < e && rt_is_space((unsigned char)t[b]))
				b++;
			while (e > b && rt_is_space((unsigned char)t[e - 1]))
				e--;
		}
		const char *it = t + b;
		size_t n = e - b;
		enum rdkind k = RD_GEN;

		i = next;
		if (n == 9 && memcmp(it, ":unknown:", 9) == 0)
			continue;
		if (has_kw(it, n, ":defer:") || has_kw(it, n, ":fail:") ||
		    has_kw(it, n, ":blackhole:")) {
			k = has_kw(it, n, ":defer:") ? RD_DEFER :
			    has_kw(it, n, ":fail:") ? RD_FAIL : RD_BLACKHOLE;
			size_t kl = k == RD_DEFER ? 7 : k == RD_FAIL ? 6 : 11;
			size_t le = b + kl;

			while (le < len && t[le] != '\n')
				le++;
			return special(d, k, it, n, t + b + kl, le - (b + kl));
		}
		if (has_kw(it, n, ":include:")) {
			k = include(d, it + 9, n - 9, depth);
			if (k != RD_GEN)
				return k;
			continue;
		}
		if (n > 0 && (it[0] == '|' || it[0] == '/')) {
			int r = pipe_or_file(d, it, n, inquote);

			if (r < 0)
				return RD_ERROR;
			if (r > 0)
				continue;
		}
		bool bs = n > 1 && it[0] == '\\';

		if (gen_address(d, bs ? it + 1 : it, bs ? n - 1 : n, bs, &k) < 0)
			return s->hard ? RD_ERROR : k;
	}
}

/* Exim's rda_is_filter(): "# Exim filter" or "# Sieve filter", any case,
   blanks optional, after leading white space. */
static int filter_kind(const char *p, size_t n)
{
	static const char *const tags[] = { "# exim filter", "# sieve filter" };
	size_t i = 0;

	while (i < n && rt_is_space((unsigned char)p[i]))
		i++;
	for (int k = 0; k < 2; k++) {
		const char *tg = tags[k];
		size_t j = i;

		for (; *tg; tg++) {
			if (*tg == ' ') {
				while (j < n && rt_is_blank(p[j]))
					j++;
			} else if (j < n && rt_lc((unsigned char)p[j]) == *tg) {
				j++;
			} else {
				break;
			}
		}
		if (*tg == '\0')
			return k + 1;
	}
	return 0;
}

static enum rdkind text_list(struct rd *d, const char *t, size_t n)
{
	int f = filter_kind(t, n);

	if (f != 0) {
		rt_fmt(d->msg, MSG_MAX, "error in filter %s: noq does not run %s filters",
		       d->is_file ? "file" : "data", f == 1 ? "Exim" : "Sieve");
		return RD_ERROR;
	}
	return parse_list(d, t, n, 0);
}

static bool in_id_list(struct st *s, const struct mdl_list *l, unsigned long id, bool users)
{
	bool in = false;

	for (size_t i = 0; !in && i < l->n; i++) {
		const char *it = l->v[i].text;

		if (rt_all_digits(it)) {
			in = strtoul(it, NULL, 10) == id;
		} else if (users) {
			const struct passwd *pw = rt_find_user(s, it);

			in = pw != NULL && (unsigned long)pw->pw_uid == id;
		} else {
			const struct group *gr = getgrnam(it);

			in = gr != NULL && (unsigned long)gr->gr_gid == id;
		}
	}
	return in;
}

/*
 * Read the file @path as Exim's rda_get_file_contents() does, with noq's
 * difference: EACCES declines (noq runs with the caller's privileges, so an
 * unreadable file is treated as absent).  Returns RD_GEN with the contents
 * in *@out (malloc'd), RD_DECLINE (absent), or RD_ERROR (@d->msg set).
 */
static enum rdkind read_forward(struct rd *d, const char *path, char **out, size_t *outlen)
{
	const struct rtr *R = d->R;
	const struct att *a = d->a;
	struct stat st;
	int fd, e;

	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (e == EACCES)
			return RD_DECLINE;
		if (e == ENOTDIR && R->ignore_enotdir)
			return RD_DECLINE;
		if (e == ENOENT) {
			/* Absent: decline, unless the directory is missing too
			   (an unmounted home directory looks the same). */
			char dir[PATH_MAX];
			const char *sl = strrchr(path, '/');
			size_t dl = sl != NULL ? (size_t)(sl - path) : 0;

			if (R->ignore_enotdir || sl == NULL || dl + 3 > sizeof(dir))
				return RD_DECLINE;
			memcpy(dir, path, dl);
			memcpy(dir + dl, "/.", 3);
			if (stat(dir, &st) == 0 || errno == EACCES)
				return RD_DECLINE;
			rt_fmt(d->msg, MSG_MAX, "failed to stat %s (%s)", dir, strerror(errno));
			return RD_ERROR;
		}
		rt_fmt(d->msg, MSG_MAX, "failed to open %s: %s", path, strerror(e));
		return RD_ERROR;
	}
	if (fstat(fd, &st) != 0) {
		rt_fmt(d->msg, MSG_MAX, "failed to stat %s: %s", path, strerror(errno));
		close(fd);
		return RD_ERROR;
	}
	if (!S_ISREG(st.st_mode)) {
		rt_fmt(d->msg, MSG_MAX, "%s is not a regular file", path);
		close(fd);
		return RD_ERROR;
	}
	if (((unsigned)st.st_mode & R->modemask) != 0) {
		rt_fmt(d->msg, MSG_MAX, "bad mode (0%o) for %s: 0%o bit(s) unexpected",
		       (unsigned)st.st_mode, path, (unsigned)st.st_mode & R->modemask);
		close(fd);
		return RD_ERROR;
	}
	bool uid_ok = !R->check_owner, gid_ok = !R->check_group;

	if (!uid_ok)
		uid_ok = (a->have_pw && st.st_uid == a->uid) ||
			 (R->owners != NULL && in_id_list(d->s, R->owners_l, st.st_uid, true));
	if (!gid_ok)
		gid_ok = (a->have_pw && st.st_gid == a->gid) ||
			 (R->owngroups != NULL && in_id_list(d->s, R->owngroups_l, st.st_gid, false));
	if (!uid_ok || !gid_ok) {
		rt_fmt(d->msg, MSG_MAX, "bad %s for %s", uid_ok ? "group" : "owner", path);
		close(fd);
		return RD_ERROR;
	}
	e = read_fd(fd, &st, out, outlen);
	close(fd);
	if (e == -2) {
		rt_fmt(d->msg, MSG_MAX, "%s is too big (max %d)", path, FILE_MAX);
		return RD_ERROR;
	}
	if (e < 0) {
		rt_fmt(d->msg, MSG_MAX, "error while reading %s: %s", path, strerror(errno));
		return RD_ERROR;
	}
	return RD_GEN;
}

/* The alias table: the local part (or local_part@domain) looked up without case. */
static enum rdkind table(struct rd *d, long r)
{
	struct st *s = d->s;
	char key[PART_MAX * 2 + 2];
	struct pol_alias al;
	char e[POL_ERRLEN];
	int rc;

	if (d->R->key_full)
		rt_fmt(key, sizeof(key), "%s@%s", d->a->lp, d->a->domain);
	else
		rt_fmt(key, sizeof(key), "%s", d->a->lp);
	rt_lower(key);
	e[0] = '\0';
	rc = pol_alias_lookup(s->ctx->pol, (uint32_t)r, key, strlen(key), &s->tmp, &al, e);
	if (rc == POL_ECHECKSUM) {
		/* The message says the policy is damaged, and to recompile it. */
		rt_hard(s, "router %s: %s", d->R->o->name, e);
		return RD_ERROR;
	}
	if (rc < 0) {
		rt_hard(s, "malformed alias table of router %s: %s", d->R->o->name,
			e[0] ? e : pol_strerror(rc));
		return RD_ERROR;
	}
	if (rc == 0)
		return RD_DECLINE;
	for (size_t i = 0; i < al.ntargets; i++) {
		const struct mdl_target *t = &al.targets[i];
		const char *x = t->text ? t->text : "";
		enum rdkind k = RD_GEN;

		switch (t->kind) {
		case AT_ADDRESS: {
			bool bs = x[0] == '\\' && x[1] != '\0';

			if (gen_address(d, bs ? x + 1 : x, strlen(x) - (bs ? 1 : 0), bs, &k) < 0)
				return s->hard ? RD_ERROR : k;
			break;
		}
		case AT_FAIL:
			return special(d, RD_FAIL, ":fail:", 6, x, strlen(x));
		case AT_DEFER:
			return special(d, RD_DEFER, ":defer:", 7, x, strlen(x));
		case AT_BLACKHOLE:
			return special(d, RD_BLACKHOLE, ":blackhole:", 11, "", 0);
		default:
			rt_hard(s, "malformed alias table of router %s: unknown target kind",
				d->R->o->name);
			return RD_ERROR;
		}
	}
	return RD_GEN;
}

/* Run redirect router @r for @a: the outcome, generated items in s->gv. */
enum rdkind rd_run(struct st *s, struct att *a, long r, char *msg)
{
	const struct rtr *R = &s->r[r];
	struct rd d = { s, a, R, NULL, R->src == SRC_FILE, msg };
	char *q = NULL, *x = NULL, *buf = NULL;
	size_t blen = 0;
	enum rdkind k = RD_DECLINE;

	s->ngv = 0;
	if (R->qualify_preserve) {
		d.qualify = a->domain;
	} else if (R->qualify_domain != NULL) {
		q = rt_expand(s, a, R, "qualify_domain", R->qualify_domain, msg, MSG_MAX);
		if (q == NULL)
			return RD_ERROR;
		d.qualify = q;
	} else {
		d.qualify = s->qualify_recipient;
	}
	switch (R->src) {
	case SRC_NONE:
		break;
	case SRC_TABLE:
		k = table(&d, r);
		break;
	case SRC_CONST:
		k = parse_list(&d, R->data, strlen(R->data), 0);
		break;
	case SRC_DATA:
		x = rt_expand(s, a, R, "data", R->data, msg, MSG_MAX);
		k = x == NULL ? RD_ERROR : text_list(&d, x, strlen(x));
		break;
	case SRC_FILE:
		x = rt_expand(s, a, R, "file", R->file, msg, MSG_MAX);
		if (x == NULL) {
			k = RD_ERROR;
			break;
		}
		k = read_forward(&d, x, &buf, &blen);
		if (k == RD_GEN)
			k = text_list(&d, buf, blen);
		break;
	}
	free(q);
	free(x);
	free(buf);
	if (k == RD_GEN && s->ngv == 0)
		k = RD_DECLINE;     /* an empty list: the router declines */
	if (k == RD_BLACKHOLE || k == RD_DEFER || k == RD_ERROR)
		s->ngv = 0;         /* what came before is discarded */
	return k;
}
