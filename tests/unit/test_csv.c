/* The field writer of CSV exports: quoting, and formulas neutralised. Table-driven;
 * every written line is read back with the import reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/csv.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct pair {
    const char *in, *written, *read;
};

static void test_csv_put_field(void **state)
{
    (void)state;
    static const struct pair cases[] = {
        {"张*", "张*", "张*"},
        {"", "", ""},
        {"=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"", "'=HYPERLINK(\"x\")"},
        {"+86", "'+86", "'+86"},
        {"-*", "'-*", "'-*"},
        {"@SUM(A1)", "'@SUM(A1)", "'@SUM(A1)"},
        {"\tx", "'\tx", "'\tx"},
        {"a,b", "\"a,b\"", "a,b"},
        {"say \"hi\"", "\"say \"\"hi\"\"\"", "say \"hi\""},
        {"two\nlines", "\"two\nlines\"", "two\nlines"},
        {"1-2", "1-2", "1-2"}, /* only the first character counts */
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(csv_put_field(&b, cases[i].in), 0);
        assert_int_equal(buf_puts(&b, ",end\r\n"), 0);
        size_t len;
        char *out = buf_steal(&b, &len);
        assert_non_null(out);
        size_t want = strlen(cases[i].written);
        assert_true(len >= want);
        assert_memory_equal(out, cases[i].written, want);
        struct csv c;
        struct csv_row row;
        csvmem_init(&c, out, len);
        assert_int_equal(csvmem_next(&c, &row), 1);
        assert_int_equal(row.n, 2);
        assert_string_equal(row.field[0], cases[i].read);
        assert_string_equal(row.field[1], "end");
        csvmem_free(&c);
        free(out);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_put_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
