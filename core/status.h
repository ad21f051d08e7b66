/*
 * Status codes returned by every kioskd function: 0 for success, a negative
 * KIOSKD_E* value for failure. Appended to, never renumbered.
 */
#ifndef KIOSKD_STATUS_H
#define KIOSKD_STATUS_H

enum kioskd_status {
    KIOSKD_OK = 0,
    KIOSKD_ENOMEM = -1,      /* an allocation failed */
    KIOSKD_EINVAL = -2,      /* an argument or field is not valid */
    KIOSKD_EMALFORMED = -3,  /* input could not be parsed */
    KIOSKD_ENOTFOUND = -4,   /* no such thing */
    KIOSKD_ECONFLICT = -5,   /* the current state does not allow it */
    KIOSKD_EGONE = -6,       /* closed, cancelled or over */
    KIOSKD_ETOOBIG = -7,     /* over a size limit */
    KIOSKD_EBUSY = -8,       /* a queue is full; try again later */
    KIOSKD_EIO = -9,         /* the disk or the database failed */
    KIOSKD_EFULL = -10,      /* the disk is full */
    KIOSKD_EAUTH = -11,      /* no or bad credentials */
    KIOSKD_EFORBIDDEN = -12, /* credentials fine, not allowed */
    KIOSKD_ECRYPTO = -13,    /* a cryptographic operation failed */
    KIOSKD_ESHUTDOWN = -14,  /* the daemon is stopping */
    KIOSKD_ECONFIG = -15,    /* the configuration is not valid */
    KIOSKD_ESCHEMA = -16,    /* the database is from a newer kioskd */
    KIOSKD_ELOCKED = -17,    /* in use by another process, or locked out */
    KIOSKD_EBADSIG = -18,    /* a signature does not verify */
    KIOSKD_ELIMIT = -19,     /* a rate limit was hit */
    KIOSKD_EREFUSED = -20,   /* a rule of the domain refused it; the job's why says which */
    KIOSKD_ETIMEDOUT = -21,  /* the other side did not answer in time */
    KIOSKD_ENET = -22,       /* the network failed (connect, DNS, TLS) */
    KIOSKD_EREADONLY = -23,  /* the database's folder is read-only */
    KIOSKD_EMOVED = -24,     /* the database's folder or file is gone or was moved */
};

/* Returns a short English description of a status code (static string). */
const char *kioskd_strerror(int status);

#endif
