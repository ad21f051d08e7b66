/* Descriptions of the kioskd status codes. */
#include "core/status.h"

const char *kioskd_strerror(int status)
{
    switch ((enum kioskd_status)status) {
    case KIOSKD_OK:
        return "ok";
    case KIOSKD_ENOMEM:
        return "out of memory";
    case KIOSKD_EINVAL:
        return "invalid value";
    case KIOSKD_EMALFORMED:
        return "malformed input";
    case KIOSKD_ENOTFOUND:
        return "not found";
    case KIOSKD_ECONFLICT:
        return "conflict";
    case KIOSKD_EGONE:
        return "gone";
    case KIOSKD_ETOOBIG:
        return "too large";
    case KIOSKD_EBUSY:
        return "busy";
    case KIOSKD_EIO:
        return "storage error";
    case KIOSKD_EFULL:
        return "disk full";
    case KIOSKD_EAUTH:
        return "bad credentials";
    case KIOSKD_EFORBIDDEN:
        return "not allowed";
    case KIOSKD_ECRYPTO:
        return "cryptographic failure";
    case KIOSKD_ESHUTDOWN:
        return "shutting down";
    case KIOSKD_ECONFIG:
        return "invalid configuration";
    case KIOSKD_ESCHEMA:
        return "database is from a newer kioskd";
    case KIOSKD_ELOCKED:
        return "locked";
    case KIOSKD_EBADSIG:
        return "bad signature";
    case KIOSKD_ELIMIT:
        return "rate limited";
    case KIOSKD_EREFUSED:
        return "refused";
    case KIOSKD_ETIMEDOUT:
        return "timed out";
    case KIOSKD_ENET:
        return "network error";
    case KIOSKD_EREADONLY:
        return "database folder is read-only";
    case KIOSKD_EMOVED:
        return "database folder is gone";
    }
    return "unknown error";
}
