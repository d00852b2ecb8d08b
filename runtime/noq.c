/*
 * noq.c -- the sendmail-compatible submitter: command line, policy, intake,
 * header fixups, routing, and (for now) the dry run that shows the SMTP
 * transaction noq would make.  See noq(8).  The -bs server is bs.c; what
 * the two share is declared in noq.h.
 *
 * Exit status: 0 when the work was done (for a message: accepted; for -bt
 * and -bv: every address routed), 1 when it was not, with the reason on
 * stderr; -bt/-bv follow Exim: 2 when an address failed, 1 when one was
 * deferred.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "addr.h"
#include "auth.h"
#include "bs.h"
#include "cli.h"
#include "dkim.h"
#include "fixup.h"
#include "list.h"
#include "logfac.h"
#include "model.h"
#include "msg.h"
#include "noq.h"
#include "ossl.h"
#include "policy.h"
#include "re.h"
#include "route.h"
#include "rwrt.h"
#include "sb.h"
#include "sign.h"
#include "smtp.h"
#include "txt.h"
#include "xp.h"

#ifndef NOQ_SYSCONFDIR
#define NOQ_SYSCONFDIR "/etc"
#endif
#ifndef NOQ_BINDIR
#define NOQ_BINDIR "/usr/bin"
#endif

#define POLICY_PATH NOQ_SYSCONFDIR "/noq/noq.policy"
#define CONFIG_PATH NOQ_SYSCONFDIR "/noq/noq.conf"

static const char *progname = "noq";

/*
 * In -bs mode the reasons go into the SMTP reply instead of stderr: while
 * capture.on, noq_say() and report() collect their text here.
 */
static struct {
	bool on;
	char text[NOQ_CAPTURE_MAX];
	bool permanent;         /* the smart host refused with a 5xx reply */
} capture;

void noq_capture_begin(void)
{
	capture.on = true;
	capture.text[0] = '\0';
	capture.permanent = false;
}

const char *noq_capture_end(bool *permanent)
{
	capture.on = false;
	*permanent = capture.permanent;
	return capture.text;
}

/*
 * Everything noq prints or logs may quote text others control: a server's
 * reply, a certificate's name, an address or a :fail: message from another
 * user's .forward or an alias file, a caller's Message-Id.  It all goes
 * out through these, cleaned (txt.h): no escape sequence reaches a
 * terminal or a log reader.
 */

/* printf @fmt into a buffer: @small, or one from malloc() that the caller frees. */
static char *vformat(char *small, size_t cap, const char *fmt, va_list ap) NOQ_PRINTF(3, 0);
static char *vformat(char *small, size_t cap, const char *fmt, va_list ap)
{
	va_list aq;
	char *big;

	va_copy(aq, ap);
	int n = vsnprintf(small, cap, fmt, ap);

	if (n >= 0 && (size_t)n >= cap && (big = malloc((size_t)n + 1)) != NULL) {
		vsnprintf(big, (size_t)n + 1, fmt, aq);
		va_end(aq);
		return big;
	}
	va_end(aq);
	return small;
}

static void vput(FILE *f, const char *fmt, va_list ap) NOQ_PRINTF(2, 0);
static void vput(FILE *f, const char *fmt, va_list ap)
{
	char small[1024];
	char *s = vformat(small, sizeof(small), fmt, ap);

	txt_fputs(s, f, TXT_UTF8 | TXT_LINES);
	if (s != small)
		free(s);
}

/* printf to @f, cleaned. */
static void put(FILE *f, const char *fmt, ...) NOQ_PRINTF(2, 3);
static void put(FILE *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput(f, fmt, ap);
	va_end(ap);
}

/* syslog(), cleaned, on one line. */
static void log_line(int prio, const char *fmt, ...) NOQ_PRINTF(2, 3);
static void log_line(int prio, const char *fmt, ...)
{
	char small[1024], line[2048];
	va_list ap;

	va_start(ap, fmt);
	char *s = vformat(small, sizeof(small), fmt, ap);
	va_end(ap);
	txt_clean(line, sizeof(line), s, strlen(s), TXT_UTF8);
	syslog(prio, "%s", line);
	if (s != small)
		free(s);
}

static void vreport(bool prefix, const char *fmt, va_list ap) NOQ_PRINTF(2, 0);
static void vreport(bool prefix, const char *fmt, va_list ap)
{
	if (capture.on) {
		size_t n = strlen(capture.text);

		if (n > 0 && n + 2 < sizeof(capture.text)) {
			memcpy(capture.text + n, "; ", 3);
			n += 2;
		}
		vsnprintf(capture.text + n, sizeof(capture.text) - n, fmt, ap);
		/* Replies are one line: fold the message's own line breaks. */
		for (char *p = capture.text; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		n = strlen(capture.text);
		while (n > 0 && capture.text[n - 1] == ' ')
			capture.text[--n] = '\0';
		return;
	}
	if (prefix)
		fprintf(stderr, "%s: ", progname);
	vput(stderr, fmt, ap);
	fputc('\n', stderr);
}

void noq_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(true, fmt, ap);
	va_end(ap);
}

/* Lines from addr_refusal(): the final line end is noq_say()'s. */
static void say_block(const char *t)
{
	size_t n = strlen(t);

	noq_say("%.*s", (int)(n > 0 && t[n - 1] == '\n' ? n - 1 : n), t);
}

/* A line in Exim's own wording ("Delivery failed: ..."), no prefix. */
static void report(const char *fmt, ...) NOQ_PRINTF(1, 2);
static void report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(false, fmt, ap);
	va_end(ap);
}

/* -v traces go to stderr, prefixed so that they stand apart. */
static unsigned verbose;

static void trace(const char *fmt, ...) NOQ_PRINTF(1, 2);
static void trace(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	fputs("noq: -v: ", stderr);
	va_start(ap, fmt);
	vput(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * The setgid model (noq(8), SECURITY).  Installed setgid to a group that
 * may read the secret files, noq runs with the caller's own group except
 * while it talks to the smart host (reading secrets, keys, the policy);
 * with -C it gives the group up for good before reading anything.
 */
static bool privileged;
static gid_t priv_gid;

static void priv_init(void)
{
	priv_gid = getegid();
	privileged = priv_gid != getgid();
	if (privileged && setegid(getgid()) != 0) {
		fprintf(stderr, "%s: cannot set the group: %s\n", progname, strerror(errno));
		exit(EX_FAIL);
	}
}

static void priv_raise(void)
{
	if (privileged && setegid(priv_gid) != 0) {
		fprintf(stderr, "%s: cannot set the group: %s\n", progname, strerror(errno));
		exit(EX_FAIL);
	}
}

static void priv_lower(void)
{
	if (privileged && setegid(getgid()) != 0) {
		fprintf(stderr, "%s: cannot set the group: %s\n", progname, strerror(errno));
		exit(EX_FAIL);
	}
}

/* For good: real, effective and saved group all the caller's. */
static void priv_drop(void)
{
	gid_t g = getgid();

	if (privileged && setresgid(g, g, g) != 0) {
		fprintf(stderr, "%s: cannot drop the group: %s\n", progname, strerror(errno));
		exit(EX_FAIL);
	}
	privileged = false;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [options] [--] [recipient ...]\n"
"  -t            read recipients from To, Cc, Bcc (and remove Bcc)\n"
"  -i, -oi       a line with a single '.' does not end the message\n"
"  -f ADDR       envelope sender (-r is the same); '<>' for none\n"
"  -F NAME       full name for the From field\n"
"  -C POLICY     use this policy instead of %s\n"
"  -N DSN        DSN notify: never, or success,failure,delay\n"
"  -R RET        DSN return: hdrs or full\n"
"  -V ENVID      DSN envelope id\n"
"  -v            trace what noq does on stderr\n"
"  -bm           deliver a message read from stdin (the default)\n"
"  -bt, -bv      show how the addresses route / verify them\n"
"  -bp           list the queue (noq has none)\n"
"  -bi           recompile the policy (newaliases)\n"
"  -bV           print the version\n"
"  --dry-run     print the envelope and the exact bytes noq would send,\n"
"                without connecting\n"
"  -S, --serverinfo\n"
"                check the smart hosts as a delivery would (TLS, certificate,\n"
"                capabilities, AUTH), then QUIT: nothing is sent\n"
"Accepted and ignored: -B -h -L -O -X -G -U -m -n -o* -Ac -Am.\n"
"See noq(8).\n", progname, POLICY_PATH);
}

/* ---- the caller and the host ------------------------------------------- */

/* Whether @name can be a login in an address (the sender's local part)
   and fits in @size octets. */
static bool login_ok(const char *name, size_t size)
{
	return name != NULL && name[0] != '\0' && strlen(name) < size &&
	       strpbrk(name, " \t\r\n@<>,:;\"()[]\\") == NULL;
}

static void caller_init(struct caller *c)
{
	struct passwd *pw;

	c->uid = getuid();
	pw = getpwuid(c->uid);
	if (pw != NULL && login_ok(pw->pw_name, sizeof(c->login))) {
		snprintf(c->login, sizeof(c->login), "%s", pw->pw_name);
		c->gecos = pw->pw_gecos ? strdup(pw->pw_gecos) : NULL;
		c->home = pw->pw_dir ? strdup(pw->pw_dir) : NULL;
	} else {
		/* No passwd entry (a container, a deleted user): unknown_login
		   if the policy has it (caller_unknown()), else this. */
		snprintf(c->login, sizeof(c->login), "uid%lu", (unsigned long)c->uid);
		c->unknown = true;
	}
}

static const char *main_str(const struct model *m, const char *name)
{
	const struct mdl_opt *o = mdl_opt_find(&m->main, name);

	return o != NULL && o->str != NULL && o->str[0] != '\0' ? o->str : NULL;
}

static bool main_bool(const struct model *m, const char *name, bool dflt)
{
	const struct mdl_opt *o = mdl_opt_find(&m->main, name);

	return o != NULL && o->type == MT_BOOL ? o->num != 0 : dflt;
}

bool noq_main_bool(const struct env *e, const char *name, bool dflt)
{
	return main_bool(e->m, name, dflt);
}

long long noq_main_num(const struct env *e, const char *name, long long dflt)
{
	const struct mdl_opt *o = mdl_opt_find(&e->m->main, name);

	return o != NULL && o->type == MT_INT ? o->num : dflt;
}

static char *host_name(void)
{
	struct utsname u;

	if (uname(&u) != 0 || u.nodename[0] == '\0')
		return strdup("localhost");
	return strdup(u.nodename);
}

/* ---- message ids --------------------------------------------------------- */

static void base62(char *out, unsigned long long v, int width)
{
	static const char digits[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	out[width] = '\0';
	for (int i = width - 1; i >= 0; i--) {
		out[i] = digits[v % 62];
		v /= 62;
	}
}

/*
 * An id in Exim's shape (time-pid-fraction): unique on this host as long as
 * pids are not reused within a microsecond, plus 16 random bits.
 */
static void make_id(char *buf, size_t len, time_t now)
{
	struct timespec ts;
	unsigned short rnd = 0;
	char a[8], b[8], c[8];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = (unsigned short)(ts.tv_nsec ^ getpid());
	base62(a, (unsigned long long)now, 6);
	base62(b, (unsigned long long)getpid(), 6);
	base62(c, (unsigned long long)(ts.tv_nsec / 1000) * 65536ull + rnd, 6);
	snprintf(buf, len, "%s-%s-%s", a, b, c);
}

/* ---- the policy ---------------------------------------------------------- */

/*
 * timezone: as Exim, the time zone of Date, Received and the log is the
 * policy's, "utc" being UTC, and never the caller's TZ: without the
 * option, TZ is dropped and the system's zone applies.
 */
static void zone_setup(const struct env *e)
{
	const char *tz = main_str(e->m, "timezone");

	if (tz == NULL)
		unsetenv("TZ");
	else
		setenv("TZ", strcasecmp(tz, "utc") == 0 ? "UTC" : tz, 1);
	tzset();
}

/*
 * syslog as the policy says: syslog_facility (noqc checked the name),
 * syslog_processname (noq's own name by default: the lines are noq's),
 * and syslog_pid.
 */
static void log_setup(const struct env *e)
{
	const char *id = main_str(e->m, "syslog_processname");
	int fac = log_facility(main_str(e->m, "syslog_facility"));

	openlog(id != NULL ? id : "noq", main_bool(e->m, "syslog_pid", true) ? LOG_PID : 0,
		fac >= 0 ? fac : LOG_MAIL);
}

static char *expand_str(const struct env *e, const struct msg *msg, const char *s,
			const char *sender, const char *what, int *failed, bool quiet);
static char *expand_env(const struct env *e, const struct msg *msg, const char *s,
			const char *sender, const char *what, int *failed, bool quiet,
			unsigned place, const struct xp_env *pre);

/* Whether the list @l (trusted_users or trusted_groups) names @id. */
static bool id_listed(const char *l, unsigned long id, bool group)
{
	struct list_iter it;
	struct sb item = SB_INIT;
	bool hit = false;

	list_init(&it, l, 0);
	while (!hit && list_next(&it, &item) > 0) {
		const char *n = sb_str(&item);
		char *end;
		unsigned long v = strtoul(n, &end, 10);

		if (*n != '\0' && *end == '\0') {
			hit = v == id;
		} else if (group) {
			const struct group *g = getgrnam(n);

			hit = g != NULL && g->gr_gid == id;
		} else {
			const struct passwd *pw = getpwnam(n);

			hit = pw != NULL && pw->pw_uid == id;
		}
	}
	sb_free(&item);
	return hit;
}

/*
 * Exim's trusted callers: root, a user in trusted_users, or one whose
 * group or a supplementary group is in trusted_groups.  They may set the
 * sender freely, and get no Sender field (the fixups).
 */
static bool caller_trusted(const struct env *e)
{
	const char *tu = main_str(e->m, "trusted_users");
	const char *tg = main_str(e->m, "trusted_groups");

	if (e->caller.uid == 0 || (tu != NULL && id_listed(tu, e->caller.uid, false)))
		return true;
	if (tg == NULL)
		return false;
	if (id_listed(tg, getgid(), true))
		return true;

	gid_t groups[256];
	int n = getgroups(sizeof(groups) / sizeof(groups[0]), groups);

	for (int i = 0; i < n; i++)
		if (id_listed(tg, groups[i], true))
			return true;
	return false;
}

/*
 * A caller with no passwd entry: Exim takes unknown_login (expanded) as
 * the login and unknown_username as the full name; without them it
 * gives up, where noq uses "uidN" (caller_init()), so that cron mail in
 * a container without the user in /etc/passwd still goes out.
 */
static int caller_unknown(struct env *e)
{
	const char *ul = main_str(e->m, "unknown_login");
	const char *un = main_str(e->m, "unknown_username");
	int failed = 0;
	char *v;

	if (!e->caller.unknown || ul == NULL)
		return 0;
	v = expand_str(e, NULL, ul, NULL, "unknown_login", &failed, false);
	if (v == NULL)
		return -1;
	if (!login_ok(v, sizeof(e->caller.login))) {
		noq_say("unknown_login gave '%s', which cannot be a login name", v);
		free(v);
		return -1;
	}
	snprintf(e->caller.login, sizeof(e->caller.login), "%s", v);
	free(v);
	if (un != NULL && e->caller.gecos == NULL) {
		e->caller.gecos = expand_str(e, NULL, un, NULL, "unknown_username", &failed, false);
		if (e->caller.gecos == NULL)
			return -1;
	}
	return 0;
}

static int load_policy(struct env *e)
{
	char err[POL_ERRLEN];
	int r;

	e->policy_path = e->cli.policy ? e->cli.policy : POLICY_PATH;
	priv_raise();
	r = pol_open(e->policy_path, POL_CHECK_OWNER, &e->pol, err);
	priv_lower();
	if (r != 0) {
		noq_say("cannot use the policy %s: %s", e->policy_path, err);
		if (r == POL_EIO && errno == ENOENT && e->cli.policy == NULL)
			noq_say("compile it with: noqc -o %s %s", POLICY_PATH, CONFIG_PATH);
		return -1;
	}
	if (pol_core_model(e->pol, &e->m, err) != 0) {
		noq_say("cannot use the policy %s: %s", e->policy_path, err);
		return -1;
	}
	e->hostname = host_name();
	if (e->hostname == NULL) {
		noq_say("out of memory");
		return -1;
	}
	e->primary_hostname = main_str(e->m, "primary_hostname");
	if (e->primary_hostname == NULL)
		e->primary_hostname = e->hostname;
	e->qualify_domain = main_str(e->m, "qualify_domain");
	if (e->qualify_domain == NULL)
		e->qualify_domain = e->primary_hostname;
	e->qualify_recipient = main_str(e->m, "qualify_recipient");
	if (e->qualify_recipient == NULL)
		e->qualify_recipient = e->qualify_domain;
	zone_setup(e);
	log_setup(e);
	if (main_bool(e->m, "strip_trailing_dot", false))
		e->addr_opts |= ADDR_STRIP_DOT;
	if (main_bool(e->m, "strip_excess_angle_brackets", false))
		e->addr_opts |= ADDR_STRIP_ANGLES;
	e->sender_rules = main_str(e->m, "trusted_users") != NULL ||
			  main_str(e->m, "trusted_groups") != NULL ||
			  main_str(e->m, "untrusted_set_sender") != NULL;
	e->caller.trusted = caller_trusted(e);
	if (caller_unknown(e) != 0)
		return -1;
	trace("policy %s (%s), %zu routers, %zu rewrite rules", e->policy_path,
	      pol_compiler_version(e->pol), e->m->nrouters, e->m->nrewrites);
	return 0;
}

/* ---- is the policy older than its sources? -------------------------------- */

/*
 * noqc records every source file with its SHA-256 and its path relative to
 * the main configuration's directory; the convention (noq.conf beside
 * noq.policy, FILE.conf beside FILE.policy for -C) puts that directory
 * next to the policy.  A source that is missing or unreadable there is not
 * a finding (a prebuilt policy may travel without its sources).
 */
enum src_state { SRC_SAME, SRC_CHANGED, SRC_UNKNOWN };

/* The path of source @src, resolved against the policy's directory, in @buf. */
static const char *source_path(const char *policy, const char *src, char *buf, size_t len)
{
	const char *slash = strrchr(policy, '/');

	if (src[0] == '/' || slash == NULL)
		snprintf(buf, len, "%s", src);
	else
		snprintf(buf, len, "%.*s/%s", (int)(slash - policy), policy, src);
	return buf;
}

static bool newer(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec > b->st_mtim.tv_sec ||
	       (a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec > b->st_mtim.tv_nsec);
}

/*
 * Compare source @src with the digest the policy recorded.  Unless @always,
 * only a file modified after the policy (@pst) is read and digested: one
 * stat() per source is all a message pays while the policy is current.
 */
static enum src_state source_state(const struct mdl_source *src, const char *path,
				   const struct stat *pst, bool always)
{
	struct stat st;
	enum src_state r = SRC_UNKNOWN;

	/* Per message, a current source costs this stat() and nothing more. */
	if (!always && (stat(path, &st) != 0 || !S_ISREG(st.st_mode)))
		return SRC_UNKNOWN;
	if (!always && !newer(&st, pst))
		return SRC_SAME;

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return SRC_UNKNOWN;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return SRC_UNKNOWN;
	}
	unsigned char d[32];
	char err[256];
	void *p = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
				 : (void *)"";

	if (p != MAP_FAILED) {
		if (ossl_sha256(p, (size_t)st.st_size, d, err, sizeof(err)) == 0)
			r = memcmp(d, src->sha256, sizeof(d)) == 0 ? SRC_SAME : SRC_CHANGED;
		if (st.st_size > 0)
			munmap(p, (size_t)st.st_size);
	}
	close(fd);
	return r;
}

/*
 * Warn (stderr and syslog) when a source was changed after the policy was
 * compiled: the message still goes out under the policy as it is, which is
 * what was proven.  @always: digest every source (noq -bV), and print the
 * state of the policy on stdout instead.
 */
static void check_policy_age(const struct env *e, bool always)
{
	struct stat pst;
	char path[4096], conf[4096];
	size_t changed = 0, found = 0;
	const char *first = NULL;

	if (e->m->nsources == 0 || stat(e->policy_path, &pst) != 0)
		return;
	for (size_t i = 0; i < e->m->nsources; i++) {
		source_path(e->policy_path, e->m->sources[i].path, path, sizeof(path));
		switch (source_state(&e->m->sources[i], path, &pst, always)) {
		case SRC_CHANGED:
			if (changed++ == 0)
				first = e->m->sources[i].path;
			found++;
			break;
		case SRC_SAME:
			found++;
			break;
		case SRC_UNKNOWN:
			break;
		}
	}
	if (!always && changed == 0)
		return;         /* the common case: one stat() per source, nothing else */
	source_path(e->policy_path, e->m->sources[0].path, conf, sizeof(conf));
	if (changed > 0)
		source_path(e->policy_path, first, path, sizeof(path));
	if (always) {
		if (changed > 0)
			printf("policy is older than %s (changed since it was compiled): "
			       "run newaliases, or noqc -o %s %s\n", path, e->policy_path, conf);
		else if (found == e->m->nsources)
			printf("policy is up to date with %s\n", conf);
		else
			printf("policy sources not all found beside it (%zu of %zu): %s\n", found,
			       e->m->nsources, conf);
		return;
	}
	noq_say("warning: the policy %s is older than %s (changed since it was compiled); "
		"%s under the policy as compiled; recompile it with newaliases, or noqc -o "
		"%s %s", e->policy_path, path, e->cli.mode == CLI_SERVERINFO
		? "the check runs" : "this message goes out", e->policy_path, conf);
	log_line(LOG_WARNING, "policy %s is older than %s: recompile it with noqc",
	       e->policy_path, path);
}

/* The port a host is tried on: its own, else the transport's. */
static unsigned host_port(const struct model *m, const struct mdl_host *h)
{
	const struct mdl_obj *t = &m->transports[m->route.transport];
	const struct mdl_opt *o;
	bool smtps = false;

	if (h->port != 0)
		return h->port;
	o = mdl_opt_find(t, "protocol");
	if (o != NULL && o->str != NULL && strcmp(o->str, "smtps") == 0)
		smtps = true;
	o = mdl_opt_find(t, "port");
	if (o != NULL) {
		if (o->type == MT_INT && o->num > 0 && o->num < 65536)
			return (unsigned)o->num;
		if (o->str != NULL) {
			/* As Exim reads it: C's notation, 0x24b as 587. */
			if (o->str[0] >= '0' && o->str[0] <= '9') {
				char *end;
				long v = strtol(o->str, &end, 0);

				if (*end == '\0' && v > 0 && v < 65536)
					return (unsigned)v;
			}
			if (strcmp(o->str, "smtp") == 0)
				return 25;
			if (strcmp(o->str, "submission") == 0)
				return 587;
			if (strcmp(o->str, "submissions") == 0 || strcmp(o->str, "smtps") == 0 ||
			    strcmp(o->str, "ssmtp") == 0)
				return 465;
		}
	}
	return smtps ? 465 : 25;
}

/* ---- addresses from the command line -------------------------------------- */

/* Parse every recipient argument; print Exim's refusal when any is bad. */
static int parse_argv_rcpts(const struct env *e, struct addr_list *l)
{
	const struct cli *c = &e->cli;

	addr_list_init(l);
	for (size_t i = 0; i < c->nrcpts; i++) {
		int r = addr_parse(l, c->rcpts[i], strlen(c->rcpts[i]), e->addr_opts);

		if (r == ADDR_NOMEM) {
			noq_say("out of memory");
			return -1;
		}
	}
	if (l->nerr_total > 0) {
		char *t = addr_refusal(l);

		say_block(t ? t : "invalid address");
		free(t);
		return -1;
	}
	return 0;
}

/* The envelope sender: -f, or the caller; qualified with qualify_domain. */
static char *envelope_sender(struct env *e)
{
	struct addr_list l;
	char *out = NULL;

	if (e->cli.sender == NULL) {
		if (asprintf(&out, "%s@%s", e->caller.login, e->qualify_domain) < 0)
			out = NULL;
		return out;
	}
	addr_list_init(&l);
	int r = addr_parse(&l, e->cli.sender, strlen(e->cli.sender),
			   ADDR_SINGLE | ADDR_ALLOW_EMPTY | e->addr_opts);

	if (r == ADDR_OK && l.n == 1 && l.v[0].domain != NULL && l.v[0].domain[0] == '[' &&
	    !main_bool(e->m, "allow_domain_literals", false))
		noq_say("invalid sender address '%s': domain literals not allowed "
			"(allow_domain_literals)", l.v[0].addr);
	else if (r == ADDR_OK && l.n == 1 && addr_qualify(&l, e->qualify_domain) == ADDR_OK)
		out = strdup(l.v[0].addr);
	else if (r == ADDR_INVALID && l.nerr > 0)
		noq_say("invalid sender address '%s': %s", l.err[0].text, l.err[0].msg);
	else
		noq_say("invalid sender address '%s'", e->cli.sender);
	if (out != NULL && e->cli.mode != CLI_TEST && e->cli.mode != CLI_VERIFY) {
		int ok = noq_sender_allowed(e, out);

		if (ok < 0) {
			free(out);
			out = NULL;
		} else if (ok == 0) {
			/* As Exim: the caller's own address, without a word. */
			trace("-f %s is not allowed for this caller: the sender is the "
			      "caller's address", out);
			free(out);
			if (asprintf(&out, "%s@%s", e->caller.login, e->qualify_domain) < 0)
				out = NULL;
		} else {
			e->sender_forced = true;
		}
	}
	addr_list_free(&l);
	return out;
}

/* ---- the uucp "From " line ---------------------------------------------- */

/* The @n groups of a re_match() of @subj (offsets @ov) as $0.. for an
   expansion: a group that took no part is "". */
static void caps_of(const char *subj, const size_t *ov, const char **cap, size_t *caplen,
		    unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bool set = ov[2 * i] != (size_t)-1;

		cap[i] = set ? subj + ov[2 * i] : "";
		caplen[i] = set ? ov[2 * i + 1] - ov[2 * i] : 0;
	}
}

/* Exim's default uucp_from_pattern. */
#define UUCP_FROM_DEFAULT \
	"^From\\s+(\\S+)\\s+(?:[a-zA-Z]{3},?\\s+)?(?:[a-zA-Z]{3}\\s+\\d?\\d|" \
	"\\d?\\d\\s+[a-zA-Z]{3}\\s+\\d\\d(?:\\d\\d)?)\\s+\\d\\d?:\\d\\d?"

/*
 * The first line of a message, as Exim's receive.c reads it for input that
 * is not SMTP (and for -bs with ignore_fromline_local): a line that
 * uucp_from_pattern matches is dropped, and unless -f was given, the
 * sender becomes uucp_from_sender expanded with the pattern's groups as
 * $1.. (default: $1), qualified, when the caller may set the sender
 * (noq_sender_allowed()); otherwise the line only goes.
 */
static int uucp_line(void *arg, const char *line, size_t len)
{
	struct uucp *u = arg;
	const char *pat = main_str(u->e->m, "uucp_from_pattern");
	const char *xs = main_str(u->e->m, "uucp_from_sender");
	char err[256];
	size_t ov[2 * 10];
	const char *cap[10];
	size_t caplen[10];
	int failed = 0;
	char *v;

	if (pat == NULL)
		pat = UUCP_FROM_DEFAULT;
	/* Most messages start otherwise: no regular expression for them. */
	if (strncmp(pat, "^From", 5) == 0 && (len < 4 || memcmp(line, "From", 4) != 0))
		return 0;
	if (u->re == NULL &&
	    re_compile(pat, strlen(pat), 0, &u->re, err, sizeof(err), NULL) != 0) {
		noq_say("warning: uucp_from_pattern: %s", err);
		return 0;
	}
	int r = re_match(u->re, line, len, ov, 10, err, sizeof(err));

	if (r <= 0)
		return 0;
	trace("removed the \"From \" line: %.*s", (int)(len > 200 ? 200 : len), line);
	if (u->e->cli.sender != NULL)
		return 1;       /* -f wins (Exim: sender_address_forced) */
	caps_of(line, ov, cap, caplen, 10);
	v = xs == NULL ? strndup(cap[1], caplen[1])
		       : expand_env(u->e, NULL, xs, NULL, "uucp_from_sender", &failed, false,
				    XP_TRANSPORT, &(struct xp_env){ .cap = cap, .caplen = caplen,
								    .ncap = 10 });
	if (v == NULL)
		return 1;

	struct addr_list l;

	addr_list_init(&l);
	if (addr_parse(&l, v, strlen(v), ADDR_SINGLE | ADDR_ALLOW_EMPTY | u->e->addr_opts) ==
	    ADDR_OK && l.n == 1 && addr_qualify(&l, u->e->qualify_domain) == ADDR_OK &&
	    noq_sender_allowed(u->e, l.v[0].addr) == 1) {
		free(u->sender);
		u->sender = strdup(l.v[0].addr);
		trace("sender taken from the \"From \" line: <%s>", l.v[0].addr);
	}
	addr_list_free(&l);
	free(v);
	return 1;
}

void noq_uucp_free(struct uucp *u)
{
	re_free(u->re);
	free(u->sender);
	memset(u, 0, sizeof(*u));
}

/* ---- routing ------------------------------------------------------------- */

/* Routing's warnings (a condition that failed to expand): on stderr and
   to syslog, where Exim writes its panic log. */
static void route_warn(const void *arg, const char *msg)
{
	const struct env *e = arg;

	/* -bt and -bv show it as Exim shows a panic log line there. */
	if (e->cli.mode == CLI_TEST || e->cli.mode == CLI_VERIFY)
		put(stderr, "LOG: MAIN PANIC\n  %s\n", msg);
	else
		noq_say("warning: %s", msg);
	log_line(LOG_WARNING, "%s", msg);
}

/* The ids and the size expansions see; static: one message per process. */
static char xp_uid[24], xp_gid[24], xp_size[24];

static void xp_facts(const struct env *e, const struct msg *msg)
{
	snprintf(xp_uid, sizeof(xp_uid), "%lu", (unsigned long)e->caller.uid);
	snprintf(xp_gid, sizeof(xp_gid), "%lu", (unsigned long)getgid());
	snprintf(xp_size, sizeof(xp_size), "0");
	if (msg != NULL) {
		struct msg_info mi;

		/* Exim counts the message with LF line ends. */
		msg_info(msg, &mi);
		snprintf(xp_size, sizeof(xp_size), "%llu",
			 (unsigned long long)(mi.size - mi.lines));
	}
}

static void route_ctx_init(const struct env *e, const char *sender, bool verify,
			   const struct msg *msg, struct route_ctx *rc)
{
	memset(rc, 0, sizeof(*rc));
	xp_facts(e, msg);
	rc->caller_uid = xp_uid;
	rc->caller_gid = xp_gid;
	rc->msg = msg;
	rc->message_size = xp_size;
	rc->warn = route_warn;
	rc->warn_arg = e;
	rc->pol = e->pol;
	rc->m = e->m;
	rc->sender = sender;
	rc->primary_hostname = e->primary_hostname;
	rc->qualify_recipient = e->qualify_recipient;
	rc->verify = verify;
}

int noq_sender_allowed(const struct env *e, const char *addr)
{
	const char *uss = main_str(e->m, "untrusted_set_sender");
	struct route_ctx rc;
	char err[512];
	int r;

	if (!e->sender_rules || e->caller.trusted || addr[0] == '\0')
		return 1;
	if (uss == NULL)
		return 0;
	route_ctx_init(e, addr, false, NULL, &rc);
	r = route_list_match(&rc, ML_ADDRESS, uss, addr, err, sizeof(err));
	if (r < 0)
		noq_say("cannot check untrusted_set_sender: %s", err);
	return r;
}

static const char *router_name(const struct model *m, long r)
{
	return r >= 0 && (size_t)r < m->nrouters ? m->routers[r].name : "?";
}

static const char *opt_str(const struct mdl_obj *o, const char *name);
static bool opt_bool(const struct mdl_obj *o, const char *name);

/* A lookup that failed for good: the name has no address (Exim's
   HOST_FIND_FAILED); any other failure is temporary (HOST_FIND_AGAIN). */
static bool lookup_says_none(int g)
{
#ifdef EAI_NODATA
	if (g == EAI_NODATA)
		return true;
#endif
#ifdef EAI_ADDRFAMILY
	if (g == EAI_ADDRFAMILY)
		return true;
#endif
	return g == EAI_NONAME;
}

/*
 * The lookups a manualroute router makes of the hosts it gives, before
 * any connection (Exim's rf_lookup_hostlist() while routing), for each
 * delivered node of @res whose hosts came from its router: every route
 * host is looked up once, in order.  A name that does not exist is dealt
 * with as that router's host_find_failed says (Exim's default: freeze):
 * ignore drops it (@drop[i] set), defer and freeze defer the node, fail
 * fails it, with Exim's "lookup of host "NAME" failed in R router".  When
 * every host was dropped, host_all_ignored (default defer) decides the
 * same way.  A lookup that did not complete defers the node, whatever the
 * setting.  noq keeps no queue: freeze is defer.  The hosts a transport
 * gives are looked up as the transport connects, as in Exim.  Returns -1
 * when out of memory.
 */
/*
 * Whether every address in @ai is in ignore_target_hosts of router @R
 * (Exim then takes the host as not found).
 */
static bool all_ignored(const struct model *m, const struct mdl_obj *R, const char *name,
			const struct addrinfo *ai)
{
	const char *l = opt_str(R, "ignore_target_hosts");
	struct smtp_hostlist h = { l != NULL ? mdl_list_find(m, ML_HOST, l) : NULL, m };
	char ip[INET6_ADDRSTRLEN];

	if (h.l == NULL || ai == NULL)
		return false;
	for (; ai != NULL; ai = ai->ai_next)
		if (smtp_ai_text(ai, ip, sizeof(ip)) != 0 || !smtp_host_match(&h, name, ip))
			return false;
	return true;
}

static int router_hosts(const struct model *m, struct route_result *res, bool *drop)
{
	size_t nh = m->route.nhosts;
	int *code = NULL;
	struct addrinfo **ais = NULL;
	bool no_v6 = opt_bool(&m->main, "disable_ipv6");
	char msg[600];
	int rc = 0;

	for (size_t i = 0; i < nh; i++)
		drop[i] = false;
	for (size_t n = 0; n < res->n && rc == 0; n++) {
		struct route_node *v = &res->v[n];

		if (v->status != RS_DELIVER || !v->router_hosts || v->router < 0 ||
		    (size_t)v->router >= m->nrouters)
			continue;
		if (code == NULL) {
			code = calloc(nh ? nh : 1, sizeof(*code));
			ais = calloc(nh ? nh : 1, sizeof(*ais));
			if (code == NULL || ais == NULL) {
				free(code);
				free(ais);
				return -1;
			}
			for (size_t i = 0; i < nh; i++) {
				const struct mdl_host *h = &m->route.hosts[i];

				code[i] = smtp_resolve(h->name, NULL,
						       (h->flags & MH_IPV4_ONLY) || no_v6, &ais[i]);
				if (code[i] != 0)
					trace("host lookup for %s failed: %s", h->name,
					      gai_strerror(code[i]));
			}
		}

		const struct mdl_obj *R = &m->routers[v->router];
		const char *hff = opt_str(R, "host_find_failed");
		const char *hai = opt_str(R, "host_all_ignored");
		enum route_status st = RS_DELIVER;
		size_t kept = 0;

		hff = hff != NULL ? hff : "freeze";
		hai = hai != NULL ? hai : "defer";
		for (size_t i = 0; i < nh && st == RS_DELIVER; i++) {
			const char *name = m->route.hosts[i].name;

			/* A host whose every address is in ignore_target_hosts is,
			   for Exim, a host that was not found. */
			int ci = code[i] == 0 && all_ignored(m, R, name, ais[i]) ? EAI_NONAME : code[i];

			if (ci != code[i])
				trace("every address of %s is in ignore_target_hosts of %s router",
				      name, R->name);
			if (ci == 0) {
				kept++;
			} else if (!lookup_says_none(ci)) {
				snprintf(msg, sizeof(msg), "host lookup for %s did not complete "
					 "(DNS timeout?)", name);
				st = RS_DEFER;
			} else if (strcmp(hff, "ignore") == 0) {
				if (!drop[i])
					trace("host_find_failed=ignore in %s router: %s is not "
					      "tried", R->name, name);
				drop[i] = true;
			} else {
				snprintf(msg, sizeof(msg), "lookup of host \"%s\" failed in %s "
					 "router", name, R->name);
				st = strcmp(hff, "fail") == 0 ? RS_FAIL : RS_DEFER;
			}
		}
		if (st == RS_DELIVER && kept == 0) {
			snprintf(msg, sizeof(msg), "lookup failed for all hosts in %s router: "
				 "host_find_failed=ignore host_all_ignored=%s", R->name, hai);
			st = strcmp(hai, "fail") == 0 ? RS_FAIL : RS_DEFER;
		}
		if (st != RS_DELIVER)
			rc = route_set_outcome(res, n, st, msg);
	}
	for (size_t i = 0; ais != NULL && i < nh; i++)
		if (ais[i] != NULL)
			freeaddrinfo(ais[i]);
	free(ais);
	free(code);
	return rc;
}

/* Print one resolved host line per address, as Exim's -bt does; not the
   hosts in @drop (NULL: none). */
static void print_hosts(const struct model *m, const bool *drop)
{
	for (size_t i = 0; i < m->route.nhosts; i++) {
		const struct mdl_host *h = &m->route.hosts[i];

		if (drop != NULL && drop[i])
			continue;
		/* As Exim: the port only when the host list gave one (the
		   transport's is not the router's business). */
		char port[16] = "";
		struct addrinfo *res = NULL;
		int r = smtp_resolve(h->name, NULL, (h->flags & MH_IPV4_ONLY) != 0, &res);

		if (h->port != 0)
			snprintf(port, sizeof(port), " port=%u", h->port);
		if (r != 0) {
			put(stdout, "  host %s [unresolved: %s]%s\n", h->name, gai_strerror(r), port);
			continue;
		}
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			char ip[INET6_ADDRSTRLEN];

			smtp_ai_text(ai, ip, sizeof(ip));
			put(stdout, "  host %s [%s]%s%s\n", h->name, ip, port,
			       h->group ? " (randomized)" : "");
		}
		freeaddrinfo(res);
	}
}

/*
 * -bt / -bv: route the command-line addresses and print the outcome of
 * each, in Exim's layout.  Exit 0 all routed, 2 any failed, 1 any deferred.
 */
static int test_addresses(struct env *e, bool verify)
{
	struct addr_list l;
	struct route_ctx rc;
	struct route_result res = { 0 };
	char err[512];
	char *sender;
	size_t *order = NULL;
	int status = EX_DONE;

	if (e->cli.nrcpts == 0) {
		noq_say("%s needs at least one address", verify ? "-bv" : "-bt");
		return EX_FAIL;
	}
	/* As Exim: an address with bad syntax is "syntax error: ..." on the
	   standard output and exit status 2; the others are still tested. */
	addr_list_init(&l);
	for (size_t i = 0; i < e->cli.nrcpts; i++) {
		struct addr_list one;

		addr_list_init(&one);
		int r = addr_parse(&one, e->cli.rcpts[i], strlen(e->cli.rcpts[i]), e->addr_opts);

		if (r == ADDR_NOMEM || (r == ADDR_OK && addr_parse(&l, e->cli.rcpts[i],
								 strlen(e->cli.rcpts[i]),
								 e->addr_opts) == ADDR_NOMEM)) {
			addr_list_free(&one);
			addr_list_free(&l);
			noq_say("out of memory");
			return EX_FAIL;
		}
		if (r != ADDR_OK) {
			put(stdout, "syntax error: %s\n", one.nerr > 0 ? one.err[0].msg : "invalid address");
			status = 2;
		}
		addr_list_free(&one);
	}
	if (addr_qualify(&l, e->qualify_recipient) != ADDR_OK || (sender = envelope_sender(e)) == NULL) {
		addr_list_free(&l);
		return EX_FAIL;
	}

	const char **v = calloc(l.n ? l.n : 1, sizeof(*v));
	/* the hosts host_find_failed = ignore drops, as Exim's -bt shows */
	bool *drop = calloc(e->m->route.nhosts ? e->m->route.nhosts : 1, sizeof(*drop));

	if (v == NULL || drop == NULL) {
		noq_say("out of memory");
		free(v);
		free(drop);
		free(sender);
		addr_list_free(&l);
		return EX_FAIL;
	}
	for (size_t i = 0; i < l.n; i++)
		v[i] = l.v[i].addr;
	route_ctx_init(e, sender, verify, NULL, &rc);

	const struct mdl_obj *tp = &e->m->transports[e->m->route.transport];

	/* Each address on its own, as Exim tests them: its whole tree is
	   printed before the next address is routed. */
	struct rw_ctx rw;
	struct route_ctx lists;

	rw_ctx_init(&rw, &lists, e->m, e->primary_hostname);
	for (size_t a = 0; a < l.n; a++) {
		char *rwa = NULL;

		route_result_free(&res);
		memset(&res, 0, sizeof(res));
		free(order);
		order = NULL;
		/* As Exim's -bt: the rewrite rules for envelope recipients
		   first, and the address they give is the one routed. */
		if (rw_rewrite(&rw, RW_WHERE_ENV_TO, v[a], &rwa, NULL, err, sizeof(err)) != 0) {
			noq_say("%s", err);
			status = EX_FAIL;
			goto out;
		}
		if (rwa != NULL && strcmp(rwa, v[a]) != 0)
			put(stdout, "Address rewritten as: %s\n", rwa);
		const char *ra = rwa != NULL ? rwa : v[a];
		int ro = route_all(&rc, &ra, 1, &res, err, sizeof(err));

		free(rwa);
		if (ro != 0) {
			noq_say("%s", err);
			status = EX_FAIL;
			goto out;
		}
		if (router_hosts(e->m, &res, drop) != 0) {
			noq_say("out of memory");
			status = EX_FAIL;
			goto out;
		}
		order = route_order(&res);
		if (order == NULL) {
			noq_say("out of memory");
			status = EX_FAIL;
			goto out;
		}
		/* -bv, as Exim: an address whose whole tree can be delivered
		   is reported once, as given, "verified". */
		bool all_ok = verify;

		for (size_t k = 0; k < res.n && all_ok; k++)
			all_ok = res.v[k].status != RS_FAIL && res.v[k].status != RS_DEFER;
		if (all_ok && res.n > 0) {
			put(stdout, "%s verified\n", res.v[0].addr);
			continue;
		}
		for (size_t k = 0; k < res.n; k++) {
			const struct route_node *nd = &res.v[order[k]];

			switch (nd->status) {
			case RS_REDIRECTED:
				continue;
			case RS_DELIVER:
				put(stdout, verify ? "%s verified\n" : "%s\n", nd->addr);
				break;
			case RS_BLACKHOLE:
				put(stdout, "mail to %s is discarded\n", nd->addr);
				break;
			case RS_DUPLICATE:
				put(stdout, "%s is a duplicate\n", nd->addr);
				break;
			case RS_FAIL:
				put(stdout, verify ? "%s failed to verify: %s\n"
				       : "%s is undeliverable: %s\n", nd->addr,
				       nd->local ? "routing yielded a local delivery"
				       : nd->msg && nd->msg[0] ? nd->msg : "Unrouteable address");
				status = 2;
				break;
			case RS_DEFER:
				put(stdout, verify ? "%s cannot be verified at this time: %s\n"
				       : "%s cannot be resolved at this time: %s\n", nd->addr,
				       nd->msg && nd->msg[0] ? nd->msg : "deferred");
				if (status == EX_DONE)
					status = 1;
				break;
			}
			for (long p = nd->parent; p >= 0; p = res.v[p].parent)
				put(stdout, "    <-- %s\n", res.v[p].addr);
			if (nd->status == RS_DELIVER && !verify) {
				put(stdout, "  router = %s, transport = %s\n",
				       router_name(e->m, nd->router), tp->name);
				print_hosts(e->m, drop);
			}
		}
		if (res.config_problem) {
			noq_say("%s: delivery to smarthost failed (configuration problem)", v[a]);
			status = 2;
		}
	}
out:
	free(order);
	route_result_free(&res);
	free(v);
	free(drop);
	free(sender);
	addr_list_free(&l);
	fflush(stdout);
	return status;
}

/* ---- -bi / newaliases ------------------------------------------------------ */

static char *dir_of(const char *path)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		return strdup(".");
	if (s == path)
		return strdup("/");
	return strndup(path, (size_t)(s - path));
}

/*
 * Recompile the policy from its configuration with noqc, when the caller
 * may write it; otherwise say what to run.  With -C FILE.policy, the
 * configuration is FILE.conf.
 */
static int newaliases(const struct cli *c)
{
	const char *policy = c->policy ? c->policy : POLICY_PATH;
	char *config = NULL, *dir;
	int status = EX_FAIL;

	if (c->policy == NULL) {
		config = strdup(CONFIG_PATH);
	} else {
		size_t n = strlen(policy);

		if (n > 7 && strcmp(policy + n - 7, ".policy") == 0 &&
		    asprintf(&config, "%.*s.conf", (int)(n - 7), policy) < 0)
			config = NULL;
		if (config == NULL) {
			noq_say("-bi with -C needs a policy named FILE.policy, compiled from "
				"FILE.conf");
			return EX_FAIL;
		}
	}
	dir = dir_of(policy);
	if (config == NULL || dir == NULL) {
		noq_say("out of memory");
		goto out;
	}
	if (access(dir, W_OK) != 0 || (access(policy, F_OK) == 0 && access(policy, W_OK) != 0)) {
		noq_say("you may not write %s; its owner can recompile it with:\n"
			"  noqc -o %s %s", policy, policy, config);
		goto out;
	}

	const char *noqc = NOQ_BINDIR "/noqc";
	pid_t pid = fork();

	if (pid < 0) {
		noq_say("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		char a0[] = "noqc", a1[] = "-o";
		char *pol = strdup(policy);
		char *args[] = { a0, a1, pol, config, NULL };

		if (pol == NULL)
			_exit(127);

		execv(noqc, args);
		execvp("noqc", args);
		fprintf(stderr, "%s: cannot run noqc: %s\n", progname, strerror(errno));
		_exit(127);
	}

	int ws;

	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR) {
			noq_say("waitpid: %s", strerror(errno));
			goto out;
		}
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
		printf("%s: recompiled %s from %s\n", progname, policy, config);
		status = EX_DONE;
	} else {
		noq_say("%s was not recompiled: noqc failed (see above); the old policy "
			"stays in use", policy);
	}
out:
	free(config);
	free(dir);
	return status;
}

/* ---- delivering a message -------------------------------------------------- */

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Write all of @len bytes to stdout (the dry run). */
static int out_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	return fwrite(buf, 1, len, stdout) == len ? 0 : -1;
}

/* What route_header() reads: the message. */
struct hdr_arg {
	const struct msg *msg;
};

static int route_header(void *arg, const char *name, size_t len, int flavour,
			struct sb *out)
{
	const struct hdr_arg *h = arg;

	return msg_header_expand(h->msg, name, len, flavour, out);
}

/*
 * The route's expansion strings (a transport's options, the route's header
 * changes): evaluated once, for every recipient, with the variables of a
 * transport (lib/xp).  @msg gives $h_ (NULL: none).
 */
static char *expand_str(const struct env *e, const struct msg *msg, const char *s,
		       const char *sender, const char *what, int *failed, bool quiet);

static char *expand_route_str(const struct env *e, const struct msg *msg, const char *s,
			      const char *sender, const char *what, int *failed)
{
	return expand_str(e, msg, s, sender, what, failed, false);
}

/* expand_route_str(); with @quiet, a failure is not reported (the caller
   falls back, as Exim does for message_id_header_*). */
static char *expand_str(const struct env *e, const struct msg *msg, const char *s,
		       const char *sender, const char *what, int *failed, bool quiet)
{
	return expand_env(e, msg, s, sender, what, failed, quiet, XP_TRANSPORT, NULL);
}

/*
 * expand_str() for an expansion noqc compiled for @place, with what @pre
 * sets besides the usual (the captures $1.., the variables from
 * XV_LATE_FIRST), when not NULL.
 */
static char *expand_env(const struct env *e, const struct msg *msg, const char *s,
			const char *sender, const char *what, int *failed, bool quiet,
			unsigned place, const struct xp_env *pre)
{
	struct xp_env env = { 0 };
	struct xp_err xe;
	struct sb b = SB_INIT;
	struct hdr_arg ha = { msg };
	const struct mdl_expr *me;
	struct xp *x;
	char *r;

	if (s == NULL)
		return NULL;
	if (!xp_expands(s)) {
		/* Nothing to expand: used as it is. */
		if ((r = strdup(s)) == NULL) {
			noq_say("out of memory");
			*failed = 1;
		}
		return r;
	}
	/* noqc compiled it into the policy; noq only runs it. */
	me = mdl_expr_find(e->m, place, s);
	if (me == NULL) {
		if (!quiet)
			noq_say("cannot expand %s: the policy lacks its compiled form; "
				"recompile the policy with noqc", what);
		*failed = 1;
		return NULL;
	}
	if ((x = mdl_expr_xp(me, xe.msg, sizeof(xe.msg))) == NULL) {
		if (!quiet)
			noq_say("cannot expand %s: %s", what, xe.msg);
		*failed = 1;
		return NULL;
	}
	xp_facts(e, msg);
	env.var[XV_SENDER_ADDRESS] = sender;
	env.var[XV_PRIMARY_HOSTNAME] = e->primary_hostname;
	env.var[XV_QUALIFY_DOMAIN] = e->qualify_domain;
	env.var[XV_QUALIFY_RECIPIENT] = e->qualify_recipient;
	env.var[XV_CALLER_UID] = env.var[XV_ORIGINATOR_UID] = xp_uid;
	env.var[XV_CALLER_GID] = env.var[XV_ORIGINATOR_GID] = xp_gid;
	env.var[XV_MESSAGE_SIZE] = xp_size;
	if (pre != NULL) {
		env.cap = pre->cap;
		env.caplen = pre->caplen;
		env.ncap = pre->ncap;
		for (unsigned i = XV_LATE_FIRST; i < XV_N; i++)
			env.var[i] = pre->var[i];
	}
	if (msg != NULL) {
		env.header = route_header;
		env.arg = &ha;
	}
	if (xp_eval(x, &env, &b, &xe) != 0) {
		if (!quiet)
			noq_say("cannot expand %s: %s", what, xe.msg);
		*failed = 1;
		sb_free(&b);
		return NULL;
	}
	if ((r = sb_take(&b)) == NULL) {
		noq_say("out of memory");
		*failed = 1;
	}
	return r;
}

/*
 * The Message-Id noq adds, without angle brackets: "EID[.TEXT]@DOMAIN" (Exim's
 * message_id_external: an "E" before the id),
 * with Exim's message_id_header_text and message_id_header_domain,
 * expanded for this message; characters Exim does not allow there become
 * '-'; an expansion that fails or gives nothing leaves the default (Exim
 * logs it; noq has no log to write to).
 */
static void make_msgid(const struct env *e, const struct msg *msg, const char *sender,
		      const char *id, char *out, size_t outlen)
{
	const char *tv = main_str(e->m, "message_id_header_text");
	const char *dv = main_str(e->m, "message_id_header_domain");
	int fail = 0;
	char *text = tv != NULL ? expand_str(e, msg, tv, sender, "message_id_header_text",
					     &fail, true) : NULL;
	char *dom = dv != NULL ? expand_str(e, msg, dv, sender, "message_id_header_domain",
					    &fail, true) : NULL;

	for (char *p = text; p != NULL && *p; p++)
		if ((unsigned char)*p < 32 || strchr(" ()<>@,;:\\\".[]\177", *p) != NULL)
			*p = '-';
	for (char *p = dom; p != NULL && *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.')
			*p = '-';
	/* Exim's message_id_external: "E" and the id. */
	snprintf(out, outlen, "E%s%s%s@%s", id, text != NULL && *text ? "." : "",
		 text != NULL ? text : "", dom != NULL && *dom ? dom : e->primary_hostname);
	free(text);
	free(dom);
}

static void smtp_trace(void *arg, const char *line)
{
	(void)arg;
	trace("%s", line);
}

static unsigned transport_ms(const struct mdl_obj *t, const char *name)
{
	const struct mdl_opt *o = mdl_opt_find(t, name);

	if (o == NULL || o->type != MT_TIME || o->num <= 0)
		return 0;
	return o->num > 86400 ? 86400u * 1000 : (unsigned)o->num * 1000;
}

/* ---- TLS and AUTH from the policy ------------------------------------------ */

static const char *opt_str(const struct mdl_obj *o, const char *name)
{
	const struct mdl_opt *v = mdl_opt_find(o, name);

	return v != NULL && v->str != NULL ? v->str : NULL;
}

static bool opt_bool(const struct mdl_obj *o, const char *name)
{
	const struct mdl_opt *v = mdl_opt_find(o, name);

	return v != NULL && v->type == MT_BOOL && v->num != 0;
}

/* An integer option of @o, or @dflt when it is not set. */
static long long opt_num(const struct mdl_obj *o, const char *name, long long dflt)
{
	const struct mdl_opt *v = mdl_opt_find(o, name);

	return v != NULL && v->type == MT_INT ? (long long)v->num : dflt;
}

/** struct tls_auth - what tls_and_auth() allocates for one delivery. */
struct tls_auth {
	const char **pins;
	struct smtp_authenticator *auths;
	struct env *e;
};

static void tls_auth_free(struct tls_auth *ta)
{
	free(ta->pins);
	free(ta->auths);
}

/* Make authenticator @i's exchange: its secrets are read now. */
static int make_auth(void *arg, size_t i, const char *host, unsigned port,
		     struct auth **out, char *err, size_t errlen)
{
	struct tls_auth *ta = arg;
	const struct env *e = ta->e;
	const struct mdl_obj *a = &e->m->auths[i];
	struct auth_conf ac = { 0 };
	char *secret = NULL;
	size_t slen = 0;
	int r = -1;

	if (strcmp(a->driver, "plaintext") == 0) {
		/* noqc split client_send (a list of strings in the policy). */
		const char *cs = opt_str(a, "client_send");
		const struct mdl_list *l = cs != NULL ? mdl_list_find(e->m, ML_STRINGS, cs) : NULL;
		const char **v;

		if (cs != NULL && l == NULL) {
			snprintf(err, errlen, "the policy lacks the typed client_send; recompile "
				 "it with noqc");
			return -1;
		}
		v = calloc(l != NULL && l->n ? l->n : 1, sizeof(*v));
		if (v == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (size_t k = 0; l != NULL && k < l->n; k++)
			v[k] = l->v[k].text;
		r = auth_new_plaintext(ta->auths[i].mech, v, l != NULL ? l->n : 0,
				       opt_bool(a, "client_ignore_invalid_base64")
				       ? AUTH_IGNORE_INVALID_BASE64 : 0, out, err, errlen);
		free(v);
		return r;
	}
	ac.host = host;
	ac.port = port;
	if (strcmp(a->driver, "cram_md5") == 0) {
		ac.mech = AUTH_CRAM_MD5;
		ac.user = opt_str(a, "client_name");
		if (ac.user == NULL)
			ac.user = e->primary_hostname;
		if (auth_secret_expand(opt_str(a, "client_secret"), &secret, &slen, err,
				       errlen) != 0)
			return -1;
	} else if (strcmp(a->driver, "scram_sha_256") == 0) {
		ac.mech = AUTH_SCRAM_SHA_256;
		ac.user = opt_str(a, "client_username");
		if (auth_secret_expand(opt_str(a, "client_password"), &secret, &slen, err,
				       errlen) != 0)
			return -1;
	} else if (strcmp(a->driver, "oauth2") == 0) {
		struct auth_cmd_opts co = { 0 };
		const char *cmd = opt_str(a, "client_token_command");
		/* Running with the group: nothing of the caller's environment
		   (LD_PRELOAD, ...) reaches the program. */
		static char *const clean_env[] = { (char *)(uintptr_t)"PATH=/usr/bin:/bin", NULL };

		if (privileged)
			co.envp = clean_env;

		if (auth_mech_parse(ta->auths[i].mech, &ac.mech) != 0) {
			snprintf(err, errlen, "unknown mechanism %s", ta->auths[i].mech);
			return -1;
		}
		ac.user = opt_str(a, "client_username");
		if (cmd == NULL) {
			snprintf(err, errlen, "no client_token_command");
			return -1;
		}
		if (auth_token_run(cmd, &co, &secret, &slen, err, errlen) != 0)
			return -1;
	} else {
		snprintf(err, errlen, "driver %s cannot authenticate a client", a->driver);
		return -1;
	}
	if (ac.user == NULL && ac.mech != AUTH_OAUTHBEARER) {
		snprintf(err, errlen, "no client_username");
	} else {
		ac.secret = secret;
		ac.secretlen = slen;
		r = auth_new(&ac, out, err, errlen);
	}
	auth_secret_free(secret, slen);
	return r;
}

/*
 * Host-list option @name of transport @t into @h: the policy's typed list
 * (noqc typed every host list it accepted).  Returns -1 when the policy
 * lacks it.
 */
static int host_list(struct env *e, const struct mdl_obj *t, const char *name,
		     struct smtp_hostlist *h)
{
	const char *text = opt_str(t, name);

	h->m = e->m;
	h->l = NULL;
	if (text == NULL)
		return 0;
	h->l = mdl_list_find(e->m, ML_HOST, text);
	if (h->l == NULL) {
		noq_say("the policy lacks the typed host list of %s; recompile it with noqc",
			name);
		return -1;
	}
	return 0;
}

/*
 * The transport's TLS options and the authenticators, into @so.  Paths
 * and secrets are only named here: files are read when they are needed.
 */
static int tls_and_auth(struct env *e, const struct mdl_obj *t, struct smtp_opts *so,
			struct tls_auth *ta)
{
	const char *proto = opt_str(t, "protocol");
	const char *ca = opt_str(t, "tls_verify_certificates");
	const char *pins = opt_str(t, "tls_pin_sha256");

	ta->e = e;
	so->tls_implicit = proto != NULL && strcmp(proto, "smtps") == 0;
	if (host_list(e, t, "hosts_require_tls", &so->tls_require) < 0 ||
	    host_list(e, t, "hosts_avoid_tls", &so->tls_avoid) < 0 ||
	    host_list(e, t, "tls_try_verify_hosts", &so->tls_relax) < 0 ||
	    host_list(e, t, "tls_verify_hosts", &so->tls_enforce) < 0 ||
	    host_list(e, t, "tls_verify_cert_hostnames", &so->tls_names) < 0 ||
	    host_list(e, t, "hosts_require_auth", &so->auth_require) < 0 ||
	    host_list(e, t, "hosts_try_auth", &so->auth_try) < 0 ||
	    host_list(e, t, "hosts_avoid_esmtp", &so->avoid_esmtp) < 0 ||
	    host_list(e, t, "hosts_avoid_pipelining", &so->avoid_pipelining) < 0)
		return -1;
	/* A file or a directory: tls.c tells, with the group's rights. */
	if (ca != NULL && strcmp(ca, "system") != 0)
		so->tls.ca = ca;
	so->tls.crl = opt_str(t, "tls_crl");
	so->tls.sni = opt_str(t, "tls_sni");
	so->tls.cert = opt_str(t, "tls_certificate");
	so->tls.key = opt_str(t, "tls_privatekey");
	so->tls.ciphers = opt_str(t, "tls_require_ciphers");
	if (pins != NULL) {
		/* noqc split the list (a list of strings in the policy). */
		const struct mdl_list *l = mdl_list_find(e->m, ML_STRINGS, pins);
		size_t k = 0;

		if (l == NULL) {
			noq_say("the policy lacks the typed list of tls_pin_sha256; recompile it "
				"with noqc");
			return -1;
		}
		ta->pins = calloc(l->n + 1, sizeof(*ta->pins));
		if (ta->pins == NULL) {
			noq_say("out of memory");
			return -1;
		}
		for (size_t i = 0; i < l->n; i++)
			if (l->v[i].text[0] != '\0')
				ta->pins[k++] = l->v[i].text;
		so->tls.pins = ta->pins;
	}

	ta->auths = calloc(e->m->nauths ? e->m->nauths : 1, sizeof(*ta->auths));
	if (ta->auths == NULL) {
		noq_say("out of memory");
		return -1;
	}
	for (size_t i = 0; i < e->m->nauths; i++) {
		const struct mdl_obj *a = &e->m->auths[i];
		struct smtp_authenticator *sa = &ta->auths[i];
		const char *pub = opt_str(a, "public_name");

		sa->name = a->name;
		sa->cleartext_ok = opt_bool(a, "client_allow_cleartext");
		if (strcmp(a->driver, "plaintext") == 0) {
			sa->mech = pub ? pub : a->name;
			sa->password = true;
		} else if (strcmp(a->driver, "cram_md5") == 0) {
			sa->mech = pub ? pub : "CRAM-MD5";
		} else if (strcmp(a->driver, "scram_sha_256") == 0) {
			sa->mech = pub ? pub : "SCRAM-SHA-256";
		} else if (strcmp(a->driver, "oauth2") == 0) {
			const char *mech = opt_str(a, "mechanism");

			sa->mech = mech && strcasecmp(mech, "oauthbearer") == 0 ? "OAUTHBEARER"
										 : "XOAUTH2";
			/* A bearer token is as good as a password. */
			sa->password = true;
		} else {
			sa->mech = "";
		}
	}
	so->auths = ta->auths;
	so->nauths = e->m->nauths;
	so->auth_make = make_auth;
	so->auth_arg = ta;
	return 0;
}

/*
 * The address RCPT TO names for @nd, newly allocated: without the prefix
 * and suffix its router took off the local part, unless transport @t
 * says rcpt_include_affixes (Exim's transport_rcpt_address()).
 */
static char *rcpt_of(const struct mdl_obj *t, const struct route_node *nd)
{
	size_t n = strlen(nd->addr), pl = nd->prefix_len, sl = nd->suffix_len;
	const char *at = strrchr(nd->addr, '@');
	char *r;

	if ((pl == 0 && sl == 0) || at == NULL || opt_bool(t, "rcpt_include_affixes"))
		return strdup(nd->addr);
	size_t ll = (size_t)(at - nd->addr);

	if (pl + sl >= ll || (r = malloc(n + 1)) == NULL)
		return pl + sl >= ll ? strdup(nd->addr) : NULL;
	memcpy(r, nd->addr + pl, ll - pl - sl);
	strcpy(r + (ll - pl - sl), at);
	return r;
}

/**
 * struct delivery - the SMTP client's options for the policy's route, as
 * delivery_setup() builds them, and what they point to.
 */
struct delivery {
	struct smtp_opts so;
	struct smtp_host *hosts;
	uint16_t *groups;
	char *helo;
	char *iface;
	struct tls_auth ta;
};

static void delivery_free(struct delivery *d)
{
	tls_auth_free(&d->ta);
	free(d->helo);
	free(d->iface);
	free(d->hosts);
	free(d->groups);
	memset(d, 0, sizeof(*d));
}

/*
 * The smtp_opts a delivery uses, into @d (zeroed here; free it with
 * delivery_free() whatever the outcome): the route's hosts less those in
 * @drop (host_find_failed = ignore, router_hosts()), randomized groups
 * shuffled; the transport's helo_data and interface expanded with the
 * message @msg (NULL: none) and the sender @from; its timeouts, limits,
 * TLS and AUTH options; ignore_target_hosts of the router that gave the
 * hosts to a node of @res; each authenticator's client_condition.  What
 * depends on the message's content (DSN, SMTPUTF8) is the caller's.
 * Returns 0, or -1 with the reason given (noq_say()).
 */
static int delivery_setup(struct env *e, const struct msg *msg, const char *from,
			  const struct route_result *res, const bool *drop, struct delivery *d)
{
	const struct model *m = e->m;
	const struct mdl_obj *t = &m->transports[m->route.transport];
	struct smtp_opts *so = &d->so;
	/* disable_ipv6: no IPv6 address of any host is used, as in Exim. */
	bool no_v6 = opt_bool(&m->main, "disable_ipv6");
	int bad = 0;

	memset(d, 0, sizeof(*d));
	d->hosts = calloc(m->route.nhosts ? m->route.nhosts : 1, sizeof(*d->hosts));
	d->groups = calloc(m->route.nhosts ? m->route.nhosts : 1, sizeof(*d->groups));
	if (d->hosts == NULL || d->groups == NULL) {
		noq_say("out of memory");
		return -1;
	}
	/* Not the hosts host_find_failed = ignore dropped (router_hosts()). */
	size_t nh = 0;

	for (size_t i = 0; i < m->route.nhosts; i++) {
		const struct mdl_host *h = &m->route.hosts[i];

		if (drop[i])
			continue;
		d->hosts[nh].name = h->name;
		d->hosts[nh].port = host_port(m, h);
		d->hosts[nh].ipv4_only = (h->flags & MH_IPV4_ONLY) != 0 || no_v6;
		d->hosts[nh].ipv4_prefer = (h->flags & MH_IPV4_PREFER) != 0;
		d->groups[nh++] = h->group;
	}
	smtp_order_hosts(d->hosts, d->groups, nh);

	const struct mdl_opt *hd = mdl_opt_find(t, "helo_data");

	d->helo = hd && hd->str ? expand_route_str(e, msg, hd->str, from, "helo_data", &bad)
				: strdup(e->primary_hostname);
	if (bad)
		return -1;
	if (d->helo == NULL) {
		noq_say("out of memory");
		return -1;
	}

	const struct mdl_opt *ifo = mdl_opt_find(t, "interface");

	if (ifo != NULL && ifo->str != NULL) {
		d->iface = expand_route_str(e, msg, ifo->str, from, "interface", &bad);
		if (bad || d->iface == NULL)
			return -1;
	}
	so->interface = d->iface;
	so->keepalive = mdl_opt_find(t, "keepalive") == NULL || opt_bool(t, "keepalive");
	so->size_addition = (long)opt_num(t, "size_addition", 1024);
	/* Exim's defaults; noqc refused values below 1. */
	so->max_try = (unsigned)opt_num(t, "hosts_max_try", 5);
	so->max_try_hard = (unsigned)opt_num(t, "hosts_max_try_hardlimit", 50);
	so->transport_name = t->name;
	/* ignore_target_hosts of the router that gave the hosts, if one did:
	   the addresses it names are not connected to, as Exim's router drops
	   them (a host with none left was handled by router_hosts()). */
	for (size_t i = 0; i < res->n; i++) {
		const struct route_node *v = &res->v[i];
		const char *itg;

		if (v->status != RS_DELIVER || !v->router_hosts || v->router < 0 ||
		    (size_t)v->router >= m->nrouters)
			continue;
		itg = opt_str(&m->routers[v->router], "ignore_target_hosts");
		so->ignore_ips.m = m;
		so->ignore_ips.l = itg != NULL ? mdl_list_find(m, ML_HOST, itg) : NULL;
		break;
	}
	so->hosts = d->hosts;
	so->nhosts = nh;
	so->helo = d->helo;
	so->connect_timeout = transport_ms(t, "connect_timeout");
	so->command_timeout = transport_ms(t, "command_timeout");
	so->data_timeout = transport_ms(t, "data_timeout");
	so->final_timeout = transport_ms(t, "final_timeout");
	so->delivery_timeout = transport_ms(t, "delivery_timeout");
	long long rate = opt_num(t, "data_min_rate", 500);

	so->data_min_rate = rate < 0 ? 0 : rate > 1000000000 ? 1000000000u : (unsigned)rate;
	so->trace = verbose ? smtp_trace : NULL;
	if (tls_and_auth(e, t, so, &d->ta) != 0)
		return -1;
	/* client_condition: expanded before the authenticator is used; false,
	   or a failed expansion, passes it over (Exim's
	   expand_check_condition()). */
	for (size_t i = 0; i < m->nauths; i++) {
		const char *cc = opt_str(&m->auths[i], "client_condition");
		int cbad = 0;
		char *v = cc != NULL ? expand_str(e, msg, cc, from, "client_condition", &cbad,
						  true) : NULL;

		d->ta.auths[i].skip = cc != NULL && (cbad || v == NULL || !xp_truth(v));
		free(v);
	}
	return 0;
}

/* The addresses that failed before the last (smtp_result.tried), a line each. */
static void say_tried(const char *tried)
{
	for (const char *p = tried; *p; ) {
		size_t n = strcspn(p, "\n");

		noq_say("%.*s; tried the next host", (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
}

/* ---- the session opened while the message is read ----------------------- */

/*
 * The single-transaction proof makes the hosts known before any recipient
 * is routed, so the connection, the greeting, EHLO, STARTTLS and AUTH can
 * run in a second thread while the main one reads the message; MAIL FROM
 * (with SIZE) goes once the message is read, routed and signed.  Only the
 * session thread changes the group (glibc sets it for both threads), and
 * only while the main thread does nothing but read standard input into
 * its unnamed temporary file; the main thread joins it before it does
 * anything else.  What the session was opened with is checked against
 * what the message's route asks for (send_message()); when they differ,
 * or when the message is refused, the early connection gets QUIT and
 * nothing else.
 */
static long hosts_router(const struct model *m);

/* The smallest message in a regular file for which the session is opened
   while it is read (a thread costs some 0.1 ms; 1 MiB takes about 1 ms
   to read and convert). */
#define EARLY_FILE_MIN (1024 * 1024)

static struct {
	bool started;                   /* the thread was created */
	pthread_t tid;
	const struct model *m;
	struct route_result res;        /* one node, as the hosts' router routes */
	bool *drop;                     /* the hosts its lookups dropped */
	bool looked;                    /* the lookups were made: res and drop
					   say what they found */
	struct delivery d;              /* the options the session has */
	struct smtp_session *s;         /* once joined; NULL: none */
} early;

/*
 * The session thread: the router's host lookups first, as routing will
 * make them (a route that would defer or fail opens nothing; the hosts
 * host_find_failed = ignore drops are not tried), then smtp_open().
 */
static void *early_run(void *arg)
{
	const struct model *m = early.m;
	struct delivery *d = &early.d;

	(void)arg;
	if (early.res.v[0].router_hosts) {
		if (router_hosts(m, &early.res, early.drop) != 0)
			return NULL;
		early.looked = true;
		if (early.res.v[0].status != RS_DELIVER)
			return NULL;
		/* d's hosts point to the policy's names: drop by name. */
		size_t k = 0;

		for (size_t i = 0; i < d->so.nhosts; i++) {
			bool dropped = false;

			for (size_t j = 0; j < m->route.nhosts; j++)
				if (early.drop[j] && d->hosts[i].name == m->route.hosts[j].name)
					dropped = true;
			if (!dropped)
				d->hosts[k++] = d->hosts[i];
		}
		d->so.nhosts = k;
		if (k == 0)
			return NULL;
	}
	priv_raise();
	early.s = smtp_open(&d->so);
	priv_lower();
	return NULL;
}

/*
 * Whether the session may be opened before the message is read: a
 * delivery (not a dry run) of a message that comes through a pipe or in
 * a file of EARLY_FILE_MIN octets or more, and nothing the session needs
 * depends on the message or the sender -- helo_data, interface and every
 * client_condition are constants.  send_message() checks that the route it gets is the one
 * the session was opened for.
 */
static bool early_eligible(const struct env *e)
{
	const struct model *m = e->m;
	const struct mdl_obj *t = &m->transports[m->route.transport];
	const char *v;

	struct stat st;

	if (e->cli.dry_run || m->route.nhosts == 0)
		return false;
	/* A message in a regular file is read in a moment: a thread would
	   cost more than it hides, but for a large one. */
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);

		if (st.st_size - (at > 0 ? at : 0) < EARLY_FILE_MIN)
			return false;
	}
	if (((v = opt_str(t, "helo_data")) != NULL && xp_expands(v)) ||
	    ((v = opt_str(t, "interface")) != NULL && xp_expands(v)))
		return false;
	for (size_t i = 0; i < m->nauths; i++)
		if ((v = opt_str(&m->auths[i], "client_condition")) != NULL && xp_expands(v))
			return false;
	return true;
}

/* The early session's state, freed (not the session: early_end()). */
static void early_free(void)
{
	delivery_free(&early.d);
	route_result_free(&early.res);
	free(early.drop);
	early.drop = NULL;
	early.looked = false;
}

/* Begin the session for a message from @sender, if it may be begun now. */
static void early_start(struct env *e, const char *sender)
{
	const struct model *m = e->m;

	memset(&early, 0, sizeof(early));
	if (!early_eligible(e))
		return;
	early.m = m;
	early.drop = calloc(m->route.nhosts, sizeof(*early.drop));
	early.res.v = calloc(1, sizeof(*early.res.v));
	if (early.drop == NULL || early.res.v == NULL) {
		early_free();
		return;
	}
	/* One node, as if a recipient had been routed by the router that
	   gives the hosts (server_info() does the same). */
	early.res.n = early.res.ntop = early.res.ndeliver = 1;
	early.res.v[0] = (struct route_node){ .addr = sender, .parent = -1, .top = 0,
					      .router = hosts_router(m), .status = RS_DELIVER,
					      .msg = "" };
	early.res.v[0].router_hosts = early.res.v[0].router >= 0;
	if (delivery_setup(e, NULL, sender, &early.res, early.drop, &early.d) != 0 ||
	    pthread_create(&early.tid, NULL, early_run, NULL) != 0) {
		early_free();
		return;
	}
	early.started = true;
}

/*
 * The routers' host lookups for @res (router_hosts()): when every node
 * whose hosts a router gives has them from the router the session thread
 * looked up, what it found -- the same lookups, made while the message
 * was read, and traced once -- else made now.
 */
static int routed_hosts(const struct model *m, struct route_result *res, bool *drop)
{
	const struct route_node *ev = early.looked ? &early.res.v[0] : NULL;

	for (size_t n = 0; n < res->n && ev != NULL; n++) {
		const struct route_node *v = &res->v[n];

		if (v->status == RS_DELIVER && v->router_hosts && v->router != ev->router)
			ev = NULL;
	}
	if (ev == NULL)
		return router_hosts(m, res, drop);
	memcpy(drop, early.drop, m->route.nhosts * sizeof(*drop));
	for (size_t n = 0; n < res->n && ev->status != RS_DELIVER; n++) {
		const struct route_node *v = &res->v[n];

		if (v->status == RS_DELIVER && v->router_hosts &&
		    route_set_outcome(res, n, ev->status, ev->msg) != 0)
			return -1;
	}
	return 0;
}

/* Wait for the session thread: early.s is its session (or NULL). */
static void early_join(void)
{
	if (early.started) {
		pthread_join(early.tid, NULL);
		early.started = false;
	}
}

/* The message does not go on the early session: QUIT, and forget it. */
static void early_end(void)
{
	early_join();
	if (early.s != NULL) {
		priv_raise();
		smtp_abandon(early.s);
		priv_lower();
		early.s = NULL;
	}
	early_free();
}

/* Whether the host @h is one of @d's, port and address family alike. */
static bool host_in(const struct smtp_host *h, const struct delivery *d)
{
	for (size_t i = 0; i < d->so.nhosts; i++) {
		const struct smtp_host *x = &d->so.hosts[i];

		if (strcmp(x->name, h->name) == 0 && x->port == h->port &&
		    x->ipv4_only == h->ipv4_only && x->ipv4_prefer == h->ipv4_prefer)
			return true;
	}
	return false;
}

/*
 * Whether the early session was opened as the message's delivery @d would
 * open one (@drop: the hosts its routers dropped, as the session's
 * lookups did).  The order of hosts
 * need not be the same: randomized groups were shuffled for each.
 */
static bool early_fits(const struct delivery *d, const bool *drop, size_t nhosts)
{
	const struct smtp_opts *a = &early.d.so, *b = &d->so;

	for (size_t i = 0; i < nhosts; i++)
		if (drop[i] != early.drop[i])
			return false;
	if (a->nhosts != b->nhosts || strcmp(a->helo, b->helo) != 0 ||
	    (a->interface == NULL) != (b->interface == NULL) ||
	    (a->interface != NULL && strcmp(a->interface, b->interface) != 0) ||
	    a->ignore_ips.l != b->ignore_ips.l || a->nauths != b->nauths)
		return false;
	for (size_t i = 0; i < b->nhosts; i++)
		if (!host_in(&b->hosts[i], &early.d))
			return false;
	for (size_t i = 0; i < b->nauths; i++)
		if (a->auths[i].skip != b->auths[i].skip)
			return false;
	return true;
}

/*
 * Hand the message to the smart host.  Prints the failure (Exim's
 * "Delivery failed: ..." line) and logs one line to syslog either way.
 */
static int send_message(struct env *e, const struct msg *msg, const struct msg_info *mi,
			const char *from, const struct route_result *res, const size_t *order,
			const bool *drop, bool utf8, const char *msgid)
{
	const struct model *m = e->m;
	const struct mdl_obj *t = &m->transports[m->route.transport];
	struct delivery d;
	struct smtp_envelope env = { 0 };
	struct smtp_result sr;
	char **rcpts = calloc(res->ndeliver ? res->ndeliver : 1, sizeof(*rcpts));
	int status = EX_FAIL;

	if (delivery_setup(e, msg, from, res, drop, &d) != 0)
		goto out;
	if (rcpts == NULL) {
		noq_say("out of memory");
		goto out;
	}
	for (size_t i = 0; i < res->n; i++)
		if (res->v[order[i]].status == RS_DELIVER &&
		    (rcpts[env.nrcpts++] = rcpt_of(t, &res->v[order[i]])) == NULL) {
			noq_say("out of memory");
			goto out;
		}
	env.sender = from;
	env.rcpts = (const char *const *)rcpts;
	d.so.dsn_notify = e->cli.notify;
	d.so.dsn_ret = e->cli.ret;
	d.so.dsn_envid = e->cli.envid;
	d.so.need_utf8 = utf8;
	/* message_linelength_limit (Exim's default 998; noqc refused more):
	   checked before any connection, with Exim's words. */
	if ((long long)mi->max_line > opt_num(t, "message_linelength_limit", 998)) {
		report("Delivery failed: message has lines too long for transport");
		capture.permanent = true;
		goto out;
	}

	early_join();
	if (early.s != NULL && !early_fits(&d, drop, m->route.nhosts)) {
		trace("the connection made while the message was read does not fit its "
		      "route: QUIT, and a new one");
		early_end();
	}

	int r;

	priv_raise();
	if (early.s != NULL) {
		r = smtp_send(early.s, &d.so, &env, msg, &sr);
		early.s = NULL;
	} else {
		r = smtp_deliver(&d.so, &env, msg, &sr);
	}
	priv_lower();
	char rlist[512];
	size_t rl = 0;

	rlist[0] = '\0';
	for (size_t i = 0; i < env.nrcpts && rl + 4 < sizeof(rlist); i++)
		rl += (size_t)snprintf(rlist + rl, sizeof(rlist) - rl, "%s%s", i ? "," : "",
				       rcpts[i]);
	if (rl >= sizeof(rlist))
		memcpy(rlist + sizeof(rlist) - 4, "...", 4);
	if (r == 0) {
		log_line(LOG_INFO, "<= <%s> U=%s S=%llu id=<%s> => %s H=%s [%s] C=\"%s\"", from,
		       e->caller.login, (unsigned long long)mi->size, msgid, rlist, sr.host,
		       sr.ip, sr.reply);
		trace("accepted: %s", sr.reply);
		status = EX_DONE;
	} else {
		say_tried(sr.tried);
		report("Delivery failed: %s", sr.text);
		capture.permanent = sr.code >= 500;
		log_line(LOG_NOTICE, "<= <%s> U=%s S=%llu id=<%s> ** %s: %s", from,
		       e->caller.login, (unsigned long long)mi->size, msgid, rlist, sr.text);
	}
out:
	delivery_free(&d);
	for (size_t i = 0; rcpts != NULL && i < env.nrcpts; i++)
		free(rcpts[i]);
	free(rcpts);
	return status;
}

/* ---- --serverinfo: the smart hosts checked, nothing sent ----------------- */

/*
 * The router whose route_list (or route_data) gives the route's hosts: the
 * first manualroute router with a rule that names its own hosts, whose
 * host_find_failed, host_all_ignored and ignore_target_hosts a check
 * applies, as for a message it routes; -1 when the hosts are the
 * transport's.
 */
static long hosts_router(const struct model *m)
{
	for (size_t r = 0; r < m->nrouters; r++) {
		const struct mdl_obj *R = &m->routers[r];
		const char *text = opt_str(R, "route_list");
		const struct mdl_list *l;

		if (R->driver == NULL || strcmp(R->driver, "manualroute") != 0)
			continue;
		if (text == NULL)
			text = opt_str(R, "route_data");
		l = text != NULL ? mdl_list_find(m, ML_ROUTE, text) : NULL;
		for (size_t i = 0; l != NULL && i < l->n; i++)
			if (l->v[i].flags & MLF_HOSTS)
				return (long)r;
	}
	return -1;
}

/* One line of a server's block: the label, then the text, cleaned. */
static void info_line(const char *label, const char *fmt, ...) NOQ_PRINTF(2, 3);
static void info_line(const char *label, const char *fmt, ...)
{
	char small[1024];
	va_list ap;

	va_start(ap, fmt);
	char *s = vformat(small, sizeof(small), fmt, ap);
	va_end(ap);
	put(stdout, "    %-14s%s\n", label, s);
	if (s != small)
		free(s);
}

/* The capabilities @i shows, "SIZE 10240000, PIPELINING, ..." into @out. */
static void caps_text(const struct smtp_info *i, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	if (i->size && i->size_max > 0)
		n += (size_t)snprintf(out + n, cap - n, ", SIZE %llu", i->size_max);
	else if (i->size)
		n += (size_t)snprintf(out + n, cap - n, ", SIZE (no limit)");
	const struct {
		bool on;
		const char *name;
	} kw[] = {
		{ i->pipelining, "PIPELINING" }, { i->eightbit, "8BITMIME" },
		{ i->smtputf8, "SMTPUTF8" }, { i->dsn, "DSN" }, { i->starttls, "STARTTLS" },
	};

	for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]) && n < cap; k++)
		if (kw[k].on)
			n += (size_t)snprintf(out + n, cap - n, ", %s", kw[k].name);
	if (i->mechs[0] != '\0' && n < cap)
		n += (size_t)snprintf(out + n, cap - n, ", AUTH %s", i->mechs);
	if (n == 0)
		snprintf(out, cap, ", none");
	memmove(out, out + 2, strlen(out + 2) + 1);
}

/*
 * A check's smtp_probe_fn (@arg: the smtp_opts it runs with): the block
 * for one address connected to, on standard output, as far as the
 * attempt got; the failure itself goes to standard error as a delivery
 * gives it (server_info()).
 */
static void show_server(void *arg, const struct smtp_info *i, const char *failure)
{
	const struct smtp_opts *so = arg;

	(void)failure;
	put(stdout, "SMTP server at %s [%s], port %u:\n", i->host, i->ip, i->port);
	if (i->greeting[0] != '\0')
		info_line("greeting:", "%s", i->greeting);
	if (i->tls)
		info_line("TLS:", "%s", i->tls_info);
	else if (i->tls_tried)
		info_line("TLS:", "not started (the reason follows)");
	else if (i->tls_info[0] != '\0')
		info_line("TLS:", "%s", i->tls_info);
	if (i->cert.have) {
		info_line("certificate:", "%s%s%s%s", i->cert.subject[0] ? i->cert.subject : "(no name)",
			  i->cert.names[0] ? " (" : "", i->cert.names, i->cert.names[0] ? ")" : "");
		info_line("issuer:", "%s", i->cert.issuer[0] ? i->cert.issuer : "(no name)");
		info_line("valid:", "%s to %s", i->cert.not_before[0] ? i->cert.not_before : "?",
			  i->cert.not_after[0] ? i->cert.not_after : "?");
		if (i->cert.pin[0] != '\0')
			info_line("pin:", "%s", i->cert.pin);
	}
	if (i->hello && i->esmtp) {
		char caps[1024];

		caps_text(i, caps, sizeof(caps));
		info_line("capabilities:", "%s", caps);
	} else if (i->hello) {
		info_line("capabilities:", "none: %s (HELO was used)",
			  smtp_host_match(&so->avoid_esmtp, i->host, i->ip)
			  ? "hosts_avoid_esmtp names this host" : "the server refused EHLO");
	}
	switch (i->auth) {
	case SMTP_AUTH_NOT_ASKED:
		if (!i->ready)
			break;
		info_line("auth:", "%s", so->nauths == 0 ? "not used: the policy has no "
			  "authenticators" : "not used: neither hosts_require_auth nor "
			  "hosts_try_auth names this host");
		break;
	case SMTP_AUTH_OK:
		info_line("auth:", "%s with authenticator '%s': succeeded", i->auth_mech,
			  i->auth_name);
		break;
	case SMTP_AUTH_NONE_TRY:
	case SMTP_AUTH_FAILED:
		info_line("auth:", "%s%s%s%sfailed: %s%s", i->auth_mech,
			  i->auth_name[0] ? " with authenticator '" : "", i->auth_name,
			  i->auth_name[0] ? "': " : "", i->auth_why,
			  i->auth == SMTP_AUTH_NONE_TRY ? " (hosts_try_auth: a message would go "
			  "without)" : "");
		break;
	}
	if (i->ready)
		info_line("result:", "a message could be sent now (the check stopped before "
			  "MAIL FROM)");
	fflush(stdout);
}

/*
 * --serverinfo: the policy's smart hosts, in order, taken as a delivery
 * takes them (the same host lookups and hosts dropped, TLS and its
 * verification, AUTH and its secrets), up to where MAIL FROM would go;
 * then QUIT.  What each server connected to showed goes to standard
 * output (show_server()); a failure to standard error, as a delivery
 * reports it, after "Delivery would fail: ".  There is no message: the
 * expansions (helo_data, interface, client_condition) see the sender a
 * message would have (the caller's, or -f's), no header and a size of 0.
 * Returns EX_DONE when a message could be sent now.
 */
static int server_info(struct env *e)
{
	const struct model *m = e->m;
	struct route_result res = { 0 };
	struct delivery d;
	struct smtp_result sr;
	char *sender = NULL;
	bool *drop = calloc(m->route.nhosts ? m->route.nhosts : 1, sizeof(*drop));
	int status = EX_FAIL;

	memset(&d, 0, sizeof(d));
	res.v = calloc(1, sizeof(*res.v));
	if (drop == NULL || res.v == NULL) {
		noq_say("out of memory");
		goto out;
	}
	if ((sender = envelope_sender(e)) == NULL)
		goto out;
	/* One node, as if a recipient had been routed by the router that
	   gives the hosts: its host lookups, as for a delivery. */
	res.n = res.ntop = res.ndeliver = 1;
	res.v[0] = (struct route_node){ .addr = sender, .parent = -1, .top = 0,
					.router = hosts_router(m), .status = RS_DELIVER,
					.msg = "" };
	res.v[0].router_hosts = res.v[0].router >= 0;
	if (router_hosts(m, &res, drop) != 0) {
		noq_say("out of memory");
		goto out;
	}
	if (res.v[0].status != RS_DELIVER) {
		report("Delivery would fail: %s", res.v[0].msg);
		goto out;
	}
	if (delivery_setup(e, NULL, sender, &res, drop, &d) != 0)
		goto out;
	d.so.probe = show_server;
	d.so.probe_arg = &d.so;

	priv_raise();

	int r = smtp_deliver(&d.so, NULL, NULL, &sr);

	priv_lower();
	/* The hosts that failed before the last are told even when it
	   would take the message: they are what a check is for. */
	say_tried(sr.tried);
	if (r == 0) {
		trace("a message could be sent now through %s [%s]", sr.host, sr.ip);
		status = EX_DONE;
		goto out;
	}
	report("Delivery would fail: %s", sr.text);
out:
	delivery_free(&d);
	free(sender);
	free(drop);
	route_result_free(&res);
	return status;
}

/* Everything after intake (the contract is in noq.h). */
/*
 * recipients_max (Exim's default 50000; 0: no limit): more recipients on
 * the command line, or in the header with -t, refuse the message, with
 * Exim's words.
 */
static bool too_many_rcpts(const struct env *e, size_t n)
{
	const struct mdl_opt *o = mdl_opt_find(&e->m->main, "recipients_max");
	long long max = o != NULL && o->type == MT_INT ? o->num : 50000;

	if (max <= 0 || n <= (unsigned long long)max)
		return false;
	noq_say("too many recipients: %zu, and recipients_max is %lld", n, max);
	return true;
}

/* What route_text() needs. */
struct rexp_arg {
	const struct env *e;
	const struct msg *msg;
};

/* The route's headers_add or headers_remove expanded with the rewritten
   sender (a fixup_opts.route_expand callback). */
static char *route_text(void *arg, const char *text, const char *sender_rw, const char *what)
{
	const struct rexp_arg *r = arg;
	int bad = 0;

	return expand_route_str(r->e, r->msg, text, sender_rw, what, &bad);
}

/* Exim's $received_protocol of a message @e takes: local, or under -bs
   local-esmtp after EHLO and local-smtp after HELO. */
static const char *received_protocol(const struct env *e)
{
	if (e->cli.mode != CLI_SMTP)
		return "local";
	return e->bs_esmtp ? "local-esmtp" : "local-smtp";
}

/* Exim's $sender_helo_name: the name -bs's EHLO or HELO gave, or NULL. */
static const char *helo_name(const struct env *e)
{
	return e->cli.mode == CLI_SMTP && e->bs_helo[0] != '\0' ? e->bs_helo : NULL;
}

/* What received_text() needs: the message being received. */
struct rcv_arg {
	const struct env *e;
	const struct msg *msg;
	const char *sender;
	char id[64];
};

/*
 * received_header_text expanded for the message (a fixup_opts.received
 * callback), with what Exim knows as it receives a local message:
 * $received_protocol, $message_exim_id (and $message_id), $received_for
 * when there is one recipient, $sender_ident and $authenticated_id (the
 * login), $version_number (noq's); those about a remote client or TLS
 * are unset.  Exim gives up on a message whose Received field does not
 * expand; so does noq (reported).
 */
static char *received_text(void *arg, const char *rcpt_for)
{
	const struct rcv_arg *r = arg;
	struct xp_env pre = { 0 };
	int failed = 0;

	pre.var[XV_RECEIVED_PROTOCOL] = received_protocol(r->e);
	pre.var[XV_SENDER_HELO_NAME] = helo_name(r->e);
	pre.var[XV_MESSAGE_EXIM_ID] = pre.var[XV_MESSAGE_ID] = r->id;
	pre.var[XV_RECEIVED_FOR] = rcpt_for;
	pre.var[XV_SENDER_IDENT] = pre.var[XV_AUTHENTICATED_ID] = r->e->caller.login;
	pre.var[XV_VERSION_NUMBER] = PACKAGE_VERSION;
	return expand_env(r->e, r->msg, main_str(r->e->m, "received_header_text"), r->sender,
			  "received_header_text", &failed, false, XP_RECEIVED, &pre);
}

/*
 * gecos_pattern and gecos_name, as Exim: when both are set and the
 * pattern matches the caller's gecos field ('&' replaced by the login),
 * the name is gecos_name expanded with the groups as $1..; else NULL
 * (the fixups read the gecos field as noq does).
 */
static char *gecos_name(const struct env *e)
{
	const char *pat = main_str(e->m, "gecos_pattern");
	const char *xs = main_str(e->m, "gecos_name");
	char err[256], *g, *v = NULL;
	size_t ov[2 * 10];
	const char *cap[10];
	size_t caplen[10];
	struct re *re = NULL;
	int failed = 0;

	/* (unknown_username is a name already, not a gecos field) */
	if (pat == NULL || xs == NULL || e->caller.gecos == NULL || e->cli.full_name != NULL ||
	    e->caller.unknown)
		return NULL;
	if ((g = fixup_gecos(e->caller.gecos, e->caller.login, false)) == NULL)
		return NULL;
	if (re_compile(pat, strlen(pat), 0, &re, err, sizeof(err), NULL) != 0)
		noq_say("warning: gecos_pattern: %s", err);
	else if (re_match(re, g, strlen(g), ov, 10, err, sizeof(err)) == 1) {
		caps_of(g, ov, cap, caplen, 10);
		v = expand_env(e, NULL, xs, NULL, "gecos_name", &failed, true, XP_TRANSPORT,
			       &(struct xp_env){ .cap = cap, .caplen = caplen, .ncap = 10 });
		trace("name \"%s\" from the gecos field", v != NULL ? v : "(expansion failed)");
	}
	re_free(re);
	free(g);
	return v;
}

/*
 * Exim's mail-loop rule: a message that came with received_headers_max
 * (default 30) Received fields has, with the one added, one too many.
 * Called before the fixups add noq's own.
 */
static bool too_many_received(const struct env *e, const struct msg *msg)
{
	const struct mdl_opt *o = mdl_opt_find(&e->m->main, "received_headers_max");
	long long max = o != NULL && o->type == MT_INT ? (long long)o->num : 30;
	long long n = 1;

	for (size_t h = msg_header_find(msg, "Received", 0); h != MSG_NONE && n <= max;
	     h = msg_header_find(msg, "Received", h + 1))
		n++;
	return n > max;
}

/* ---- DKIM ------------------------------------------------------------ */

/*
 * The body hash of the message being read (sign.h): started by
 * noq_intake_opts() when the route's transport signs, fed by msg.c while
 * the message is read, used and freed by noq_process().  noq reads one
 * message at a time (-bs: one after the other).
 */
static struct {
	bool on;
	struct dkim_body *b;
	char err[256];
} dk;

static void dk_reset(void)
{
	dkim_body_free(dk.b);
	memset(&dk, 0, sizeof(dk));
}

static void dk_feed(void *arg, const void *buf, size_t len)
{
	dkim_body_feed(arg, buf, len);
}

/** struct sign_arg - what the signing hooks expand with. */
struct sign_arg {
	const struct env *e;
	const struct msg *msg;
	const char *sender;
};

static char *sign_expand(void *arg, const char *text, const char *what, const char *domain,
			 const char *selector, int *failed)
{
	const struct sign_arg *a = arg;
	struct xp_env pre = { 0 };

	pre.var[XV_DKIM_DOMAIN] = domain;
	pre.var[XV_DKIM_SELECTOR] = selector;
	return expand_env(a->e, a->msg, text, a->sender, what, failed, false, XP_DKIM, &pre);
}

static void sign_priv(bool raise)
{
	if (raise)
		priv_raise();
	else
		priv_lower();
}

static void sign_trace(void *arg, const char *line)
{
	(void)arg;
	trace("%s", line);
}

static void sign_warn(void *arg, const char *line)
{
	(void)arg;
	noq_say("warning: %s", line);
	log_line(LOG_WARNING, "%s", line);
}

/*
 * Sign @msg, its header final, as the route's transport says (sign.h).
 * Returns 0 when the message may go (signed, or unsigned with a warning
 * when dkim_strict is false), -1 when it fails (reported).
 */
static int sign_step(const struct env *e, struct msg *msg, const char *sender, time_t now,
		     const char *msgid)
{
	const struct mdl_obj *t = &e->m->transports[e->m->route.transport];
	struct sign_arg a = { e, msg, sender };
	struct sign_ops ops = { sign_expand, sign_priv, verbose ? sign_trace : NULL, sign_warn,
				&a };
	char err[512];
	int r = sign_message(t, &ops, dk.b, dk.err, msg, now, err, sizeof(err));

	if (r == SIGN_OK)
		return 0;
	if (r == SIGN_UNSIGNED) {
		noq_say("warning: DKIM signing failed: %s; the message goes out unsigned "
			"(dkim_strict is false)", err);
		log_line(LOG_WARNING, "id=<%s> DKIM signing failed: %s; sent unsigned", msgid,
			 err);
		return 0;
	}
	report("Delivery failed: DKIM signing failed: %s", err);
	log_line(LOG_NOTICE, "<= <%s> id=<%s> ** DKIM signing failed: %s", sender, msgid, err);
	return -1;
}

int noq_process(struct env *e, struct msg *msg, const struct addr_list *argv_rcpts,
		const char *sender, bool extract, char *id_out, size_t id_len)
{
	struct rexp_arg rexp = { 0 };
	struct rcv_arg rcv = { 0 };
	char *gname = NULL;
	struct fixup_opts fo = { 0 };
	struct fixup_out fx = { 0 };
	struct route_ctx rc;
	struct route_result res = { 0 };
	struct msg_err me;
	char err[512], id[32], msgid[320];
	char *env_from = NULL;
	const char **rv = NULL;
	size_t *order = NULL;
	bool *drop = NULL;
	int status = EX_FAIL, bad = 0;
	time_t now = time(NULL);

	bool loop = too_many_received(e, msg);

	make_id(id, sizeof(id), now);
	make_msgid(e, msg, sender, id, msgid, sizeof(msgid));
	if (id_out != NULL)
		snprintf(id_out, id_len, "%s", id);

	char caller_addr[512];

	snprintf(caller_addr, sizeof(caller_addr), "%s@%s", e->caller.login,
		 e->qualify_domain);
	fo.extract = extract;
	fo.extract_add = !main_bool(e->m, "extract_addresses_remove_arguments", true);
	fo.trusted = e->caller.trusted;
	fo.no_sender = !main_bool(e->m, "local_from_check", true);
	fo.sender_retain = main_bool(e->m, "local_sender_retain", false);
	fo.addr_opts = e->addr_opts;
	fo.from_prefix = main_str(e->m, "local_from_prefix");
	fo.from_suffix = main_str(e->m, "local_from_suffix");
	fo.keep_bcc = !main_bool(e->m, "bcc_remove", true);
	fo.keep_return_path = !main_bool(e->m, "return_path_remove", true);
	fo.keep_envelope_to = !main_bool(e->m, "envelope_to_remove", true);
	fo.keep_delivery_date = !main_bool(e->m, "delivery_date_remove", true);
	/* Under -bs the sender is MAIL FROM's: for a trusted caller, as a
	   sender given with -f (Exim: no name in an added From, no From for
	   <>); the HELO name goes in the Received field. */
	fo.sender_forced = e->sender_forced || e->cli.mode == CLI_SMTP;
	fo.protocol = e->cli.mode == CLI_SMTP ? received_protocol(e) : NULL;
	fo.helo = helo_name(e);
	fo.sender = sender;
	fo.full_name = e->cli.full_name;
	fo.login = e->caller.login;
	fo.gecos = e->caller.gecos;
	if (main_str(e->m, "received_header_text") != NULL) {
		rcv.e = e;
		rcv.msg = msg;
		rcv.sender = sender;
		snprintf(rcv.id, sizeof(rcv.id), "%s", id);
		fo.received = received_text;
		fo.received_arg = &rcv;
	}
	gname = gecos_name(e);
	fo.gecos_name = gname;
	fo.caller_addr = caller_addr;
	fo.primary_hostname = e->primary_hostname;
	fo.qualify_domain = e->qualify_domain;
	fo.qualify_recipient = e->qualify_recipient;
	fo.message_id = msgid;
	fo.id = id;
	fo.version = PACKAGE_VERSION;
	fo.now = now;
	fo.rules = e->m->rewrites;
	fo.nrules = e->m->nrewrites;
	/* With the transport's headers_rewrite and named lists. */
	struct route_ctx rw_lists;
	struct rw_ctx rw;

	rw_ctx_init(&rw, &rw_lists, e->m, e->primary_hostname);
	fo.rw = &rw;
	/* Expanded by the fixups once the sender is rewritten: Exim's
	   transport sees $sender_address after rewriting. */
	fo.headers_add = e->m->route.headers_add;
	fo.headers_remove = e->m->route.headers_remove;
	rexp.e = e;
	rexp.msg = msg;
	fo.route_expand = route_text;
	fo.route_arg = &rexp;

	int fr = fixup_apply(msg, &fo, argv_rcpts, &fx, err, sizeof(err));

	if (fr == FIXUP_INVALID) {
		say_block(fx.refusal ? fx.refusal : "invalid address");
		goto out;
	}
	if (fr != FIXUP_OK) {
		noq_say("%s", err);
		goto out;
	}
	if (too_many_rcpts(e, extract ? fx.nrcpts : argv_rcpts->n))
		goto out;
	if (fx.nrcpts == 0) {
		noq_say(fx.rcpts_overridden ? "all -t recipients overridden by command line"
			: extract ? "no recipients in message" : "no recipients");
		goto out;
	}

	rv = calloc(fx.nrcpts, sizeof(*rv));
	if (rv == NULL) {
		noq_say("out of memory");
		goto out;
	}
	for (size_t i = 0; i < fx.nrcpts; i++)
		rv[i] = fx.rcpts[i];
	if (loop) {
		/* Exim fails every recipient before routing; in mua_wrapper
		   mode it reports the first as a failed routing. */
		report("routing %s yielded a failed delivery: Too many \"Received\" headers - "
		       "suspected mail loop", rv[0]);
		goto out;
	}
	route_ctx_init(e, fx.sender, false, msg, &rc);
	if (route_all(&rc, rv, fx.nrcpts, &res, err, sizeof(err)) != 0) {
		noq_say("%s", err);
		goto out;
	}
	order = route_order(&res);
	if (order == NULL) {
		noq_say("out of memory");
		goto out;
	}
	for (size_t i = 0; i < res.n && verbose; i++)
		if (res.v[order[i]].status == RS_DELIVER)
			trace("%s routed by %s", res.v[order[i]].addr,
			      router_name(e->m, res.v[order[i]].router));
	/* The routers' host lookups, for a delivery: the dry run looks
	   nothing up. */
	drop = calloc(e->m->route.nhosts ? e->m->route.nhosts : 1, sizeof(*drop));
	if (drop == NULL || (!e->cli.dry_run && routed_hosts(e->m, &res, drop) != 0)) {
		noq_say("out of memory");
		goto out;
	}
	if (route_failure(&res, err, sizeof(err)) >= 0) {
		report("%s", err);
		goto out;
	}
	if (res.config_problem) {
		report("Delivery failed: delivery to smarthost failed "
		       "(configuration problem)");
		goto out;
	}
	if (res.ndeliver == 0) {
		trace("every recipient was discarded (:blackhole:); nothing to send");
		status = EX_DONE;
		goto out;
	}

	/* The envelope sender on the wire: the transport's return_path, else
	   the route's errors_to, else the message's. */
	const char *rp = e->m->route.return_path ? e->m->route.return_path
						 : e->m->route.errors_to;

	if (rp != NULL) {
		env_from = expand_route_str(e, msg, rp, fx.sender,
					    e->m->route.return_path ? "return_path" : "errors_to",
					    &bad);
		if (bad)
			goto out;
	}

	/* DKIM: the header is final (fixups, rewriting, the transport's
	   header changes); the signatures count in SIZE=. */
	if (dk.on && sign_step(e, msg, fx.sender, now, msgid) != 0)
		goto out;

	struct msg_info mi;

	msg_info(msg, &mi);

	/* SMTPUTF8 (RFC 6531) when an envelope address needs it, as Exim
	   asks for it: 8-bit header fields go as 8-bit content (declared
	   with BODY=8BITMIME), which Exim, Postfix and msmtp deliver to a
	   server without SMTPUTF8. */
	const char *from = env_from ? env_from : fx.sender;
	bool utf8 = !is_ascii(from);

	for (size_t i = 0; i < res.n && !utf8; i++)
		if (res.v[i].status == RS_DELIVER && !is_ascii(res.v[i].addr))
			utf8 = true;

	if (!e->cli.dry_run) {
		status = send_message(e, msg, &mi, from, &res, order, drop, utf8, msgid);
		goto out;
	}

	/* The dry run: what would be sent, CR LF as on the wire. */
	for (size_t i = 0; i < e->m->route.nhosts; i++)
		put(stdout, "# host %s port %u\r\n", e->m->route.hosts[i].name,
		       host_port(e->m, &e->m->route.hosts[i]));
	const struct mdl_obj *tp = &e->m->transports[e->m->route.transport];
	long long sa = opt_num(tp, "size_addition", 1024);

	put(stdout, "MAIL FROM:<%s>", from);
	if (sa >= 0)
		put(stdout, " SIZE=%llu", (unsigned long long)mi.size + (unsigned long long)sa);
	put(stdout, "%s%s", mi.body_8bit || (mi.header_8bit && !utf8) ? " BODY=8BITMIME" : "",
	       utf8 ? " SMTPUTF8" : "");
	if (e->cli.ret)
		put(stdout, " RET=%s", e->cli.ret);
	if (e->cli.envid) {
		char x[400];

		smtp_xtext(x, sizeof(x), e->cli.envid);
		put(stdout, " ENVID=%s", x);
	}
	put(stdout, "\r\n");
	for (size_t k = 0; k < res.n; k++) {
		const struct route_node *nd = &res.v[order[k]];

		if (nd->status != RS_DELIVER)
			continue;
		char *ra = rcpt_of(tp, nd);

		put(stdout, "RCPT TO:<%s>", ra != NULL ? ra : nd->addr);
		free(ra);
		if (e->cli.notify) {
			char x[1100];

			smtp_orcpt(x, sizeof(x), nd->addr);
			put(stdout, " NOTIFY=%s ORCPT=%s", e->cli.notify, x);
		}
		put(stdout, "\r\n");
	}
	put(stdout, "DATA\r\n");
	fflush(stdout);
	if (msg_emit(msg, out_write, NULL, &me) != 0) {
		noq_say("%s", me.text);
		goto out;
	}
	put(stdout, ".\r\n");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		noq_say("writing the dry run failed: %s", strerror(errno));
		goto out;
	}
	status = EX_DONE;
out:
	early_end();
	dk_reset();
	free(gname);
	free(order);
	free(drop);
	free(rv);
	route_result_free(&res);
	fixup_out_free(&fx);
	free(env_from);
	return status;
}

int noq_size_limit(const struct env *e, uint64_t *limit, char *msg, size_t msglen)
{
	const struct mdl_opt *lim = mdl_opt_find(&e->m->main, "message_size_limit");
	long long v = 0;
	char m[200];

	*limit = 0;
	if (lim == NULL)
		return 0;
	if (lim->type == MT_INT) {
		v = lim->num;
	} else if (lim->str != NULL && !xp_expands(lim->str)) {
		/* What noqc warned about: Exim fails on it for every message. */
		if (xp_integer(lim->str, true, &v, m, sizeof(m)) != 0) {
			snprintf(msg, msglen, "invalid value for message_size_limit: %s", m);
			return -1;
		}
	}
	*limit = v > 0 ? (uint64_t)v : 0;
	return 0;
}

const struct msg_opts *noq_intake_opts(const struct env *e, struct msg_opts *mo,
				       bool ignore_dots, struct uucp *u)
{
	char msg[256];

	memset(mo, 0, sizeof(*mo));
	mo->flags = ignore_dots ? MSG_IGNORE_DOTS : 0;
	if (privileged)
		mo->tmpdir = "/tmp";    /* not the caller's $TMPDIR */
	if (noq_size_limit(e, &mo->size_max, msg, sizeof(msg)) != 0)
		mo->size_max = 0;       /* the callers refuse first */
	/* Exim's limits on the header section, and on the time to read. */
	const struct mdl_opt *o = mdl_opt_find(&e->m->main, "header_maxsize");

	if (o != NULL && o->type == MT_INT && o->num > 0)
		mo->header_max = (size_t)o->num;
	if ((o = mdl_opt_find(&e->m->main, "header_line_maxsize")) != NULL &&
	    o->type == MT_INT && o->num > 0)
		mo->field_max = (size_t)o->num;
	if ((o = mdl_opt_find(&e->m->main, "receive_timeout")) != NULL &&
	    o->type == MT_TIME && o->num > 0)
		mo->timeout_ms = o->num > 86400 ? 86400u * 1000 : (unsigned)o->num * 1000;
	if (u != NULL) {
		memset(u, 0, sizeof(*u));
		u->e = e;
		mo->first_line = uucp_line;
		mo->first_arg = u;
	}
	/* DKIM: the body hash is made while the message is read. */
	dk_reset();
	const struct mdl_obj *t = &e->m->transports[e->m->route.transport];

	if (sign_wanted(t)) {
		dk.on = true;
		dk.b = dkim_body_new(sign_canons(t), dk.err, sizeof(dk.err));
		if (dk.b != NULL) {
			mo->body = dk_feed;
			mo->body_arg = dk.b;
		}
	}
	return mo;
}

/* -bm: the message on stdin, the recipients on the command line. */
static int deliver(struct env *e)
{
	struct msg_opts mo;
	struct msg_err me;
	struct msg *msg = NULL;
	struct addr_list argv_rcpts;
	struct uucp uucp = { 0 };
	char *sender = NULL;
	int status = EX_FAIL;

	addr_list_init(&argv_rcpts);
	if (parse_argv_rcpts(e, &argv_rcpts) != 0)
		goto out;
	if (!e->cli.extract && too_many_rcpts(e, argv_rcpts.n))
		goto out;
	if (!e->cli.extract && argv_rcpts.n == 0) {
		noq_say("no recipients given: name them as arguments, or use -t to read "
			"them from the message");
		goto out;
	}
	if ((sender = envelope_sender(e)) == NULL)
		goto out;

	char why[256];
	uint64_t limit;

	if (noq_size_limit(e, &limit, why, sizeof(why)) != 0) {
		noq_say("%s", why);
		goto out;
	}
	noq_intake_opts(e, &mo, e->cli.ignore_dots, &uucp);
	mo.flags |= MSG_BODY_CR;        /* as Exim reads input that is not SMTP */
	/* The session begins while the message is read. */
	early_start(e, sender);
	if (msg_read(STDIN_FILENO, &mo, &msg, &me) != 0) {
		early_end();
		noq_say("message refused: %s", me.text);
		goto out;
	}
	early_join();
	if (uucp.sender != NULL) {
		free(sender);
		sender = uucp.sender;
		uucp.sender = NULL;
		e->sender_forced = true;
	}
	status = noq_process(e, msg, &argv_rcpts, sender, e->cli.extract, NULL, 0);
out:
	noq_uucp_free(&uucp);
	free(sender);
	msg_free(msg);
	addr_list_free(&argv_rcpts);
	return status;
}

int main(int argc, char **argv)
{
	struct env e;
	char err[512];
	int status;

	memset(&e, 0, sizeof(e));
	if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
		const char *b = strrchr(argv[0], '/');

		progname = b ? b + 1 : argv[0];
	}
	if (cli_parse(argc, argv, &e.cli, err, sizeof(err)) != 0) {
		noq_say("%s", err);
		fprintf(stderr, "%s: see '%s --help' or noq(8)\n", progname, progname);
		return EX_FAIL;
	}
	verbose = e.cli.verbose;
	priv_init();
	if (e.cli.policy != NULL && privileged) {
		/* sudo sendmail -C /etc/shadow: never read a file the caller
		   names with the group's rights. */
		priv_drop();
		trace("-C given: the setgid group is given up");
	}
	if (e.cli.ignored[0] != '\0')
		trace("accepted and ignored: %s", e.cli.ignored);

	switch (e.cli.mode) {
	case CLI_HELP:
		usage(stdout);
		return EX_DONE;
	case CLI_QUEUE:
		printf("Mail queue is empty: noq has no queue; every message is delivered "
		       "or refused when it is submitted.\n");
		return EX_DONE;
	case CLI_NEWALIASES:
		return newaliases(&e.cli);
	default:
		break;
	}

	caller_init(&e.caller);
	if (e.cli.mode == CLI_VERSION) {
		printf("noq %s (sendmail-compatible submitter: no queue, no daemon)\n",
		       PACKAGE_VERSION);
		if (load_policy(&e) == 0) {
			printf("policy %s, compiled by %s\n", e.policy_path,
			       pol_compiler_version(e.pol));
			check_policy_age(&e, true);
		}
		status = EX_DONE;
		goto out;
	}
	if (load_policy(&e) != 0) {
		status = EX_FAIL;
		goto out;
	}
	check_policy_age(&e, false);
	switch (e.cli.mode) {
	case CLI_TEST:
		status = test_addresses(&e, false);
		break;
	case CLI_VERIFY:
		status = test_addresses(&e, true);
		break;
	case CLI_SERVERINFO:
		status = server_info(&e);
		break;
	case CLI_SMTP:
		if (e.cli.dry_run) {
			noq_say("--dry-run cannot be used with -bs (the dry run writes to "
				"standard output, which is the SMTP session)");
			status = EX_FAIL;
			break;
		}
		status = bs_session(&e);
		break;
	default:
		status = deliver(&e);
		break;
	}
out:
	model_free(e.m);
	pol_close(e.pol);
	free(e.hostname);
	free(e.caller.gecos);
	free(e.caller.home);
	return status;
}
