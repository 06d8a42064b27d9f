/* AES-256-GCM sealing of the secrets a shared store keeps (seal.h). */
#define _GNU_SOURCE
#include "crypto/seal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util/b64url.h"

#define PREFIX      "leec-seal-1:"
#define NONCE_LEN   12
#define TAG_LEN     16
#define KEYFILE_MAX 4096
/* A sealed text is bounded like every record (a 1 MiB part, base64). */
#define SEALED_MAX ((size_t)3 * 1024 * 1024)

void Leec_seal_key_clear(leec_seal_key *k)
{
    if (k)
        explicit_bzero(k, sizeof *k);
}

static void set_id(leec_seal_key *k)
{
    static const char label[] = "leec-seal-key-id";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(c, label, sizeof label - 1) == 1 &&
        EVP_DigestUpdate(c, k->key, sizeof k->key) == 1 &&
        EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen >= 8) {
        for (int i = 0; i < 8; i++)
            snprintf(k->id + 2 * i, 3, "%02x", md[i]);
    } else {
        k->id[0] = '\0';
    }
    EVP_MD_CTX_free(c);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The key's bytes from a file's text: raw 32 bytes, 64 hex digits, or
 * base64 (standard or url alphabet) of 32 bytes. */
static bool parse_key(const unsigned char *d, size_t n, unsigned char *key)
{
    if (n == LEEC_SEAL_KEY_LEN) {
        memcpy(key, d, n);
        return true;
    }
    size_t a = 0, b = n;
    while (a < b && isspace(d[a]))
        a++;
    while (b > a && isspace(d[b - 1]))
        b--;
    n = b - a;
    d += a;
    if (n == 2 * LEEC_SEAL_KEY_LEN) {
        bool ok = true;
        for (size_t i = 0; i < LEEC_SEAL_KEY_LEN && ok; i++) {
            int h = hexval(d[2 * i]), l = hexval(d[2 * i + 1]);
            ok = h >= 0 && l >= 0;
            key[i] = (unsigned char)(h << 4 | l);
        }
        if (ok)
            return true;
    }
    /* base64: 44 characters with '=' padding, 43 without. */
    char b64[48];
    if (n != 43 && n != 44)
        return false;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        char c = (char)d[i];
        if (c == '=')
            break;
        b64[m++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    unsigned char *out = NULL;
    size_t outlen = 0;
    bool ok = Leec_b64url_decode(b64, m, &out, &outlen) == LEEC_OK &&
              outlen == LEEC_SEAL_KEY_LEN;
    if (ok)
        memcpy(key, out, LEEC_SEAL_KEY_LEN);
    if (out)
        explicit_bzero(out, outlen);
    free(out);
    explicit_bzero(b64, sizeof b64);
    return ok;
}

leec_code Leec_seal_key_load(const char *path, leec_seal_key *k, char **why)
{
    if (why)
        *why = NULL;
    if (!path || !k)
        return LEEC_E_INVALID_ARG;
    memset(k, 0, sizeof *k);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        if (why && asprintf(why, "cannot open the store key %s: %s", path,
                            strerror(errno)) < 0)
            *why = NULL;
        return errno == ENOENT ? LEEC_E_NOT_FOUND : LEEC_E_IO;
    }
    struct stat st;
    leec_code rc = LEEC_E_BAD_KEY;
    const char *bad = NULL;
    if (fstat(fd, &st) != 0) {
        rc = LEEC_E_IO;
        bad = "cannot be examined";
    } else if (!S_ISREG(st.st_mode)) {
        bad = "is not a regular file";
    } else if (st.st_uid != geteuid()) {
        bad = "is not owned by this user (chown it)";
    } else if (st.st_mode & 077) {
        bad = "is readable by others than its owner (chmod 600 it)";
    }
    if (bad) {
        close(fd);
        if (why && asprintf(why, "store key %s %s", path, bad) < 0)
            *why = NULL;
        return rc;
    }
    unsigned char buf[KEYFILE_MAX];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            explicit_bzero(buf, sizeof buf);
            if (why && asprintf(why, "cannot read the store key %s: %s", path,
                                strerror(errno)) < 0)
                *why = NULL;
            return LEEC_E_IO;
        }
        n += (size_t)r;
    }
    close(fd);
    bool ok = n < sizeof buf && parse_key(buf, n, k->key);
    explicit_bzero(buf, sizeof buf);
    if (!ok) {
        Leec_seal_key_clear(k);
        if (why &&
            asprintf(why,
                     "store key %s holds no 32-byte key (32 raw bytes, 64 hex "
                     "digits or base64; e.g. head -c32 /dev/urandom > FILE)",
                     path) < 0)
            *why = NULL;
        return LEEC_E_BAD_KEY;
    }
    set_id(k);
    return k->id[0] ? LEEC_OK : LEEC_E_CRYPTO;
}

leec_code Leec_seal_key_from_credentials(leec_seal_key *k, char **why)
{
    if (why)
        *why = NULL;
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (!dir || !*dir)
        return LEEC_E_NOT_FOUND;
    char *path = NULL;
    if (asprintf(&path, "%s/leec-store-key", dir) < 0)
        return LEEC_E_NOMEM;
    leec_code rc = Leec_seal_key_load(path, k, why);
    free(path);
    return rc;
}

/* One AES-256-GCM pass; enc: seal (tag written) or open (tag checked). */
static bool gcm(bool enc, const unsigned char *key, const unsigned char *nonce,
                const char *aad, const unsigned char *in, size_t n,
                unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0;
    bool ok =
        c && n <= (size_t)INT32_MAX &&
        EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
        EVP_CipherUpdate(c, NULL, &len, (const unsigned char *)aad,
                         (int)strlen(aad)) == 1 &&
        (n == 0 || EVP_CipherUpdate(c, out, &len, in, (int)n) == 1);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
    ok = ok && EVP_CipherFinal_ex(c, out + (n ? len : 0), &len) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

leec_code Leec_seal(const leec_seal_key *k, const char *aad, const void *plain,
                    size_t n, char **sealed)
{
    if (!sealed)
        return LEEC_E_INVALID_ARG;
    *sealed = NULL;
    if (!k || !k->id[0] || !aad || (!plain && n))
        return LEEC_E_INVALID_ARG;
    if (n > SEALED_MAX / 2)
        return LEEC_E_TOO_LARGE;
    unsigned char *box = malloc(NONCE_LEN + n + TAG_LEN);
    if (!box)
        return LEEC_E_NOMEM;
    leec_code rc = LEEC_E_CRYPTO;
    /* A random 96-bit nonce per record: 2^32 seals under one key keep the
     * chance of a repeat negligible, and rekey changes the key anyway. */
    if (RAND_bytes(box, NONCE_LEN) == 1 &&
        gcm(true, k->key, box, aad, plain, n, box + NONCE_LEN,
            box + NONCE_LEN + n)) {
        char *b = Leec_b64url_encode(box, NONCE_LEN + n + TAG_LEN);
        rc = LEEC_E_NOMEM;
        if (b && asprintf(sealed, PREFIX "%s:%s", k->id, b) >= 0)
            rc = LEEC_OK;
        else
            *sealed = NULL;
        free(b);
    }
    explicit_bzero(box, NONCE_LEN + n + TAG_LEN);
    free(box);
    return rc;
}

bool Leec_sealed_with(const char *sealed, const char *id)
{
    size_t p = strlen(PREFIX);
    return sealed && id && strncmp(sealed, PREFIX, p) == 0 &&
           strlen(id) == LEEC_SEAL_ID_LEN &&
           strncmp(sealed + p, id, LEEC_SEAL_ID_LEN) == 0 &&
           sealed[p + LEEC_SEAL_ID_LEN] == ':';
}

leec_code Leec_unseal(const leec_seal_key *const *keys, size_t nkeys,
                      const char *aad, const char *sealed, char **plain,
                      size_t *n)
{
    if (!plain)
        return LEEC_E_INVALID_ARG;
    *plain = NULL;
    if (n)
        *n = 0;
    size_t p = strlen(PREFIX);
    if (!keys || !aad || !sealed ||
        strnlen(sealed, SEALED_MAX + 1) > SEALED_MAX ||
        strncmp(sealed, PREFIX, p) != 0 ||
        strlen(sealed) < p + LEEC_SEAL_ID_LEN + 1 ||
        sealed[p + LEEC_SEAL_ID_LEN] != ':')
        return LEEC_E_INVALID_ARG;
    const leec_seal_key *k = NULL;
    for (size_t i = 0; i < nkeys && !k; i++)
        if (keys[i] && Leec_sealed_with(sealed, keys[i]->id))
            k = keys[i];
    if (!k)
        return LEEC_E_BAD_KEY;
    const char *b = sealed + p + LEEC_SEAL_ID_LEN + 1;
    unsigned char *box = NULL;
    size_t blen = 0;
    leec_code rc = Leec_b64url_decode(b, strlen(b), &box, &blen);
    if (rc != LEEC_OK)
        return rc == LEEC_E_NOMEM ? rc : LEEC_E_INVALID_ARG;
    if (blen < NONCE_LEN + TAG_LEN) {
        free(box);
        return LEEC_E_INVALID_ARG;
    }
    size_t m = blen - NONCE_LEN - TAG_LEN;
    char *out = malloc(m + 1);
    rc = LEEC_E_NOMEM;
    if (out) {
        rc = LEEC_E_CRYPTO;
        if (gcm(false, k->key, box, aad, box + NONCE_LEN, m,
                (unsigned char *)out, box + NONCE_LEN + m)) {
            out[m] = '\0';
            *plain = out;
            if (n)
                *n = m;
            rc = LEEC_OK;
        } else {
            explicit_bzero(out, m + 1);
            free(out);
        }
    }
    explicit_bzero(box, blen);
    free(box);
    return rc;
}
