/* What the user sees while kbuild-ns works (progress.h). */
#include "base/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
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

static void draw(bars *b, bool force)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - b->last.tv_sec) * 1000 + (now.tv_nsec - b->last.tv_nsec) / 1000000;
	if (!force && ms < 100)
		return;
	b->last = now;
	if (b->drawn)
		fprintf(stderr, "\033[%zuA", b->drawn);
	for (size_t i = 0; i < b->n; i++) {
		bar *x = &b->b[i];
		char line[160];
		if (!x->started) {
			snprintf(line, sizeof line, "%-26s waiting", x->label);
		} else if (x->finished) {
			snprintf(line, sizeof line, "%-26s %s", x->label, x->result);
		} else {
			int w = 30, fill = x->total ? (int)((double)x->done / (double)x->total * w) : 0;
			char hb[2][24];
			if (fill > w)
				fill = w;
			snprintf(line, sizeof line, "%-26s [%.*s%*s] %s / %s", x->label, fill,
				 "##############################", w - fill, "",
				 human_size(x->done, hb[0], sizeof hb[0]), human_size(x->total, hb[1], sizeof hb[1]));
		}
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
