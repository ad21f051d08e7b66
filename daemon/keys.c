/*
 * Key files on disk: reading with a secrecy check, creating without ever
 * overwriting, and the two keys kioskd keeps (PII master key, ticket signing
 * key). The cryptography itself is core/pii.c and core/ticket.c.
 */
#include "daemon/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "core/status.h"

#define MASTER_LEN 32
#define MASTER_HEX (2 * MASTER_LEN)
#define PEM_CAP 4096

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int keyfile_read(const char *path, unsigned char *buf, size_t cap, size_t *len, char *err,
                 size_t errlen)
{
    struct stat st;
    size_t got = 0;
    int rc, fd;

    *len = 0;
    /* O_NONBLOCK so that a FIFO does not hang the open; fstat then refuses it. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            seterr(err, errlen, "%s: key file does not exist", path);
            return KIOSKD_ENOTFOUND;
        }
        seterr(err, errlen, "%s: cannot open key file: %s", path, strerror(errno));
        return KIOSKD_EIO;
    }
    /* Checked on the open descriptor, so the file cannot be swapped in between. */
    if (fstat(fd, &st) != 0) {
        seterr(err, errlen, "%s: cannot stat key file: %s", path, strerror(errno));
        rc = KIOSKD_EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        seterr(err, errlen, "%s: a key file must be a regular file", path);
        rc = KIOSKD_EFORBIDDEN;
        goto out;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        seterr(err, errlen,
               "%s: key file has mode %04o, so group or others may read or change it; "
               "run chmod 600 %s",
               path, (unsigned)(st.st_mode & 07777), path);
        rc = KIOSKD_EFORBIDDEN;
        goto out;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        seterr(err, errlen,
               "%s: key file is owned by uid %u, not by root or uid %u that runs kioskd", path,
               (unsigned)st.st_uid, (unsigned)geteuid());
        rc = KIOSKD_EFORBIDDEN;
        goto out;
    }
    for (;;) {
        unsigned char extra;
        ssize_t n;
        if (got < cap)
            n = read(fd, buf + got, cap - got);
        else
            n = read(fd, &extra, 1); /* full: is there more? */
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            seterr(err, errlen, "%s: cannot read key file: %s", path, strerror(errno));
            rc = KIOSKD_EIO;
            goto out;
        }
        if (n == 0)
            break;
        if (got == cap) {
            mbedtls_platform_zeroize(&extra, sizeof extra);
            seterr(err, errlen, "%s: key file is larger than %zu bytes", path, cap);
            rc = KIOSKD_ETOOBIG;
            goto out;
        }
        got += (size_t)n;
    }
    *len = got;
    rc = 0;
out:
    if (rc != 0 && cap > 0)
        mbedtls_platform_zeroize(buf, cap);
    close(fd);
    return rc;
}

/* Creates every missing folder above path with mode 0700; 0 or -1 (errno set). */
static int mkdir_parents(const char *path, char *dir, size_t dirlen)
{
    size_t n = strlen(path);
    if (n >= dirlen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        memcpy(dir, ".", 2);
        return 0;
    }
    if (slash == dir) {
        dir[1] = '\0'; /* "/" */
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int keyfile_create(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    const unsigned char *p = data;
    size_t left = len;
    int rc, fd = -1, dfd = -1, created = 0;

    if (mkdir_parents(path, dir, sizeof dir) != 0) {
        seterr(err, errlen, "%s: cannot create the key folder: %s", path, strerror(errno));
        return KIOSKD_EIO;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0) {
        if (errno == EEXIST) {
            seterr(err, errlen, "%s: key file already exists; it is never overwritten", path);
            return KIOSKD_ECONFLICT;
        }
        seterr(err, errlen, "%s: cannot create key file: %s", path, strerror(errno));
        return KIOSKD_EIO;
    }
    created = 1;
    /* 0600 whatever the umask (a umask can only take bits away, but be exact). */
    if (fchmod(fd, 0600) != 0) {
        seterr(err, errlen, "%s: cannot set mode 0600: %s", path, strerror(errno));
        rc = KIOSKD_EIO;
        goto out;
    }
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            seterr(err, errlen, "%s: cannot write key file: %s", path,
                   n < 0 ? strerror(errno) : "no progress");
            rc = KIOSKD_EIO;
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        seterr(err, errlen, "%s: cannot sync key file: %s", path, strerror(errno));
        rc = KIOSKD_EIO;
        goto out;
    }
    rc = close(fd);
    fd = -1;
    if (rc != 0) {
        seterr(err, errlen, "%s: cannot close key file: %s", path, strerror(errno));
        rc = KIOSKD_EIO;
        goto out;
    }
    /* Make the new name durable too, or a power cut could lose the key after
     * data sealed with it was committed. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        seterr(err, errlen, "%s: cannot sync the key folder %s: %s", path, dir, strerror(errno));
        rc = KIOSKD_EIO;
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    if (rc != 0 && created)
        unlink(path);
    return rc;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int keyfile_pii_master(const char *path, struct rng *rng, unsigned char out[32], char *err,
                       size_t errlen)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char text[MASTER_HEX + 2], fresh[MASTER_LEN];
    size_t len = 0;
    int rc;

    rc = keyfile_read(path, text, sizeof text, &len, err, errlen);
    if (rc == KIOSKD_ENOTFOUND) {
        rc = rng_bytes(rng, fresh, sizeof fresh);
        if (rc != 0) {
            seterr(err, errlen, "%s: cannot make a new key: no random bytes", path);
            goto out;
        }
        for (size_t i = 0; i < MASTER_LEN; i++) {
            text[2 * i] = (unsigned char)digits[fresh[i] >> 4];
            text[2 * i + 1] = (unsigned char)digits[fresh[i] & 15];
        }
        text[MASTER_HEX] = '\n';
        rc = keyfile_create(path, text, MASTER_HEX + 1, err, errlen);
        /* ECONFLICT: another process created it first; use theirs. */
        if (rc == 0 || rc == KIOSKD_ECONFLICT)
            rc = keyfile_read(path, text, sizeof text, &len, err, errlen);
    }
    if (rc != 0)
        goto out;
    if (len == MASTER_HEX + 1 && text[MASTER_HEX] == '\n')
        len--;
    if (len != MASTER_HEX) {
        seterr(err, errlen, "%s: the PII key file must hold 64 hex characters", path);
        rc = KIOSKD_EMALFORMED;
        goto out;
    }
    for (size_t i = 0; i < MASTER_LEN; i++) {
        int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            seterr(err, errlen, "%s: the PII key file must hold 64 hex characters", path);
            rc = KIOSKD_EMALFORMED;
            goto out;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
out:
    if (rc != 0)
        mbedtls_platform_zeroize(out, MASTER_LEN);
    mbedtls_platform_zeroize(text, sizeof text);
    mbedtls_platform_zeroize(fresh, sizeof fresh);
    return rc;
}

int keyfile_ticket_key(const char *path, struct rng *rng, int create, struct ticket_key *k,
                       char *err, size_t errlen)
{
    char pem[PEM_CAP];
    size_t len = 0;
    int rc;

    memset(k, 0, sizeof *k);
    rc = keyfile_read(path, (unsigned char *)pem, sizeof pem, &len, err, errlen);
    if (rc == KIOSKD_ENOTFOUND && create) {
        rc = ticket_key_generate(k, rng);
        if (rc == 0)
            rc = ticket_key_write_pem(k, 1, pem, sizeof pem);
        ticket_key_free(k);
        if (rc != 0) {
            seterr(err, errlen, "%s: cannot make a new ticket key: %s", path, kioskd_strerror(rc));
            goto out;
        }
        rc = keyfile_create(path, pem, strlen(pem), err, errlen);
        /* Read back what is on disk (ours, or a racing process's). */
        if (rc == 0 || rc == KIOSKD_ECONFLICT)
            rc = keyfile_read(path, (unsigned char *)pem, sizeof pem, &len, err, errlen);
    }
    if (rc != 0)
        goto out;
    rc = ticket_key_load_pem(k, pem, len);
    if (rc != 0) {
        seterr(err, errlen, "%s: not a P-256 private key PEM (%s)", path, kioskd_strerror(rc));
        goto out;
    }
    if (!k->has_private) {
        ticket_key_free(k);
        seterr(err, errlen, "%s: holds a public key; the ticket key file needs the private key",
               path);
        rc = KIOSKD_EINVAL;
        goto out;
    }
out:
    mbedtls_platform_zeroize(pem, sizeof pem);
    return rc;
}
