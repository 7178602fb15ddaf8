/*
 * tcp.c --
 *
 *	What is TCP-only in a connection (the byte stream is stream.c's).
 *	In the owner interpreter's thread: courier::connect and its own
 *	options, -family values, and the Tcl half of an accepted socket
 *	(CourierConnAdopt, CourierConnStart, for listen.c). In the
 *	connection's I/O thread: the timeout, the name lookup's answer, the
 *	connect and its retries over the addresses, socket options and
 *	addresses once open, and accepted sockets. CourierSockaddrName is
 *	for any thread.
 */

#include "connInt.h"
#include "resolver.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

static void	IoTryConnect(Conn *connPtr);

/*
 *======================================================================
 * The Tcl side: runs in the owner interpreter's thread (but
 * CourierSockaddrName, for any thread).
 *======================================================================
 */

/*
 * CourierSockaddrName --
 *	Numeric host and port of a socket address.
 */

void
CourierSockaddrName(
    const struct sockaddr *sa,
    char *host,
    size_t hostSize,
    int *portPtr)
{
    host[0] = '\0';
    *portPtr = 0;
    if (sa->sa_family == AF_INET) {
	const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

	uv_ip4_name(in, host, hostSize);
	*portPtr = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

	uv_ip6_name(in6, host, hostSize);
	*portPtr = ntohs(in6->sin6_port);
    }
}

/*
 * CourierGetFamilyFromObj --
 *	Reads a -family value: any, inet or inet6, as AF_UNSPEC, AF_INET or
 *	AF_INET6. Error code {COURIER VALUE -family}.
 */

int
CourierGetFamilyFromObj(
    Tcl_Interp *interp,
    Tcl_Obj *objPtr,
    int *familyPtr)
{
    static const char *const families[] = {"any", "inet", "inet6", NULL};
    static const int values[] = {AF_UNSPEC, AF_INET, AF_INET6};
    int f;

    if (Tcl_GetIndexFromObj(interp, objPtr, families, "family", 0,
	    &f) != TCL_OK) {
	Tcl_SetErrorCode(interp, "COURIER", "VALUE", "-family", NULL);
	return TCL_ERROR;
    }
    *familyPtr = values[f];
    return TCL_OK;
}

/*
 * CourierConnAdopt --
 *	Gives an accepted connection its Tcl half (listen.c). Reading starts
 *	with CourierConnStart, after -onaccept had its say.
 */

Tcl_Obj *
CourierConnAdopt(
    CourierInterp *cinterpPtr,
    Conn *connPtr,
    const ConnOptions *optsPtr)
{
    ConnOptions copy;

    CourierConnOptionsCopy(&copy, optsPtr);
    return CourierConnTclHalfCreate(cinterpPtr, connPtr, &copy, TCL_CONNECTING);
}

/*
 * CourierConnStart --
 *	An accepted socket starts reading (after -onaccept): the start
 *	command takes the options, the port and, for TLS, the setup.
 */

void
CourierConnStart(
    Conn *connPtr)
{
    ConnCmd *ccPtr;

    if (connPtr->handle.closed) {
	return;
    }
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoStart);
    CourierConnOptionsToIo(&connPtr->opts, &ccPtr->config);
    ccPtr->tlsSetup = connPtr->tlsSetup;
    connPtr->tlsSetup = NULL;
    ccPtr->portPtr = connPtr->tclPort;
    connPtr->portGiven = 1;
    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnectObjCmd --
 *
 *	courier::connect host port ?options?
 *	Returns a handle at once; name lookup and connect happen in the I/O
 *	thread, and -onconnect or -onclose tells how it went.
 *
 *----------------------------------------------------------------------
 */

/* courier::connect's options of its own. */
typedef struct ConnectOptions {
    int family;			/* AF_UNSPEC, AF_INET or AF_INET6. */
    Tcl_Obj *myaddr;		/* NULL: any. */
    int myport;
    Tcl_WideInt timeout;	/* Milliseconds; 0: none. */
} ConnectOptions;

/*
 * CourierOptParseFamily --
 *	The option engine's parser of a -family option (connect, resolve):
 *	CourierGetFamilyFromObj into an int field.
 */

int
CourierOptParseFamily(
    Tcl_Interp *interp,
    const CourierOptSpec *specPtr,
    Tcl_Obj *valueObj,
    void *fieldPtr)
{
    (void) specPtr;
    return CourierGetFamilyFromObj(interp, valueObj, (int *) fieldPtr);
}

static const CourierOptSpec connectOptionSpecs[] = {
    {.name = "-family", .type = COURIER_OPT_CUSTOM,
	.offset = offsetof(ConnectOptions, family),
	.flags = COURIER_OPT_CREATE_ONLY, .parseProc = CourierOptParseFamily},
    {.name = "-myaddr", .type = COURIER_OPT_STRING,
	.offset = offsetof(ConnectOptions, myaddr),
	.flags = COURIER_OPT_CREATE_ONLY},
    {.name = "-myport", .type = COURIER_OPT_INT,
	.offset = offsetof(ConnectOptions, myport),
	.flags = COURIER_OPT_CREATE_ONLY, .min = 0, .max = 65535},
    {.name = "-timeout", .type = COURIER_OPT_WIDE,
	.offset = offsetof(ConnectOptions, timeout),
	.flags = COURIER_OPT_CREATE_ONLY, .min = 0, .max = 86400000},
    {.name = NULL}
};

int
CourierConnectObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    CourierInterp *cinterpPtr;
    ConnOptions opts;
    ConnectOptions own = {AF_UNSPEC, NULL, 0, 0};
    CourierOptTable tables[3] = {
	{courierConnOptionSpecs, &opts}, {courierTlsOptionSpecs, &opts},
	{connectOptionSpecs, &own}
    };
    SSL_CTX_t *ctx;
    CourierTlsSetup *setupPtr = NULL;
    CourierIoThread *ioPtr;
    Conn *connPtr;
    ConnCmd *ccPtr;
    Tcl_WideInt port;
    Tcl_Obj *nameObj;

    (void) clientData;
    if (objc < 3) {
	return CourierUsage(interp, 1, objv, "host port ?-option value ...?");
    }
    if (CourierGetPositiveWide(interp, objv[2], "port", 1, 65535,
	    &port) != TCL_OK) {
	return TCL_ERROR;
    }
    if (CourierCheckHost(interp, Tcl_GetString(objv[1])) != TCL_OK) {
	return TCL_ERROR;
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    if (CourierTcpOptionsParse(interp, tables, objc - 3, objv + 3, 0,
	    &ctx) != TCL_OK) {
	return TCL_ERROR;
    }
    if (ctx != NULL) {
	setupPtr = CourierTlsSetupNew(ctx, &opts, 0, Tcl_GetString(objv[1]));
    }

    ioPtr = CourierIoPick(interp);
    if (ioPtr == NULL) {
	if (setupPtr != NULL) {
	    CourierTlsSetupFree(setupPtr);
	}
	goto error;
    }
    connPtr = CourierConnAlloc(ioPtr);
    connPtr->host = CourierStrdup(Tcl_GetString(objv[1]));
    snprintf(connPtr->service, sizeof(connPtr->service), "%d", (int) port);
    connPtr->family = own.family;
    connPtr->myaddr = own.myaddr != NULL
	    ? CourierStrdup(Tcl_GetString(own.myaddr)) : NULL;
    connPtr->myport = own.myport;
    connPtr->timeoutMs = (unsigned) own.timeout;
    CourierOptRelease(connectOptionSpecs, &own);
    nameObj = CourierConnTclHalfCreate(cinterpPtr, connPtr, &opts, TCL_CONNECTING);

    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoConnect);
    CourierConnOptionsToIo(&connPtr->opts, &ccPtr->config);
    if (setupPtr != NULL) {
	ccPtr->tlsSetup = setupPtr;
	connPtr->tlsInfo = CourierTlsPendingInfo();
	Tcl_IncrRefCount(connPtr->tlsInfo);
    }
    ccPtr->portPtr = connPtr->tclPort;
    connPtr->portGiven = 1;
    CourierIoSubmit(ioPtr, &ccPtr->header);
    Tcl_SetObjResult(interp, nameObj);
    return TCL_OK;

  error:
    CourierConnOptionsFree(&opts);
    CourierOptRelease(connectOptionSpecs, &own);
    return TCL_ERROR;
}

/*
 *======================================================================
 * The I/O side: runs in the connection's I/O thread.
 *======================================================================
 */

/*
 * CourierTcpIoTimeout --
 *	The connection's timer fired: -timeout covers the lookup, the
 *	connect and a TLS handshake; the handshake of an accepted socket or
 *	of a connection without -timeout has one of its own
 *	(COURIER_TLS_HANDSHAKE_MS, tls.c).
 */

void
CourierTcpIoTimeout(
    Conn *connPtr)
{
    if (connPtr->ioState == IO_RESOLVING
	    || connPtr->ioState == IO_CONNECTING) {
	CourierStreamFail(connPtr, "timeout", 0, "connection timed out", 0);
    } else if (connPtr->ioState == IO_OPEN && CourierTlsIoHolding(connPtr)) {
	CourierStreamFail(connPtr, "timeout", 0, "TLS handshake timed out", 0);
    }
}

static void
IoOnTimeout(
    uv_timer_t *timer)
{
    CourierTcpIoTimeout(timer->data);
}

static void
IoInitHandles(
    Conn *connPtr)
{
    uv_loop_t *loop = CourierIoLoop(connPtr->ioPtr);

    uv_tcp_init(loop, &connPtr->stream.tcp);
    connPtr->stream.tcp.data = connPtr;
    connPtr->streamInit = 1;
    connPtr->handlesOpen++;
}

/*
 * IoOnResolved --
 *	The lookup's answer (see resolver.h): connect to the first address,
 *	unless the connection was closed meanwhile. Drops the request's
 *	reference last.
 */

static void
IoOnResolved(
    void *clientData,
    int status,
    struct addrinfo *res)
{
    Conn *connPtr = clientData;

    if (status == UV_ECANCELED && res == NULL) {
	/* The I/O thread has stopped: the connection is gone there. */
	CourierConnUnref(connPtr);
	return;
    }
    if (connPtr->ioState != IO_RESOLVING) {
	CourierResolveFree(res);	/* Closed or timed out meanwhile. */
	CourierConnUnref(connPtr);
	return;
    }
    if (status < 0) {
	char msg[300];

	snprintf(msg, sizeof(msg), "cannot resolve \"%.200s\": %s",
		connPtr->host, uv_strerror(status));
	connPtr->ioState = IO_CONNECTING;
	CourierStreamFail(connPtr, "error", status, msg, 0);
    } else {
	connPtr->addrs = connPtr->nextAddr = res;
	connPtr->ioState = IO_CONNECTING;
	IoTryConnect(connPtr);
    }
    CourierConnUnref(connPtr);
}

/*
 * IoOnRetryClosed --
 *	The socket of a failed attempt is closed: try the next address,
 *	unless the connection was closed meanwhile.
 */

static void
IoOnRetryClosed(
    uv_handle_t *handle)
{
    Conn *connPtr = handle->data;

    connPtr->handlesOpen--;
    if (connPtr->ioState == IO_CONNECTING) {
	IoTryConnect(connPtr);
    } else if (connPtr->handlesOpen == 0) {
	CourierStreamFinish(connPtr);
    }
}

/*
 * IoOpened --
 *	The socket is connected (or accepted and started): set the socket
 *	options and tell the Tcl half the addresses. An address the system
 *	cannot tell (the peer already reset) is reported as {} 0. With TLS,
 *	the handshake starts and the addresses are told once it is done.
 */

static void
IoOpened(
    Conn *connPtr,
    CourierTlsSetup *setupPtr)	/* TLS to start (taken), or NULL. */
{
    struct sockaddr_storage addr;
    char buf[200], peer[64] = "", local[64] = "";
    int len, peerPort = 0, localPort = 0;

    connPtr->ioState = IO_OPEN;
    uv_tcp_nodelay(&connPtr->stream.tcp, connPtr->io.nodelay);
    if (connPtr->io.keepalive) {
	uv_tcp_keepalive(&connPtr->stream.tcp, 1, 60);
    }
    len = sizeof(addr);
    if (uv_tcp_getpeername(&connPtr->stream.tcp,
	    (struct sockaddr *) &addr, &len) == 0) {
	CourierSockaddrName((struct sockaddr *) &addr, peer, sizeof(peer),
		&peerPort);
    }
    len = sizeof(addr);
    if (uv_tcp_getsockname(&connPtr->stream.tcp,
	    (struct sockaddr *) &addr, &len) == 0) {
	CourierSockaddrName((struct sockaddr *) &addr, local, sizeof(local),
		&localPort);
    }
    len = snprintf(buf, sizeof(buf), "{%s} %d {%s} %d", peer, peerPort,
	    local, localPort);
    if (setupPtr != NULL) {
	/* -onconnect waits for the handshake (CourierStreamPostOpened). */
	connPtr->openedText = CourierStrdup(buf);
	CourierTlsIoStart(connPtr, setupPtr);
	return;
    }
    CourierStreamPost(connPtr, CONN_MSG_CONNECTED, buf, (size_t) len);
}

static void
IoOnConnected(
    uv_connect_t *req,
    int status)
{
    Conn *connPtr = req->data;
    CourierTlsSetup *setupPtr;

    if (connPtr->ioState != IO_CONNECTING) {
	return;				/* Closing already. */
    }
    if (status < 0) {
	if (connPtr->nextAddr != NULL && connPtr->nextAddr->ai_next != NULL
		&& status != UV_ECANCELED) {
	    /* Try the next address on a fresh socket. */
	    connPtr->nextAddr = connPtr->nextAddr->ai_next;
	    connPtr->streamInit = 0;
	    uv_close((uv_handle_t *) STREAM(connPtr), IoOnRetryClosed);
	    return;
	}
	/* A server that resets at once (over -maxclients, say) may do
	 * so before the connect completes: a reset all the same. */
	CourierStreamFail(connPtr, status == UV_ECONNREFUSED ? "refused"
		: status == UV_ECONNRESET ? "reset" : "error", status, NULL,
		0);
	return;
    }
    if (connPtr->timerInit && connPtr->tlsSetupPending == NULL) {
	uv_timer_stop(&connPtr->timer);	/* TLS: -timeout goes on. */
    }
    setupPtr = connPtr->tlsSetupPending;
    connPtr->tlsSetupPending = NULL;
    IoOpened(connPtr, setupPtr);
    if (!connPtr->closeWhenFlushed || setupPtr != NULL) {
	CourierStreamStartReading(connPtr);
    }
    CourierStreamFlushEarly(connPtr);
    CourierStreamMaybeFinish(connPtr);
}

/*
 * IoTryConnect --
 *	Connects to connPtr->nextAddr (binding -myaddr/-myport first).
 */

static void
IoTryConnect(
    Conn *connPtr)
{
    struct addrinfo *ai = connPtr->nextAddr;
    int rc;

    IoInitHandles(connPtr);
    if (connPtr->myaddr != NULL || connPtr->myport != 0) {
	struct sockaddr_storage local;

	memset(&local, 0, sizeof(local));
	if (ai->ai_family == AF_INET6) {
	    rc = uv_ip6_addr(connPtr->myaddr ? connPtr->myaddr : "::",
		    connPtr->myport, (struct sockaddr_in6 *) &local);
	} else {
	    rc = uv_ip4_addr(connPtr->myaddr ? connPtr->myaddr : "0.0.0.0",
		    connPtr->myport, (struct sockaddr_in *) &local);
	}
	if (rc == 0) {
	    rc = uv_tcp_bind(&connPtr->stream.tcp,
		    (struct sockaddr *) &local, 0);
	}
	if (rc < 0) {
	    char msg[200];

	    snprintf(msg, sizeof(msg), "cannot bind to -myaddr/-myport: %s",
		    uv_strerror(rc));
	    CourierStreamFail(connPtr, "error", rc, msg, 0);
	    return;
	}
    }
    connPtr->connectReq.data = connPtr;
    rc = uv_tcp_connect(&connPtr->connectReq, &connPtr->stream.tcp,
	    ai->ai_addr, IoOnConnected);
    if (rc < 0) {
	CourierStreamFail(connPtr, "error", rc, NULL, 0);
    }
}

/*
 * NumericAddress --
 *	If the host is a numeric IPv4 or IPv6 address (of an allowed
 *	family), fills connPtr->numericInfo with it and returns 1.
 */

static int
NumericAddress(
    Conn *connPtr)
{
    struct addrinfo *ai = &connPtr->numericInfo;
    int port = atoi(connPtr->service);

    memset(ai, 0, sizeof(*ai));
    memset(&connPtr->numericAddr, 0, sizeof(connPtr->numericAddr));
    if (connPtr->family != AF_INET6 && uv_ip4_addr(connPtr->host, port,
	    (struct sockaddr_in *) &connPtr->numericAddr) == 0) {
	ai->ai_family = AF_INET;
	ai->ai_addrlen = sizeof(struct sockaddr_in);
    } else if (connPtr->family != AF_INET && strchr(connPtr->host, ':')
	    && uv_ip6_addr(connPtr->host, port,
		    (struct sockaddr_in6 *) &connPtr->numericAddr) == 0) {
	ai->ai_family = AF_INET6;
	ai->ai_addrlen = sizeof(struct sockaddr_in6);
    } else {
	return 0;
    }
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_addr = (struct sockaddr *) &connPtr->numericAddr;
    return 1;
}

/*
 * CourierConnIoConnect --
 *	The connect command: start the timeout and the name lookup.
 */

void
CourierConnIoConnect(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    int rc;

    CourierStreamIoConfig(connPtr, &ccPtr->config);
    connPtr->ioPort = ccPtr->portPtr;
    ccPtr->portPtr = NULL;
    connPtr->tlsSetupPending = ccPtr->tlsSetup;	/* Started once open. */
    ccPtr->tlsSetup = NULL;
    if (connPtr->ioState != IO_NEW) {
	return;					/* Closed before it started. */
    }
    if (connPtr->timeoutMs > 0) {
	uv_timer_init(CourierIoLoop(connPtr->ioPtr), &connPtr->timer);
	connPtr->timer.data = connPtr;
	connPtr->timerInit = 1;
	connPtr->handlesOpen++;
	uv_timer_start(&connPtr->timer, IoOnTimeout, connPtr->timeoutMs, 0);
    }
    /*
     * A numeric address needs no lookup: connect at once, without
     * queueing behind slow lookups in libuv's worker pool.
     */

    if (NumericAddress(connPtr)) {
	connPtr->ioState = IO_CONNECTING;
	connPtr->nextAddr = &connPtr->numericInfo;
	IoTryConnect(connPtr);
	return;
    }
    connPtr->ioState = IO_RESOLVING;
    CourierConnRef(connPtr);			/* The lookup's. */
    rc = CourierResolve(connPtr->ioPtr, connPtr->host, connPtr->service,
	    connPtr->family, IoOnResolved, connPtr);
    if (rc < 0) {
	CourierConnUnref(connPtr);
	connPtr->ioState = IO_CONNECTING;
	CourierStreamFail(connPtr, "error", rc, "cannot start a resolver thread", 0);
    }
}


/*
 *----------------------------------------------------------------------
 *
 * Accepted sockets (called by listenio.c in the I/O thread).
 *
 *----------------------------------------------------------------------
 */

Conn *
CourierConnAcceptIo(
    CourierIoThread *ioPtr,
    uv_stream_t *serverHandle,
    char *peerHost,
    size_t hostSize,
    int *peerPortPtr)
{
    Conn *connPtr = CourierConnAlloc(ioPtr);
    struct sockaddr_storage addr;
    int len = sizeof(addr);

    IoInitHandles(connPtr);
    if (uv_accept(serverHandle, STREAM(connPtr)) < 0) {
	connPtr->ioState = IO_OPEN;
	CourierStreamCloseHandles(connPtr, 0);
	return NULL;
    }
    peerHost[0] = '\0';
    *peerPortPtr = 0;
    if (uv_tcp_getpeername(&connPtr->stream.tcp,
	    (struct sockaddr *) &addr, &len) == 0) {
	CourierSockaddrName((struct sockaddr *) &addr, peerHost, hostSize,
		peerPortPtr);
    }
    /* IO_NEW until CourierConnIoStart: nothing is read before the Tcl
     * half exists. */
    return connPtr;
}

void
CourierConnIoStart(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    if (connPtr->ioState == IO_CLOSED) {
	CourierPortRelease(ccPtr->portPtr);
    } else {
	connPtr->ioPort = ccPtr->portPtr;
    }
    ccPtr->portPtr = NULL;
    if (connPtr->ioState == IO_NEW) {
	CourierStreamIoConfig(connPtr, &ccPtr->config);
	IoOpened(connPtr, ccPtr->tlsSetup);
	ccPtr->tlsSetup = NULL;
	CourierStreamStartReading(connPtr);
	CourierStreamFlushEarly(connPtr);
	CourierStreamMaybeFinish(connPtr);
    }
}

/*
 * CourierConnAbortIo --
 *	An accepted socket no Tcl half will take (its listener is gone):
 *	close it from any thread.
 */

static void
AbortRun(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    (void) ccPtr;
    if (connPtr->ioState == IO_NEW) {
	connPtr->ioState = IO_OPEN;
    }
    CourierStreamCloseHandles(connPtr, 1);
}

void
CourierConnAbortIo(
    Conn *connPtr)
{
    CourierConnSubmit(connPtr, AbortRun);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierTcpInit --
 *
 *	Creates courier::connect in an interpreter (called by Courier_Init).
 *
 *----------------------------------------------------------------------
 */

void
CourierTcpInit(
    Tcl_Interp *interp)
{
    Tcl_CreateObjCommand(interp, "::courier::connect", CourierConnectObjCmd,
	    NULL, NULL);
}
