/*
 * tls.c --
 *
 *	TLS on a connection's byte stream, in the connection's I/O thread
 *	(see tlsInt.h). Each TLS connection has one SSL object whose BIO is
 *	in memory: it reads the ciphertext of the current socket read (no
 *	copy: a pointer into the read buffer, consumed before IoOnRead
 *	returns; a partial record stays inside OpenSSL) and appends what
 *	OpenSSL writes to an output buffer, which streamwrite.c writes to
 *	the socket with the connection's other writes. Nothing here blocks
 *	and nothing touches a socket: libuv does all the I/O.
 *
 *	  socket -> IoOnRead (streamread.c) -> CourierTlsIoRead -> SSL_read
 *	         -> CourierStreamDeliverPlain -> framer -> inbox
 *	  $c send -> CourierConnIoWrite -> IoFlush (streamwrite.c)
 *	         -> CourierTlsIoEncrypt (SSL_write) -> WriteTls -> uv_write
 *
 *	The handshake runs before anything is delivered or sent: sends made
 *	meanwhile wait in the connection's early list; -onconnect comes once
 *	it is done (CourierStreamPostOpened), after a CONN_MSG_TLS message
 *	that carries $c tls. SSL_MODE_RELEASE_BUFFERS (tlsconfig.c) lets an
 *	idle connection give back OpenSSL's record buffers.
 */

#include "connInt.h"
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

/* Plaintext decrypted per read is handed to the framer in blocks this big. */
#define PLAIN_BLOCK 65536

struct CourierTls {
    SSL *ssl;
    int server;			/* Accepting side. */
    int verify;			/* The peer's certificate is checked. */
    int starttls;		/* Begun by $c starttls. */
    int handshakeDone;
    int closeNotifySent;
    const unsigned char *in;	/* Ciphertext not yet read by OpenSSL ... */
    size_t inLen;		/* ... during CourierTlsIoRead only. */
    unsigned char *out;		/* Ciphertext OpenSSL wrote, to send. */
    size_t outLen, outCap;
    char *servername;		/* Client: SNI and the name checked. */
    char *verifyIp;		/* Client: the address checked. */
    int namesSeen;		/* The peer certificate's names below: */
    char dnsNames[256];		/* its DNS names (or CN), ", "-separated, */
    char ipNames[256];		/* its IP addresses. */
};

static BIO_METHOD *bioMethod;
static pthread_once_t bioOnce = PTHREAD_ONCE_INIT;

static void	TlsFail(Conn *connPtr, const char *what, int reset);
static void	TlsHandshakeFailed(Conn *connPtr);

/*
 *----------------------------------------------------------------------
 *
 * The BIO: reads the ciphertext of the read in progress, appends what
 * OpenSSL writes to the connection's output buffer.
 *
 *----------------------------------------------------------------------
 */

/*
 * BioRead --
 *	OpenSSL wants ciphertext: from the current read, or "retry" once it
 *	is used up (SSL_read then answers SSL_ERROR_WANT_READ).
 */

static int
BioRead(
    BIO *bio,
    char *buf,
    int size)
{
    CourierTls *tlsPtr = BIO_get_data(bio);
    size_t n;

    BIO_clear_retry_flags(bio);
    if (tlsPtr->inLen == 0) {
	BIO_set_retry_read(bio);
	return -1;
    }
    assert(size >= 0);
    n = tlsPtr->inLen < (size_t) size ? tlsPtr->inLen : (size_t) size;
    memcpy(buf, tlsPtr->in, n);
    tlsPtr->in += n;
    tlsPtr->inLen -= n;
    return (int) n;
}

/*
 * BioWrite --
 *	OpenSSL wrote ciphertext: append it to the output buffer (doubling
 *	it as needed). Always takes everything: the bytes count toward
 *	pendingOut until they are written.
 */

static int
BioWrite(
    BIO *bio,
    const char *buf,
    int size)
{
    CourierTls *tlsPtr = BIO_get_data(bio);

    BIO_clear_retry_flags(bio);
    assert(size >= 0);
    CourierBytesAppend(&tlsPtr->out, &tlsPtr->outLen, &tlsPtr->outCap,
	    4096, buf, (size_t) size);
    return size;
}

/*
 * BioCtrl --
 *	Only flush means anything (and succeeds): there is nothing to
 *	flush, the caller writes the output buffer.
 */

static long
BioCtrl(
    BIO *bio,
    int cmd,
    long num,
    void *ptr)
{
    (void) bio;
    (void) num;
    (void) ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/*
 * BioCreate --
 *	A new BIO of the method is ready at once (its data, the connection's
 *	CourierTls, is set by CourierTlsIoStart).
 */

static int
BioCreate(
    BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

/*
 * MakeBioMethod --
 *	The BIO method, once per process (pthread_once). It lives as long
 *	as the process: OpenSSL's own one-time allocations are like it.
 */

static void
MakeBioMethod(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "courier stream");

    if (m == NULL) {
	return;
    }
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    bioMethod = m;
}

/*
 *----------------------------------------------------------------------
 *
 * The peer certificate's names, for "hostname mismatch" (recorded by the
 * verify callback: a certificate that fails verification is not kept).
 *
 *----------------------------------------------------------------------
 */

/*
 * AppendName --
 *	Appends name to a ", "-separated list in buf (size bytes), as far
 *	as it fits.
 */

static void
AppendName(
    char *buf,
    size_t size,
    const char *name)
{
    size_t len = strlen(buf);

    if (len > 0 && len + 2 < size) {
	memcpy(buf + len, ", ", 3);
	len += 2;
    }
    snprintf(buf + len, size - len, "%s", name);
}

/*
 * RecordNames --
 *	Keeps the DNS names and IP addresses of cert's subjectAltName (or,
 *	without DNS names, its common name).
 */

static void
RecordNames(
    CourierTls *tlsPtr,
    X509 *cert)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
	    NULL, NULL);
    int i;

    tlsPtr->dnsNames[0] = tlsPtr->ipNames[0] = '\0';
    for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
	const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

	if (gn->type == GEN_DNS) {
	    char name[256];
	    int n = ASN1_STRING_length(gn->d.dNSName);

	    if (n < 0 || n >= (int) sizeof(name)) {
		continue;
	    }
	    memcpy(name, ASN1_STRING_get0_data(gn->d.dNSName), (size_t) n);
	    name[n] = '\0';
	    AppendName(tlsPtr->dnsNames, sizeof(tlsPtr->dnsNames), name);
	} else if (gn->type == GEN_IPADD) {
	    char text[INET6_ADDRSTRLEN];
	    int n = ASN1_STRING_length(gn->d.iPAddress);

	    /* The length first: a peer's SAN may hold any length. */
	    if ((n == 4 || n == 16) && inet_ntop(n == 4 ? AF_INET : AF_INET6,
		    ASN1_STRING_get0_data(gn->d.iPAddress), text,
		    sizeof(text)) != NULL) {
		AppendName(tlsPtr->ipNames, sizeof(tlsPtr->ipNames), text);
	    }
	}
    }
    GENERAL_NAMES_free(names);
    if (tlsPtr->dnsNames[0] == '\0') {
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
		NID_commonName, tlsPtr->dnsNames, sizeof(tlsPtr->dnsNames));
    }
    tlsPtr->namesSeen = 1;
}

/*
 * VerifyCallback --
 *	OpenSSL's verification of the peer's chain (I/O thread, inside the
 *	handshake): keeps the leaf's names, changes no verdict.
 */

static int
VerifyCallback(
    int ok,
    X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
    CourierTls *tlsPtr = ssl != NULL ? SSL_get_app_data(ssl) : NULL;

    if (tlsPtr != NULL && !tlsPtr->namesSeen
	    && X509_STORE_CTX_get_error_depth(store) == 0
	    && X509_STORE_CTX_get_current_cert(store) != NULL) {
	RecordNames(tlsPtr, X509_STORE_CTX_get_current_cert(store));
    }
    return ok;
}

/*
 *----------------------------------------------------------------------
 *
 * Starting, the handshake, and its end.
 *
 *----------------------------------------------------------------------
 */

/*
 * TlsOnTimeout --
 *	The handshake's own timer (COURIER_TLS_HANDSHAKE_MS) fired: the same
 *	as connect's -timeout firing (CourierTcpIoTimeout, tcp.c).
 */

static void
TlsOnTimeout(
    uv_timer_t *timer)
{
    CourierTcpIoTimeout(timer->data);
}

/*
 * CourierTlsIoStart --
 *	Starts TLS on an open stream (connected, accepted, or at $c
 *	starttls): makes the SSL object, arms the handshake timeout unless
 *	courier::connect's -timeout runs already, and (client) sends the
 *	ClientHello. Takes setupPtr. On failure, fails the connection.
 */

void
CourierTlsIoStart(
    Conn *connPtr,
    CourierTlsSetup *setupPtr)
{
    CourierTls *tlsPtr;
    BIO *bio;

    assert(connPtr->tlsPtr == NULL && connPtr->ioState == IO_OPEN);
    pthread_once(&bioOnce, MakeBioMethod);
    tlsPtr = CourierAllocZero(sizeof(CourierTls));
    tlsPtr->server = setupPtr->server;
    tlsPtr->verify = setupPtr->verify;
    tlsPtr->starttls = setupPtr->starttls;
    tlsPtr->servername = setupPtr->servername;
    tlsPtr->verifyIp = setupPtr->verifyIp;
    setupPtr->servername = setupPtr->verifyIp = NULL;
    connPtr->tlsPtr = tlsPtr;

    ERR_clear_error();
    tlsPtr->ssl = bioMethod != NULL ? SSL_new(setupPtr->ctx) : NULL;
    CourierTlsSetupFree(setupPtr);	/* The SSL holds the context now. */
    if (tlsPtr->ssl == NULL) {
	TlsFail(connPtr, "TLS setup failed", 0);
	return;
    }
    bio = BIO_new(bioMethod);
    if (bio == NULL) {
	TlsFail(connPtr, "TLS setup failed", 0);
	return;
    }
    BIO_set_data(bio, tlsPtr);
    SSL_set_bio(tlsPtr->ssl, bio, bio);
    SSL_set_app_data(tlsPtr->ssl, tlsPtr);
    if (tlsPtr->server) {
	SSL_set_verify(tlsPtr->ssl, tlsPtr->verify ? SSL_VERIFY_PEER
		| SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE,
		VerifyCallback);
	SSL_set_accept_state(tlsPtr->ssl);
    } else {
	SSL_set_verify(tlsPtr->ssl, tlsPtr->verify ? SSL_VERIFY_PEER
		: SSL_VERIFY_NONE, VerifyCallback);
	if (tlsPtr->servername != NULL) {
	    SSL_set_tlsext_host_name(tlsPtr->ssl, tlsPtr->servername);
	    if (tlsPtr->verify) {
		SSL_set1_host(tlsPtr->ssl, tlsPtr->servername);
	    }
	} else if (tlsPtr->verifyIp != NULL && tlsPtr->verify) {
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tlsPtr->ssl),
		    tlsPtr->verifyIp);
	}
	SSL_set_connect_state(tlsPtr->ssl);
    }

    /* The handshake's own deadline, unless -timeout's timer runs. */
    if (!connPtr->timerInit) {
	uv_timer_init(CourierIoLoop(connPtr->ioPtr), &connPtr->timer);
	connPtr->timer.data = connPtr;
	connPtr->timerInit = 1;
	connPtr->handlesOpen++;
    }
    if (!uv_is_active((uv_handle_t *) &connPtr->timer)) {
	uv_timer_start(&connPtr->timer, TlsOnTimeout,
		COURIER_TLS_HANDSHAKE_MS, 0);
    }
    if (!tlsPtr->server) {
	CourierTlsIoRead(connPtr, NULL, 0);	/* The ClientHello. */
    }
}

/*
 * TlsPostInfo --
 *	Tells the Tcl half what $c tls shows (CONN_MSG_TLS): a flag
 *	(started by starttls) and the fields in the order of the dict,
 *	each ending with a NUL (tlsconfig.c, CourierTlsInfoFromMsg).
 */

static void
TlsPostInfo(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;
    SSL *ssl = tlsPtr->ssl;
    X509 *peer = SSL_get0_peer_certificate(ssl);
    BIO *mem = BIO_new(BIO_s_mem());
    const unsigned char *alpn = NULL;
    unsigned alpnLen = 0;
    long result = SSL_get_verify_result(ssl);
    const char *sni;
    char fingerprint[3 * EVP_MAX_MD_SIZE + 1] = "";
    char *text;
    long textLen;
    int verified = tlsPtr->verify && peer != NULL && result == X509_V_OK;

    if (mem == NULL) {
	return;
    }
    BIO_printf(mem, "%d%c%s%c%s%c", tlsPtr->starttls, 0,
	    SSL_get_version(ssl), 0, SSL_get_cipher_name(ssl), 0);
    SSL_get0_alpn_selected(ssl, &alpn, &alpnLen);
    BIO_write(mem, alpn != NULL ? (const char *) alpn : "", (int) alpnLen);
    sni = tlsPtr->server
	    ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)
	    : tlsPtr->servername;
    BIO_printf(mem, "%c%s%c%d%c%s%c", 0, sni != NULL ? sni : "", 0,
	    verified, 0, !tlsPtr->verify ? "not verified (-verify 0)"
	    : peer == NULL ? "no peer certificate"
	    : result == X509_V_OK ? "ok"
	    : X509_verify_cert_error_string(result), 0);
    if (peer != NULL) {
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdLen = 0, i;

	X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0,
		XN_FLAG_RFC2253);
	BIO_write(mem, "", 1);
	X509_NAME_print_ex(mem, X509_get_issuer_name(peer), 0,
		XN_FLAG_RFC2253);
	BIO_write(mem, "", 1);
	ASN1_TIME_print(mem, X509_get0_notBefore(peer));
	BIO_write(mem, "", 1);
	ASN1_TIME_print(mem, X509_get0_notAfter(peer));
	BIO_write(mem, "", 1);
	if (X509_digest(peer, EVP_sha256(), md, &mdLen)) {
	    for (i = 0; i < mdLen; i++) {
		snprintf(fingerprint + 3 * i, 4, i + 1 < mdLen ? "%02X:"
			: "%02X", md[i]);
	    }
	}
    } else {
	BIO_write(mem, "\0\0\0\0", 4);
    }
    BIO_printf(mem, "%s%c%d%c", fingerprint, 0,
	    SSL_session_reused(ssl), 0);
    textLen = BIO_get_mem_data(mem, &text);
    if (textLen > 0) {
	CourierStreamPost(connPtr, CONN_MSG_TLS, text, (size_t) textLen);
    }
    BIO_free(mem);
}

/*
 * TlsHandshakeDone --
 *	The handshake succeeded (and the peer was verified, if asked): stop
 *	its timer, tell the Tcl half ($c tls, then -onconnect unless this
 *	is a starttls), send what waited for it, and carry out a close or
 *	half-close asked for meanwhile.
 */

static void
TlsHandshakeDone(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;

    tlsPtr->handshakeDone = 1;
    if (connPtr->timerInit) {
	uv_timer_stop(&connPtr->timer);
    }
    TlsPostInfo(connPtr);
    if (!tlsPtr->starttls) {
	CourierStreamPostOpened(connPtr);
    }
    if (connPtr->closeWhenFlushed && connPtr->reading) {
	uv_read_stop(STREAM(connPtr));
	connPtr->reading = 0;
    }
    CourierStreamFlushEarly(connPtr);
}

/*
 * TlsHandshake --
 *	Moves the handshake on with the input at hand.
 *
 * Results:
 *	1: done; 0: waiting for the peer; -1: failed (the connection is
 *	failing).
 */

static int
TlsHandshake(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;
    int rc, err;

    ERR_clear_error();
    rc = SSL_do_handshake(tlsPtr->ssl);
    if (rc == 1) {
	TlsHandshakeDone(connPtr);
	return 1;
    }
    err = SSL_get_error(tlsPtr->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
	return 0;
    }
    TlsHandshakeFailed(connPtr);
    return -1;
}

/*
 * CourierTlsErrorReason --
 *	The reason of the first error in this thread's OpenSSL error queue,
 *	as a person reads it ("no start line", "key values mismatch"), or
 *	dflt when there is none; its code goes to *codePtr (if not NULL).
 *	The queue is emptied. Any thread (each has its own queue).
 */

const char *
CourierTlsErrorReason(
    unsigned long *codePtr,
    const char *dflt)
{
    unsigned long e = ERR_get_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    if (codePtr != NULL) {
	*codePtr = e;
    }
    return reason != NULL ? reason : dflt;
}

/*
 * SendAlert --
 *	Tries to send what OpenSSL wrote (an alert) before the socket
 *	closes: at once, without waiting (the connection is going).
 */

static void
SendAlert(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;

    if (tlsPtr->outLen > 0 && connPtr->streamInit
	    && connPtr->writesInFlight == 0) {
	uv_buf_t buf = uv_buf_init((char *) tlsPtr->out,
		(unsigned) tlsPtr->outLen);

	(void) uv_try_write(STREAM(connPtr), &buf, 1);
    }
    tlsPtr->outLen = 0;
}

/*
 * TlsHandshakeFailed --
 *	The handshake failed: say why, as a person reads it, and fail the
 *	connection (-onerror, then -onclose {error message}).
 *	"certificate verify failed: <OpenSSL's reason>", "hostname
 *	mismatch: certificate is for <names>, not <name>", or "TLS
 *	handshake failed: <OpenSSL's reason>".
 */

static void
TlsHandshakeFailed(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;
    long result = SSL_get_verify_result(tlsPtr->ssl);
    char msg[700];

    if (tlsPtr->verify && result == X509_V_ERR_HOSTNAME_MISMATCH) {
	snprintf(msg, sizeof(msg), "hostname mismatch: certificate is for "
		"%s, not %s", tlsPtr->dnsNames[0] ? tlsPtr->dnsNames
		: "no name", tlsPtr->servername ? tlsPtr->servername : "");
    } else if (tlsPtr->verify && result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
	snprintf(msg, sizeof(msg), "hostname mismatch: certificate is for "
		"%s, not %s", tlsPtr->ipNames[0] ? tlsPtr->ipNames
		: tlsPtr->dnsNames[0] ? tlsPtr->dnsNames : "no address",
		tlsPtr->verifyIp ? tlsPtr->verifyIp : "");
    } else if (tlsPtr->verify && result != X509_V_OK) {
	snprintf(msg, sizeof(msg), "certificate verify failed: %s",
		X509_verify_cert_error_string(result));
    } else {
	snprintf(msg, sizeof(msg), "TLS handshake failed: %s",
		CourierTlsErrorReason(NULL, "protocol error"));
    }
    ERR_clear_error();
    SendAlert(connPtr);
    CourierStreamFail(connPtr, "error", 0, msg, 0);
}

/*
 * TlsFail --
 *	An OpenSSL error outside the handshake (or in setting it up): fail
 *	the connection with "what: <reason>".
 */

static void
TlsFail(
    Conn *connPtr,
    const char *what,
    int reset)
{
    char msg[300];

    snprintf(msg, sizeof(msg), "%s: %s", what,
	    CourierTlsErrorReason(NULL, "internal error"));
    if (connPtr->tlsPtr != NULL) {
	SendAlert(connPtr);
    }
    CourierStreamFail(connPtr, "error", 0, msg, reset);
}

/*
 *----------------------------------------------------------------------
 *
 * Reading and writing.
 *
 *----------------------------------------------------------------------
 */

/*
 * TlsPeerClosed --
 *	The peer's close_notify: the end of its stream, as EOF is for
 *	plaintext (-onclose eof); our close_notify goes with our close.
 */

static void
TlsPeerClosed(
    Conn *connPtr)
{
    if (connPtr->reading) {
	uv_read_stop(STREAM(connPtr));
	connPtr->reading = 0;
    }
    connPtr->eof = 1;
    CourierStreamPost(connPtr, CONN_MSG_EOF, NULL, 0);
}

/*
 * TlsReadPlain --
 *	Decrypts everything the input completes and hands it to the framer
 *	in blocks of up to PLAIN_BLOCK bytes. Everything is taken, even
 *	over -maxpending: the read that brought it was sized under the
 *	limit (IoOnAlloc), so the overshoot is one read, as for plaintext.
 */

static void
TlsReadPlain(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;
    unsigned char *plain = NULL;
    size_t have = 0;
    int n, err;

    while (connPtr->ioState == IO_OPEN && !connPtr->eof) {
	if (plain == NULL) {
	    plain = CourierAlloc(PLAIN_BLOCK);
	}
	ERR_clear_error();
	n = SSL_read(tlsPtr->ssl, plain + have, (int) (PLAIN_BLOCK - have));
	if (n > 0) {
	    have += (size_t) n;
	    if (have == PLAIN_BLOCK) {
		CourierStreamDeliverPlain(connPtr, plain, have);
		have = 0;
	    }
	    continue;
	}
	err = SSL_get_error(tlsPtr->ssl, n);
	if (have > 0) {
	    CourierStreamDeliverPlain(connPtr, plain, have);
	    have = 0;
	}
	if (connPtr->ioState != IO_OPEN) {
	    break;
	}
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
	    break;			/* All input used. */
	}
	if (err == SSL_ERROR_ZERO_RETURN) {
	    TlsPeerClosed(connPtr);
	    break;
	}
	TlsFail(connPtr, "TLS error", 1);
	break;
    }
    free(plain);
}

/*
 * CourierTlsIoRead --
 *	Ciphertext read from the socket (or, at starttls, what the framer
 *	held): moves the handshake on, delivers the plaintext, and writes
 *	what OpenSSL has to say (handshake records, tickets, alerts). With
 *	no bytes: just moves the handshake on (the ClientHello).
 */

void
CourierTlsIoRead(
    Conn *connPtr,
    const unsigned char *bytes,
    size_t length)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;

    assert(tlsPtr != NULL && tlsPtr->inLen == 0);
    tlsPtr->in = bytes;
    tlsPtr->inLen = length;
    if (!tlsPtr->handshakeDone && TlsHandshake(connPtr) <= 0) {
	goto done;
    }
    TlsReadPlain(connPtr);

  done:
    tlsPtr->in = NULL;
    tlsPtr->inLen = 0;
    if (tlsPtr->outLen > 0) {
	CourierStreamWriteWire(connPtr);
    }
    if (tlsPtr->handshakeDone) {
	CourierStreamMaybeFinish(connPtr);
    }
}

/*
 * CourierTlsIoEncrypt --
 *	Encrypts a send; the ciphertext joins the output buffer
 *	(CourierTlsIoTakeOutput).
 *
 * Results:
 *	1, or 0 when OpenSSL refused (the connection is failing).
 */

int
CourierTlsIoEncrypt(
    Conn *connPtr,
    const unsigned char *bytes,
    size_t length)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;

    assert(tlsPtr != NULL && tlsPtr->handshakeDone);
    while (length > 0) {
	int chunk = length > (size_t) (INT_MAX / 2) ? INT_MAX / 2
		: (int) length;
	int n;

	ERR_clear_error();
	n = SSL_write(tlsPtr->ssl, bytes, chunk);
	if (n <= 0) {
	    TlsFail(connPtr, "TLS error", 1);
	    return 0;
	}
	bytes += n;
	length -= (size_t) n;
    }
    return 1;
}

/*
 * CourierTlsIoTakeOutput --
 *	The ciphertext made so far, malloc'ed, for the caller to write and
 *	free; NULL when there is none.
 */

unsigned char *
CourierTlsIoTakeOutput(
    Conn *connPtr,
    size_t *lengthPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;
    unsigned char *out;

    *lengthPtr = 0;
    if (tlsPtr == NULL || tlsPtr->outLen == 0) {
	return NULL;
    }
    out = tlsPtr->out;
    *lengthPtr = tlsPtr->outLen;
    tlsPtr->out = NULL;
    tlsPtr->outLen = tlsPtr->outCap = 0;
    return out;
}

/*
 * CourierTlsIoHolding --
 *	Is the connection in its TLS handshake (sends, FIN and -onconnect
 *	wait)?
 */

int
CourierTlsIoHolding(
    Conn *connPtr)
{
    return connPtr->tlsPtr != NULL && !connPtr->tlsPtr->handshakeDone;
}

/*
 * CourierTlsIoCutRecord --
 *	The peer's stream ended (FIN or reset): does OpenSSL hold part of a
 *	record it has not been able to finish? Then the stream was cut in
 *	the middle of a record (a truncation, not the peer's end).
 */

int
CourierTlsIoCutRecord(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;

    return tlsPtr != NULL && tlsPtr->ssl != NULL
	    && SSL_has_pending(tlsPtr->ssl);
}

/*
 * CourierTlsIoCloseNotify --
 *	Before FIN ($c close, $c shutdown write): makes the close_notify
 *	alert, once, after a completed handshake.
 *
 * Results:
 *	1 if there is ciphertext to write first (CourierStreamWriteWire).
 */

int
CourierTlsIoCloseNotify(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;

    if (tlsPtr == NULL || !tlsPtr->handshakeDone || tlsPtr->closeNotifySent) {
	return 0;
    }
    tlsPtr->closeNotifySent = 1;
    ERR_clear_error();
    (void) SSL_shutdown(tlsPtr->ssl);
    ERR_clear_error();
    return tlsPtr->outLen > 0;
}

/*
 * CourierTlsIoFree --
 *	The connection is finished: free its SSL object (and BIO) and
 *	buffers.
 */

void
CourierTlsIoFree(
    Conn *connPtr)
{
    CourierTls *tlsPtr = connPtr->tlsPtr;

    if (tlsPtr == NULL) {
	return;
    }
    connPtr->tlsPtr = NULL;
    if (tlsPtr->ssl != NULL) {
	SSL_free(tlsPtr->ssl);
    }
    free(tlsPtr->out);
    free(tlsPtr->servername);
    free(tlsPtr->verifyIp);
    free(tlsPtr);
}
