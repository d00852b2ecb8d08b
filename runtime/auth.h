/*
 * auth.h -- SMTP AUTH as a client (RFC 4954), and the secrets it needs,
 * read at send time.
 *
 * Nothing here touches a socket.  The SMTP client asks for the AUTH
 * command line, sends it, and feeds each 334 reply's text to auth_step(),
 * which gives the line to send back; a 235 goes to auth_success(), which
 * is where SCRAM-SHA-256 insists on the server's proof.  Lines are given
 * without CR LF.
 *
 * Mechanisms:
 *
 *  - The plaintext driver (Exim's): client_send is a list, colon-separated
 *    unless it starts with "<" and another separator ("<;"); "::" stands
 *    for a ':' in an item; blanks around items are dropped; a separator
 *    at the very end makes no empty item (": a : b :" is "", "a", "b").  The first
 *    item goes with AUTH (an empty one means no initial response, as for
 *    LOGIN), the others answer each 334 in turn, whatever its text.  In
 *    the text an item is written with, "^" stands for a NUL octet and
 *    "^^" for a '^' (Exim reads "^^^" as '^' then NUL).  The PLAIN and
 *    LOGIN mechanisms are also available from a user and a password.
 *  - CRAM-MD5 (RFC 2195): "user hex(HMAC-MD5(secret, challenge))".
 *  - SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding ("n,,").
 *    The server must prove it knows the password: its signature (v=) is
 *    checked, and a server that accepts us without sending it, or with a
 *    wrong one, is refused.  Iteration counts below 4096 (RFC 7677's
 *    floor) or above 10,000,000 are refused.  Names are used as UTF-8
 *    octets without SASLprep normalisation.
 *  - XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC 7628) with a bearer
 *    token, typically from a token command run at send time.
 *
 * An initial response goes with AUTH only when the line fits in 512
 * octets (RFC 4954 section 4); otherwise AUTH goes alone, the server's
 * empty 334 gets the response.  A response line may be up to 12288
 * octets (RFC 4954); a longer one is an error (for an initial response,
 * before AUTH is sent).
 *
 * Secrets.  The policy never holds a secret that must stay out of it: it
 * names a file, or a command for OAuth tokens, evaluated here when a
 * message is sent.  auth_secret_expand() knows literal text (with Exim's
 * backslash escapes and \N...\N) and
 *   ${readfile{PATH}}       the file's contents, one trailing newline
 *                           (LF or CR LF) removed;
 *   ${readfile{PATH}{EOL}}  the same, then every remaining LF replaced by
 *                           EOL ("{}" removes them, as Exim users write
 *                           it; Exim would also turn the trailing one
 *                           into EOL).
 * Anything else after '$' is an error.  PATH must be absolute and name a
 * regular file of at most AUTH_SECRET_MAX octets, not empty, without NUL.
 * Unlike Exim, noq refuses a secret file that others may read (mode & 004):
 * "secret file /etc/noq/pw is readable by others (mode 0644); run chmod
 * o-r /etc/noq/pw".  A password anyone can read is not a secret, and noq
 * promises that secrets stay with the user or the group they belong to
 * (0600, or 0640 with noq's group).  In client_send items, the text a
 * ${readfile} gives is used as it is: a '^' in a password file is a '^',
 * never a NUL (Exim would convert it), so a file cannot change the
 * structure of a PLAIN response.
 *
 * Every copy of a secret this module makes is wiped (ossl_cleanse())
 * before it is freed; no secret is ever put in an error text, an argv or a
 * trace: auth_redact() turns the lines the client sends into
 * "AUTH PLAIN <redacted>" and "<redacted>" for -v.
 *
 * Errors are values: functions return 0, or -1 with a lowercase reason in
 * @err (@errlen octets, may be 0).  Nothing is printed.  Crypto comes from
 * OpenSSL, loaded on first use (ossl.h).
 */
#ifndef NOQ_AUTH_H
#define NOQ_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_LINE_MAX 512           /* AUTH command line, CR LF included */
#define AUTH_RESPONSE_MAX 12288     /* response line, CR LF included */
#define AUTH_SECRET_MAX 65536       /* a secret file or a token */
#define AUTH_ITEMS_MAX 16           /* items in a client_send list */
#define AUTH_TOKEN_TIMEOUT_MS 30000 /* default token command timeout */
#define AUTH_SCRAM_ITER_MIN 4096
#define AUTH_SCRAM_ITER_MAX 10000000

/* ---- mechanisms --------------------------------------------------------- */

enum auth_mech {
	AUTH_PLAIN,
	AUTH_LOGIN,
	AUTH_CRAM_MD5,
	AUTH_SCRAM_SHA_256,
	AUTH_XOAUTH2,
	AUTH_OAUTHBEARER,
};

#define AUTH_MECH_COUNT 6

/** auth_mech_name() - the SMTP name of @m ("CRAM-MD5"), or "?" if unknown. */
const char *auth_mech_name(enum auth_mech m);

/**
 * auth_mech_parse() - the mechanism called @name (case-insensitive:
 * "plain", "SCRAM-SHA-256").  Returns 0 with *@out set, or -1 for a name
 * this module does not implement.
 */
int auth_mech_parse(const char *name, enum auth_mech *out);

/* ---- send-time secrets -------------------------------------------------- */

/**
 * auth_secret_expand() - evaluate @spec as described at the top: literal
 * text and ${readfile{...}}.  On success *@out is a malloc'd,
 * NUL-terminated copy of the result (*@outlen octets, no NUL inside);
 * free it with auth_secret_free().  The result is bounded by
 * AUTH_SECRET_MAX.
 * Errors name offsets and files, never any text of @spec but a path (it
 * may hold a literal password): "'$' at offset 6: noq evaluates only
 * ${readfile{PATH}} and ${readfile{PATH}{EOL}} at send time", "missing
 * '}' in the ${readfile at offset 0", "secret file path 'pw' is not
 * absolute", "cannot open secret file /x: No such file or directory",
 * "secret file /x is not a regular file", "secret file /x is readable by
 * others (mode 0644); run chmod o-r /x", "secret file /x is empty",
 * "secret file /x contains a NUL byte", "secret file /x is larger than
 * 65536 octets".
 */
int auth_secret_expand(const char *spec, char **out, size_t *outlen, char *err,
		       size_t errlen);

/**
 * auth_secret_file() - the whole secret file @path (a DKIM key), under
 * the rules of ${readfile} above (absolute path, a regular file others
 * may not read, not empty, no NUL, at most AUTH_SECRET_MAX octets), its
 * line ends kept but the last.  *@out as auth_secret_expand() gives it.
 */
int auth_secret_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen);

/** auth_secret_free() - wipe @len octets at @s, then free it; NULL is fine. */
void auth_secret_free(char *s, size_t len);

/**
 * struct auth_cmd_opts - how to run a token command.  All-zero (or a NULL
 * pointer) gives the defaults.
 * @timeout_ms: the whole run, output and exit included; 0 means
 *              AUTH_TOKEN_TIMEOUT_MS.  When it passes, the command's
 *              process group is killed (SIGKILL).
 * @max_output: octets of standard output accepted; 0 means
 *              AUTH_SECRET_MAX.  More is an error, and the command is
 *              killed.
 * @envp:       the command's environment; NULL means the caller's.  A
 *              caller running with privileges (setgid noq) must pass a
 *              clean one: LD_PRELOAD and the like would reach a program
 *              running with its group.
 */
struct auth_cmd_opts {
	unsigned timeout_ms;
	size_t max_output;
	char *const *envp;
};

/**
 * auth_token_run() - run the token command @command and give its standard
 * output, one trailing newline (LF or CR LF) removed, in *@out (malloc'd,
 * NUL-terminated, *@outlen octets; free with auth_secret_free()).
 *
 * @command is not given to a shell and is not expanded: it is split into
 * words at blanks (space, tab); '...' quotes text as it is; "..." quotes
 * text in which \" and \\ stand for " and \; outside quotes a backslash
 * takes the next character as it is.  At most 64 words of 4096 octets in
 * all.  The first word must be an absolute path: it is run with execve(),
 * without a PATH search.  The command gets /dev/null as standard input, a
 * process group of its own, default signal handling, and no other open
 * descriptor of ours (the SMTP connection stays ours).  Its output ends
 * when every process holding its standard output and error has closed
 * them (a background process that keeps them open makes it time out).
 * Its standard error is read too, and its first line (sanitised, at most
 * 200 octets) goes into the error text when the command fails.
 *
 * Errors: "token command: unbalanced quote", "token command: 'x' is not
 * an absolute path", "cannot run token command /x: No such file or
 * directory", "token command /x exited with status 2: <first stderr
 * line>", "token command /x was killed by signal 9", "token command /x
 * timed out after 30 s", "token command /x printed more than 65536
 * octets", "token command /x printed nothing on its standard output",
 * "token command /x printed a NUL byte".
 *
 * The caller's SIGCHLD disposition is set to default for the duration of
 * the call (an ignored SIGCHLD, inherited from whoever ran us, would make
 * the exit status unavailable), then restored: not for threaded callers.
 */
int auth_token_run(const char *command, const struct auth_cmd_opts *opts, char **out,
		   size_t *outlen, char *err, size_t errlen);

/* ---- the client exchange ------------------------------------------------ */

/**
 * enum auth_state - where an exchange stands (auth_state_name() gives
 * names for -v traces).
 * @AUTH_ST_NEW:       auth_command() not called yet.
 * @AUTH_ST_HELD:      AUTH went without the initial response (too long for
 *                     the line); the next 334 gets it.
 * @AUTH_ST_EXCHANGE:  waiting for a 334 or the final reply.
 * @AUTH_ST_VERIFIED:  SCRAM: the server's signature is right; waiting for
 *                     235.
 * @AUTH_ST_REFUSED:   OAuth: the server sent its error (a 334 with JSON,
 *                     see auth_server_text()); we answered as the
 *                     mechanism requires and wait for its 5xx.
 * @AUTH_ST_DONE:      auth_success() accepted the 235.
 * @AUTH_ST_FAILED:    a step failed; the exchange must be cancelled ("*").
 */
enum auth_state {
	AUTH_ST_NEW,
	AUTH_ST_HELD,
	AUTH_ST_EXCHANGE,
	AUTH_ST_VERIFIED,
	AUTH_ST_REFUSED,
	AUTH_ST_DONE,
	AUTH_ST_FAILED,
};

/** auth_state_name() - "new", "held", "exchange", ... ("?" if unknown). */
const char *auth_state_name(enum auth_state s);

/**
 * struct auth_conf - a mechanism and what it needs, already evaluated
 * (auth_secret_expand(), auth_token_run()).  auth_new() copies
 * everything; the caller may wipe and free its copies right after.
 * @mech:      the mechanism.
 * @user:      PLAIN authentication identity, LOGIN user name, CRAM-MD5
 *             client_name, SCRAM username, OAuth user (XOAUTH2 user=,
 *             OAUTHBEARER a=).  Required but for OAUTHBEARER (may be
 *             NULL: no a=).
 * @secret:    the password (PLAIN, LOGIN, CRAM-MD5, SCRAM) or the bearer
 *             token (XOAUTH2, OAUTHBEARER), @secretlen octets.
 * @authzid:   PLAIN and SCRAM authorisation identity, or NULL.
 * @host:      OAUTHBEARER host=, or NULL to leave it out.
 * @port:      OAUTHBEARER port=, or 0 to leave it out.
 */
struct auth_conf {
	enum auth_mech mech;
	const char *user;
	const char *secret;
	size_t secretlen;
	const char *authzid;
	const char *host;
	unsigned port;
};

/** struct auth - one exchange (opaque). */
struct auth;

/**
 * auth_new() - prepare an exchange for @c.  Values are checked here, not
 * while talking: no NUL in any of them; for CRAM-MD5 and SCRAM no control
 * character in the user; for the OAuth mechanisms a token of visible ASCII
 * only ("the token for XOAUTH2 has an octet that is not visible ASCII at octet 5"),
 * and no control character in user and host.  CRAM-MD5 and SCRAM load
 * OpenSSL here (ossl_load()), so that a missing library is a clear error
 * before we connect.
 * Returns 0 with *@out (free with auth_free()), or -1 with @err.
 */
int auth_new(const struct auth_conf *c, struct auth **out, char *err, size_t errlen);

#define AUTH_IGNORE_INVALID_BASE64 0x1  /* client_ignore_invalid_base64 */

/**
 * auth_new_plaintext() - prepare Exim's plaintext driver: @public_name is
 * the mechanism name sent (letters, digits, '-', '_', at most 20), and
 * @items/@n the items of client_send as noqc split them (a list of
 * strings in the policy), each evaluated here with auth_secret_expand()'s
 * rules.  @flags: AUTH_IGNORE_INVALID_BASE64 (a 334 whose text is not
 * base64 is answered anyway; otherwise the exchange fails, as in Exim).
 * Errors: those of auth_secret_expand() prefixed with "client_send item
 * 2: ", "client_send is empty", "client_send has more than 16 items",
 * "invalid mechanism name 'x y'".
 */
int auth_new_plaintext(const char *public_name, const char *const *items, size_t n,
		       unsigned flags, struct auth **out, char *err, size_t errlen);

/**
 * auth_command() - the AUTH command, without CR LF: "AUTH NAME" or
 * "AUTH NAME <base64 initial response>", at most AUTH_LINE_MAX octets
 * with CR LF (no mechanism here has an empty initial response; an empty
 * first client_send item means none, as in Exim).  SCRAM picks its client nonce
 * here (ossl_random()).  *@line points into @a, valid until the next call
 * on @a; it may hold a secret: send it, never print it (auth_redact()).
 * Only once, in state AUTH_ST_NEW.  Returns 0, or -1 with @err.
 */
int auth_command(struct auth *a, const char **line, size_t *len, char *err,
		 size_t errlen);

/**
 * auth_step() - answer a 334 reply: @text (@len octets) is what follows
 * "334 " on its last line, base64 as RFC 4954 has it.  On success *@line
 * is the response to send (base64, may be ""), with the same lifetime and
 * care as auth_command()'s.
 * Returns -1 with @err when the exchange cannot go on; the caller then
 * cancels it with a "*" line, reads the reply, and fails.  Reasons:
 * "invalid base64: ..." in a challenge, "too few items in client_send for
 * the server's 334" (plaintext driver), "unexpected 334 after the last
 * CRAM-MD5 response", "SCRAM-SHA-256: the server's nonce does not extend
 * ours", "SCRAM-SHA-256: iteration count 1000 is not from 4096 to
 * 10000000", "SCRAM-SHA-256: the server's signature is wrong: it does
 * not know the password", "SCRAM-SHA-256: the server refused:
 * invalid-proof", ...
 */
int auth_step(struct auth *a, const char *text, size_t len, const char **line,
	      size_t *linelen, char *err, size_t errlen);

/**
 * auth_success() - the server said 235: is that enough?  Returns 0 (state
 * AUTH_ST_DONE) unless the mechanism is SCRAM-SHA-256 and the server has
 * not proved it knows the password: then -1 with "SCRAM-SHA-256: the
 * server accepted us without proving it knows the password", and the
 * caller must not send the message (QUIT).  Also -1 after an OAuth
 * refusal or a failed step.
 */
int auth_success(struct auth *a, char *err, size_t errlen);

/** auth_state() - where @a stands. */
enum auth_state auth_state(const struct auth *a);

/** auth_name() - the mechanism name @a sends ("PLAIN", a public_name). */
const char *auth_name(const struct auth *a);

/**
 * auth_server_text() - the error the server gave in a 334 (OAuth
 * mechanisms: its JSON, decoded and sanitised: octets outside ' '..'~'
 * become '?', at most 300), or NULL.
 */
const char *auth_server_text(const struct auth *a);

/** auth_free() - wipe every secret @a holds and free it; NULL is fine. */
void auth_free(struct auth *a);

/**
 * struct auth_hooks - for tests only.
 * @scram_nonce: the SCRAM client nonce to use instead of a random one
 *               (printable ASCII without ',').
 * @wiped:       called with each buffer @a wipes, just before it is freed
 *               (auth_step()'s copy of a challenge, and at auth_free()
 *               every buffer, secrets included).
 */
struct auth_hooks {
	const char *scram_nonce;
	void (*wiped)(void *ctx, const void *p, size_t len);
	void *ctx;
};

/** auth_set_hooks() - use @h (copied; NULL for none) for @a.  Tests only. */
void auth_set_hooks(struct auth *a, const struct auth_hooks *h);

/* ---- traces ------------------------------------------------------------- */

/**
 * auth_redact() - the form of a line we send that may be printed by -v:
 * for a command (@response false), "AUTH NAME <ir>" becomes
 * "AUTH NAME <redacted>" and any other line is copied; for a response to a
 * 334 (@response true), anything but "" and "*" becomes "<redacted>".
 * Writes at most @outsize octets with the NUL (truncating) and returns
 * @out.
 */
char *auth_redact(const char *line, size_t len, bool response, char *out,
		  size_t outsize);

#endif
