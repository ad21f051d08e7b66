/*
 * The Mustache renderer: every case of the spec's comments, delimiters,
 * interpolation, inverted, partials and sections files (one test each, read
 * from $KIOSKD_MUSTACHE_SPEC, else ../shared/conformance/mustache-spec; a
 * missing file fails), then our own: parse errors with line and column, the
 * limits, recursive partials, UTF-8 text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/mustache.h"
#include "core/status.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const spec_files[] = {"comments", "delimiters", "interpolation",
                                         "inverted", "partials",   "sections"};

static json_t *spec_docs[N(spec_files)];
static size_t spec_cases[N(spec_files)];
static char spec_dir[1024];

struct spec_case {
    const char *file;
    const json_t *c;
};

/* Renders src with data and partials {name: source}; returns the status. */
static int render_with(const char *src, const json_t *data, const json_t *partials, size_t max,
                       struct buf *out, struct mustache_error *err)
{
    struct mustache *t = NULL;
    struct mustache_set *set = mustache_set_new();
    assert_non_null(set);
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)partials, name, v)
    {
        struct mustache *p = NULL;
        int rc = mustache_parse(json_string_value(v), json_string_length(v), &p, err);
        assert_int_equal(rc, 0);
        assert_int_equal(mustache_set_put(set, name, strlen(name), p), 0);
    }
    buf_init(out, max);
    int rc = mustache_parse(src, strlen(src), &t, err);
    if (rc == 0) {
        struct mustache_opts o = {.partial = mustache_set_partial, .partial_ctx = set};
        rc = mustache_render(t, data, &o, out, err);
    }
    mustache_free(t);
    mustache_set_free(set);
    return rc;
}

static void test_spec_case(void **state)
{
    const struct spec_case *sc = *state;
    const char *tpl = json_string_value(json_object_get(sc->c, "template"));
    const json_t *want = json_object_get(sc->c, "expected");
    assert_non_null(tpl);
    assert_non_null(want);
    struct buf out;
    struct mustache_error err = {0};
    int rc = render_with(tpl, json_object_get(sc->c, "data"), json_object_get(sc->c, "partials"),
                         1 << 20, &out, &err);
    if (rc != 0)
        fail_msg("%s: %s: status %d at %u:%u: %s", sc->file,
                 json_string_value(json_object_get(sc->c, "name")), rc, err.line, err.column,
                 err.message);
    const char *got = out.data ? out.data : "";
    if (out.len != json_string_length(want) || memcmp(got, json_string_value(want), out.len) != 0)
        fail_msg("%s: %s\n  template %s\n  expected [%s]\n  got      [%s]", sc->file,
                 json_string_value(json_object_get(sc->c, "name")), tpl, json_string_value(want),
                 got);
    buf_free(&out);
}

/* The six files are all there, each with cases. */
static void test_spec_files(void **state)
{
    (void)state;
    size_t total = 0;
    for (size_t i = 0; i < N(spec_files); i++) {
        if (!spec_docs[i])
            fail_msg("mustache spec file %s/%s.json is missing or not JSON (set "
                     "KIOSKD_MUSTACHE_SPEC to the spec folder)",
                     spec_dir, spec_files[i]);
        assert_true(spec_cases[i] > 0);
        print_message("mustache spec %s.json: %zu cases\n", spec_files[i], spec_cases[i]);
        total += spec_cases[i];
    }
    print_message("mustache spec: %zu cases in all\n", total);
}

/* --- parse errors --- */

static void expect_parse_error(const char *src, int want_rc, unsigned line, unsigned col,
                               const char *fragment)
{
    struct mustache *t = (struct mustache *)1;
    struct mustache_error err = {0};
    int rc = mustache_parse(src, strlen(src), &t, &err);
    if (rc != want_rc || err.line != line || err.column != col || !strstr(err.message, fragment))
        fail_msg("%s: got %d at %u:%u '%s', expected %d at %u:%u with '%s'", src, rc, err.line,
                 err.column, err.message, want_rc, line, col, fragment);
    assert_null(t);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("line one\n  {{#items}}x", KIOSKD_EMALFORMED, 2, 3, "'items' is not closed");
    expect_parse_error("{{#a}}\n{{#b}}\n{{/a}}", KIOSKD_EMALFORMED, 3, 1,
                       "'a' does not match 'b' opened at line 2, column 1");
    expect_parse_error("ab\ncd {{name", KIOSKD_EMALFORMED, 2, 4, "tag is not closed");
    expect_parse_error("x {{{name}}", KIOSKD_EMALFORMED, 1, 3, "expected '}}}'");
    expect_parse_error("x\n\n  {{/a}}", KIOSKD_EMALFORMED, 3, 3, "without an open section");
    expect_parse_error("{{=<% =}}", KIOSKD_EMALFORMED, 1, 1, "bad delimiter change");
    expect_parse_error("{{= <% %> x =}}", KIOSKD_EMALFORMED, 1, 1, "bad delimiter change");
    expect_parse_error("{{=<= =>=}}", KIOSKD_EMALFORMED, 1, 1, "bad delimiter change");
    expect_parse_error("{{=<%%%%%%%%%%%%%%%%% %>=}}", KIOSKD_EMALFORMED, 1, 1,
                       "bad delimiter change");
    expect_parse_error("{{=<% %>=}}\n<%#a%>{{/a}}", KIOSKD_EMALFORMED, 2, 1, "'a' is not closed");
    expect_parse_error("a{{}}", KIOSKD_EMALFORMED, 1, 2, "empty tag name");
    expect_parse_error("a{{ a b }}", KIOSKD_EMALFORMED, 1, 2, "space");
    expect_parse_error("{{a..b}}", KIOSKD_EMALFORMED, 1, 1, "empty part");
    expect_parse_error("{{>.}}", KIOSKD_EMALFORMED, 1, 1, "not a partial name");
    expect_parse_error("{{>a b}}", KIOSKD_EMALFORMED, 1, 1, "space");
    expect_parse_error("{{$block}}{{/block}}", KIOSKD_EMALFORMED, 1, 1, "not supported");
    expect_parse_error("{{<parent}}{{/parent}}", KIOSKD_EMALFORMED, 1, 1, "not supported");
    /* columns count characters, not bytes */
    expect_parse_error("尊敬的{{#会员}}您好", KIOSKD_EMALFORMED, 1, 4, "'会员' is not closed");
    expect_parse_error("😀😀 {{name", KIOSKD_EMALFORMED, 1, 4, "tag is not closed");
}

static void test_nesting_limit(void **state)
{
    (void)state;
    struct buf src;
    buf_init(&src, 1 << 20);
    for (int i = 0; i < MUSTACHE_MAX_NESTING; i++)
        assert_int_equal(buf_puts(&src, "{{#a}}"), 0);
    for (int i = 0; i < MUSTACHE_MAX_NESTING; i++)
        assert_int_equal(buf_puts(&src, "{{/a}}"), 0);
    struct mustache *t = NULL;
    struct mustache_error err;
    assert_int_equal(mustache_parse(src.data, src.len, &t, &err), 0);
    /* renders at the parse limit with the default depth */
    json_t *data = json_pack("{s:{s:b}}", "a", "a", 1);
    struct buf out;
    buf_init(&out, 100);
    assert_int_equal(mustache_render(t, data, NULL, &out, &err), 0);
    /* a smaller render depth stops it */
    struct mustache_opts o = {.max_depth = 10};
    assert_int_equal(mustache_render(t, data, &o, &out, &err), KIOSKD_ETOOBIG);
    assert_non_null(strstr(err.message, "nested deeper than 10"));
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 10 * 6 + 1);
    mustache_free(t);
    buf_reset(&src);
    for (int i = 0; i <= MUSTACHE_MAX_NESTING; i++)
        assert_int_equal(buf_puts(&src, "{{#a}}\n"), 0);
    assert_int_equal(mustache_parse(src.data, src.len, &t, &err), KIOSKD_ETOOBIG);
    assert_int_equal(err.line, MUSTACHE_MAX_NESTING + 1);
    assert_int_equal(err.column, 1);
    assert_null(t);
    buf_free(&src);
    buf_free(&out);
    json_decref(data);
}

static void test_template_size_limit(void **state)
{
    (void)state;
    size_t n = MUSTACHE_MAX_SOURCE + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    struct mustache *t = NULL;
    struct mustache_error err;
    assert_int_equal(mustache_parse(big, n, &t, &err), KIOSKD_ETOOBIG);
    assert_null(t);
    assert_int_equal(mustache_parse(big, n - 1, &t, &err), 0);
    mustache_free(t);
    free(big);
}

/* --- render limits --- */

static void test_output_ceiling(void **state)
{
    (void)state;
    json_t *data = json_pack("{s:s,s:[i,i,i]}", "name", "<王小明>", "list", 1, 2, 3);
    struct buf out;
    struct mustache_error err;
    assert_int_equal(render_with("{{name}}", data, NULL, 100, &out, &err), 0);
    assert_string_equal(out.data, "&lt;王小明&gt;");
    buf_free(&out);
    /* 17 bytes of output against ceilings just under and at it */
    assert_int_equal(render_with("{{name}}", data, NULL, 16, &out, &err), KIOSKD_ETOOBIG);
    assert_true(out.len <= 16);
    assert_non_null(strstr(err.message, "output over the limit of 16 bytes"));
    buf_free(&out);
    assert_int_equal(render_with("{{name}}", data, NULL, 17, &out, &err), 0);
    buf_free(&out);
    assert_int_equal(render_with("{{#list}}0123456789{{/list}}", data, NULL, 25, &out, &err),
                     KIOSKD_ETOOBIG);
    assert_int_equal(out.len, 20);
    buf_free(&out);
    json_decref(data);
}

static void test_steps_limit(void **state)
{
    (void)state;
    json_t *list = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(list, json_integer(i));
    json_t *data = json_pack("{s:o}", "l", list);
    /* 100^4 visits and no output at all */
    const char *src = "{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}{{/l}}";
    struct mustache *t = NULL;
    struct mustache_error err;
    assert_int_equal(mustache_parse(src, strlen(src), &t, &err), 0);
    struct buf out;
    buf_init(&out, 1000);
    struct mustache_opts o = {.max_steps = 5000};
    assert_int_equal(mustache_render(t, data, &o, &out, &err), KIOSKD_ETOOBIG);
    assert_non_null(strstr(err.message, "5000 steps"));
    assert_int_equal(mustache_render(t, data, NULL, &out, &err), KIOSKD_ETOOBIG);
    assert_int_equal(out.len, 0);
    mustache_free(t);
    buf_free(&out);
    json_decref(data);
}

static void test_recursive_partial(void **state)
{
    (void)state;
    json_t *partials = json_pack("{s:s,s:s}", "loop", "x{{>loop}}", "a", "{{>b}}");
    json_object_set_new(partials, "b", json_string("{{#t}}{{>a}}{{/t}}"));
    json_t *data = json_pack("{s:b}", "t", 1);
    struct buf out;
    struct mustache_error err;
    assert_int_equal(render_with("start\n{{>loop}}", data, partials, 1 << 20, &out, &err),
                     KIOSKD_ETOOBIG);
    assert_non_null(strstr(err.message, "nested deeper than 64"));
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 2); /* in the partial: x{{>loop}} */
    assert_int_equal(out.len, strlen("start\n") + 64);
    assert_non_null(err.tpl); /* the partial, not the template */
    buf_free(&out);
    /* through a section and another partial */
    assert_int_equal(render_with("{{>a}}", data, partials, 1 << 20, &out, &err), KIOSKD_ETOOBIG);
    buf_free(&out);
    /* data-driven recursion ends with the data */
    json_t *tree = json_loads("{\"name\":\"总行\",\"kids\":[{\"name\":\"分行\",\"kids\":[{\"name\":"
                              "\"支行\",\"kids\":[]}]}]}",
                              0, NULL);
    json_object_set_new(partials, "node", json_string("{{name}}({{#kids}}{{>node}}{{/kids}})"));
    assert_int_equal(render_with("{{>node}}", tree, partials, 1 << 20, &out, &err), 0);
    assert_string_equal(out.data, "总行(分行(支行()))");
    buf_free(&out);
    json_decref(tree);
    /* a partial's name is one string, dots and all */
    json_object_set_new(partials, "footer.sms", json_string("回复退订"));
    assert_int_equal(render_with("{{> footer.sms }}", NULL, partials, 100, &out, &err), 0);
    assert_string_equal(out.data, "回复退订");
    buf_free(&out);
    json_decref(partials);
    json_decref(data);
}

static int failing_partial(void *ctx, const char *name, size_t len, const struct mustache **out)
{
    (void)ctx;
    (void)name;
    (void)len;
    *out = NULL;
    return KIOSKD_EIO;
}

static void test_partial_callback(void **state)
{
    (void)state;
    const char *src = "a\n b{{> footer }}";
    struct mustache *t = NULL;
    struct mustache_error err;
    assert_int_equal(mustache_parse(src, strlen(src), &t, &err), 0);
    struct buf out;
    buf_init(&out, 100);
    /* no callback: partials render as nothing */
    assert_int_equal(mustache_render(t, NULL, NULL, &out, &err), 0);
    assert_string_equal(out.data, "a\n b");
    buf_reset(&out);
    struct mustache_opts o = {.partial = failing_partial};
    assert_int_equal(mustache_render(t, NULL, &o, &out, &err), KIOSKD_EIO);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 3);
    assert_ptr_equal(err.tpl, t);
    assert_non_null(strstr(err.message, "partial 'footer'"));
    mustache_free(t);
    buf_free(&out);
}

/* --- values and text --- */

static void expect_render(const char *src, const char *data_json, const char *want)
{
    json_error_t jerr;
    json_t *data = json_loads(data_json, JSON_DECODE_ANY, &jerr);
    assert_non_null(data);
    struct buf out;
    struct mustache_error err = {0};
    int rc = render_with(src, data, NULL, 1 << 20, &out, &err);
    if (rc != 0)
        fail_msg("%s: %d %s", src, rc, err.message);
    const char *got = out.data ? out.data : "";
    if (strcmp(got, want) != 0)
        fail_msg("%s with %s: expected [%s], got [%s]", src, data_json, want, got);
    buf_free(&out);
    json_decref(data);
}

static void test_values(void **state)
{
    (void)state;
    expect_render("{{a}} {{b}} {{c}} {{d}} {{e}} {{f}}",
                  "{\"a\":0.1,\"b\":100.0,\"c\":-7,\"d\":true,\"e\":false,\"f\":1e300}",
                  "0.1 100 -7 true false 1e+300");
    expect_render("{{a}} {{b}} {{c}} {{d}} {{e}} {{f}} {{g}}",
                  "{\"a\":1.21,\"b\":123456.789,\"c\":-2.5e-8,\"d\":1e21,\"e\":1e20,"
                  "\"f\":0.000001,\"g\":1e-7}",
                  "1.21 123456.789 -2.5e-8 1e+21 100000000000000000000 0.000001 1e-7");
    expect_render("[{{o}}][{{l}}][{{n}}]", "{\"o\":{\"x\":1},\"l\":[1,2],\"n\":null}", "[][][]");
    /* falsy as in mustache.js: 0, "" and [] skip a section and show an inverted one */
    expect_render("{{#z}}z{{/z}}{{#s}}s{{/s}}{{#l}}l{{/l}}{{#o}}o{{/o}}{{#r}}r{{/r}}|"
                  "{{^z}}z{{/z}}{{^s}}s{{/s}}{{^l}}l{{/l}}{{^o}}o{{/o}}{{^r}}r{{/r}}",
                  "{\"z\":0,\"s\":\"\",\"l\":[],\"o\":{},\"r\":0.0}", "o|zslr");
    expect_render("{{#n}}[{{.}}]{{/n}}{{#s}}[{{.}}]{{/s}}", "{\"n\":5,\"s\":\"积分\"}",
                  "[5][积分]");
    expect_render("{{'}}", "{\"'\":\"a&'b\"}", "a&amp;'b");
}

static void test_utf8_round_trip(void **state)
{
    (void)state;
    expect_render(
        "尊敬的{{name}}：您报名的「{{title}}」将于{{time}}在{{venue}}举行。😀\n",
        "{\"name\":\"王**\",\"title\":\"财富讲座 𠀋𡈽\",\"time\":\"11月23日 周一 14:30\","
        "\"venue\":\"二楼贵宾室\"}",
        "尊敬的王**：您报名的「财富讲座 𠀋𡈽」将于11月23日 周一 14:30在二楼贵宾室举行。😀\n");
    /* keys in Chinese, a 4-byte character in a key and in a delimiter */
    expect_render("{{活动.名称}}{{=【 】=}}【𝄞】", "{\"活动\":{\"名称\":\"沙龙\"},\"𝄞\":\"♪\"}",
                  "沙龙♪");
}

static void test_markup_text_untouched(void **state)
{
    (void)state;
    expect_render("<![CDATA[{{{v}}}]]>&amp;<x a=\"1\">]]>", "{\"v\":\"]]>\"}",
                  "<![CDATA[]]>]]>&amp;<x a=\"1\">]]>");
    expect_render("{{v}}", "{\"v\":\"]]>\"}", "]]&gt;");
    expect_render("{ {x}} }} {x}", "{}", "{ {x}} }} {x}");
}

static void test_nul_bytes_kept(void **state)
{
    (void)state;
    const char src[] = "a\0{{x}}\0b";
    struct mustache *t = NULL;
    struct mustache_error err;
    assert_int_equal(mustache_parse(src, sizeof src - 1, &t, &err), 0);
    json_t *data = json_pack("{s:s%}", "x", "1\0002", (size_t)3);
    struct buf out;
    buf_init(&out, 100);
    assert_int_equal(mustache_render(t, data, NULL, &out, &err), 0);
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.data,
                        "a\0"
                        "1\0002"
                        "\0b",
                        7);
    mustache_free(t);
    buf_free(&out);
    json_decref(data);
}

static void test_parse_once_render_many(void **state)
{
    (void)state;
    struct mustache_set *set = mustache_set_new();
    struct mustache *t = NULL;
    struct mustache_error err;
    const char *src = "{{#people}}{{name}}{{>sep}}{{/people}}";
    assert_int_equal(mustache_parse(src, strlen(src), &t, &err), 0);
    assert_int_equal(mustache_set_put(set, "list", 4, t), 0);
    assert_int_equal(mustache_parse(",", 1, &t, &err), 0);
    assert_int_equal(mustache_set_put(set, "sep", 3, t), 0);
    assert_int_equal(mustache_parse(";", 1, &t, &err), 0);
    assert_int_equal(mustache_set_put(set, "sep", 3, t), KIOSKD_ECONFLICT);
    assert_int_equal(mustache_set_put(set, "gone", 4, NULL), 0);
    const struct mustache *got;
    assert_int_equal(mustache_set_get(set, "gone", 4, &got), 1);
    assert_null(got);
    assert_int_equal(mustache_set_get(set, "nope", 4, &got), 0);
    assert_int_equal(mustache_set_get(set, "list", 4, &got), 1);
    struct mustache_opts o = {.partial = mustache_set_partial, .partial_ctx = set};
    struct buf out;
    buf_init(&out, 1000);
    for (int i = 0; i < 3; i++) {
        json_t *data = json_pack("{s:[{s:s},{s:i}]}", "people", "name", "甲", "name", i);
        buf_reset(&out);
        assert_int_equal(mustache_render(got, data, &o, &out, &err), 0);
        char want[32];
        snprintf(want, sizeof want, "甲,%d,", i);
        assert_string_equal(out.data, want);
        json_decref(data);
    }
    buf_free(&out);
    mustache_set_free(set);
}

int main(void)
{
    const char *dir = getenv("KIOSKD_MUSTACHE_SPEC");
    snprintf(spec_dir, sizeof spec_dir, "%s",
             dir && *dir ? dir : "../shared/conformance/mustache-spec");
    static const struct CMUnitTest own[] = {
        cmocka_unit_test(test_spec_files),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_template_size_limit),
        cmocka_unit_test(test_output_ceiling),
        cmocka_unit_test(test_steps_limit),
        cmocka_unit_test(test_recursive_partial),
        cmocka_unit_test(test_partial_callback),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_utf8_round_trip),
        cmocka_unit_test(test_markup_text_untouched),
        cmocka_unit_test(test_nul_bytes_kept),
        cmocka_unit_test(test_parse_once_render_many),
    };
    size_t ncases = 0;
    for (size_t i = 0; i < N(spec_files); i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.json", spec_dir, spec_files[i]);
        spec_docs[i] = json_load_file(path, 0, NULL);
        spec_cases[i] = json_array_size(json_object_get(spec_docs[i], "tests"));
        ncases += spec_cases[i];
    }
    size_t n = N(own) + ncases, k = 0;
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    struct spec_case *cases = calloc(ncases ? ncases : 1, sizeof *cases);
    char **names = calloc(ncases ? ncases : 1, sizeof *names);
    if (!tests || !cases || !names)
        return 1;
    for (size_t i = 0; i < N(own); i++)
        tests[k++] = own[i];
    size_t c = 0;
    for (size_t i = 0; i < N(spec_files); i++) {
        for (size_t j = 0; j < spec_cases[i]; j++, c++) {
            const json_t *tc = json_array_get(json_object_get(spec_docs[i], "tests"), j);
            const char *name = json_string_value(json_object_get(tc, "name"));
            size_t len = strlen(spec_files[i]) + (name ? strlen(name) : 0) + 16;
            names[c] = malloc(len);
            if (!names[c])
                return 1;
            snprintf(names[c], len, "spec %s: %s", spec_files[i], name ? name : "?");
            cases[c] = (struct spec_case){.file = spec_files[i], .c = tc};
            tests[k++] = (struct CMUnitTest){
                .name = names[c], .test_func = test_spec_case, .initial_state = &cases[c]};
        }
    }
    int failed = _cmocka_run_group_tests("mustache", tests, n, NULL, NULL);
    for (size_t i = 0; i < ncases; i++)
        free(names[i]);
    for (size_t i = 0; i < N(spec_files); i++)
        json_decref(spec_docs[i]);
    free(names);
    free(cases);
    free(tests);
    return failed;
}
