/*
 * The trial boot's health check (include/airlock/bootstate.h): a configured
 * shell command, run with a deadline. The command gets its own process
 * group so that on timeout everything it started is killed with it, not
 * only the shell.
 */
#define _DEFAULT_SOURCE  /* setpgid, kill on a process group */
#include "airlock/bootstate.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Waits for pid until deadline; true if it exited (status in *status). */
static bool wait_until(pid_t pid, uint64_t deadline, int *status)
{
	unsigned step = 1;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR)
			return true;  /* not our child any more: nothing to wait for */
		if (now_ms() >= deadline)
			return false;
		sleep_ms(step);
		if (step < 20)
			step *= 2;  /* quick for fast checks, cheap for slow ones */
	}
}

airlock_err airlock_health_check_run(const char *command, unsigned timeout_ms, struct airlock_health_result *res)
{
	struct airlock_health_result tmp;
	if (!res)
		res = &tmp;
	memset(res, 0, sizeof *res);
	res->exit_status = -1;
	if (!command || !*command)
		return AIRLOCK_ERR_INVALID_ARG;
	uint64_t deadline = now_ms() + timeout_ms;
	pid_t pid = fork();
	if (pid < 0)
		return AIRLOCK_ERR_IO_OPEN;
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	/* Also from the parent: whichever runs first, the group exists before
	 * a timeout could signal it. */
	setpgid(pid, pid);
	int status = 0;
	if (!wait_until(pid, deadline, &status)) {
		res->timed_out = true;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return AIRLOCK_ERR_HEALTH_CHECK;
	}
	if (WIFEXITED(status))
		res->exit_status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->signal = WTERMSIG(status);
	return res->exit_status == 0 ? AIRLOCK_OK : AIRLOCK_ERR_HEALTH_CHECK;
}
