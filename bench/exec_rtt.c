// SPDX-License-Identifier: MIT
/*
 * Round-trip benchmark for `npm run bench` (bench/exec.ts, docs/C-HARNESS.md):
 *   exec_rtt pingpong N   a C-to-C ping-pong over a socketpair (the same kind of channel tdxpa exec
 *                         gives a program): the floor set by context switches on this machine
 *   exec_rtt seamcall N   N SEAMCALLs (TDH.SYS.RD of TDX_FEATURES0) through libtdxpa under tdxpa exec
 *   exec_rtt ping N       N empty protocol round trips (PING) under tdxpa exec
 * Prints one line: "<mode> n=<N> median_ns=<m> p99_ns=<p>".
 */
#define _GNU_SOURCE
#include <asm/tdx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *mode, long long *d, int n)
{
	qsort(d, (size_t)n, sizeof(*d), cmp);
	printf("%s n=%d median_ns=%lld p99_ns=%lld\n", mode, n, d[n / 2], d[(int)((n - 1) * 0.99)]);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	long long *d = calloc((size_t)n, sizeof(*d));

	if (!d || n < 1)
		return 2;
	if (!strcmp(mode, "pingpong")) {
		int sv[2];
		char b[16] = { 0 };
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			return 2;
		pid_t c = fork();
		if (c == 0) {
			close(sv[0]);
			while (read(sv[1], b, 8) == 8)
				if (write(sv[1], b, 12) != 12)
					break;
			_exit(0);
		}
		close(sv[1]);
		for (int i = 0; i < n; i++) {
			long long t = now_ns();
			if (write(sv[0], b, 8) != 8 || read(sv[0], b, 12) != 12)
				return 2;
			d[i] = now_ns() - t;
		}
		close(sv[0]);
		waitpid(c, NULL, 0);
	} else if (!strcmp(mode, "seamcall") || !strcmp(mode, "ping")) {
		bool sc = !strcmp(mode, "seamcall");
		tdxpa_connect();
		for (int i = 0; i < n; i++) {
			struct tdx_module_args args = { .rdx = TDX_MD_TDX_FEATURES0 };
			long long t = now_ns();
			if (sc)
				seamcall_ret(TDH_SYS_RD, &args);
			else
				tdxpa_ping();
			d[i] = now_ns() - t;
		}
	} else {
		return 2;
	}
	report(mode, d, n);
	free(d);
	return 0;
}
