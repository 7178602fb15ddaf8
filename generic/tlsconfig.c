/*
 * tlsconfig.c --
 *
 *	TLS, the Tcl half (see tlsInt.h), in the owner interpreter's
 *	thread: the options of a new TCP end settled for its role (the
 *	-verify default, CourierTcpOptionsParse, for courier::connect
 *	and courier::listen); an SSL_CTX built from a connection's or
 *	listener's TLS options (courierTlsOptionSpecs, conn.c), loading
 *	its certificate, key and CA files here so that a bad file is an
 *	error of the call that named it, {COURIER TLS CONFIG}; contexts
 *	kept per interpreter and reused while the options and files are
 *	unchanged (loading the system's trust store costs milliseconds);
 *	the setup a connection's I/O half starts TLS with; $c tls and $c
 *	starttls. The handshake itself is tls.c's, on the I/O thread;
 *	AlpnSelect below runs there too (it touches no Tcl API).
 */

#include "connInt.h"
#include <sys/stat.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

/* A server's ALPN protocols, in wire format (the context's ex data). */
typedef struct AlpnList {
    unsigned len;
    unsigned char wire[];
} AlpnList;

static int alpnIndex = -1;
static pthread_once_t alpnOnce = PTHREAD_ONCE_INIT;

/* OpenSSL's reason for the error just met (CourierTlsErrorReason). */
#define REASON() CourierTlsErrorReason(NULL, "unknown error")

/* Contexts reused per interpreter; at most this many are kept. */
#define CACHE_MAX 32
static const char cacheKey[] = "courier-tls-contexts";

/*
 *----------------------------------------------------------------------
 *
 * ALPN on the server side.
 *
 *----------------------------------------------------------------------
 */

/*
 * AlpnFree --
 *	OpenSSL frees a context: free its server ALPN list (the ex data's
 *	free function; any thread).
 */

static void
AlpnFree(
    void *parent,
    void *ptr,
    CRYPTO_EX_DATA *ad,
    int idx,
    long argl,
    void *argp)
{
    (void) parent;
    (void) ad;
    (void) idx;
    (void) argl;
    (void) argp;
    free(ptr);
}

/* The ex data index of the server's list, once per process. */
static void
MakeAlpnIndex(void)
{
    alpnIndex = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, AlpnFree);
}

/*
 * AlpnSelect --
 *	The server picks the first of its protocols that the client offers
 *	(I/O thread, in the handshake); none in common refuses the
 *	handshake ("no application protocol").
 */

static int
AlpnSelect(
    SSL *ssl,
    const unsigned char **out,
    unsigned char *outLen,
    const unsigned char *in,
    unsigned inLen,
    void *arg)
{
    AlpnList *listPtr = arg;

    (void) ssl;
    if (SSL_select_next_proto((unsigned char **) out, outLen, listPtr->wire,
	    listPtr->len, in, inLen) == OPENSSL_NPN_NEGOTIATED) {
	return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * AlpnWire --
 *	-alpn's list in ALPN's wire format (each name preceded by its
 *	length), malloc'ed.
 *
 * Results:
 *	The list, or NULL with an error {COURIER TLS CONFIG}.
 */

static AlpnList *
AlpnWire(
    Tcl_Interp *interp,
    Tcl_Obj *alpnObj)
{
    Tcl_Obj **names;
    int n, i, len;
    AlpnList *listPtr;
    unsigned total = 0;

    if (Tcl_ListObjGetElements(NULL, alpnObj, &n, &names) != TCL_OK
	    || n == 0) {
	goto bad;
    }
    for (i = 0; i < n; i++) {
	Tcl_GetString(names[i]);
	len = names[i]->length;
	if (len < 1 || len > 255) {
	    goto bad;
	}
	total += 1 + (unsigned) len;
    }
    listPtr = CourierAlloc(sizeof(AlpnList) + total);
    listPtr->len = 0;
    for (i = 0; i < n; i++) {
	const char *name = Tcl_GetStringFromObj(names[i], &len);

	listPtr->wire[listPtr->len++] = (unsigned char) len;
	memcpy(listPtr->wire + listPtr->len, name, (size_t) len);
	listPtr->len += (unsigned) len;
    }
    return listPtr;

  bad:
    CourierError(interp, "TLS", "CONFIG", "bad value \"%.100s\" for -alpn: "
	    "expected a list of protocol names of 1 to 255 bytes",
	    Tcl_GetString(alpnObj));
    return NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * Building a context.
 *
 *----------------------------------------------------------------------
 */

/*
 * ConfigError --
 *	"cannot load -option "file": reason", {COURIER TLS CONFIG}.
 */

static int
ConfigError(
    Tcl_Interp *interp,
    const char *option,
    Tcl_Obj *fileObj,
    const char *reason)
{
    return CourierError(interp, "TLS", "CONFIG",
	    "cannot load %s \"%.200s\": %s", option, Tcl_GetString(fileObj),
	    reason);
}

/*
 * NativeFile --
 *	The file named by an option, checked readable.
 *
 * Results:
 *	Its native name (valid while fileObj lives), or NULL with an error
 *	naming the option, the file and why ({COURIER TLS CONFIG}).
 */

static const char *
NativeFile(
    Tcl_Interp *interp,
    const char *option,
    Tcl_Obj *fileObj)
{
    const char *native;

    if (Tcl_FSAccess(fileObj, R_OK) != 0) {
	ConfigError(interp, option, fileObj, Tcl_ErrnoMsg(Tcl_GetErrno()));
	return NULL;
    }
    native = Tcl_FSGetNativePath(fileObj);
    if (native == NULL) {
	ConfigError(interp, option, fileObj, "not a usable file name");
    }
    return native;
}

/*
 * LoadTrusted --
 *	Trusts the CAs of -cafile (isDir 0: one PEM file) or -cadir (isDir 1:
 *	a hashed directory) in ctx.
 *
 * Results:
 *	The native name, or NULL with an error ({COURIER TLS CONFIG}).
 */

static const char *
LoadTrusted(
    Tcl_Interp *interp,
    SSL_CTX *ctx,
    const char *option,
    Tcl_Obj *pathObj,
    int isDir)
{
    const char *path = NativeFile(interp, option, pathObj);

    if (path != NULL && !SSL_CTX_load_verify_locations(ctx,
	    isDir ? NULL : path, isDir ? path : NULL)) {
	ConfigError(interp, option, pathObj, REASON());
	return NULL;
    }
    return path;
}

/*
 * AppendFileKey --
 *	Adds a file's name and identity to a cache key: size, inode, and
 *	modification and change times to the nanosecond, so that a file
 *	rewritten, even within the same second and at the same size, makes
 *	a new context.
 */

static void
AppendFileKey(
    Tcl_DString *dsPtr,
    Tcl_Obj *fileObj)
{
    const char *native;
    struct stat st;
    char buf[128];

    Tcl_DStringAppendElement(dsPtr, fileObj ? Tcl_GetString(fileObj) : "");
    if (fileObj == NULL) {
	return;
    }
    native = Tcl_FSGetNativePath(fileObj);
    if (native != NULL && stat(native, &st) == 0) {
	snprintf(buf, sizeof(buf), "%lld %llu %lld.%09ld %lld.%09ld",
		(long long) st.st_size, (unsigned long long) st.st_ino,
		(long long) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec,
		(long long) st.st_ctim.tv_sec, (long) st.st_ctim.tv_nsec);
	Tcl_DStringAppendElement(dsPtr, buf);
    }
}

/*
 * BuildContext --
 *	A new SSL_CTX for the options: protocol minimum, ciphers,
 *	certificate and key, trusted CAs (the files given, else the system's
 *	store), verification, ALPN.
 *
 * Results:
 *	The context (one reference), or NULL with an error message and
 *	{COURIER TLS CONFIG}.
 */

static SSL_CTX *
BuildContext(
    Tcl_Interp *interp,
    const ConnOptions *o,
    int server)
{
    SSL_CTX *ctx;
    const char *cert = NULL, *key = NULL, *cafile = NULL, *cadir = NULL;
    Tcl_Obj *keyObj = o->keyfile != NULL ? o->keyfile : o->certfile;
    unsigned long code;

    ERR_clear_error();
    ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
	CourierError(interp, "TLS", "CONFIG", "cannot make a TLS context: %s",
		REASON());
	return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, o->tlsVersion == 13 ? TLS1_3_VERSION
	    : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (o->ciphers != NULL
	    && !SSL_CTX_set_cipher_list(ctx, Tcl_GetString(o->ciphers))) {
	CourierError(interp, "TLS", "CONFIG",
		"bad value \"%.200s\" for -ciphers: %s",
		Tcl_GetString(o->ciphers), REASON());
	goto error;
    }
    if (server && o->certfile == NULL) {
	CourierError(interp, "TLS", "CONFIG", "a TLS listener needs "
		"-certfile (and -keyfile, unless the key is in that file)");
	goto error;
    }
    if (o->certfile != NULL) {
	cert = NativeFile(interp, "-certfile", o->certfile);
	if (cert == NULL) {
	    goto error;
	}
	if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
	    ConfigError(interp, "-certfile", o->certfile, REASON());
	    goto error;
	}
	key = NativeFile(interp, "-keyfile", keyObj);
	if (key == NULL) {
	    goto error;
	}
	if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)) {
	    const char *reason = CourierTlsErrorReason(&code, "unknown error");

	    if (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH) {
		CourierError(interp, "TLS", "CONFIG", "-keyfile \"%.200s\" "
			"does not match -certfile \"%.200s\": %s",
			Tcl_GetString(keyObj), Tcl_GetString(o->certfile),
			reason);
	    } else {
		ConfigError(interp, "-keyfile", keyObj, reason);
	    }
	    goto error;
	}
	if (!SSL_CTX_check_private_key(ctx)) {
	    CourierError(interp, "TLS", "CONFIG", "-keyfile \"%.200s\" does "
		    "not match -certfile \"%.200s\": %s",
		    Tcl_GetString(keyObj), Tcl_GetString(o->certfile),
		    REASON());
	    goto error;
	}
    } else if (o->keyfile != NULL) {
	CourierError(interp, "TLS", "CONFIG", "-keyfile \"%.200s\" needs "
		"-certfile", Tcl_GetString(o->keyfile));
	goto error;
    }
    if (o->cafile != NULL) {
	cafile = LoadTrusted(interp, ctx, "-cafile", o->cafile, 0);
	if (cafile == NULL) {
	    goto error;
	}
	if (server) {
	    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cafile);

	    if (names != NULL) {
		SSL_CTX_set_client_CA_list(ctx, names);
	    }
	    ERR_clear_error();
	}
    }
    if (o->cadir != NULL) {
	cadir = LoadTrusted(interp, ctx, "-cadir", o->cadir, 1);
	if (cadir == NULL) {
	    goto error;
	}
    }
    if (cafile == NULL && cadir == NULL && o->verify > 0) {
	SSL_CTX_set_default_verify_paths(ctx);
	ERR_clear_error();
    }
    SSL_CTX_set_verify(ctx, o->verify <= 0 ? SSL_VERIFY_NONE : server
	    ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
	    : SSL_VERIFY_PEER, NULL);
    if (server) {
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *) "courier",
		7);
    }
    if (o->alpn != NULL) {
	AlpnList *listPtr = AlpnWire(interp, o->alpn);

	if (listPtr == NULL) {
	    goto error;
	}
	if (!server) {
	    int rc = SSL_CTX_set_alpn_protos(ctx, listPtr->wire, listPtr->len);

	    free(listPtr);
	    if (rc != 0) {
		CourierError(interp, "TLS", "CONFIG", "bad value \"%.100s\" "
			"for -alpn: %s", Tcl_GetString(o->alpn),
			REASON());
		goto error;
	    }
	} else {
	    pthread_once(&alpnOnce, MakeAlpnIndex);
	    if (alpnIndex < 0 || !SSL_CTX_set_ex_data(ctx, alpnIndex,
		    listPtr)) {
		free(listPtr);
		CourierError(interp, "TLS", "CONFIG", "cannot set -alpn: %s",
			REASON());
		goto error;
	    }
	    SSL_CTX_set_alpn_select_cb(ctx, AlpnSelect, listPtr);
	}
    }
    ERR_clear_error();
    return ctx;

  error:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

/*
 * CacheDelete --
 *	The interpreter is deleted: release its contexts.
 */

static void
CacheDelete(
    ClientData clientData,
    Tcl_Interp *interp)
{
    Tcl_HashTable *tablePtr = clientData;
    Tcl_HashEntry *hPtr;
    Tcl_HashSearch search;

    (void) interp;
    for (hPtr = Tcl_FirstHashEntry(tablePtr, &search); hPtr != NULL;
	    hPtr = Tcl_NextHashEntry(&search)) {
	SSL_CTX_free(Tcl_GetHashValue(hPtr));
    }
    Tcl_DeleteHashTable(tablePtr);
    ckfree(tablePtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierTcpOptionsParse --
 *
 *	The options of a new TCP end: courier::connect's (server 0) or
 *	courier::listen's (server 1). tables[0] and tables[1] are the
 *	connection's and the TLS options of one ConnOptions (initialized
 *	here), tables[2] the command's own. An unset -verify becomes the
 *	role's default: a client verifies, a server asks for a certificate
 *	only when told. With -tls 1 the certificate, key and CA files are
 *	loaded now, so that a bad file is an error of this call.
 *
 * Results:
 *	TCL_OK with *ctxPtr the TLS context with one reference (NULL without
 *	-tls), or TCL_ERROR with a message, every record released.
 *
 *----------------------------------------------------------------------
 */

int
CourierTcpOptionsParse(
    Tcl_Interp *interp,
    const CourierOptTable tables[3],
    int objc,
    Tcl_Obj *const objv[],
    int server,
    SSL_CTX **ctxPtr)
{
    ConnOptions *o = tables[0].record;

    *ctxPtr = NULL;
    CourierConnOptionsInit(o);
    if (CourierConnOptionsParse(interp, tables, 3, objc, objv, 0) != TCL_OK) {
	return TCL_ERROR;
    }
    if (o->verify < 0) {
	o->verify = !server;
    }
    if (o->tls) {
	*ctxPtr = CourierTlsContext(interp, o, server);
	if (*ctxPtr == NULL) {
	    CourierConnOptionsFree(o);
	    CourierOptRelease(tables[2].specs, tables[2].record);
	    return TCL_ERROR;
	}
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierTlsContext --
 *
 *	The SSL_CTX for a connection's or listener's TLS options (server:
 *	the accepting side): the interpreter's cached one when the options
 *	and the files (name, size, time) are the same, else a new one.
 *
 * Results:
 *	The context with one reference for the caller, or NULL with an
 *	error, {COURIER TLS CONFIG}: a file missing or unreadable, not PEM,
 *	a key that does not match its certificate, bad -ciphers or -alpn, a
 *	listener without -certfile.
 *
 *----------------------------------------------------------------------
 */

SSL_CTX *
CourierTlsContext(
    Tcl_Interp *interp,
    const ConnOptions *o,
    int server)
{
    Tcl_HashTable *tablePtr = Tcl_GetAssocData(interp, cacheKey, NULL);
    Tcl_HashEntry *hPtr;
    Tcl_DString key;
    SSL_CTX *ctx;
    char buf[64];
    int isNew;

    if (tablePtr == NULL) {
	tablePtr = (Tcl_HashTable *) ckalloc(sizeof(Tcl_HashTable));
	Tcl_InitHashTable(tablePtr, TCL_STRING_KEYS);
	Tcl_SetAssocData(interp, cacheKey, CacheDelete, tablePtr);
    }
    Tcl_DStringInit(&key);
    snprintf(buf, sizeof(buf), "%d %d %d", server, o->verify > 0,
	    o->tlsVersion);
    Tcl_DStringAppendElement(&key, buf);
    Tcl_DStringAppendElement(&key, o->ciphers ? Tcl_GetString(o->ciphers)
	    : "");
    Tcl_DStringAppendElement(&key, o->alpn ? Tcl_GetString(o->alpn) : "");
    AppendFileKey(&key, o->certfile);
    AppendFileKey(&key, o->keyfile);
    AppendFileKey(&key, o->cafile);
    AppendFileKey(&key, o->cadir);
    hPtr = Tcl_FindHashEntry(tablePtr, Tcl_DStringValue(&key));
    if (hPtr != NULL) {
	ctx = Tcl_GetHashValue(hPtr);
	SSL_CTX_up_ref(ctx);
	Tcl_DStringFree(&key);
	return ctx;
    }
    ctx = BuildContext(interp, o, server);
    if (ctx == NULL) {
	Tcl_DStringFree(&key);
	return NULL;
    }
    if (tablePtr->numEntries >= CACHE_MAX) {
	/* Options that keep changing: start over rather than grow. */
	Tcl_HashSearch search;

	for (hPtr = Tcl_FirstHashEntry(tablePtr, &search); hPtr != NULL;
		hPtr = Tcl_NextHashEntry(&search)) {
	    SSL_CTX_free(Tcl_GetHashValue(hPtr));
	    Tcl_DeleteHashEntry(hPtr);
	}
    }
    hPtr = Tcl_CreateHashEntry(tablePtr, Tcl_DStringValue(&key), &isNew);
    assert(isNew);
    Tcl_SetHashValue(hPtr, ctx);
    SSL_CTX_up_ref(ctx);			/* The cache's. */
    Tcl_DStringFree(&key);
    return ctx;
}

/*
 * CourierTlsContextFree --
 *	Drops a reference to a context (any thread).
 */

void
CourierTlsContextFree(
    SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

/*
 *----------------------------------------------------------------------
 *
 * The setup handed to the I/O half.
 *
 *----------------------------------------------------------------------
 */

/*
 * AddressOf --
 *	A copy of host without an IPv6 zone ("fe80::1%eth0") when it is a
 *	numeric IPv4 or IPv6 address, else NULL.
 */

static char *
AddressOf(
    const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    char *copy = CourierStrdup(host);
    char *zone = strchr(copy, '%');

    if (zone != NULL) {
	*zone = '\0';
    }
    if (inet_pton(AF_INET, copy, buf) == 1
	    || inet_pton(AF_INET6, copy, buf) == 1) {
	return copy;
    }
    free(copy);
    return NULL;
}

/*
 * CourierTlsSetupNew --
 *	What the I/O half starts TLS with; takes the reference to ctx. A
 *	client checks the peer by -servername, else by host: a name is sent
 *	(SNI) and checked against the certificate's names, an address (its
 *	IPv6 zone dropped) is not sent and is checked against the
 *	certificate's IP addresses.
 */

CourierTlsSetup *
CourierTlsSetupNew(
    SSL_CTX *ctx,
    const ConnOptions *o,
    int server,
    const char *host)
{
    CourierTlsSetup *setupPtr = CourierAllocZero(sizeof(CourierTlsSetup));

    assert(ctx != NULL);
    setupPtr->ctx = ctx;
    setupPtr->server = server;
    setupPtr->verify = o->verify < 0 ? !server : o->verify;
    if (!server) {
	const char *name = host;

	if (o->servername != NULL && Tcl_GetString(o->servername)[0]) {
	    name = Tcl_GetString(o->servername);
	}
	if (name != NULL) {
	    /* An address is never sent as SNI (RFC 6066): it is checked. */
	    setupPtr->verifyIp = AddressOf(name);
	    if (setupPtr->verifyIp == NULL) {
		setupPtr->servername = CourierStrdup(name);
	    }
	}
    }
    return setupPtr;
}

/*
 * CourierTlsSetupFree --
 *	Frees a setup that was not (or no longer needs to be) used (any
 *	thread).
 */

void
CourierTlsSetupFree(
    CourierTlsSetup *setupPtr)
{
    if (setupPtr->ctx != NULL) {
	SSL_CTX_free(setupPtr->ctx);
    }
    free(setupPtr->servername);
    free(setupPtr->verifyIp);
    free(setupPtr);
}

/*
 * CourierConnAcceptTls --
 *	An accepted socket of a TLS listener (listen.c, after
 *	CourierConnAdopt): it runs the server side of a handshake with the
 *	listener's context when it starts (CourierConnStart), and
 *	-onconnect once that is done.
 */

void
CourierConnAcceptTls(
    Conn *connPtr,
    SSL_CTX *ctx)
{
    assert(connPtr->tlsSetup == NULL && connPtr->tlsInfo == NULL);
    SSL_CTX_up_ref(ctx);
    connPtr->tlsSetup = CourierTlsSetupNew(ctx, &connPtr->opts, 1, NULL);
    connPtr->tlsInfo = CourierTlsPendingInfo();
    Tcl_IncrRefCount(connPtr->tlsInfo);
}

/*
 *----------------------------------------------------------------------
 *
 * $c tls: what the handshake told (CONN_MSG_TLS, tls.c's TlsPostInfo).
 *
 *----------------------------------------------------------------------
 */

static const char *const infoKeys[] = {
    "protocol", "cipher", "alpn", "servername", "verified", "verifyResult",
    "peerSubject", "peerIssuer", "peerNotBefore", "peerNotAfter",
    "peerSHA256", "sessionReused", NULL
};

/*
 * CourierTlsPendingInfo --
 *	$c tls before the handshake has ended: every key, protocol empty,
 *	verified and sessionReused 0.
 */

Tcl_Obj *
CourierTlsPendingInfo(void)
{
    Tcl_Obj *d = Tcl_NewDictObj();
    int i;

    for (i = 0; infoKeys[i] != NULL; i++) {
	int zero = strcmp(infoKeys[i], "verified") == 0
		|| strcmp(infoKeys[i], "sessionReused") == 0;

	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(infoKeys[i], -1),
		zero ? Tcl_NewIntObj(0) : Tcl_NewObj());
    }
    return d;
}

/*
 * CourierTlsInfoFromMsg --
 *	The dict of $c tls from a CONN_MSG_TLS message: a flag (1: the
 *	handshake of a starttls), then one NUL-ended field per key.
 */

Tcl_Obj *
CourierTlsInfoFromMsg(
    const unsigned char *bytes,
    size_t length,
    int *starttlsPtr)
{
    Tcl_Obj *d = Tcl_NewDictObj();
    const char *p = (const char *) bytes, *end = p + length;
    int i;

    *starttlsPtr = (length > 0 && p[0] == '1');
    p += strnlen(p, (size_t) (end - p)) + 1;
    for (i = 0; infoKeys[i] != NULL; i++) {
	size_t n = p < end ? strnlen(p, (size_t) (end - p)) : 0;

	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(infoKeys[i], -1),
		Tcl_NewStringObj(p < end ? p : "", (int) n));
	p += n + 1;
    }
    return d;
}

/*
 * CourierConnTlsInfo --
 *	$c tls: the dict, or on a plaintext connection the error "not a
 *	TLS connection", {COURIER TLS NOTLS}.
 */

int
CourierConnTlsInfo(
    Conn *connPtr,
    Tcl_Interp *interp)
{
    if (connPtr->tlsInfo == NULL) {
	return CourierError(interp, "TLS", "NOTLS", "not a TLS connection");
    }
    Tcl_SetObjResult(interp, connPtr->tlsInfo);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnStartTls --
 *
 *	$c starttls ?-server 0|1? ?-command cmd? ?TLS options?
 *	Upgrades an open plaintext connection: what was sent before goes
 *	out in plaintext, then the handshake; -command is called as
 *	{*}cmd $c ok, or {*}cmd $c error message, when it ends (on error
 *	-onerror and -onclose follow as for any failed handshake). The TLS
 *	options are this call's (the connection's own are replaced); -verify
 *	defaults to 1 for a client, 0 for a server.
 *
 * Results:
 *	TCL_OK, or an error: {COURIER TLS ALREADY} on a TLS connection,
 *	{COURIER TLS STATE} before it is open, {COURIER CLOSED} once
 *	closed, {COURIER TLS CONFIG} for bad options or files.
 *
 *----------------------------------------------------------------------
 */

typedef struct StartTlsOptions {
    int server;
    Tcl_Obj *command;
} StartTlsOptions;

static const CourierOptSpec startTlsOptionSpecs[] = {
    {.name = "-command", .type = COURIER_OPT_PREFIX,
	.offset = offsetof(StartTlsOptions, command)},
    {.name = "-server", .type = COURIER_OPT_BOOLEAN,
	.offset = offsetof(StartTlsOptions, server)},
    {.name = NULL}
};

int
CourierConnStartTls(
    Conn *connPtr,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    ConnOptions copy;
    StartTlsOptions own = {0, NULL};
    CourierOptTable tables[2] = {
	{courierTlsOptionSpecs, &copy}, {startTlsOptionSpecs, &own}
    };
    SSL_CTX *ctx;
    CourierTlsSetup *setupPtr;
    ConnCmd *ccPtr;

    if (connPtr->tclState == TCL_CLOSED) {
	return CourierError(interp, "CLOSED", NULL, "cannot start TLS on "
		"\"%s\": the connection is closed",
		Tcl_GetString(connPtr->handle.nameObj));
    }
    if (connPtr->tlsInfo != NULL) {
	return CourierError(interp, "TLS", "ALREADY", "cannot start TLS on "
		"\"%s\": it is a TLS connection already",
		Tcl_GetString(connPtr->handle.nameObj));
    }
    if (connPtr->tclState != TCL_OPEN) {
	return CourierError(interp, "TLS", "STATE", "cannot start TLS on "
		"\"%s\": the connection is not open yet (wait for -onconnect)",
		Tcl_GetString(connPtr->handle.nameObj));
    }
    if (connPtr->writeShut) {
	return CourierError(interp, "TLS", "STATE", "cannot start TLS on "
		"\"%s\": its writing side is shut down (shutdown write)",
		Tcl_GetString(connPtr->handle.nameObj));
    }

    /* This call's TLS options only: the connection's are not inherited. */
    CourierConnOptionsCopy(&copy, &connPtr->opts);
    CourierOptRelease(courierTlsOptionSpecs, &copy);
    copy.cafile = copy.cadir = copy.certfile = copy.keyfile = NULL;
    copy.servername = copy.alpn = copy.ciphers = NULL;
    copy.verify = -1;
    copy.tlsVersion = 12;
    if (CourierOptParse(interp, tables, 2, objc - 2, objv + 2, 0,
	    "starttls ?-server 0|1? ?-command cmd? ?-option value ...?")
	    != TCL_OK) {
	goto error;
    }
    copy.tls = 1;
    if (copy.verify < 0) {
	copy.verify = !own.server;
    }
    if (!own.server && copy.verify && connPtr->host == NULL
	    && (copy.servername == NULL
		|| Tcl_GetString(copy.servername)[0] == '\0')) {
	/* An accepted connection has no host name to check the peer by. */
	CourierError(interp, "TLS", "CONFIG", "cannot start TLS as a client "
		"on \"%s\": it was accepted, so there is no host name to "
		"verify; give -servername (or -verify 0)",
		Tcl_GetString(connPtr->handle.nameObj));
	goto error;
    }
    ctx = CourierTlsContext(interp, &copy, own.server);
    if (ctx == NULL) {
	goto error;
    }
    setupPtr = CourierTlsSetupNew(ctx, &copy, own.server, connPtr->host);
    setupPtr->starttls = 1;

    CourierConnOptionsFree(&connPtr->opts);
    connPtr->opts = copy;
    connPtr->tlsInfo = CourierTlsPendingInfo();
    Tcl_IncrRefCount(connPtr->tlsInfo);
    connPtr->starttlsCmd = own.command;		/* Takes the reference. */
    connPtr->starttlsPending = 1;
    connPtr->tlsSwitching = 1;		/* Nothing more in plaintext. */
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoStartTls);
    ccPtr->tlsSetup = setupPtr;
    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
    return TCL_OK;

  error:
    CourierConnOptionsFree(&copy);
    CourierOptRelease(startTlsOptionSpecs, &own);
    return TCL_ERROR;
}
