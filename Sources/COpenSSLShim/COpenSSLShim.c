#include "COpenSSLShim.h"

unsigned long rtc_OPENSSL_VERSION_NUMBER(void) { return OPENSSL_VERSION_NUMBER; }

EVP_PKEY *rtc_generate_p256_key(void) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); }

long rtc_SSL_set_mode(SSL *ssl, long mode) { return SSL_set_mode(ssl, mode); }
long rtc_SSL_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }
long rtc_DTLS_set_link_mtu(SSL *ssl, long mtu) { return DTLS_set_link_mtu(ssl, mtu); }
long rtc_SSL_OP_NO_QUERY_MTU(void) { return (long)SSL_OP_NO_QUERY_MTU; }
uint64_t rtc_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }
uint64_t rtc_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }

int rtc_DTLSv1_get_timeout(SSL *ssl, long *seconds, long *microseconds) {
    struct timeval tv = {0, 0};
    int running = (int)DTLSv1_get_timeout(ssl, &tv);
    *seconds = (long)tv.tv_sec;
    *microseconds = (long)tv.tv_usec;
    return running;
}
long rtc_DTLSv1_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }
int rtc_SSL_set_app_data(SSL *ssl, void *data) { return SSL_set_app_data(ssl, data); }
void *rtc_SSL_get_app_data(const SSL *ssl) { return SSL_get_app_data(ssl); }
const char *rtc_SSL_get_cipher_name(const SSL *ssl) { return SSL_get_cipher_name(ssl); }

long rtc_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_min_proto_version(ctx, version); }
long rtc_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_max_proto_version(ctx, version); }
long rtc_SSL_CTX_set_read_ahead(SSL_CTX *ctx, long yes) { return SSL_CTX_set_read_ahead(ctx, yes); }
long rtc_SSL_CTX_set_ecdh_auto(SSL_CTX *ctx, long onoff) { return SSL_CTX_set_ecdh_auto(ctx, onoff); }
long rtc_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) { return SSL_CTX_set1_groups_list(ctx, list); }
long rtc_SSL_CTX_set1_sigalgs_list(SSL_CTX *ctx, const char *list) { return SSL_CTX_set1_sigalgs_list(ctx, list); }

long rtc_BIO_pending(BIO *bio) { return (long)BIO_pending(bio); }
long rtc_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
long rtc_BIO_set_mem_eof_return(BIO *bio, long v) { return BIO_set_mem_eof_return(bio, v); }

void rtc_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }
