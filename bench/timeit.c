/*
 * timeit.c -- run one command once; print its wall time and peak RSS.
 *
 *   timeit [-p [-d MS]] [-i INPUT] [-e ERRFILE] COMMAND [ARG]...
 *
 * Runs COMMAND directly (no shell) with stdin from INPUT (default
 * /dev/null), stdout to /dev/null and stderr to ERRFILE (default
 * /dev/null), and prints one line:
 *
 *   WALL_MICROSECONDS PEAK_RSS_KIB EXIT_STATUS
 *
 * The wall time runs from just before fork() to the return of waitpid().
 * The peak RSS is getrusage(RUSAGE_CHILDREN)'s ru_maxrss: the largest
 * resident set of any process of the command's tree that was waited for
 * (a program that forks a delivery process, as Exim does, is measured by
 * its largest process).  With -p, stdin is a pipe that a child of this
 * program fills from INPUT in 64 KiB writes, as "cat INPUT | COMMAND"
 * would, started with the clock (its RSS is this program's, smaller than
 * any command's); with -d, the child waits MS milliseconds before it
 * writes, as a caller that takes that long to make its message (a cron
 * job, a script) would.  This program stays small so that the RSS Linux
 * carries across execve() does not hide the command's own.  Exit status:
 * 0 when the line was printed, 2 on a usage or system error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *in = "/dev/null", *err = "/dev/null";
	int c, piped = 0;
	long delay_ms = 0;
	pid_t feeder = -1;
	while ((c = getopt(argc, argv, "+pd:i:e:")) != -1) {
		if (c == 'p')
			piped = 1;
		else if (c == 'd')
			delay_ms = strtol(optarg, NULL, 10);
		else if (c == 'i')
			in = optarg;
		else if (c == 'e')
			err = optarg;
		else
			return 2;
	}
	if (optind >= argc) {
		fputs("usage: timeit [-p [-d MS]] [-i INPUT] [-e ERRFILE] COMMAND [ARG]...\n", stderr);
		return 2;
	}
	int fin = open(in, O_RDONLY | O_CLOEXEC);
	int fout = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int ferr = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fin < 0 || fout < 0 || ferr < 0) {
		perror("timeit: open");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (piped) {
		int pfd[2];
		if (pipe(pfd) != 0 || (feeder = fork()) < 0) {
			perror("timeit: pipe");
			return 2;
		}
		if (feeder == 0) {
			static char buf[65536];
			ssize_t n;
			close(pfd[0]);
			signal(SIGPIPE, SIG_DFL);
			if (delay_ms > 0) {
				struct timespec d = { delay_ms / 1000, delay_ms % 1000 * 1000000 };
				while (nanosleep(&d, &d) != 0 && errno == EINTR)
					;
			}
			while ((n = read(fin, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
				for (ssize_t o = 0; n > 0 && o < n; ) {
					ssize_t w = write(pfd[1], buf + o, (size_t)(n - o));
					if (w < 0 && errno != EINTR)
						_exit(1);
					o += w > 0 ? w : 0;
				}
			_exit(0);
		}
		close(pfd[1]);
		close(fin);
		fin = pfd[0];
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("timeit: fork");
		return 2;
	}
	if (pid == 0) {
		if (dup2(fin, 0) < 0 || dup2(fout, 1) < 0 || dup2(ferr, 2) < 0)
			_exit(127);
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		perror("timeit: waitpid");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fin);
	if (feeder > 0)
		waitpid(feeder, NULL, 0);
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	long long us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("%lld %ld %d\n", us, ru.ru_maxrss, code);
	return 0;
}
