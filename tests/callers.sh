#!/bin/sh
# callers.sh -- noq as its real callers run it: each program's exact
# arguments and the kind of message it writes (tests/noq/in/NAME.msg),
# checked through the dry run against tests/noq/out/NAME.out (see
# tests/noq/lib.sh for what is normalised).  Then, when they are installed,
# the real s-nail, git send-email and mutt drive noq through a wrapper.
#
# Environment (set by "make check"): NOQ, NOQC, top_srcdir.
# Usage: sh tests/callers.sh [--update]
# With --update the .out files are rewritten instead of compared: review
# the change with git diff before committing it.

# shellcheck source=noq/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/noq/lib.sh"

# The real programs must not read the configuration of whoever runs this.
unset XDG_CONFIG_HOME GIT_DIR GIT_WORK_TREE EMAIL REPLYTO MUTT 2>/dev/null

# ---- the arguments each caller passes (noq(8), and their sources) ----------

# Debian cron: the recipient on the command line, its own From field.
dry cron-debian cron-debian.msg -FCronDaemon -i -B8BITMIME -oem root
# cronie: -t, and the sender with -f (root's own address when root).
dry_root cronie cronie.msg -FCronDaemon -i -odi -oem -oi -t -f root
# vixie cron: -t; -oi makes the lone dot in the output data.
dry vixie-cron vixie-cron.msg -FCronDaemon -odi -oem -oi -t
# systemd-cron: an 8-bit body (systemctl status), BODY=8BITMIME.
dry systemd-cron systemd-cron.msg -i -B8BITMIME carol
# anacron: no -i, so the lone dot ends the message.
dry anacron anacron.msg -FAnacron -odi root
# atd: no From field in its message.
dry atd atd.msg -i carol
# mdadm runs /usr/lib/sendmail -t: a link named sendmail in a lib
# directory.  Its diagnostics carry the name it was called by.
mkdir "$tmp/lib" && ln -s "$NOQ" "$tmp/lib/sendmail" || exit 99
run "$tdir/in/mdadm.msg" "$tmp/lib/sendmail" -C "$POL" --dry-run -t
check_dry mdadm
run "$tdir/in/mdadm.msg" "$tmp/lib/sendmail" -C "$tmp/none.policy" -t
expect "mdadm, refusal named sendmail" 1 "" \
	"sendmail: cannot use the policy $tmp/none.policy: No such file or directory"
# sudo and logwatch: -t.  sudo writes "From: root", the caller's login,
# which becomes "Name <root@example.org>" (Sendmail's rule, kept by Exim);
# logwatch's From is rewritten (test.conf).
dry_root sudo sudo.msg -t
dry logwatch logwatch.msg -t
# unattended-upgrades: -oi -t.
dry_root unattended-upgrades unattended-upgrades.msg -oi -t
# GNU mailutils' mail: always -f, no From field: root gave -f and no -F,
# so the From noq adds is the sender without a name (Exim's rule).
dry_root mailutils mailutils.msg -oi -f carol@myhost.example.org -t
# mutt with an envelope sender, DSN and 8-bit body; recipients after --.
dry mutt mutt.msg -oem -oi -B8BITMIME -f carol@example.org -N failure,delay -R hdrs \
	-- alice@example.org bob@example.net
# git send-email: -i and the recipients, with -f when an envelope sender
# is configured.
dry git-send-email git-send-email.msg -i list@example.net reviewer@example.net
dry git-send-email-f git-send-email.msg -f author@example.org -i list@example.net \
	reviewer@example.net
# PHP's mail(): -t -i, CR LF header lines and LF body lines.
dry php php.msg -t -i
# s-nail: -i, then -- before the recipients.
dry s-nail s-nail.msg -i -- bob@example.net

# ---- the real programs -------------------------------------------------------

# A wrapper in place of /usr/sbin/sendmail: the dry run of noq with the
# test policy, its arguments in real.args, its output in real.out.
cat >"$tmp/wrapper" <<EOF || exit 99
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/real.args"
exec "$NOQ" -C "$POL" --dry-run "\$@" >"$tmp/real.out" 2>"$tmp/real.err"
EOF
chmod 755 "$tmp/wrapper" || exit 99
mkdir "$tmp/home" || exit 99

# real_check NAME STATUS: the program exited with STATUS (0 expected) after
# running the wrapper, noq succeeded, and its dry run is well formed; it is
# left normalised in $tmp/norm.
real_check() {
	if [ "$2" -ne 0 ]; then
		fail "$1" "the program exited with status $2"
		show "$tmp/prog.err"
		return 1
	fi
	if [ ! -f "$tmp/real.out" ]; then
		fail "$1" "the program did not run the wrapper"
		show "$tmp/prog.err"
		return 1
	fi
	if [ -s "$tmp/real.err" ]; then
		fail "$1" "noq complained"
		show "$tmp/real.err"
		return 1
	fi
	if ! normalise "$tmp/real.out" "$tmp/norm" >"$tmp/why"; then
		fail "$1" "malformed dry run: $(cat "$tmp/why")"
		show "$tmp/real.out"
		return 1
	fi
	return 0
}

# args_are NAME ARG...: the program gave noq exactly these arguments.
args_are() {
	aname=$1
	shift
	printf '%s\n' "$@" >"$tmp/want"
	if cmp -s "$tmp/want" "$tmp/real.args"; then
		pass "$aname"
	else
		fail "$aname" "other arguments"
		diff -u "$tmp/want" "$tmp/real.args"
	fi
}

# has NAME LINE...: each LINE is a whole line of the normalised dry run.
has() {
	hname=$1
	shift
	for l in "$@"; do
		if ! grep -Fxq -- "$l" "$tmp/norm"; then
			fail "$hname" "no line '$l' in the dry run"
			show "$tmp/norm"
			return
		fi
	done
	pass "$hname"
}

# A body with a lone dot: every caller below passes -i (mutt through its
# default sendmail setting), so it is data.
printf 'backup finished\n.\nafter the lone dot\n' >"$tmp/body"

# s-nail: -S sendwait makes it wait for noq's exit status.
if command -v s-nail >/dev/null 2>&1; then
	rm -f "$tmp/real.out"
	HOME=$tmp/home $run_timeout s-nail -n -S nosave -S mta="$tmp/wrapper" -S sendwait \
		-s 'backup report' bob@example.net <"$tmp/body" >"$tmp/prog.err" 2>&1
	if real_check "s-nail (real)" $?; then
		args_are "s-nail (real): arguments" -i -- bob@example.net
		has "s-nail (real): envelope and message" \
			'# host 127.0.0.1 port 2525' \
			'MAIL FROM:<CALLER@example.org> SIZE=N' 'RCPT TO:<bob@example.net>' \
			'Received: from CALLER by mail.example.org with local (noq VERSION)' \
			'To: bob@example.net' 'Subject: backup report' \
			'Message-Id: <EID@mail.example.org>' 'From: CALLER-NAME <CALLER@example.org>' \
			'X-Relayed-By: mail.example.org' '..' 'after the lone dot'
	fi
	# noq refuses: s-nail waits for that and fails too (nosave: no
	# dead.letter).
	rm -f "$tmp/real.out"
	HOME=$tmp/home $run_timeout s-nail -n -S nosave -S mta="$tmp/wrapper" -S sendwait \
		-s 'backup report' olduser@example.org <"$tmp/body" >"$tmp/prog.err" 2>&1
	status=$?
	if [ "$status" -ne 0 ] && [ ! -s "$tmp/real.out" ] && text_is "$tmp/real.err" \
		"routing olduser@example.org yielded a failed delivery: olduser has left; write to bob@example.net"; then
		pass "s-nail (real): a refusal reaches s-nail"
	else
		fail "s-nail (real): a refusal reaches s-nail" "s-nail exited with $status"
		show "$tmp/real.err"
	fi
else
	skip "s-nail (real)" "s-nail is not installed (Debian package s-nail)"
fi

# git send-email, in a repository of its own, with and without an envelope
# sender.
# (Debian's git send-email needs libmailtools-perl, which git-email only
# recommends.)
if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path)/git-send-email" ]; then
	skip "git send-email (real)" "git send-email is not installed (Debian package git-email)"
elif ! HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 git send-email --dump-aliases </dev/null >/dev/null 2>&1; then
	skip "git send-email (real)" "git send-email does not start (Debian package libmailtools-perl)"
else
	repo=$tmp/repo
	(
		HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1
		export HOME GIT_CONFIG_NOSYSTEM
		mkdir "$repo" && cd "$repo" && git init -q . &&
		git config user.name 'A U Thor' && git config user.email author@example.org &&
		printf 'hello\n' >README && git add README &&
		git commit -q -m 'doc: a dot on its own line' \
			-m "$(printf 'A line with a single dot:\n.\nmust survive.')" &&
		git format-patch -q -1 -o "$tmp/patches"
	) >"$tmp/prog.err" 2>&1 || { cat "$tmp/prog.err"; exit 99; }
	for envelope in no yes; do
		rm -f "$tmp/real.out"
		if [ $envelope = yes ]; then
			name="git send-email --envelope-sender (real)"
			set -- --envelope-sender=author@example.org
		else
			name="git send-email (real)"
			set --
		fi
		(cd "$repo" && HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 $run_timeout git send-email \
			--smtp-server="$tmp/wrapper" --to=list@example.net \
			--from='A U Thor <author@example.org>' --confirm=never \
			--suppress-cc=all "$@" "$tmp"/patches/*.patch) >"$tmp/prog.err" 2>&1
		if real_check "$name" $?; then
			if [ $envelope = yes ]; then
				args_are "$name: arguments" -f author@example.org -i list@example.net
				has "$name: envelope" 'MAIL FROM:<author@example.org> SIZE=N'
			else
				args_are "$name: arguments" -i list@example.net
				has "$name: envelope" 'MAIL FROM:<CALLER@example.org> SIZE=N'
			fi
			has "$name: message" 'RCPT TO:<list@example.net>' \
				'From: A U Thor <author@example.org>' 'To: list@example.net' \
				'Subject: [PATCH] doc: a dot on its own line' \
				'A line with a single dot:' '..' 'must survive.' '+hello'
		fi
	done
	rm -f "$tmp/real.out"
	(cd "$repo" && HOME=$tmp/home GIT_CONFIG_NOSYSTEM=1 $run_timeout git send-email \
		--smtp-server="$tmp/wrapper" --to=olduser@example.org \
		--from='A U Thor <author@example.org>' --confirm=never \
		--suppress-cc=all "$tmp"/patches/*.patch) >"$tmp/prog.err" 2>&1
	status=$?
	if [ "$status" -ne 0 ] && [ ! -s "$tmp/real.out" ] && text_is "$tmp/real.err" \
		"routing olduser@example.org yielded a failed delivery: olduser has left; write to bob@example.net"; then
		pass "git send-email (real): a refusal reaches git"
	else
		fail "git send-email (real): a refusal reaches git" "git send-email exited with $status"
		show "$tmp/real.err"
	fi
fi

# mutt, with the arguments of its default "sendmail" setting
# ("/usr/sbin/sendmail -oem -oi") and of DSN and envelope-sender settings.
if command -v mutt >/dev/null 2>&1; then
	rm -f "$tmp/real.out"
	printf 'Caf\303\251 at eight?\n.\nafter the lone dot\n' >"$tmp/body8"
	HOME=$tmp/home $run_timeout mutt -n -F /dev/null \
		-e "set sendmail=\"$tmp/wrapper -oem -oi\"" \
		-e 'set hostname=example.org use_8bitmime use_envelope_from' \
		-e 'set envelope_from_address=carol@example.org charset=utf-8 send_charset=utf-8' \
		-e 'set dsn_notify="failure,delay" dsn_return=hdrs' \
		-s 'dinner' alice bob@example.net <"$tmp/body8" >"$tmp/prog.err" 2>&1
	if real_check "mutt (real)" $?; then
		args_are "mutt (real): arguments" -oem -oi -B8BITMIME -f carol@example.org \
			-N failure,delay -R hdrs -- alice@example.org bob@example.net
		has "mutt (real): envelope and message" \
			'MAIL FROM:<carol@example.org> SIZE=N BODY=8BITMIME RET=hdrs' \
			'RCPT TO:<alice@example.org> NOTIFY=failure,delay ORCPT=rfc822;alice@example.org' \
			'RCPT TO:<bob@example.net> NOTIFY=failure,delay ORCPT=rfc822;bob@example.net' \
			'To: alice@example.org, bob@example.net' 'Subject: dinner' \
			'Content-Transfer-Encoding: 8bit' \
			"$(printf 'Caf\303\251 at eight?')" '..' 'after the lone dot'
	fi
else
	skip "mutt (real)" "mutt is not installed (Debian package mutt)"
fi

finish
