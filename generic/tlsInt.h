/*
 * tlsInt.h --
 *
 *	TLS on a connection's byte stream (OpenSSL 3), for the files that
 *	make a connection (connInt.h) and listen.c:
 *	  tlsconfig.c	the Tcl thread: an SSL_CTX built from the TLS
 *			options (loading certificate, key and CA files, so
 *			that a bad file is a synchronous error), a cache of
 *			them per interpreter, what a connection's TLS half
 *			is handed (CourierTlsSetup), $c tls, $c starttls;
 *	  tls.c		the I/O thread: one SSL object per connection
 *			driven through an in-memory BIO: ciphertext read
 *			from the socket goes in (CourierTlsIoRead),
 *			plaintext comes out to the framer
 *			(CourierStreamDeliverPlain); plaintext to send is
 *			encrypted (CourierTlsIoEncrypt) and the ciphertext
 *			goes out through streamwrite.c's batched writes.
 *	OpenSSL is called on the I/O thread only, except for building a
 *	context (file loading, no network) on the Tcl thread. An SSL_CTX is
 *	reference counted by OpenSSL: the cache, a listener and each setup
 *	hold one each.
 */

#ifndef COURIER_TLSINT_H
#define COURIER_TLSINT_H

#include "conn.h"

typedef struct ssl_ctx_st SSL_CTX_t;	/* OpenSSL's SSL_CTX. */

/*
 * What the Tcl thread hands a connection's I/O half to start TLS
 * (connect, an accepted socket, starttls): malloc'ed, owned by the
 * command that carries it, then by the I/O half, which frees it once
 * the SSL object is made.
 */

typedef struct CourierTlsSetup {
    SSL_CTX_t *ctx;		/* One reference. */
    int server;			/* Accept (1) or connect (0). */
    int verify;			/* Verify the peer's certificate. */
    int starttls;		/* Started by $c starttls: no -onconnect
				 * after the handshake. */
    char *servername;		/* Client: SNI and the name checked; NULL
				 * for none. */
    char *verifyIp;		/* Client: the address checked against the
				 * certificate's IP SANs; NULL for none. */
} CourierTlsSetup;

typedef struct CourierTls CourierTls;

/* The handshake timeout when courier::connect has no -timeout. */
#define COURIER_TLS_HANDSHAKE_MS 30000

/* tlsconfig.c: the Tcl thread. */
MODULE_SCOPE const CourierOptSpec courierTlsOptionSpecs[];
MODULE_SCOPE SSL_CTX_t *CourierTlsContext(Tcl_Interp *interp,
			    const ConnOptions *optsPtr, int server);
MODULE_SCOPE void	CourierTlsContextFree(SSL_CTX_t *ctx);
MODULE_SCOPE int	CourierTcpOptionsParse(Tcl_Interp *interp,
			    const CourierOptTable tables[3], int objc,
			    Tcl_Obj *const objv[], int server,
			    SSL_CTX_t **ctxPtr);
MODULE_SCOPE CourierTlsSetup *CourierTlsSetupNew(SSL_CTX_t *ctx,
			    const ConnOptions *optsPtr, int server,
			    const char *host);
MODULE_SCOPE void	CourierTlsSetupFree(CourierTlsSetup *setupPtr);
MODULE_SCOPE void	CourierConnAcceptTls(Conn *connPtr, SSL_CTX_t *ctx);
MODULE_SCOPE Tcl_Obj *	CourierTlsPendingInfo(void);
MODULE_SCOPE Tcl_Obj *	CourierTlsInfoFromMsg(const unsigned char *bytes,
			    size_t length, int *starttlsPtr);

/* tls.c: the I/O thread. */
MODULE_SCOPE void	CourierTlsIoStart(Conn *connPtr,
			    CourierTlsSetup *setupPtr);
MODULE_SCOPE void	CourierTlsIoRead(Conn *connPtr,
			    const unsigned char *bytes, size_t length);
MODULE_SCOPE int	CourierTlsIoEncrypt(Conn *connPtr,
			    const unsigned char *bytes, size_t length);
MODULE_SCOPE unsigned char *CourierTlsIoTakeOutput(Conn *connPtr,
			    size_t *lengthPtr);
MODULE_SCOPE int	CourierTlsIoHolding(Conn *connPtr);
MODULE_SCOPE int	CourierTlsIoCutRecord(Conn *connPtr);
MODULE_SCOPE int	CourierTlsIoCloseNotify(Conn *connPtr);
MODULE_SCOPE void	CourierTlsIoFree(Conn *connPtr);
MODULE_SCOPE const char *CourierTlsErrorReason(unsigned long *codePtr,
			    const char *dflt);

#endif /* COURIER_TLSINT_H */
