// Functions that Swift cannot import from OpenSSL 3.0: macros over SSL_ctrl /
// BIO_ctrl, and the variadic EVP_PKEY_Q_keygen. Each wrapper is a one-line
// forwarder; the names keep OpenSSL's with an `rtc_` prefix.
#ifndef RTC_COPENSSL_SHIM_H_INCLUDED
#define RTC_COPENSSL_SHIM_H_INCLUDED

#include <openssl/ssl.h>
#include <openssl/evp.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <stdint.h>

/// The OPENSSL_VERSION_NUMBER the shim was compiled against.
unsigned long rtc_OPENSSL_VERSION_NUMBER(void);

/// EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"): a new ECDSA P-256 key, or NULL.
EVP_PKEY *rtc_generate_p256_key(void);

long rtc_SSL_set_mode(SSL *ssl, long mode);
long rtc_SSL_set_mtu(SSL *ssl, long mtu);
long rtc_DTLS_set_link_mtu(SSL *ssl, long mtu);
long rtc_SSL_OP_NO_QUERY_MTU(void);
uint64_t rtc_SSL_OP_NO_TICKET(void);
uint64_t rtc_SSL_OP_NO_RENEGOTIATION(void);
/// Fills *seconds / *microseconds and returns 1 when a DTLS timer is running.
int rtc_DTLSv1_get_timeout(SSL *ssl, long *seconds, long *microseconds);
long rtc_DTLSv1_handle_timeout(SSL *ssl);
int rtc_SSL_set_app_data(SSL *ssl, void *data);
void *rtc_SSL_get_app_data(const SSL *ssl);
const char *rtc_SSL_get_cipher_name(const SSL *ssl);

long rtc_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
long rtc_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
long rtc_SSL_CTX_set_read_ahead(SSL_CTX *ctx, long yes);
long rtc_SSL_CTX_set_ecdh_auto(SSL_CTX *ctx, long onoff);
long rtc_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
long rtc_SSL_CTX_set1_sigalgs_list(SSL_CTX *ctx, const char *list);

long rtc_BIO_pending(BIO *bio);
/// Points *data at the memory BIO's contents and returns their length.
long rtc_BIO_get_mem_data(BIO *bio, char **data);
/// With v = -1 an empty memory BIO reads as "retry" instead of end-of-file.
long rtc_BIO_set_mem_eof_return(BIO *bio, long v);

void rtc_OPENSSL_free(void *pointer);

#endif
