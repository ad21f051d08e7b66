/* The option table: defaults, file values, environment overrides, errors with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/status.h"
#include "daemon/config.h"

static char path[64];

static void write_ini(const char *text)
{
    snprintf(path, sizeof path, "%s", "/tmp/kioskd-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(config_load(&c, NULL, err, sizeof err), 0);
    assert_string_equal(c.http_listen, "127.0.0.1:8080");
    assert_string_equal(c.http_host, "127.0.0.1");
    assert_int_equal(c.http_port, 8080);
    assert_string_equal(c.store_path, "./var/kioskd.db");
    assert_int_equal(c.http_rate_limit, 20);
    assert_int_equal(c.events_upgrade_capacity, 10);
    assert_int_equal(c.events_upgrade_max, 20);
    config_free(&c);
}

static void test_file_and_env(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    write_ini(
        "; comment\n[http]\nlisten = [::1]:9000\nrate_limit = 0\n\n[store]\npath = /x/y.db\n");
    setenv("KIOSKD_STORE_PATH", "/env/z.db", 1);
    assert_int_equal(config_load(&c, path, err, sizeof err), 0);
    assert_string_equal(c.http_host, "::1");
    assert_int_equal(c.http_port, 9000);
    assert_int_equal(c.http_rate_limit, 0);
    assert_string_equal(c.store_path, "/env/z.db");
    unsetenv("KIOSKD_STORE_PATH");
    config_free(&c);
    unlink(path);
}

static void expect_error(const char *ini, const char *needle)
{
    struct config c;
    char err[256];
    write_ini(ini);
    assert_int_equal(config_load(&c, path, err, sizeof err), KIOSKD_ECONFIG);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
    config_free(&c);
    unlink(path);
}

static void test_errors(void **state)
{
    (void)state;
    char needle[128];
    expect_error("[http]\n\nlistne = 1\n", ":3: [http] listne: unknown key");
    expect_error("[nope]\nx = 1\n", ":2: [nope] x: unknown key (unknown section)");
    expect_error("[http]\nrate_limit = -1\n", "rate_limit: must be a whole number from 0");
    expect_error("[http]\nrate_limit = 5x\n", "rate_limit: must be a whole number");
    expect_error("[http]\nlisten = nohostport\n", "listen: must be host:port");
    expect_error("[http]\nlisten = :80\n", "listen: must be host:port");
    expect_error("[http]\nlisten = 1.2.3.4:70000\n", "port must be a number from 0 to 65535");
    expect_error("[log]\nlevel = loud\n", "level: must be one of: debug info warn error");
    expect_error("[http]\nrate_limit = 1\nrate_limit = 2\n", ":3: [http] rate_limit: set twice");
    expect_error("[http]\ncert = /a.pem\n", "cert and key must be given together");
    expect_error("[events]\nupgrade_capacity = 30\n", "upgrade_capacity must not exceed");
    expect_error("this is not ini\n", ":1: not a valid INI line");
    snprintf(needle, sizeof needle, "cannot open");
    struct config c;
    char err[256];
    assert_int_equal(config_load(&c, "/nonexistent/kioskd.ini", err, sizeof err), KIOSKD_ECONFIG);
    assert_non_null(strstr(err, needle));
    config_free(&c);
    setenv("KIOSKD_HTTP_RATE_LIMIT", "many", 1);
    assert_int_equal(config_load(&c, NULL, err, sizeof err), KIOSKD_ECONFIG);
    assert_non_null(strstr(err, "environment KIOSKD_HTTP_RATE_LIMIT"));
    config_free(&c);
    unsetenv("KIOSKD_HTTP_RATE_LIMIT");
    setenv("KIOSKD_HTTP_NOPE", "1", 1);
    assert_int_equal(config_load(&c, NULL, err, sizeof err), KIOSKD_ECONFIG);
    assert_non_null(strstr(err, "KIOSKD_HTTP_NOPE: unknown key"));
    config_free(&c);
    unsetenv("KIOSKD_HTTP_NOPE");
    setenv("KIOSKD_UNRELATED", "1", 1); /* not a known section: left alone */
    assert_int_equal(config_load(&c, NULL, err, sizeof err), 0);
    config_free(&c);
    unsetenv("KIOSKD_UNRELATED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_and_env),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
