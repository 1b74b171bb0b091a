/* xlsx: an export's table as a workbook (see xlsx.h). */
#include "feat/xlsx.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>

/* Column widths in characters: at least a date's, at most what still fits
 * on a screen (longer texts wrap in the cell's edit line). */
#define WIDTH_MIN 8
#define WIDTH_MAX 60
/* The most bytes Excel holds in a cell (libxlsxwriter refuses more). */
#define CELL_MAX 32767

/* The whole of @s is a finite number. */
static bool number_of(const char *s, double *d)
{
	char *end = NULL;
	if (!*s)
		return false;
	*d = strtod(s, &end);
	return !*end && isfinite(*d);
}

/* "YYYY-MM-DD" as a date. */
static bool date_of(const char *s, lxw_datetime *dt)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	int y = (int)strtol(s, NULL, 10), m = (int)strtol(s + 5, NULL, 10),
	    d = (int)strtol(s + 8, NULL, 10);
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	*dt = (lxw_datetime){.year = y, .month = m, .day = d};
	return true;
}

/* Characters (not bytes) of UTF-8 text @s: a column's width. */
static size_t chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Cell (@i, @k) of @t into row @row: typed by its column, a text when it does
 * not read as its type (shown as it came, as the CSV does).  Its width. */
static size_t put_cell(lxw_worksheet *ws, const struct table *t, size_t i, size_t k,
		       lxw_row_t row, lxw_format *money, lxw_format *date)
{
	const char *s = table_cell(t, i, k);
	lxw_col_t col = (lxw_col_t)k;
	double d;
	lxw_datetime dt;
	if (!*s)
		return 0; /* a blank cell */
	switch (t->cols[k].fmt) {
	case FACTS_CSV_MONEY:
		if (number_of(s, &d)) {
			worksheet_write_number(ws, row, col, d, money);
			return strlen(s) + 4; /* "€ " and thousands separators */
		}
		break;
	case FACTS_CSV_INT:
	case FACTS_CSV_NUMBER:
		if (number_of(s, &d)) {
			worksheet_write_number(ws, row, col, d, NULL);
			return strlen(s);
		}
		break;
	case FACTS_CSV_DATE:
	case FACTS_CSV_DAY:
		if (date_of(s, &dt)) {
			worksheet_write_datetime(ws, row, col, &dt, date);
			return 10;
		}
		break;
	case FACTS_CSV_TEXT:
	case FACTS_CSV_STATUS:
	case FACTS_CSV_LEDGER: /* an account code: kept as text ("0800") */
		break;
	}
	/* A string cell is never a formula: no ' as in the CSV.  Excel holds at
	 * most CELL_MAX bytes in a cell. */
	if (strlen(s) < CELL_MAX) {
		worksheet_write_string(ws, row, col, s, NULL);
	} else {
		char *cut = strndup(s, CELL_MAX - 4);
		if (cut) {
			size_t n = strlen(cut);
			while (n && ((unsigned char)cut[n] & 0xC0) == 0x80)
				cut[--n] = '\0'; /* not inside a UTF-8 sequence */
			worksheet_write_string(ws, row, col, cut, NULL);
		}
		free(cut);
	}
	return chars(s);
}

/* Reads the whole of @path into *@out. */
static int slurp(const char *path, char **out, size_t *len)
{
	int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !(p = malloc((size_t)st.st_size + 1))) {
		rc = p ? -errno : -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)r;
	}
	*out = p;
	*len = got;
	p = NULL;
out:
	free(p);
	close(fd);
	return rc;
}

int xlsx_render(const struct table *t, time_t created, char **out, size_t *len)
{
	/* libxlsxwriter 1.1.4 writes to a named file only (an in-memory
	 * buffer came in 1.1.5): a private directory, gone before we return. */
	const char *base = getenv("TMPDIR");
	char dir[4096], path[4200];
	snprintf(dir, sizeof(dir), "%s/factuurfs-xlsx-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir))
		return -errno;
	snprintf(path, sizeof(path), "%s/export.xlsx", dir);
	int rc = -ENOMEM;
	size_t *width = calloc(t->ncol + 1, sizeof(*width));
	lxw_workbook_options opt = {.tmpdir = dir};
	lxw_workbook *wb = width ? workbook_new_opt(path, &opt) : NULL;
	lxw_worksheet *ws = wb ? workbook_add_worksheet(wb, t->sheet) : NULL;
	if (!ws)
		goto out;
	lxw_doc_properties props = {.created = created};
	workbook_set_properties(wb, &props);
	lxw_format *bold = workbook_add_format(wb);
	lxw_format *money = workbook_add_format(wb);
	lxw_format *date = workbook_add_format(wb);
	format_set_bold(bold);
	format_set_num_format(money, XLSX_MONEY_FORMAT);
	format_set_num_format(date, XLSX_DATE_FORMAT);
	for (size_t k = 0; k < t->ncol; k++) {
		worksheet_write_string(ws, 0, (lxw_col_t)k, t->cols[k].header, bold);
		width[k] = chars(t->cols[k].header) + 3; /* room for the filter's button */
	}
	for (size_t i = 0; i < t->nrow; i++) {
		for (size_t k = 0; k < t->ncol; k++) {
			size_t w = put_cell(ws, t, i, k, (lxw_row_t)(i + 1), money, date);
			if (w > width[k])
				width[k] = w;
		}
	}
	for (size_t k = 0; k < t->ncol; k++) {
		size_t w = width[k] + 1;
		w = w < WIDTH_MIN ? WIDTH_MIN : w > WIDTH_MAX ? WIDTH_MAX : w;
		worksheet_set_column(ws, (lxw_col_t)k, (lxw_col_t)k, (double)w, NULL);
	}
	worksheet_freeze_panes(ws, 1, 0);
	if (t->ncol)
		worksheet_autofilter(ws, 0, 0, (lxw_row_t)t->nrow, (lxw_col_t)(t->ncol - 1));
	lxw_error e = workbook_close(wb);
	wb = NULL;
	rc = e == LXW_NO_ERROR ? slurp(path, out, len) : -EIO;
out:
	if (wb)
		workbook_close(wb); /* frees it (and writes a file that goes below) */
	free(width);
	unlink(path);
	rmdir(dir);
	return rc;
}
