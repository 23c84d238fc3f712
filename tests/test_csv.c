/* CSV reader: quoting, line ends, BOM, line numbers in errors, malformed
 * files, filters, numeric conversion, and the real reference tables. */
#include <string.h>

#include "check.h"
#include "clscale.h"
#include "locale_testutil.h"

static cls_csv *parse(const char *text)
{
    cls_csv *c = NULL;
    cls_status st = cls_csv_parse(text, strlen(text), "t.csv", &c);
    if (st) fprintf(stderr, "parse failed: %s\n", cls_last_error());
    return c;
}

static void test_quoting(void)
{
    const char *text = "\xEF\xBB\xBFname,\"value, with comma\",note\r\n"
                       "a,1.5,\"say \"\"hi\"\"\"\r\n"
                       "\r\n"
                       "\"b\",2e3,\"two\nlines\"\n"
                       "c, 7 ,\n";
    cls_csv *c = parse(text);
    CHECK(c != NULL, "valid CSV parses");
    if (!c) return;
    CHECK(cls_csv_rows(c) == 3, "3 data rows, got %lld", (long long)cls_csv_rows(c));
    CHECK(cls_csv_cols(c) == 3, "3 columns");
    CHECK(strcmp(cls_csv_header(c, 0), "name") == 0, "BOM skipped: header 0 is '%s'", cls_csv_header(c, 0));
    CHECK(strcmp(cls_csv_header(c, 1), "value, with comma") == 0, "comma inside quotes");
    CHECK(strcmp(cls_csv_cell(c, 0, 2), "say \"hi\"") == 0, "doubled quotes: '%s'", cls_csv_cell(c, 0, 2));
    CHECK(strcmp(cls_csv_cell(c, 1, 2), "two\nlines") == 0, "newline inside quotes");
    CHECK(strcmp(cls_csv_cell(c, 2, 2), "") == 0, "trailing empty field");
    CHECK(cls_csv_line(c, 0) == 2 && cls_csv_line(c, 1) == 4 && cls_csv_line(c, 2) == 6,
          "line numbers 2, 4, 6 (blank line and quoted newline counted): %lld %lld %lld",
          (long long)cls_csv_line(c, 0), (long long)cls_csv_line(c, 1), (long long)cls_csv_line(c, 2));
    double v[3] = {0};
    CHECK_STATUS(cls_csv_column_f64(c, "value, with comma", NULL, 3, v), CLS_OK, "numeric column");
    CHECK_CLOSE(v[0], 1.5, 0, 0, "v[0]");
    CHECK_CLOSE(v[1], 2000.0, 0, 0, "v[1]");
    CHECK_CLOSE(v[2], 7.0, 0, 0, "blanks around a number are accepted");
    CHECK(cls_csv_cell(c, 3, 0) == NULL && cls_csv_header(c, 5) == NULL, "out of range gives NULL");
    cls_csv_free(c);
    cls_csv_free(NULL);
}

static void test_bad_cells(void)
{
    cls_csv *c = parse("x,y\n1,2\n3,abc\n5,\n7,nan\n");
    if (!c) return;
    double out[4] = {-1, -1, -1, -1};
    int64_t r1[] = {1}, r2[] = {2}, r3[] = {3};
    CHECK_STATUS(cls_csv_column_f64(c, "y", NULL, 4, out), CLS_E_FORMAT, "non-numeric cell");
    CHECK(strstr(cls_last_error(), "line 3") && strstr(cls_last_error(), "'y'") &&
              strstr(cls_last_error(), "abc"),
          "message names line 3, column y and the text: %s", cls_last_error());
    CHECK(out[0] == -1 && out[1] == -1, "output untouched on failure");
    CHECK_STATUS(cls_csv_column_f64(c, "y", r1, 1, out), CLS_E_FORMAT, "non-numeric (selected row)");
    CHECK_STATUS(cls_csv_column_f64(c, "y", r2, 1, out), CLS_E_FORMAT, "empty cell");
    CHECK(strstr(cls_last_error(), "line 4") && strstr(cls_last_error(), "empty"), "empty cell message: %s",
          cls_last_error());
    CHECK_STATUS(cls_csv_column_f64(c, "y", r3, 1, out), CLS_E_FORMAT, "nan refused");
    CHECK(strstr(cls_last_error(), "line 5"), "nan message names line 5: %s", cls_last_error());
    CHECK_STATUS(cls_csv_column_f64(c, "x", NULL, 4, out), CLS_OK, "x is numeric");
    CHECK_CLOSE(out[3], 7.0, 0, 0, "x[3]");
    CHECK_STATUS(cls_csv_column_f64(c, "z", NULL, 4, out), CLS_E_INVALID_ARG, "missing column");
    CHECK(strstr(cls_last_error(), "'z'") && strstr(cls_last_error(), "'x', 'y'"),
          "missing column message lists the columns: %s", cls_last_error());
    cls_csv_free(c);
}

static void test_malformed(void)
{
    struct {
        const char *text, *want;
    } cases[] = {
        {"a,b\n1,\"open\n2,3\n", "unterminated"},
        {"a,b\n1,2\n3,4,5\n", "line 3 has 3 fields"},
        {"a,b\n1\n", "line 2 has 1 fields"},
        {"a,b\n1,x\"y\n", "stray quote"},
        {"a,b\n1,\"x\"y\n", "after the closing quote"},
        {"", "empty"},
        {"\n\r\n", "empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cls_csv *c = (cls_csv *)0x1;
        cls_status st = cls_csv_parse(cases[i].text, strlen(cases[i].text), "bad.csv", &c);
        CHECK(st == CLS_E_FORMAT, "case %zu: status %d", i, (int)st);
        CHECK(strstr(cls_last_error(), cases[i].want) && strstr(cls_last_error(), "bad.csv"),
              "case %zu: message '%s' should contain '%s'", i, cls_last_error(), cases[i].want);
        CHECK(c == (cls_csv *)0x1, "case %zu: out untouched", i);
    }
    /* Header only: zero rows, fine. */
    cls_csv *c = parse("a,b\n");
    CHECK(c && cls_csv_rows(c) == 0, "header-only file has 0 rows");
    cls_csv_free(c);
    CHECK_STATUS(cls_csv_read_file("/nonexistent/x.csv", &c), CLS_E_IO, "missing file");
}

static void test_select(void)
{
    cls_csv *c = parse("ds,task,v\nA,cls,1\nB,cls,2\nA,ret,3\nA,cls,4\n");
    if (!c) return;
    int64_t rows[4], n = -1;
    const char *f1[] = {"ds=A", "task=cls"};
    CHECK_STATUS(cls_csv_select(c, f1, 2, rows, &n), CLS_OK, "select");
    CHECK(n == 2 && rows[0] == 0 && rows[1] == 3, "ds=A and task=cls -> rows 0, 3 (n=%lld)", (long long)n);
    const char *f2[] = {"ds!=A"};
    CHECK_STATUS(cls_csv_select(c, f2, 1, rows, &n), CLS_OK, "select !=");
    CHECK(n == 1 && rows[0] == 1, "ds!=A -> row 1");
    CHECK_STATUS(cls_csv_select(c, NULL, 0, rows, &n), CLS_OK, "no filter");
    CHECK(n == 4, "no filter keeps all rows");
    const char *f3[] = {"noequals"};
    CHECK_STATUS(cls_csv_select(c, f3, 1, rows, &n), CLS_E_INVALID_ARG, "malformed filter");
    const char *f4[] = {"zz=1"};
    CHECK_STATUS(cls_csv_select(c, f4, 1, rows, &n), CLS_E_INVALID_ARG, "unknown filter column");
    double v[2];
    const char *f5[] = {"ds=A", "task=cls"};
    cls_csv_select(c, f5, 2, rows, &n);
    CHECK_STATUS(cls_csv_column_f64(c, "v", rows, n, v), CLS_OK, "selected values");
    CHECK(v[0] == 1 && v[1] == 4, "values 1 and 4");
    cls_csv_free(c);
}

static void test_reference_files(void)
{
    cls_csv *c = NULL;
    CHECK_STATUS(cls_csv_read_file(CLS_DATA_DIR "/chinchilla-epoch/svg_extracted_data.csv", &c),
                 CLS_OK, "Epoch CSV");
    if (c) {
        CHECK(cls_csv_rows(c) == 245 && cls_csv_cols(c) == 7, "245 x 7, got %lld x %lld",
              (long long)cls_csv_rows(c), (long long)cls_csv_cols(c));
        double loss[245];
        CHECK_STATUS(cls_csv_column_f64(c, "loss", NULL, 245, loss), CLS_OK, "loss column");
        CHECK_CLOSE(loss[0], 5.005581996196243, 0, 1e-15, "first loss as in the file");
        cls_csv_free(c);
    }
    c = NULL;
    CHECK_STATUS(cls_csv_read_file(CLS_DATA_DIR "/openclip-scaling/zeroshot_results.csv", &c),
                 CLS_OK, "OpenCLIP CSV (empty cells, many columns)");
    if (c) {
        int64_t *rows = malloc(sizeof(int64_t) * (size_t)cls_csv_rows(c)), n = 0;
        const char *f[] = {"downstream_dataset=imagenet1k"};
        cls_csv_select(c, f, 1, rows, &n);
        CHECK(n == 32, "32 imagenet1k rows (29 LAION + 3 OpenAI), got %lld", (long long)n);
        free(rows);
        cls_csv_free(c);
    }
}

/* Numbers parse with '.' whatever LC_NUMERIC the host set (strtod alone would
 * stop at the '.' under de_DE and read 2.5 as 2). */
static void test_locale(void)
{
    locale_t loc = comma_locale();
    if (loc == (locale_t)0) {
        comma_locale_skip_note("CSV");
        return;
    }
    locale_t old = uselocale(loc);
    char *end;
    double probe = strtod("2.5", &end);
    CHECK(probe == 2.0 && *end == '.', "the comma locale is active (strtod(\"2.5\") = %g)", probe);
    cls_csv *c = parse("x,y\n2.5,-1.25e-3\n 0.125 ,7\n");
    CHECK(c != NULL, "parses under the comma locale");
    if (c) {
        double x[2] = {0, 0}, y[2] = {0, 0};
        CHECK_STATUS(cls_csv_column_f64(c, "x", NULL, 2, x), CLS_OK, "x column under the comma locale");
        CHECK_STATUS(cls_csv_column_f64(c, "y", NULL, 2, y), CLS_OK, "y column under the comma locale");
        CHECK(x[0] == 2.5 && x[1] == 0.125 && y[0] == -1.25e-3 && y[1] == 7.0,
              "'.' is the decimal point: %g %g %g %g", x[0], x[1], y[0], y[1]);
        cls_csv_free(c);
    }
    uselocale(old);
    freelocale(loc);
    printf("comma-decimal locale check ran\n");
}

int main(void)
{
    test_locale();
    test_quoting();
    test_bad_cells();
    test_malformed();
    test_select();
    test_reference_files();
    return check_summary("test_csv");
}
