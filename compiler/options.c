/*
 * options.c -- the tables behind options.h: every option name Exim knows in
 * the main section and in the generic and private parts of routers,
 * transports and authenticators, each with its value type and what noq makes
 * of it.
 *
 * The names follow Exim 4.9x's own option lists, including those that exist
 * only in some builds (LDAP, Perl, content scanning, DMARC, Debian's
 * local_scan_path...), so that any configuration Exim accepts is read without
 * an "unknown option" error.  noq acts on the OPT_SUPPORTED ones; the others
 * draw a warning whose reason completes "option 'x' has no effect in noq: ".
 * Options that the mua_wrapper chapter of Exim's manual (the seed) ignores or
 * forces are OPT_FORCED and quote its rule.
 *
 * Each table is sorted by strcmp() because opt_find() uses bsearch(); the
 * unit test checks the order, so keep new entries in place.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "options.h"

#define SUP(name, type)		{ name, type, OPT_SUPPORTED, NULL, false, 0 }
#define IGN(name, type, why)	{ name, type, OPT_IGNORED, why, false, 0 }
#define FRC(name, type, why)	{ name, type, OPT_FORCED, why, false, 0 }
#define REF(name, type, why)	{ name, type, OPT_REFUSED, why, false, 0 }
/* Options Exim expands although they hold a number, time or boolean. */
#define SUPX(name, type)	{ name, type, OPT_SUPPORTED, NULL, true, 0 }
#define IGNX(name, type, why)	{ name, type, OPT_IGNORED, why, true, 0 }
#define FRCX(name, type, why)	{ name, type, OPT_FORCED, why, true, 0 }
/* Options Exim lets a driver set more than once (opt_def.rep). */
#define SUPR(name, type, rep)	{ name, type, OPT_SUPPORTED, NULL, false, rep }
#define REFR(name, type, rep, why) { name, type, OPT_REFUSED, why, false, rep }

#define TABLE(a)	{ a, sizeof(a) / sizeof((a)[0]) }
#define NO_OPTIONS	{ NULL, 0 }

/* Reasons shared by many options. */
#define R_ACL		"noq runs no access control lists"
#define R_BOUNCE	"noq sends no bounce messages"
#define R_CALLOUT	"noq does not verify addresses with callouts"
#define R_DAEMON	"noq runs no daemon"
#define R_DANE		"noq does not implement dane"
#define R_DB		"noq supports no database lookups"
#define R_DEBUG		"noq has no router or transport debugging output"
#define R_ENV		"noq runs without privilege and has no environment to clean"
#define R_EVENT		"noq raises no events"
#define R_FILTER	"noq runs no exim or sieve filters"
#define R_FINAL		"noq only relays, and this header belongs to the final delivery"
#define R_FREEZE	"noq never freezes a message"
#define R_GNUTLS	"noq uses openssl, not gnutls"
#define R_LOCAL		"noq makes no local deliveries"
#define R_LOCAL_SCAN	"noq has no local_scan function"
#define R_LOGFILE	"noq logs only to syslog"
#define R_LOGLINE	"noq logs one line per message"
#define R_ONE_MSG	"noq sends one message per connection"
#define R_PERL		"noq has no embedded perl"
#define R_PRIV		"noq runs without privilege"
#define R_PRIV_ID	"noq runs without privilege and cannot change user or group"
#define R_QUEUE		"noq never queues a message"
#define R_RESOLVER	"noq looks host names up with the system resolver"
#define R_RESUME	"noq keeps no tls session cache"
#define R_RUNNER	"noq runs no queue runners"
#define R_SCAN		"noq does not scan message content"
#define R_SELF		"noq does not check whether a smart host is this machine"
#define R_SERVER	"noq does not accept incoming SMTP"
#define R_SIGN		"noq does not sign messages"
#define R_SPOOL		"noq keeps no spool"
#define R_SYSFILTER	"noq runs no system filter"
#define R_TLS_SERVER \
	"noq does not accept incoming SMTP (client tls options go on the smtp transport)"
#define R_VERIFY	"noq does not verify incoming messages"
#define R_VRFY_ADDR	"noq does not verify addresses"
#define R_WHOLE		"noq sends the whole message to the smart host"

/* The seed's rules (Exim's mua_wrapper chapter). */
#define S_DROP_PRIV	"mua_wrapper mode forces deliver_drop_privilege to true"
#define S_FALLBACK	"mua_wrapper mode ignores fallback hosts"
#define S_MAX_RCPT	"mua_wrapper mode forces max_rcpt to unlimited"
#define S_PARALLEL	"mua_wrapper mode forces remote_max_parallel to 1"
#define S_QUEUEING	"mua_wrapper mode delivers at once and ignores all queueing options"
#define S_RETRY		"mua_wrapper mode keeps no retry data and ignores retry rules"

/*
 * Main section.  Exim's fixed-point options (queue_only_load and friends) are
 * typed as strings since no other type reads "2.5".  The main tls_* options
 * configure Exim's TLS server; the client's live on the smtp transport.
 */
static const struct opt_def main_opts[] = {
	IGN("accept_8bitmime", OPT_BOOL, R_SERVER),
	IGN("acl_not_smtp", OPT_STRING, R_ACL),
	IGN("acl_not_smtp_mime", OPT_STRING, R_ACL),
	IGN("acl_not_smtp_start", OPT_STRING, R_ACL),
	IGN("acl_smtp_atrn", OPT_STRING, R_SERVER),
	IGN("acl_smtp_auth", OPT_STRING, R_SERVER),
	IGN("acl_smtp_connect", OPT_STRING, R_SERVER),
	IGN("acl_smtp_data", OPT_STRING, R_SERVER),
	IGN("acl_smtp_data_prdr", OPT_STRING, R_SERVER),
	IGN("acl_smtp_dkim", OPT_STRING, R_SERVER),
	IGN("acl_smtp_etrn", OPT_STRING, R_SERVER),
	IGN("acl_smtp_expn", OPT_STRING, R_SERVER),
	IGN("acl_smtp_helo", OPT_STRING, R_SERVER),
	IGN("acl_smtp_mail", OPT_STRING, R_SERVER),
	IGN("acl_smtp_mailauth", OPT_STRING, R_SERVER),
	IGN("acl_smtp_mime", OPT_STRING, R_SERVER),
	IGN("acl_smtp_notquit", OPT_STRING, R_SERVER),
	IGN("acl_smtp_predata", OPT_STRING, R_SERVER),
	IGN("acl_smtp_quit", OPT_STRING, R_SERVER),
	IGN("acl_smtp_rcpt", OPT_STRING, R_SERVER),
	IGN("acl_smtp_starttls", OPT_STRING, R_SERVER),
	IGN("acl_smtp_vrfy", OPT_STRING, R_SERVER),
	IGN("acl_smtp_wellknown", OPT_STRING, R_SERVER),
	IGN("add_environment", OPT_LIST, R_ENV),
	IGN("admin_groups", OPT_LIST, R_PRIV),
	SUP("allow_domain_literals", OPT_BOOL),
	IGN("allow_mx_to_ip", OPT_BOOL, "noq does not look up mx records"),
	IGN("allow_utf8_domains", OPT_BOOL,
	    "noq, like exim built with i18n support, takes utf-8 domains in envelope addresses"),
	IGN("auth_advertise_hosts", OPT_LIST, R_SERVER),
	IGN("auto_thaw", OPT_TIME, R_FREEZE),
	IGN("av_scanner", OPT_STRING, R_SCAN),
	SUP("bcc_remove", OPT_BOOL),    /* noq's: Bcc goes without -t too */
	IGN("bi_command", OPT_STRING, "noq runs no command for -bi"),
	IGN("bounce_message_file", OPT_STRING, R_BOUNCE),
	IGN("bounce_message_text", OPT_STRING, R_BOUNCE),
	IGN("bounce_return_body", OPT_BOOL, R_BOUNCE),
	IGN("bounce_return_linesize_limit", OPT_INT, R_BOUNCE),
	IGN("bounce_return_message", OPT_BOOL, R_BOUNCE),
	IGN("bounce_return_size_limit", OPT_INT, R_BOUNCE),
	IGN("bounce_sender_authentication", OPT_STRING, R_BOUNCE),
	IGN("callout_domain_negative_expire", OPT_TIME, R_CALLOUT),
	IGN("callout_domain_positive_expire", OPT_TIME, R_CALLOUT),
	IGN("callout_negative_expire", OPT_TIME, R_CALLOUT),
	IGN("callout_positive_expire", OPT_TIME, R_CALLOUT),
	IGN("callout_random_local_part", OPT_STRING, R_CALLOUT),
	IGN("check_log_inodes", OPT_INT, R_LOGFILE),
	IGN("check_log_space", OPT_KINT, R_LOGFILE),
	SUP("check_rfc2047_length", OPT_BOOL),
	IGN("check_spool_inodes", OPT_INT, R_SPOOL),
	IGN("check_spool_space", OPT_KINT, R_SPOOL),
	IGN("chunking_advertise_hosts", OPT_LIST, R_SERVER),
	IGN("commandline_checks_require_admin", OPT_BOOL, R_PRIV),
	IGN("daemon_smtp_port", OPT_LIST, R_DAEMON),
	IGN("daemon_smtp_ports", OPT_LIST, R_DAEMON),
	IGN("daemon_startup_retries", OPT_INT, R_DAEMON),
	IGN("daemon_startup_sleep", OPT_TIME, R_DAEMON),
	IGN("dcc_direct_add_header", OPT_BOOL, R_SCAN),
	IGN("dccifd_address", OPT_STRING, R_SCAN),
	IGN("dccifd_options", OPT_STRING, R_SCAN),
	IGN("debug_store", OPT_BOOL, "it only affects exim's internal debugging"),
	IGN("delay_warning", OPT_LIST, R_QUEUE),
	IGN("delay_warning_condition", OPT_STRING, R_QUEUE),
	FRC("deliver_drop_privilege", OPT_BOOL, S_DROP_PRIV),
	IGN("deliver_queue_load_max", OPT_STRING, R_RUNNER),
	SUP("delivery_date_remove", OPT_BOOL),
	IGN("disable_fsync", OPT_BOOL, R_SPOOL),
	SUP("disable_ipv6", OPT_BOOL),
	IGN("dkim_verify_hashes", OPT_LIST, R_VERIFY),
	IGN("dkim_verify_keytypes", OPT_LIST, R_VERIFY),
	IGN("dkim_verify_min_keysizes", OPT_STRING, R_VERIFY),
	IGN("dkim_verify_minimal", OPT_BOOL, R_VERIFY),
	IGN("dkim_verify_signers", OPT_LIST, R_VERIFY),
	IGN("dmarc_forensic_sender", OPT_STRING, R_VERIFY),
	IGN("dmarc_history_file", OPT_STRING, R_VERIFY),
	IGN("dmarc_tld_file", OPT_STRING, R_VERIFY),
	IGN("dns_again_means_nonexist", OPT_LIST, R_RESOLVER),
	IGN("dns_check_names_pattern", OPT_STRING, R_RESOLVER),
	IGN("dns_cname_loops", OPT_INT, R_RESOLVER),
	IGN("dns_csa_search_limit", OPT_INT, R_SERVER),
	IGN("dns_csa_use_reverse", OPT_BOOL, R_SERVER),
	IGN("dns_dnssec_ok", OPT_INT, R_RESOLVER),
	IGN("dns_ipv4_lookup", OPT_LIST, R_RESOLVER),
	IGN("dns_retrans", OPT_TIME, R_RESOLVER),
	IGN("dns_retry", OPT_INT, R_RESOLVER),
	IGN("dns_trust_aa", OPT_LIST, R_RESOLVER),
	IGN("dns_use_edns0", OPT_INT, R_RESOLVER),
	IGN("drop_cr", OPT_BOOL, "it is obsolete and does nothing in exim either"),
	IGN("dsn_advertise_hosts", OPT_LIST, R_SERVER),
	IGN("dsn_from", OPT_STRING, R_BOUNCE),
	SUP("envelope_to_remove", OPT_BOOL),
	IGN("errors_copy", OPT_LIST, R_BOUNCE),
	IGN("errors_reply_to", OPT_STRING, R_BOUNCE),
	IGN("event_action", OPT_STRING, R_EVENT),
	IGN("exim_group", OPT_GID, R_PRIV),
	IGN("exim_path", OPT_STRING, "noq never re-executes itself"),
	IGN("exim_user", OPT_UID, R_PRIV),
	IGN("exim_version", OPT_STRING, "noq reports its own version"),
	IGN("extra_local_interfaces", OPT_LIST, R_SERVER),
	SUP("extract_addresses_remove_arguments", OPT_BOOL),
	IGN("finduser_retries", OPT_INT, "noq looks each user up once"),
	IGN("freeze_tell", OPT_STRING, R_FREEZE),
	SUP("gecos_name", OPT_STRING),
	SUP("gecos_pattern", OPT_STRING),
	IGN("gnutls_allow_auto_pkcs11", OPT_BOOL, R_GNUTLS),
	IGN("gnutls_compat_mode", OPT_BOOL, R_GNUTLS),
	SUP("header_line_maxsize", OPT_INT),
	SUP("header_maxsize", OPT_INT),
	SUP("headers_charset", OPT_STRING),
	IGN("helo_accept_junk_hosts", OPT_LIST, R_SERVER),
	IGN("helo_allow_chars", OPT_STRING, R_SERVER),
	IGN("helo_lookup_domains", OPT_LIST, R_SERVER),
	IGN("helo_try_verify_hosts", OPT_LIST, R_SERVER),
	IGN("helo_verify_hosts", OPT_LIST, R_SERVER),
	FRC("hold_domains", OPT_LIST, S_QUEUEING),
	IGN("host_lookup", OPT_LIST, R_SERVER),
	IGN("host_lookup_order", OPT_LIST, R_SERVER),
	IGN("host_reject_connection", OPT_LIST, R_SERVER),
	IGN("hosts_connection_nolog", OPT_LIST, R_SERVER),
	IGN("hosts_proxy", OPT_LIST, R_SERVER),
	IGN("hosts_require_alpn", OPT_LIST, R_SERVER),
	IGN("hosts_require_helo", OPT_LIST, R_SERVER),
	IGN("hosts_treat_as_local", OPT_LIST, R_LOCAL),
	IGN("ibase_servers", OPT_LIST, R_DB),
	IGN("ignore_bounce_errors_after", OPT_TIME, R_BOUNCE),
	IGN("ignore_fromline_hosts", OPT_LIST, R_SERVER),
	SUP("ignore_fromline_local", OPT_BOOL),
	IGN("keep_environment", OPT_LIST, R_ENV),
	IGN("keep_malformed", OPT_TIME, R_SPOOL),
	IGN("ldap_ca_cert_dir", OPT_STRING, R_DB),
	IGN("ldap_ca_cert_file", OPT_STRING, R_DB),
	IGN("ldap_cert_file", OPT_STRING, R_DB),
	IGN("ldap_cert_key", OPT_STRING, R_DB),
	IGN("ldap_cipher_suite", OPT_STRING, R_DB),
	IGN("ldap_default_servers", OPT_LIST, R_DB),
	IGN("ldap_require_cert", OPT_STRING, R_DB),
	IGN("ldap_start_tls", OPT_BOOL, R_DB),
	IGN("ldap_version", OPT_INT, R_DB),
	IGN("limits_advertise_hosts", OPT_LIST, R_SERVER),
	SUP("local_from_check", OPT_BOOL),
	SUP("local_from_prefix", OPT_STRING),
	SUP("local_from_suffix", OPT_STRING),
	IGN("local_interfaces", OPT_LIST, R_SERVER),
	IGN("local_scan_path", OPT_STRING, R_LOCAL_SCAN),	/* Debian's */
	IGN("local_scan_timeout", OPT_TIME, R_LOCAL_SCAN),
	SUP("local_sender_retain", OPT_BOOL),
	IGN("localhost_number", OPT_STRING, R_SPOOL),
	IGN("log_file_path", OPT_LIST, R_LOGFILE),
	IGN("log_selector", OPT_STRING, R_LOGLINE),
	IGN("log_timezone", OPT_BOOL, R_LOGFILE),
	IGN("lookup_open_max", OPT_INT, "noq keeps no lookup files open"),
	IGN("max_username_length", OPT_INT, R_LOCAL),
	IGN("message_body_newlines", OPT_BOOL, "noq does not expand $message_body"),
	IGN("message_body_visible", OPT_INT, "noq does not expand $message_body"),
	SUP("message_id_header_domain", OPT_STRING),
	SUP("message_id_header_text", OPT_STRING),
	IGN("message_logs", OPT_BOOL, R_SPOOL),
	SUP("message_size_limit", OPT_XINT),
	IGN("move_frozen_messages", OPT_BOOL, R_FREEZE),
	SUP("mua_wrapper", OPT_BOOL),
	IGN("mysql_servers", OPT_LIST, R_DB),
	IGN("never_users", OPT_LIST, R_LOCAL),
	IGN("notifier_socket", OPT_STRING, R_DAEMON),
	IGN("openssl_options", OPT_STRING, "noq keeps openssl's default options"),
	IGN("oracle_servers", OPT_LIST, R_DB),
	IGN("panic_coredump", OPT_BOOL, "noq keeps no panic log"),
	SUP("percent_hack_domains", OPT_LIST),
	IGN("perl_at_start", OPT_BOOL, R_PERL),
	IGN("perl_startup", OPT_STRING, R_PERL),
	IGN("perl_taintmode", OPT_BOOL, R_PERL),
	IGN("pgsql_servers", OPT_LIST, R_DB),
	IGN("pid_file_path", OPT_STRING, R_DAEMON),
	IGN("pipelining_advertise_hosts", OPT_LIST, R_SERVER),
	IGN("pipelining_connect_advertise_hosts", OPT_LIST, R_SERVER),
	IGN("prdr_enable", OPT_BOOL, R_SERVER),
	IGN("preserve_message_logs", OPT_BOOL, R_SPOOL),
	SUP("primary_hostname", OPT_STRING),
	IGN("print_topbitchars", OPT_BOOL,
	    "noq prints every octet outside printable ascii escaped"),
	IGN("process_log_path", OPT_STRING, R_LOGFILE),
	IGN("prod_requires_admin", OPT_BOOL, R_QUEUE),
	IGN("proxy_protocol_timeout", OPT_TIME, R_SERVER),
	SUP("qualify_domain", OPT_STRING),
	SUP("qualify_recipient", OPT_STRING),
	FRC("queue_domains", OPT_LIST, S_QUEUEING),
	IGN("queue_fast_ramp", OPT_BOOL, R_RUNNER),
	IGN("queue_list_requires_admin", OPT_BOOL, R_QUEUE),
	FRC("queue_only", OPT_BOOL, S_QUEUEING),
	FRC("queue_only_file", OPT_STRING, S_QUEUEING),
	FRC("queue_only_load", OPT_STRING, S_QUEUEING),
	FRC("queue_only_load_latch", OPT_BOOL, S_QUEUEING),
	FRC("queue_only_override", OPT_BOOL, S_QUEUEING),
	IGN("queue_run_in_order", OPT_BOOL, R_RUNNER),
	IGN("queue_run_max", OPT_XINT, R_RUNNER),
	FRC("queue_smtp_domains", OPT_LIST, S_QUEUEING),
	SUP("receive_timeout", OPT_TIME),
	SUP("received_header_text", OPT_STRING),
	SUP("received_headers_max", OPT_INT),
	IGN("recipient_unqualified_hosts", OPT_LIST, R_SERVER),
	SUPX("recipients_max", OPT_INT),
	IGN("recipients_max_reject", OPT_BOOL, R_SERVER),
	IGN("redis_servers", OPT_LIST, R_DB),
	FRC("remote_max_parallel", OPT_INT, S_PARALLEL),
	IGN("remote_sort_domains", OPT_LIST,
	    "noq sends each message to a single list of hosts"),
	FRC("retry_data_expire", OPT_TIME, S_RETRY),
	FRC("retry_interval_max", OPT_TIME, S_RETRY),
	SUP("return_path_remove", OPT_BOOL),
	IGN("return_size_limit", OPT_INT, R_BOUNCE),
	IGN("rfc1413_hosts", OPT_LIST, R_SERVER),
	IGN("rfc1413_query_timeout", OPT_TIME, R_SERVER),
	IGN("sender_unqualified_hosts", OPT_LIST, R_SERVER),
	IGN("slow_lookup_log", OPT_INT, "noq does not time its lookups"),
	IGN("smtp_accept_keepalive", OPT_BOOL, R_SERVER),
	IGN("smtp_accept_max", OPT_INT, R_SERVER),
	IGN("smtp_accept_max_nonmail", OPT_INT, R_SERVER),
	IGN("smtp_accept_max_nonmail_hosts", OPT_LIST, R_SERVER),
	IGN("smtp_accept_max_per_connection", OPT_XINT, R_SERVER),
	IGN("smtp_accept_max_per_host", OPT_STRING, R_SERVER),
	IGN("smtp_accept_queue", OPT_INT, R_SERVER),
	IGN("smtp_accept_queue_per_connection", OPT_INT, R_SERVER),
	IGN("smtp_accept_reserve", OPT_INT, R_SERVER),
	IGN("smtp_active_hostname", OPT_STRING, R_SERVER),
	IGN("smtp_backlog_monitor", OPT_INT, R_SERVER),
	IGN("smtp_banner", OPT_STRING, R_SERVER),
	IGN("smtp_check_spool_space", OPT_BOOL, R_SERVER),
	IGN("smtp_connect_backlog", OPT_INT, R_SERVER),
	IGN("smtp_enforce_sync", OPT_BOOL, R_SERVER),
	IGN("smtp_etrn_command", OPT_STRING, R_SERVER),
	IGN("smtp_etrn_serialize", OPT_BOOL, R_SERVER),
	IGN("smtp_load_reserve", OPT_STRING, R_SERVER),
	IGN("smtp_max_synprot_errors", OPT_INT, R_SERVER),
	SUP("smtp_max_unknown_commands", OPT_INT),      /* for -bs */
	IGN("smtp_ratelimit_hosts", OPT_LIST, R_SERVER),
	IGN("smtp_ratelimit_mail", OPT_STRING, R_SERVER),
	IGN("smtp_ratelimit_rcpt", OPT_STRING, R_SERVER),
	IGNX("smtp_receive_timeout", OPT_TIME, R_SERVER),
	IGN("smtp_reserve_hosts", OPT_LIST, R_SERVER),
	IGN("smtp_return_error_details", OPT_BOOL, R_SERVER),
	IGN("smtputf8_advertise_hosts", OPT_LIST, R_SERVER),
	IGN("spamd_address", OPT_STRING, R_SCAN),
	IGN("spf_guess", OPT_STRING, R_VERIFY),
	IGN("spf_smtp_comment_template", OPT_STRING, R_VERIFY),
	IGN("split_spool_directory", OPT_BOOL, R_SPOOL),
	IGN("spool_directory", OPT_STRING, R_SPOOL),
	IGN("spool_wireformat", OPT_BOOL, R_SPOOL),
	IGN("sqlite_dbfile", OPT_STRING, R_DB),
	IGN("sqlite_lock_timeout", OPT_TIME, R_DB),
	IGN("strict_acl_vars", OPT_BOOL, R_ACL),
	SUP("strip_excess_angle_brackets", OPT_BOOL),
	SUP("strip_trailing_dot", OPT_BOOL),
	IGN("syslog_duplication", OPT_BOOL, R_LOGLINE),
	SUP("syslog_facility", OPT_STRING),
	SUP("syslog_pid", OPT_BOOL),
	SUP("syslog_processname", OPT_STRING),
	IGN("syslog_timestamp", OPT_BOOL,
	    "noq's syslog lines carry no time of their own (syslog adds one)"),
	IGN("system_filter", OPT_STRING, R_SYSFILTER),
	IGN("system_filter_directory_transport", OPT_STRING, R_SYSFILTER),
	IGN("system_filter_file_transport", OPT_STRING, R_SYSFILTER),
	IGN("system_filter_group", OPT_GID, R_SYSFILTER),
	IGN("system_filter_pipe_transport", OPT_STRING, R_SYSFILTER),
	IGN("system_filter_reply_transport", OPT_STRING, R_SYSFILTER),
	IGN("system_filter_user", OPT_UID, R_SYSFILTER),
	IGN("tcp_nodelay", OPT_BOOL, R_DAEMON),
	IGN("tcp_wrappers_daemon_name", OPT_STRING, R_DAEMON),
	IGN("timeout_frozen_after", OPT_TIME, R_FREEZE),
	SUP("timezone", OPT_STRING),
	IGN("tls_advertise_hosts", OPT_LIST, R_TLS_SERVER),
	IGN("tls_alpn", OPT_LIST, R_TLS_SERVER),
	IGN("tls_certificate", OPT_STRING, R_TLS_SERVER),
	IGN("tls_crl", OPT_STRING, R_TLS_SERVER),
	IGN("tls_dh_max_bits", OPT_INT, R_TLS_SERVER),
	IGN("tls_dhparam", OPT_STRING, R_TLS_SERVER),
	IGN("tls_eccurve", OPT_STRING, R_TLS_SERVER),
	IGN("tls_ocsp_file", OPT_STRING, R_TLS_SERVER),
	IGN("tls_on_connect_ports", OPT_LIST, R_TLS_SERVER),
	IGN("tls_privatekey", OPT_STRING, R_TLS_SERVER),
	IGN("tls_remember_esmtp", OPT_BOOL, R_TLS_SERVER),
	IGN("tls_require_ciphers", OPT_STRING, R_TLS_SERVER),
	IGN("tls_resumption_hosts", OPT_LIST, R_TLS_SERVER),
	IGN("tls_try_verify_hosts", OPT_LIST, R_TLS_SERVER),
	IGN("tls_verify_certificates", OPT_STRING, R_TLS_SERVER),
	IGN("tls_verify_hosts", OPT_LIST, R_TLS_SERVER),
	SUP("trusted_groups", OPT_LIST),
	SUP("trusted_users", OPT_LIST),
	SUP("unknown_login", OPT_STRING),
	SUP("unknown_username", OPT_STRING),
	SUP("untrusted_set_sender", OPT_LIST),
	SUP("uucp_from_pattern", OPT_STRING),
	SUP("uucp_from_sender", OPT_STRING),
	IGN("warn_message_file", OPT_STRING, R_QUEUE),
	IGN("wellknown_advertise_hosts", OPT_LIST, R_SERVER),
	IGN("write_rejectlog", OPT_BOOL, R_LOGFILE),
};

/*
 * Generic router options.  "set" is a semicolon-separated list and
 * "headers_add" a newline-separated one, so both are strings here: the colon
 * list reader would cut them at the wrong places.  As in Exim, "condition",
 * "headers_add", "headers_remove" and "set" may be given more than once:
 * the conditions must all hold, the lists are joined.
 */
static const struct opt_def router_opts[] = {
	SUP("address_data", OPT_STRING),
	IGN("address_test", OPT_BOOL, "noq routes only real deliveries"),
	SUP("cannot_route_message", OPT_STRING),
	SUP("caseful_local_part", OPT_BOOL),
	SUP("check_local_user", OPT_BOOL),
	SUPR("condition", OPT_STRING, OPT_REP_AND),
	IGN("debug_print", OPT_STRING, R_DEBUG),
	IGN("disable_logging", OPT_BOOL, R_LOGLINE),
	IGN("dnssec_request_domains", OPT_LIST, R_RESOLVER),
	IGN("dnssec_require_domains", OPT_LIST, R_RESOLVER),
	SUP("domains", OPT_LIST),
	SUP("driver", OPT_STRING),
	IGN("dsn_lasthop", OPT_BOOL, R_BOUNCE),
	SUP("errors_to", OPT_STRING),
	IGN("expn", OPT_BOOL, R_SERVER),
	IGN("fail_verify", OPT_BOOL, R_VRFY_ADDR),
	IGN("fail_verify_recipient", OPT_BOOL, R_VRFY_ADDR),
	IGN("fail_verify_sender", OPT_BOOL, R_VRFY_ADDR),
	FRC("fallback_hosts", OPT_LIST, S_FALLBACK),
	IGN("group", OPT_GID, R_PRIV_ID),
	SUPR("headers_add", OPT_STRING, '\n'),
	SUPR("headers_remove", OPT_LIST, ':'),
	SUP("ignore_target_hosts", OPT_LIST),
	IGN("initgroups", OPT_BOOL, R_PRIV_ID),
	SUP("local_part_prefix", OPT_LIST),
	SUP("local_part_prefix_optional", OPT_BOOL),
	SUP("local_part_suffix", OPT_LIST),
	SUP("local_part_suffix_optional", OPT_BOOL),
	SUP("local_parts", OPT_LIST),
	IGN("log_as_local", OPT_BOOL, R_LOGLINE),
	SUPX("more", OPT_BOOL),
	REF("pass_on_timeout", OPT_BOOL,
	    "after a dns timeout the address would go on to another router, "
	    "which the single-transaction proof cannot follow"),
	SUP("pass_router", OPT_STRING),
	SUP("redirect_router", OPT_STRING),
	SUP("require_files", OPT_LIST),
	FRC("retry_use_local_part", OPT_BOOL, S_RETRY),
	SUP("router_home_directory", OPT_STRING),
	IGN("self", OPT_STRING, R_SELF),
	SUP("senders", OPT_LIST),
	REFR("set", OPT_STRING, ';', "noq has no router variables ($r_...)"),
	IGN("translate_ip_address", OPT_STRING,
	    "noq does not translate host addresses"),
	SUP("transport", OPT_STRING),
	IGN("transport_current_directory", OPT_STRING, R_LOCAL),
	IGN("transport_home_directory", OPT_STRING, R_LOCAL),
	SUPX("unseen", OPT_BOOL),
	IGN("user", OPT_UID, R_PRIV_ID),
	IGN("verify", OPT_BOOL, R_VRFY_ADDR),
	SUP("verify_only", OPT_BOOL),
	IGN("verify_recipient", OPT_BOOL, R_VRFY_ADDR),
	IGN("verify_sender", OPT_BOOL, R_VRFY_ADDR),
};

/* Generic transport options; headers_add and headers_remove may repeat. */
static const struct opt_def transport_opts[] = {
	REF("body_only", OPT_BOOL, R_WHOLE),
	IGN("current_directory", OPT_STRING, R_LOCAL),
	IGN("debug_print", OPT_STRING, R_DEBUG),
	IGN("delivery_date_add", OPT_BOOL, R_FINAL),
	IGN("disable_logging", OPT_BOOL, R_LOGLINE),
	SUP("driver", OPT_STRING),
	IGN("envelope_to_add", OPT_BOOL, R_FINAL),
	IGN("event_action", OPT_STRING, R_EVENT),
	IGN("group", OPT_GID, R_PRIV_ID),
	SUPR("headers_add", OPT_STRING, '\n'),
	REF("headers_only", OPT_BOOL, R_WHOLE),
	SUPR("headers_remove", OPT_LIST, ':'),
	SUP("headers_rewrite", OPT_STRING),
	IGN("home_directory", OPT_STRING, R_LOCAL),
	IGN("initgroups", OPT_BOOL, R_PRIV_ID),
	IGN("max_parallel", OPT_XINT, "noq makes one delivery at a time"),
	SUP("message_size_limit", OPT_XINT),
	SUP("rcpt_include_affixes", OPT_BOOL),
	FRC("retry_use_local_part", OPT_BOOL, S_RETRY),
	SUP("return_path", OPT_STRING),
	IGN("return_path_add", OPT_BOOL, R_FINAL),
	IGN("shadow_condition", OPT_STRING, R_LOCAL),
	IGN("shadow_transport", OPT_STRING, R_LOCAL),
	IGN("transport_filter", OPT_STRING, "noq runs no transport filters"),
	IGN("transport_filter_timeout", OPT_TIME, "noq runs no transport filters"),
	IGN("user", OPT_UID, R_PRIV_ID),
};

/* Generic authenticator options. */
static const struct opt_def auth_opts[] = {
	SUP("client_allow_cleartext", OPT_BOOL),	/* noq extension */
	SUP("client_condition", OPT_STRING),
	IGN("client_set_id", OPT_STRING, "noq logs no authenticated id"),
	SUP("driver", OPT_STRING),
	SUP("public_name", OPT_STRING),
	IGN("server_advertise_condition", OPT_STRING, R_SERVER),
	IGN("server_condition", OPT_STRING, R_SERVER),
	IGN("server_debug_print", OPT_STRING, R_SERVER),
	IGN("server_mail_auth_condition", OPT_STRING, R_SERVER),
	IGN("server_set_id", OPT_STRING, R_SERVER),
};

/* manualroute; route_list holds "pattern hostlist [options]" rules. */
static const struct opt_def manualroute_opts[] = {
	SUP("host_all_ignored", OPT_STRING),
	SUP("host_find_failed", OPT_STRING),
	SUP("hosts_randomize", OPT_BOOL),
	SUP("route_data", OPT_STRING),
	SUP("route_list", OPT_RULES),
	IGN("same_domain_copy_routing", OPT_BOOL,
	    "it only saves routing work, and noq routes every recipient itself"),
};

/* redirect; noq reads alias lists and .forward files but runs no filters. */
static const struct opt_def redirect_opts[] = {
	SUP("allow_defer", OPT_BOOL),
	SUP("allow_fail", OPT_BOOL),
	IGN("allow_filter", OPT_BOOL, R_FILTER),
	IGN("allow_freeze", OPT_BOOL, R_FREEZE),
	SUP("check_ancestor", OPT_BOOL),
	SUP("check_group", OPT_BOOL),
	SUP("check_owner", OPT_BOOL),
	SUP("data", OPT_STRING),
	IGN("directory_transport", OPT_STRING, R_LOCAL),
	SUP("file", OPT_STRING),
	IGN("file_transport", OPT_STRING, R_LOCAL),
	IGN("filter_prepend_home", OPT_BOOL, R_FILTER),
	SUP("forbid_blackhole", OPT_BOOL),
	IGN("forbid_exim_filter", OPT_BOOL, R_FILTER),
	SUP("forbid_file", OPT_BOOL),
	IGN("forbid_filter_dlfunc", OPT_BOOL, R_FILTER),
	IGN("forbid_filter_existstest", OPT_BOOL, R_FILTER),
	IGN("forbid_filter_logwrite", OPT_BOOL, R_FILTER),
	IGN("forbid_filter_lookup", OPT_BOOL, R_FILTER),
	IGN("forbid_filter_perl", OPT_BOOL, R_FILTER),
	IGN("forbid_filter_readfile", OPT_BOOL, R_FILTER),
	IGN("forbid_filter_readsocket", OPT_BOOL, R_FILTER),
	IGN("forbid_filter_reply", OPT_BOOL, R_FILTER),
	IGN("forbid_filter_run", OPT_BOOL, R_FILTER),
	SUP("forbid_include", OPT_BOOL),
	SUP("forbid_pipe", OPT_BOOL),
	IGN("forbid_sieve_filter", OPT_BOOL, R_FILTER),
	IGN("forbid_smtp_code", OPT_BOOL,
	    "noq gives the text of :defer: and :fail: on standard error, without smtp codes"),
	IGN("hide_child_in_errmsg", OPT_BOOL, R_BOUNCE),
	IGN("ignore_eacces", OPT_BOOL,
	    "noq always takes a file it may not read as absent, as this option does"),
	SUP("ignore_enotdir", OPT_BOOL),
	SUP("include_directory", OPT_STRING),
	SUP("modemask", OPT_OCTAL),
	IGN("one_time", OPT_BOOL, "noq never defers a delivery to try again later"),
	SUP("owners", OPT_LIST),
	SUP("owngroups", OPT_LIST),
	IGN("pipe_transport", OPT_STRING, R_LOCAL),
	SUP("qualify_domain", OPT_STRING),
	SUP("qualify_preserve_domain", OPT_BOOL),
	SUP("repeat_use", OPT_BOOL),
	IGN("reply_transport", OPT_STRING, "noq sends no automatic replies"),
	SUP("rewrite", OPT_BOOL),
	IGN("sieve_enotify_mailto_owner", OPT_STRING, R_FILTER),
	IGN("sieve_subaddress", OPT_STRING, R_FILTER),
	IGN("sieve_useraddress", OPT_STRING, R_FILTER),
	IGN("sieve_vacation_directory", OPT_STRING, R_FILTER),
	SUP("skip_syntax_errors", OPT_BOOL),
	IGN("syntax_errors_text", OPT_STRING, R_BOUNCE),
	IGN("syntax_errors_to", OPT_STRING, R_BOUNCE),
};

/*
 * smtp.  tls_pin_sha256 is a noq extension, not an Exim option: a list of
 * base64 SHA-256 digests of the server's public key (SubjectPublicKeyInfo),
 * one of which the smart host's key must match.
 */
static const struct opt_def smtp_opts[] = {
	FRC("address_retry_include_sender", OPT_BOOL, S_RETRY),
	IGN("allow_localhost", OPT_BOOL, R_SELF),
	IGN("arc_sign", OPT_STRING, R_SIGN),
	IGN("authenticated_sender", OPT_STRING, "noq sends no AUTH= parameter on MAIL"),
	IGN("authenticated_sender_force", OPT_BOOL, "noq sends no AUTH= parameter on MAIL"),
	SUP("command_timeout", OPT_TIME),
	SUP("connect_timeout", OPT_TIME),
	IGN("connection_max_messages", OPT_INT, R_ONE_MSG),
	IGN("dane_require_tls_ciphers", OPT_STRING, R_DANE),
	SUP("data_min_rate", OPT_INT),			/* noq extension */
	SUP("data_timeout", OPT_TIME),
	FRC("delay_after_cutoff", OPT_BOOL, S_RETRY),
	SUP("delivery_timeout", OPT_TIME),		/* noq extension */
	SUP("dkim_canon", OPT_STRING),
	SUP("dkim_domain", OPT_LIST),
	SUP("dkim_hash", OPT_STRING),
	SUP("dkim_identity", OPT_STRING),
	SUP("dkim_private_key", OPT_STRING),
	SUP("dkim_selector", OPT_LIST),
	SUP("dkim_sign_headers", OPT_STRING),
	SUP("dkim_strict", OPT_STRING),
	SUP("dkim_timestamps", OPT_STRING),
	IGN("dns_qualify_single", OPT_BOOL, R_RESOLVER),
	IGN("dns_search_parents", OPT_BOOL, R_RESOLVER),
	IGN("dnssec_request_domains", OPT_LIST, R_RESOLVER),
	IGN("dnssec_require_domains", OPT_LIST, R_RESOLVER),
	IGN("dscp", OPT_STRING, "noq does not set dscp on its connections"),
	FRC("fallback_hosts", OPT_LIST, S_FALLBACK),
	SUP("final_timeout", OPT_TIME),
	IGN("gethostbyname", OPT_BOOL, R_RESOLVER),
	SUP("helo_data", OPT_STRING),
	IGN("host_name_extract", OPT_LIST, R_RESUME),
	SUP("hosts", OPT_LIST),
	SUP("hosts_avoid_esmtp", OPT_LIST),
	SUP("hosts_avoid_pipelining", OPT_LIST),
	SUP("hosts_avoid_tls", OPT_LIST),
	SUP("hosts_max_try", OPT_INT),
	SUP("hosts_max_try_hardlimit", OPT_INT),
	IGN("hosts_nopass_tls", OPT_LIST, R_ONE_MSG),
	IGN("hosts_noproxy_tls", OPT_LIST,
	    "noq never hands a tls connection to another process"),
	SUP("hosts_override", OPT_BOOL),
	IGN("hosts_pipe_connect", OPT_LIST, "noq does not use early pipelining"),
	SUP("hosts_randomize", OPT_BOOL),
	IGN("hosts_request_ocsp", OPT_LIST, "noq does not check ocsp status"),
	IGN("hosts_require_alpn", OPT_LIST, "noq does not negotiate alpn"),
	SUP("hosts_require_auth", OPT_LIST),
	IGN("hosts_require_dane", OPT_LIST, R_DANE),
	IGN("hosts_require_ocsp", OPT_LIST, "noq does not check ocsp status"),
	SUP("hosts_require_tls", OPT_LIST),
	SUP("hosts_try_auth", OPT_LIST),
	IGN("hosts_try_chunking", OPT_LIST, "noq sends the message with DATA, never BDAT"),
	IGN("hosts_try_dane", OPT_LIST, R_DANE),
	IGN("hosts_try_fastopen", OPT_LIST, "noq does not use tcp fast open"),
	IGN("hosts_try_prdr", OPT_LIST,
	    "noq does not use prdr, since mua_wrapper mode fails all recipients together"),
	IGN("hosts_verify_avoid_tls", OPT_LIST, R_CALLOUT),
	SUP("interface", OPT_LIST),
	SUP("keepalive", OPT_BOOL),
	IGN("lmtp_ignore_quota", OPT_BOOL, "noq speaks only smtp and smtps"),
	FRCX("max_rcpt", OPT_INT, S_MAX_RCPT),
	SUP("message_linelength_limit", OPT_INT),
	IGNX("multi_domain", OPT_BOOL,
	    "noq always sends every recipient in one transaction"),
	SUP("port", OPT_STRING),
	SUP("protocol", OPT_STRING),
	FRCX("retry_include_ip_address", OPT_BOOL, S_RETRY),
	IGN("serialize_hosts", OPT_LIST, "noq keeps no hints database"),
	SUP("size_addition", OPT_INT),
	IGN("socks_proxy", OPT_STRING, "noq does not connect through socks proxies"),
	IGN("tls_alpn", OPT_LIST, "noq does not negotiate alpn"),
	SUP("tls_certificate", OPT_STRING),
	SUP("tls_crl", OPT_STRING),
	IGN("tls_dh_min_bits", OPT_INT, "noq leaves Diffie-Hellman parameters to OpenSSL (TLS 1.2 minimum, its default groups)"),
	SUP("tls_pin_sha256", OPT_LIST),		/* noq extension */
	SUP("tls_privatekey", OPT_STRING),
	SUP("tls_require_ciphers", OPT_STRING),
	IGN("tls_resumption_hosts", OPT_LIST, R_RESUME),
	SUP("tls_sni", OPT_STRING),
	IGN("tls_tempfail_tryclear", OPT_BOOL, "noq never falls back to clear text after TLS fails"),
	SUP("tls_try_verify_hosts", OPT_LIST),
	SUP("tls_verify_cert_hostnames", OPT_LIST),
	SUP("tls_verify_certificates", OPT_STRING),
	SUP("tls_verify_hosts", OPT_LIST),
	IGN("utf8_downconvert", OPT_STRING,
	    "noq does not downconvert internationalised addresses"),
};

/* plaintext; client_send is a colon list in which "^" stands for NUL. */
static const struct opt_def plaintext_opts[] = {
	SUP("client_ignore_invalid_base64", OPT_BOOL),
	SUP("client_send", OPT_LIST),
	IGN("server_prompts", OPT_LIST, R_SERVER),
};

static const struct opt_def cram_md5_opts[] = {
	SUP("client_name", OPT_STRING),
	SUP("client_secret", OPT_STRING),
	IGN("server_secret", OPT_STRING, R_SERVER),
};

/*
 * noq extension (not an Exim driver): SCRAM-SHA-256 as a client.  Both
 * options are expanded strings, typically naming a secret file read at
 * send time.
 */
static const struct opt_def scram_sha_256_opts[] = {
	SUP("client_password", OPT_STRING),
	SUP("client_username", OPT_STRING),
};

/*
 * noq extension (not an Exim driver): OAuth 2.0 bearer tokens.  The token
 * comes from client_token_command, run at send time; mechanism is
 * "xoauth2" or "oauthbearer".
 */
static const struct opt_def oauth2_opts[] = {
	SUP("client_token_command", OPT_STRING),
	SUP("client_username", OPT_STRING),
	SUP("mechanism", OPT_STRING),
};

#define R_INCOMING \
	"it only authenticates clients of an smtp server, and noq does not accept incoming SMTP"
#define R_RELAY_ONLY "noq only relays to a smart host"

static const struct driver_def router_drivers[] = {
	{ "accept", SEC_ROUTERS, NULL, NO_OPTIONS },
	{ "dnslookup", SEC_ROUTERS,
	  "it routes each domain to its own MX hosts, so one message could need "
	  "several SMTP transactions; use manualroute to a smart host",
	  NO_OPTIONS },
	{ "ipliteral", SEC_ROUTERS,
	  "it sends mail for a domain literal straight to the host it names; "
	  "use manualroute to a smart host",
	  NO_OPTIONS },
	{ "iplookup", SEC_ROUTERS,
	  "it asks another host how to route each address at delivery time, so "
	  "a single SMTP transaction cannot be assured; use redirect or manualroute",
	  NO_OPTIONS },
	{ "manualroute", SEC_ROUTERS, NULL, TABLE(manualroute_opts) },
	{ "queryprogram", SEC_ROUTERS,
	  "it runs a program to route each address at delivery time, so a "
	  "single SMTP transaction cannot be assured; use redirect or manualroute",
	  NO_OPTIONS },
	{ "redirect", SEC_ROUTERS, NULL, TABLE(redirect_opts) },
};

static const struct driver_def transport_drivers[] = {
	{ "appendfile", SEC_TRANSPORTS,
	  "it delivers to local files, and " R_RELAY_ONLY, NO_OPTIONS },
	{ "autoreply", SEC_TRANSPORTS,
	  "it generates new messages, and " R_RELAY_ONLY, NO_OPTIONS },
	{ "lmtp", SEC_TRANSPORTS,
	  "it delivers to a local lmtp process, and " R_RELAY_ONLY, NO_OPTIONS },
	{ "pipe", SEC_TRANSPORTS,
	  "it delivers to a local command, and " R_RELAY_ONLY, NO_OPTIONS },
	{ "queuefile", SEC_TRANSPORTS,
	  "it copies messages into a spool directory, and noq keeps no spool",
	  NO_OPTIONS },
	{ "smtp", SEC_TRANSPORTS, NULL, TABLE(smtp_opts) },
};

static const struct driver_def auth_drivers[] = {
	{ "cram_md5", SEC_AUTHENTICATORS, NULL, TABLE(cram_md5_opts) },
	{ "cyrus_sasl", SEC_AUTHENTICATORS, R_INCOMING, NO_OPTIONS },
	{ "dovecot", SEC_AUTHENTICATORS, R_INCOMING, NO_OPTIONS },
	{ "external", SEC_AUTHENTICATORS,
	  "noq does not implement the EXTERNAL mechanism", NO_OPTIONS },
	{ "gsasl", SEC_AUTHENTICATORS,
	  "noq is not built with gnu sasl; use its scram_sha_256 driver for "
	  "SCRAM-SHA-256",
	  NO_OPTIONS },
	{ "heimdal_gssapi", SEC_AUTHENTICATORS, R_INCOMING, NO_OPTIONS },
	{ "oauth2", SEC_AUTHENTICATORS, NULL, TABLE(oauth2_opts) },	/* noq */
	{ "plaintext", SEC_AUTHENTICATORS, NULL, TABLE(plaintext_opts) },
	{ "scram_sha_256", SEC_AUTHENTICATORS, NULL,			/* noq */
	  TABLE(scram_sha_256_opts) },
	{ "spa", SEC_AUTHENTICATORS,
	  "noq does not implement NTLM (SPA) authentication", NO_OPTIONS },
	{ "tls", SEC_AUTHENTICATORS, R_INCOMING, NO_OPTIONS },
};

static const struct opt_table main_table = TABLE(main_opts);
static const struct opt_table router_table = TABLE(router_opts);
static const struct opt_table transport_table = TABLE(transport_opts);
static const struct opt_table auth_table = TABLE(auth_opts);
static const struct opt_table empty_table = NO_OPTIONS;

/* Indexed by enum sec_kind; also Exim's order of sections. */
static const char *const sec_names[] = {
	[SEC_MAIN] = "main",
	[SEC_ACL] = "acl",
	[SEC_ROUTERS] = "routers",
	[SEC_TRANSPORTS] = "transports",
	[SEC_AUTHENTICATORS] = "authenticators",
	[SEC_REWRITE] = "rewrite",
	[SEC_RETRY] = "retry",
	[SEC_LOCAL_SCAN] = "local_scan",
	[SEC_ALIASES] = "aliases",
	[SEC_SOURCES] = "sources",
	[SEC_UNKNOWN] = "unknown",
};

const char *sec_name(enum sec_kind k)
{
	if ((unsigned)k > SEC_UNKNOWN)
		k = SEC_UNKNOWN;
	return sec_names[k];
}

/* ASCII only: section names must not depend on the locale. */
static bool ascii_eq_nocase(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return false;
		if (ca == 0)
			return true;
	}
}

enum sec_kind sec_lookup(const char *name)
{
	if (name == NULL)
		return SEC_UNKNOWN;
	for (int k = SEC_MAIN; k < SEC_UNKNOWN; k++)
		if (ascii_eq_nocase(name, sec_names[k]))
			return (enum sec_kind)k;
	return SEC_UNKNOWN;
}

const char *opt_type_name(enum opt_type t)
{
	switch (t) {
	case OPT_BOOL:
		return "boolean";
	case OPT_INT:
	case OPT_KINT:
	case OPT_XINT:
		return "integer";
	case OPT_OCTAL:
		return "octal integer";
	case OPT_TIME:
		return "time interval";
	case OPT_STRING:
		return "string";
	case OPT_LIST:
		return "list";
	case OPT_RULES:
		return "rule list";
	case OPT_UID:
		return "user";
	case OPT_GID:
		return "group";
	}
	return "value";
}

/*
 * opt_generic() - for sections without options of their own (acl, rewrite,
 * retry, local_scan) the answer is an empty table, never NULL.
 */
const struct opt_table *opt_generic(enum sec_kind k)
{
	switch (k) {
	case SEC_MAIN:
		return &main_table;
	case SEC_ROUTERS:
		return &router_table;
	case SEC_TRANSPORTS:
		return &transport_table;
	case SEC_AUTHENTICATORS:
		return &auth_table;
	default:
		return &empty_table;
	}
}

static int opt_cmp(const void *key, const void *elem)
{
	const struct opt_def *d = elem;

	return strcmp(key, d->name);
}

const struct opt_def *opt_find(const struct opt_table *t, const char *name)
{
	/* bsearch() wants a valid base even for zero elements. */
	if (t == NULL || t->n == 0 || name == NULL)
		return NULL;
	return bsearch(name, t->defs, t->n, sizeof(t->defs[0]), opt_cmp);
}

const struct driver_def *driver_table(enum sec_kind k, size_t *n)
{
	const struct driver_def *d;
	size_t count;

	switch (k) {
	case SEC_ROUTERS:
		d = router_drivers;
		count = sizeof(router_drivers) / sizeof(router_drivers[0]);
		break;
	case SEC_TRANSPORTS:
		d = transport_drivers;
		count = sizeof(transport_drivers) / sizeof(transport_drivers[0]);
		break;
	case SEC_AUTHENTICATORS:
		d = auth_drivers;
		count = sizeof(auth_drivers) / sizeof(auth_drivers[0]);
		break;
	default:
		d = NULL;
		count = 0;
		break;
	}
	if (n != NULL)
		*n = count;
	return d;
}

static int driver_cmp(const void *key, const void *elem)
{
	const struct driver_def *d = elem;

	return strcmp(key, d->name);
}

const struct driver_def *driver_find(enum sec_kind k, const char *name)
{
	size_t n;
	const struct driver_def *d = driver_table(k, &n);

	if (d == NULL || n == 0 || name == NULL)
		return NULL;
	return bsearch(name, d, n, sizeof(d[0]), driver_cmp);
}

int opt_walk(int (*fn)(void *arg, enum sec_kind k, const char *driver,
		       const struct opt_def *def), void *arg)
{
	static const enum sec_kind secs[] = {
		SEC_MAIN, SEC_ROUTERS, SEC_TRANSPORTS, SEC_AUTHENTICATORS,
	};
	int rc;

	for (size_t s = 0; s < sizeof(secs) / sizeof(secs[0]); s++) {
		const struct opt_table *t = opt_generic(secs[s]);
		size_t nd;
		const struct driver_def *d = driver_table(secs[s], &nd);

		for (size_t i = 0; i < t->n; i++)
			if ((rc = fn(arg, secs[s], NULL, &t->defs[i])) != 0)
				return rc;
		for (size_t j = 0; j < nd; j++)
			for (size_t i = 0; i < d[j].options.n; i++)
				if ((rc = fn(arg, secs[s], d[j].name, &d[j].options.defs[i])) != 0)
					return rc;
	}
	return 0;
}

const char *opt_status_name(enum opt_status st)
{
	switch (st) {
	case OPT_SUPPORTED:
		return "implemented";
	case OPT_IGNORED:
		return "no effect";
	case OPT_FORCED:
		return "overridden";
	case OPT_REFUSED:
		return "refused";
	}
	return "?";
}

/* ---- built-in macros ----------------------------------------------------- */

/*
 * The features of noq that Exim's builds announce with _HAVE_ macros:
 * DKIM signing, TLS through OpenSSL 3 (so TLS 1.3), IPv6, and the lsearch
 * family of lookups.  The others (_HAVE_PRDR, _HAVE_ARC, _HAVE_TLS_RESUME,
 * ...) name what noq does not do.
 */
static const char *const have_macros[] = {
	"_HAVE_DKIM", "_HAVE_IPV6", "_HAVE_LOOKUP_LSEARCH", "_HAVE_OPENSSL", "_HAVE_TLS", "_HAVE_TLS1_3",
};

/* Append @s to @buf (at *@n of @size) in upper case; false if it did not fit. */
static bool put_upper(char *buf, size_t size, size_t *n, const char *s)
{
	for (; *s; s++) {
		if (*n + 1 >= size)
			return false;
		buf[(*n)++] = *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
	}
	buf[*n] = '\0';
	return true;
}

/* _OPT_<SECTION>[_<DRIVER>]_<NAME> for each option of @t that noq acts on. */
static int opt_macros(const struct opt_table *t, const char *section, const char *driver,
		      int (*fn)(void *arg, const char *name), void *arg)
{
	char buf[128];

	for (size_t i = 0; i < t->n; i++) {
		size_t n = 0;
		int rc;

		if (t->defs[i].status != OPT_SUPPORTED)
			continue;
		if (!put_upper(buf, sizeof(buf), &n, "_OPT_") ||
		    !put_upper(buf, sizeof(buf), &n, section) ||
		    !put_upper(buf, sizeof(buf), &n, "_") ||
		    (driver != NULL && (!put_upper(buf, sizeof(buf), &n, driver) ||
					!put_upper(buf, sizeof(buf), &n, "_"))) ||
		    !put_upper(buf, sizeof(buf), &n, t->defs[i].name))
			continue;       /* no name of ours is that long */
		if ((rc = fn(arg, buf)) != 0)
			return rc;
	}
	return 0;
}

int opt_builtin_macros(int (*fn)(void *arg, const char *name), void *arg)
{
	static const struct {
		enum sec_kind k;
		const char *generic;    /* Exim's name for the generic options */
		const char *kind;       /* and for a driver's own */
	} secs[] = {
		{ SEC_ROUTERS, "routers", "router" },
		{ SEC_TRANSPORTS, "transports", "transport" },
		{ SEC_AUTHENTICATORS, "authenticators", "authenticator" },
	};
	int rc;

	for (size_t i = 0; i < sizeof(have_macros) / sizeof(have_macros[0]); i++)
		if ((rc = fn(arg, have_macros[i])) != 0)
			return rc;
	if ((rc = opt_macros(&main_table, "main", NULL, fn, arg)) != 0)
		return rc;
	for (size_t s = 0; s < sizeof(secs) / sizeof(secs[0]); s++) {
		size_t nd;
		const struct driver_def *d = driver_table(secs[s].k, &nd);
		char buf[128];

		if ((rc = opt_macros(opt_generic(secs[s].k), secs[s].generic, NULL, fn, arg)) != 0)
			return rc;
		for (size_t i = 0; i < nd; i++) {
			size_t n = 0;

			if (d[i].refused != NULL)
				continue;
			if (put_upper(buf, sizeof(buf), &n, "_DRIVER_") &&
			    put_upper(buf, sizeof(buf), &n, secs[s].kind) &&
			    put_upper(buf, sizeof(buf), &n, "_") &&
			    put_upper(buf, sizeof(buf), &n, d[i].name) &&
			    (rc = fn(arg, buf)) != 0)
				return rc;
			if ((rc = opt_macros(&d[i].options, secs[s].kind, d[i].name, fn, arg)) != 0)
				return rc;
		}
	}
	return 0;
}
