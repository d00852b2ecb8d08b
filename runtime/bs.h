/*
 * bs.h -- noq -bs: SMTP on standard input and standard output, as callers
 * that speak SMTP to a local sendmail use it.
 *
 * The rules:
 *  - EHLO (8BITMIME, SMTPUTF8, PIPELINING, SIZE offered) or HELO, MAIL
 *    FROM, RCPT TO, DATA, RSET, NOOP, VRFY (252: noq does not verify),
 *    QUIT; anything else is 500, and after 20 of those noq hangs up with
 *    421.  Command lines end in CR LF or LF and have at most 1000 octets
 *    (a longer one is 500).
 *  - Each message goes to the smart host before the reply to its final
 *    ".": 250 with the id when it was accepted, 451 when trying again may
 *    work (a deferred routing, a smart host that could not be reached or
 *    answered 4xx), 550 for a refusal, 554 when the message itself was
 *    refused at intake.  The reply carries the reason that -bm would have
 *    written on stderr.
 *  - Replies are flushed before noq waits for input, so that pipelined
 *    commands get theirs in one write.
 */
#ifndef NOQ_BS_H
#define NOQ_BS_H

struct env;

/**
 * bs_session() - run one SMTP session on stdin and stdout until QUIT, the
 * end of input, or too many unrecognised commands.
 * @e: the run (noq.h), its policy loaded.  Each message's envelope is
 *     the session's (MAIL, RCPT): the command line's recipients and -t
 *     are not used.
 * Returns EX_DONE (noq.h) when the session ran, whatever became of its
 * messages (each had its own reply); EX_FAIL, with the reason on stderr
 * and nothing written to stdout, when memory for the session could not
 * be had.  Does not exit.
 */
int bs_session(struct env *e);

#endif
