/* What the user sees while kbuild-ns works (progress.h). */
#include "base/progress.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

static out_mode mode = OUT_PLAIN;
static int verbosity;

void out_init(int v)
{
	verbosity = v;
	mode = v < 0 ? OUT_QUIET : isatty(STDERR_FILENO) ? OUT_TTY : OUT_PLAIN;
}

out_mode out_get_mode(void) { return mode; }
int out_verbosity(void) { return verbosity; }

static void vstatus(const char *fmt, va_list ap)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%m%d %H:%M:%S", &tm);
	fprintf(stderr, "+++ [%s] ", ts);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void out_status(const char *fmt, ...)
{
	va_list ap;
	if (mode == OUT_QUIET)
		return;
	va_start(ap, fmt);
	vstatus(fmt, ap);
	va_end(ap);
}

void out_verbose(const char *fmt, ...)
{
	va_list ap;
	if (mode == OUT_QUIET || verbosity < 1)
		return;
	va_start(ap, fmt);
	vstatus(fmt, ap);
	va_end(ap);
}

void out_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("kbuild-ns: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void out_change(const char *kind, const char *path)
{
	fprintf(stderr, "%s %s\n", kind, path);
}

void out_notify(const char *msg)
{
	if (mode != OUT_QUIET)
		out_status("%s", msg);
}

typedef struct bar {
	char label[40];
	char result[80];
	uint64_t total, done;
	bool started, finished;
} bar;

struct bars {
	pthread_mutex_t lock;
	const char *cmd;         /* "import", "pull": the plain lines' prefix */
	size_t n;
	size_t drawn;            /* lines currently on screen (tty mode) */
	struct timespec last;
	bar *b;
};

bars *bars_new(size_t n, const char *cmd)
{
	bars *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->cmd = cmd;
	b->b = calloc(n + 1, sizeof *b->b);
	if (!b->b) {
		free(b);
		return NULL;
	}
	b->n = n;
	pthread_mutex_init(&b->lock, NULL);
	return b;
}

/* The terminal's width: TIOCGWINSZ on stderr (it follows a resize), else
 * $COLUMNS, else 80. */
static int term_cols(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	int n = c ? atoi(c) : 0;
	return n > 0 ? n : 80;
}

/* One bar's line in at most w columns (all of it is ASCII).  A line
 * that wrapped would take two rows, and the redraw, which moves the
 * cursor up one row per bar, would then scroll the screen: so the bar
 * shrinks first (30 down to 5 columns), then the label (26 down to 12),
 * then the bar goes, then the line is cut. */
static void format_line(const bar *x, int w, char *line, size_t len)
{
	int lw = 26;
	char label[sizeof x->label];
	if (w < 1)
		w = 1;
	/* "layer sha256:3f2a9c1e07b4" as "layer 3f2a9c1e07b4" where it
	 * would be cut: the digits tell layers apart, the prefix does not. */
	snprintf(label, sizeof label, "%s", x->label);
	char *sha = strstr(label, "sha256:");
	if (sha && w < 80)
		memmove(sha, sha + 7, strlen(sha + 7) + 1);
	if (!x->started || x->finished) {
		if (lw > w / 2)
			lw = w / 2 > 12 ? w / 2 : 12;
		snprintf(line, len, "%-*.*s %s", lw, lw, label, x->started ? x->result : "waiting");
	} else {
		char hb[2][24], sizes[56];
		/* The count as wide as the total, so the bar keeps its width. */
		human_size(x->total, hb[1], sizeof hb[1]);
		snprintf(sizes, sizeof sizes, "%*s / %s", (int)strlen(hb[1]), human_size(x->done, hb[0], sizeof hb[0]),
			 hb[1]);
		int sw = (int)strlen(sizes), bw = w - lw - 4 - sw;
		if (bw < 10) {
			lw = lw - (10 - bw) > 12 ? lw - (10 - bw) : 12;
			bw = w - lw - 4 - sw;
		}
		if (bw > 30)
			bw = 30;
		int fill = x->total && bw > 0 ? (int)((double)x->done / (double)x->total * bw) : 0;
		if (fill > bw)
			fill = bw;
		if (bw >= 5)
			snprintf(line, len, "%-*.*s [%.*s%*s] %s", lw, lw, label, fill,
				 "##############################", bw - fill, "", sizes);
		else
			snprintf(line, len, "%-*.*s %s", w - sw - 1 > 1 ? w - sw - 1 : 1, w - sw - 1 > 1 ? w - sw - 1 : 1,
				 label, sizes);
	}
	if (strlen(line) > (size_t)w)
		line[w] = 0;
}

static void draw(bars *b, bool force)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - b->last.tv_sec) * 1000 + (now.tv_nsec - b->last.tv_nsec) / 1000000;
	if (!force && ms < 100)
		return;
	b->last = now;
	/* One column short of the width: a line that fills the last column
	 * leaves some terminals about to wrap. */
	int w = term_cols() - 1;
	if (b->drawn)
		fprintf(stderr, "\033[%zuA", b->drawn);
	for (size_t i = 0; i < b->n; i++) {
		char line[256];
		format_line(&b->b[i], w, line, sizeof line);
		fprintf(stderr, "\r\033[2K%s\n", line);
	}
	b->drawn = b->n;
	fflush(stderr);
}

void bars_start(bars *b, size_t i, const char *label, uint64_t total)
{
	if (!b || i >= b->n)
		return;
	pthread_mutex_lock(&b->lock);
	snprintf(b->b[i].label, sizeof b->b[i].label, "%s", label);
	b->b[i].total = total;
	b->b[i].started = true;
	if (mode == OUT_TTY)
		draw(b, true);
	else if (mode == OUT_PLAIN && verbosity >= 1)
		out_status("%s: %s: unpacking", b->cmd, label);
	pthread_mutex_unlock(&b->lock);
}

void bars_label(bars *b, size_t i, const char *label)
{
	if (!b || i >= b->n)
		return;
	pthread_mutex_lock(&b->lock);
	snprintf(b->b[i].label, sizeof b->b[i].label, "%s", label);
	pthread_mutex_unlock(&b->lock);
}

void bars_update(bars *b, size_t i, uint64_t done)
{
	if (!b || i >= b->n || mode != OUT_TTY)
		return;
	pthread_mutex_lock(&b->lock);
	b->b[i].done = done;
	draw(b, false);
	pthread_mutex_unlock(&b->lock);
}

void bars_finish(bars *b, size_t i, const char *result)
{
	if (!b || i >= b->n)
		return;
	pthread_mutex_lock(&b->lock);
	b->b[i].finished = b->b[i].started = true;
	snprintf(b->b[i].result, sizeof b->b[i].result, "%s", result);
	if (mode == OUT_TTY)
		draw(b, true);
	else if (mode == OUT_PLAIN)
		out_status("%s: %s: %s", b->cmd, b->b[i].label, result);
	pthread_mutex_unlock(&b->lock);
}

void bars_free(bars *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->b);
	free(b);
}
