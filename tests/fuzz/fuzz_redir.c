/*
 * fuzz_redir.c -- libFuzzer target for what a redirect router reads at
 * send time (runtime/redir.c): a user's .forward file and the :include:
 * files it names, which the user writes and noq reads as Exim's
 * parse_forward_list() does.
 *
 * The target keeps a temporary directory with the homes of two users,
 * alice and bob, and compiles (once) four configurations whose first
 * router reads $home/.forward for check_local_user users, then sends
 * everything to a smart host:
 *   0  allow_fail, allow_defer;
 *   1  forbid_include, forbid_pipe, forbid_file, forbid_blackhole,
 *      skip_syntax_errors;
 *   2  include_directory (alice's home), qualify_preserve_domain,
 *      check_ancestor, allow_fail;
 *   3  a qualify_domain of its own, rewrite rules, no_repeat_use.
 *
 * Input: one byte (the configuration, low two bits; bob as a second
 * recipient, 0x04; bob's .forward the same text, 0x08), then up to three
 * texts separated by NUL bytes: alice's .forward, and the files
 * ~/inc1 and ~/inc2 of her home, in which "~/" stands for her home
 * directory (the paths are not known in advance).  The files are written
 * (mode 0600), and alice@example.org (and bob) are routed with
 * route_all(), twice.
 *
 * Checked: route_all() fails only at its documented limits; the two
 * routings are the same; the tree is well formed (parents before
 * children, tops, routers in range, ndeliver counted, a message on every
 * node, without a line feed); every address that is not a local
 * delivery is canonical and qualified (it parses again, alone, to
 * itself); local deliveries (and forbidden ones) start with '|' or '/'
 * and fail; the runtime tuple check never trips (noqc proved every route
 * the smart host router can take).  Any violation aborts, printing the
 * files; leaks and out-of-bounds reads are ASan's.  FUZZ_REDIR_VERBOSE=1
 * prints each routing tree.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "fuzzutil.h"
#include "model.h"
#include "policy.h"
#include "route.h"
#include "sb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCONF 4

static char dir[64];              /* the temporary directory */
static char home[2][96];          /* alice's and bob's */

static const char *const routers[NCONF] = {
	"  allow_fail\n"
	"  allow_defer\n",
	"  forbid_include\n"
	"  forbid_pipe\n"
	"  forbid_file\n"
	"  forbid_blackhole\n"
	"  skip_syntax_errors\n",
	"  qualify_preserve_domain\n"
	"  check_ancestor\n"
	"  allow_fail\n",
	"  qualify_domain = q.example\n"
	"  repeat_use = false\n",
};

/**
 * struct conf - one compiled configuration, as noq holds it.
 * @img: the policy's bytes; @pol: loaded from them; @m: its core model.
 */
struct conf {
	unsigned char *img;
	struct pol *pol;
	struct model *m;
};

static struct conf confs[NCONF];

static void cleanup(void)
{
	char path[160];

	for (int u = 0; u < 2; u++) {
		static const char *const files[] = { ".forward", "inc1", "inc2" };

		for (size_t f = 0; f < FZ_NEL(files); f++) {
			snprintf(path, sizeof(path), "%s/%s", home[u], files[f]);
			unlink(path);
		}
		rmdir(home[u]);
	}
	rmdir(dir);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/noq-fuzz-redir.XXXXXX",
		 tmp != NULL && tmp[0] == '/' && strlen(tmp) < 30 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		fz_fail("mkdtemp %s: %s", dir, strerror(errno));
	atexit(cleanup);
	for (int u = 0; u < 2; u++) {
		snprintf(home[u], sizeof(home[u]), "%s/%s", dir, u ? "bob" : "alice");
		if (mkdir(home[u], 0755) != 0)
			fz_fail("mkdir %s: %s", home[u], strerror(errno));
	}
	for (int c = 0; c < NCONF; c++) {
		struct sb text = SB_INIT;
		char *diags = NULL, err[POL_ERRLEN];
		size_t len;

		sb_printf(&text, "primary_hostname = mail.example.org\n"
			  "qualify_domain = example.org\n"
			  "domainlist local_domains = example.org : @ : localhost\n"
			  "begin routers\n"
			  "userforward:\n"
			  "  driver = redirect\n"
			  "  domains = +local_domains\n"
			  "  check_local_user\n"
			  "  file = $home/.forward\n");
		if (c == 2)
			sb_printf(&text, "  include_directory = %s\n", home[0]);
		sb_puts(&text, routers[c]);
		sb_puts(&text, FZ_SMARTHOST "begin rewrite\n*@old.example  $1@new.example  T\n");
		if (sb_str(&text) == NULL)
			fz_fail("out of memory");

		struct model *m = fz_compile(text.p, &diags);

		if (m == NULL)
			fz_fail("configuration %d does not compile:\n%s%s", c, text.p, diags);
		if (pol_encode(m, "fuzz_redir", &confs[c].img, &len, err) != 0 ||
		    pol_load(confs[c].img, len, &confs[c].pol, err) != 0 ||
		    pol_core_model(confs[c].pol, &confs[c].m, err) != 0)
			fz_fail("configuration %d does not load: %s", c, err);
		model_free(m);
		free(diags);
		sb_free(&text);
	}
}

static const struct passwd *fake_getpw(const char *name, void *arg)
{
	static struct passwd pw[2];
	static char names[2][8] = { "alice", "bob" };

	(void)arg;
	for (int u = 0; u < 2; u++)
		if (strcmp(name, names[u]) == 0) {
			pw[u].pw_name = names[u];
			pw[u].pw_dir = home[u];
			pw[u].pw_uid = getuid();
			pw[u].pw_gid = getgid();
			return &pw[u];
		}
	return NULL;
}

/* Write @n bytes of @p to @name in home @u, "~/" replaced by the home. */
static void put_file(int u, const char *name, const uint8_t *p, size_t n)
{
	char path[160];
	struct sb b = SB_INIT;
	int fd;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '~' && i + 1 < n && p[i + 1] == '/') {
			sb_puts(&b, home[0]);
			continue;
		}
		sb_putc(&b, p[i]);
	}
	snprintf(path, sizeof(path), "%s/%s", home[u], name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || b.err != SB_OK || (b.len > 0 && write(fd, b.p, b.len) != (ssize_t)b.len) ||
	    close(fd) != 0)
		fz_fail("writing %s: %s", path, strerror(errno));
	sb_free(&b);
}

static const char *const st_names[] = {
	"deliver", "redirected", "blackhole", "duplicate", "fail", "defer",
};

/* The routing tree as text, checked as it is written. */
static char *check_tree(const struct conf *c, const struct route_result *res, size_t ntop)
{
	struct sb d = SB_INIT;
	size_t nd = 0;

	if (res->ntop != ntop || res->n < ntop)
		fz_fail("%zu top-level nodes of %zu, not %zu", res->ntop, res->n, ntop);
	if (res->config_problem)
		fz_fail("the runtime tuple check tripped");
	for (size_t i = 0; i < res->n; i++) {
		const struct route_node *v = &res->v[i];

		if (v->addr == NULL || v->msg == NULL || (unsigned)v->status > RS_DEFER)
			fz_fail("node %zu is incomplete", i);
		if (i < ntop ? v->parent != -1 || v->top != (long)i
			     : v->parent < 0 || (size_t)v->parent >= i ||
			       v->top != res->v[v->parent].top)
			fz_fail("node %zu: parent %ld, top %ld", i, v->parent, v->top);
		if (v->router < -1 || v->router >= (long)c->m->nrouters)
			fz_fail("node %zu: router %ld", i, v->router);
		if (strchr(v->msg, '\n') != NULL)
			fz_fail("node %zu: a line break in its message \"%s\"", i, v->msg);
		/* A pipe or a file fails, as a local delivery (no message) or
		   as a forbidden one (the router's message); every other node is
		   a canonical, qualified address.  The message alone does not
		   tell a forbidden pipe or file ("/@example.org" is an address,
		   and ":fail:delivery to file forbidden" gives an address that
		   message): an address that parses is one. */
		bool forbidden = strcmp(v->msg, "delivery to pipe forbidden") == 0 ||
				 strcmp(v->msg, "delivery to file forbidden") == 0;

		if (v->local) {
			if (v->status != RS_FAIL || (v->addr[0] != '|' && v->addr[0] != '/') ||
			    v->msg[0] != '\0')
				fz_fail("node %zu: local delivery '%s' %s: %s", i, v->addr,
					st_names[v->status], v->msg);
		} else {
			struct addr_list l;

			addr_list_init(&l);
			if ((addr_parse(&l, v->addr, strlen(v->addr), ADDR_SINGLE) != ADDR_OK ||
			     l.n != 1 || strcmp(l.v[0].addr, v->addr) != 0 ||
			     l.v[0].domain == NULL) &&
			    !(forbidden && v->status == RS_FAIL &&
			      (v->addr[0] == '|' || v->addr[0] == '/')))
				fz_fail("node %zu: <%s> is not canonical and qualified, nor a "
					"forbidden pipe or file (%s: %s)", i, v->addr,
					st_names[v->status], v->msg);
			addr_list_free(&l);
		}
		nd += v->status == RS_DELIVER;
		sb_printf(&d, "%zu: %s %s %ld <%ld %s\n", i, v->addr, st_names[v->status],
			  v->router, v->parent, v->msg);
	}
	if (nd != res->ndeliver)
		fz_fail("ndeliver %zu, but %zu nodes delivered", res->ndeliver, nd);
	if (sb_str(&d) == NULL)
		fz_fail("out of memory");
	return sb_take(&d);
}

/* Route @rcpts; the tree as text, or NULL when a limit stopped routing. */
static char *route(const struct conf *c, const char *const *rcpts, size_t n)
{
	struct route_ctx ctx;
	struct route_result res = { 0 };
	char err[256], *tree;

	fz_route_ctx(&ctx, c->pol, c->m, "sender@example.net", fake_getpw);
	if (route_all(&ctx, rcpts, n, &res, err, sizeof(err)) != 0) {
		route_result_free(&res);
		if (strncmp(err, "too many addresses", 18) == 0 ||
		    strncmp(err, "routing loop", 12) == 0)
			return NULL;
		fz_fail("route_all failed: %s", err);
	}
	tree = check_tree(c, &res, n);
	route_result_free(&res);
	return tree;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rcpts[] = { "alice@example.org", "bob@example.org" };
	static const char *const names[] = { ".forward", "inc1", "inc2" };
	const uint8_t *p, *end;
	const struct conf *c;
	size_t nrcpt;

	if (dir[0] == '\0')
		setup();
	if (size == 0)
		return 0;
	fz_input(data, size);
	c = &confs[data[0] % NCONF];
	nrcpt = data[0] & 0x04 ? 2 : 1;

	/* The files: up to three texts, separated by NUL bytes. */
	p = data + 1;
	end = data + size;
	for (size_t f = 0; f < FZ_NEL(names); f++) {
		const uint8_t *z = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
		const uint8_t *e = f + 1 < FZ_NEL(names) && z != NULL ? z : end;

		put_file(0, names[f], p, (size_t)(e - p));
		if (f == 0)
			put_file(1, names[f], p, data[0] & 0x08 ? (size_t)(e - p) : 0);
		p = e < end ? e + 1 : end;
	}

	char *d1 = route(c, rcpts, nrcpt);
	char *d2 = route(c, rcpts, nrcpt);

	if ((d1 == NULL) != (d2 == NULL) || (d1 != NULL && strcmp(d1, d2) != 0)) {
		fprintf(stderr, "first routing:\n%s\nsecond routing:\n%s\n", d1 ? d1 : "(limit)",
			d2 ? d2 : "(limit)");
		fz_fail("routing is not deterministic");
	}
	if (getenv("FUZZ_REDIR_VERBOSE") != NULL)
		fprintf(stderr, "configuration %d:\n%s", data[0] % NCONF, d1 ? d1 : "(limit)\n");
	free(d1);
	free(d2);
	return 0;
}
