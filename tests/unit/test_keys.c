/*
 * Key files, in a temporary folder: created mode 0600 with 0700 folders,
 * never overwritten, files others can read refused with a clear message,
 * non-regular files refused, the PII master key created then read back, a
 * corrupt one refused, and the ticket key created, reloaded and checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "core/ticket.h"
#include "daemon/keys.h"

struct fx {
    char dir[256];
    struct rng rng;
};

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char sub[1024];
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d != NULL)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/kioskd-keys-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL || rng_init(&f->rng) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rm_rf(f->dir);
    rng_free(&f->rng);
    free(f);
    return 0;
}

static void path_in(const struct fx *f, const char *name, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/%s", f->dir, name);
    assert_true(w > 0 && (size_t)w < n);
}

/* Writes a file with exactly the given mode, bypassing keyfile_create. */
static void write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_create_then_read(void **state)
{
    struct fx *f = *state;
    char path[512], parent[512], err[512];
    unsigned char buf[64];
    size_t len = 0;
    const char data[] = "secret bytes\n";

    path_in(f, "new/keys/test.key", path, sizeof path);
    path_in(f, "new/keys", parent, sizeof parent);
    assert_int_equal(keyfile_create(path, data, sizeof data - 1, err, sizeof err), 0);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(mode_of(parent), 0700);
    assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err), 0);
    assert_int_equal(len, sizeof data - 1);
    assert_memory_equal(buf, data, len);

    /* never overwritten */
    assert_int_equal(keyfile_create(path, "other", 5, err, sizeof err), KIOSKD_ECONFLICT);
    assert_non_null(strstr(err, path));
    assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err), 0);
    assert_memory_equal(buf, data, len);

    /* larger than the buffer: refused, buffer wiped */
    assert_int_equal(keyfile_read(path, buf, 5, &len, err, sizeof err), KIOSKD_ETOOBIG);
    assert_int_equal(len, 0);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(buf[i], 0);
    /* exactly the size of the buffer is fine */
    assert_int_equal(keyfile_read(path, buf, sizeof data - 1, &len, err, sizeof err), 0);
    assert_int_equal(len, sizeof data - 1);

    /* an empty file can be created and read */
    path_in(f, "empty.key", path, sizeof path);
    assert_int_equal(keyfile_create(path, "", 0, err, sizeof err), 0);
    assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err), 0);
    assert_int_equal(len, 0);

    /* no err buffer at all is allowed */
    assert_int_equal(keyfile_create(path, "x", 1, NULL, 0), KIOSKD_ECONFLICT);
}

static void test_open_modes_refused(void **state)
{
    struct fx *f = *state;
    char path[512], err[512];
    unsigned char buf[64];
    size_t len = 0;
    const mode_t bad[] = {0644, 0640, 0604, 0620, 0602, 0660, 0666, 0610, 0601, 0700 | 0044};

    path_in(f, "open.key", path, sizeof path);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, "k", bad[i]);
        err[0] = '\0';
        assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err),
                         KIOSKD_EFORBIDDEN);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "chmod 600"));
    }
    write_file(path, "k", 0644);
    keyfile_read(path, buf, sizeof buf, &len, err, sizeof err);
    print_message("refusal reads: %s\n", err);
    write_file(path, "k", 0400);
    assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err), 0);
    write_file(path, "k", 0600);
    assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err), 0);
    assert_int_equal(len, 1);
}

static void test_not_regular_or_missing(void **state)
{
    struct fx *f = *state;
    char path[512], link[512], err[512];
    unsigned char buf[64];
    size_t len = 0;

    path_in(f, "missing.key", path, sizeof path);
    assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err), KIOSKD_ENOTFOUND);
    assert_non_null(strstr(err, path));

    path_in(f, "adir", path, sizeof path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err), KIOSKD_EFORBIDDEN);
    assert_non_null(strstr(err, "regular"));

    path_in(f, "fifo", path, sizeof path);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(keyfile_read(path, buf, sizeof buf, &len, err, sizeof err),
                     KIOSKD_EFORBIDDEN); /* and does not hang waiting for a writer */

    /* a symlink is judged by the file it names */
    path_in(f, "target.key", path, sizeof path);
    path_in(f, "link.key", link, sizeof link);
    write_file(path, "k", 0644);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(keyfile_read(link, buf, sizeof buf, &len, err, sizeof err), KIOSKD_EFORBIDDEN);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(keyfile_read(link, buf, sizeof buf, &len, err, sizeof err), 0);
    /* and keyfile_create does not write through a symlink */
    assert_int_equal(keyfile_create(link, "x", 1, err, sizeof err), KIOSKD_ECONFLICT);
}

static void test_pii_master(void **state)
{
    struct fx *f = *state;
    char path[512], err[512];
    unsigned char k1[32], k2[32], zero[32] = {0}, text[80];
    size_t len = 0;

    path_in(f, "var/keys/pii.key", path, sizeof path);
    assert_int_equal(keyfile_pii_master(path, &f->rng, k1, err, sizeof err), 0);
    assert_memory_not_equal(k1, zero, 32);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(keyfile_read(path, text, sizeof text, &len, err, sizeof err), 0);
    assert_int_equal(len, 65);
    assert_int_equal(text[64], '\n');
    for (size_t i = 0; i < 32; i++) {
        char hex[3];
        snprintf(hex, sizeof hex, "%02x", k1[i]);
        assert_memory_equal(text + 2 * i, hex, 2);
    }
    assert_int_equal(keyfile_pii_master(path, &f->rng, k2, err, sizeof err), 0);
    assert_memory_equal(k1, k2, 32);

    /* upper case, no newline: accepted */
    path_in(f, "upper.key", path, sizeof path);
    write_file(path, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", 0600);
    assert_int_equal(keyfile_pii_master(path, &f->rng, k1, err, sizeof err), 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(k1[i], i);

    /* corrupt files: refused, never replaced */
    const char *corrupt[] = {
        "",
        "\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",   /* 63 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", /* 65 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",  /* not hex */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
        " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    };
    path_in(f, "corrupt.key", path, sizeof path);
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        write_file(path, corrupt[i], 0600);
        memset(k1, 0xaa, sizeof k1);
        assert_int_equal(keyfile_pii_master(path, &f->rng, k1, err, sizeof err), KIOSKD_EMALFORMED);
        assert_non_null(strstr(err, path));
        assert_memory_equal(k1, zero, 32); /* nothing half-loaded */
        assert_int_equal(keyfile_read(path, text, sizeof text, &len, err, sizeof err), 0);
        assert_int_equal(len, strlen(corrupt[i]));
    }
    /* a readable-by-others master key is not used */
    write_file(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0644);
    assert_int_equal(keyfile_pii_master(path, &f->rng, k1, err, sizeof err), KIOSKD_EFORBIDDEN);
    assert_non_null(strstr(err, "chmod 600"));
}

static void test_ticket_key(void **state)
{
    struct fx *f = *state;
    char path[512], err[512], c1[TICKET_CODE_MAX + 1], c2[TICKET_CODE_MAX + 1];
    struct ticket_key k1, k2;
    const struct ticket_payload p = {1, 2, 3};
    struct stat st;

    path_in(f, "tk/ticket.pem", path, sizeof path);
    assert_int_equal(keyfile_ticket_key(path, &f->rng, 0, &k1, err, sizeof err), KIOSKD_ENOTFOUND);
    assert_int_equal(stat(path, &st), -1); /* nothing created */

    assert_int_equal(keyfile_ticket_key(path, &f->rng, 1, &k1, err, sizeof err), 0);
    assert_true(k1.has_private);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(keyfile_ticket_key(path, &f->rng, 0, &k2, err, sizeof err), 0);
    assert_string_equal(k1.kid, k2.kid);
    assert_int_equal(ticket_sign(&k1, &f->rng, &p, c1, sizeof c1), 0);
    assert_int_equal(ticket_sign(&k2, &f->rng, &p, c2, sizeof c2), 0);
    assert_string_equal(c1, c2);
    ticket_key_free(&k2);
    /* create with the file present: the existing key is kept */
    assert_int_equal(keyfile_ticket_key(path, &f->rng, 1, &k2, err, sizeof err), 0);
    assert_string_equal(k1.kid, k2.kid);
    ticket_key_free(&k2);

    /* a public key where the private one belongs */
    char pem[1024];
    assert_int_equal(ticket_key_write_pem(&k1, 0, pem, sizeof pem), 0);
    path_in(f, "public.pem", path, sizeof path);
    write_file(path, pem, 0600);
    assert_int_equal(keyfile_ticket_key(path, &f->rng, 1, &k2, err, sizeof err), KIOSKD_EINVAL);
    assert_non_null(strstr(err, "private"));
    ticket_key_free(&k2);

    path_in(f, "garbage.pem", path, sizeof path);
    write_file(path, "not a key\n", 0600);
    assert_int_equal(keyfile_ticket_key(path, &f->rng, 1, &k2, err, sizeof err), KIOSKD_EMALFORMED);
    assert_non_null(strstr(err, path));

    /* group-readable private key: refused */
    assert_int_equal(ticket_key_write_pem(&k1, 1, pem, sizeof pem), 0);
    path_in(f, "open.pem", path, sizeof path);
    write_file(path, pem, 0640);
    assert_int_equal(keyfile_ticket_key(path, &f->rng, 1, &k2, err, sizeof err), KIOSKD_EFORBIDDEN);
    ticket_key_free(&k1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_then_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_modes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular_or_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pii_master, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ticket_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
