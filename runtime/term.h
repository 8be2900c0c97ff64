/* Terminal helpers for the sandbox's pty. */
#pragma once
#include <stdbool.h>
#include <termios.h>

/* Put fd in raw mode, saving the old settings in *saved. */
int rt_term_raw(int fd, struct termios *saved);
void rt_term_restore(int fd, const struct termios *saved);
/* Copy the window size of `from` to `to`. */
void rt_term_copy_size(int from, int to);
/* Pass an fd over a unix socket (SCM_RIGHTS). */
int rt_send_fd(int sock, int fd);
int rt_recv_fd(int sock);
/* Bring the loopback interface up (in a new network namespace). */
int rt_loopback_up(void);
