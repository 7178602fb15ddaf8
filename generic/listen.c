/*
 * listen.c --
 *
 *	Listeners, the Tcl half (see listenInt.h): courier::listen and the
 *	server handle ($s port, info, configure, cget, close), and the
 *	delivery of accepted sockets and accept errors (-onaccept,
 *	-onaccepterror). Runs in the interpreter's thread; listenio.c is
 *	the I/O half.
 *
 *	The listening socket is bound in the Tcl thread (a few system calls,
 *	no name lookup: -host is a numeric address or localhost), so that
 *	errors such as "address in use" and the port picked for port 0 are
 *	known when courier::listen returns. The I/O thread then owns it:
 *	it accepts, and posts each accepted socket to the listener's port.
 *	The Tcl half gives it a connection handle, runs -onaccept, then lets
 *	the connection start reading.
 */

#include "listenInt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <assert.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define HANDLE_TO_SERVER(handlePtr) \
    ((Server *) ((char *) (handlePtr) - offsetof(Server, handle)))

static const char serverKind[] = "server";

static CourierHandleCloseProc ServerClosed;
static int	ServerObjCmd(ClientData clientData, Tcl_Interp *interp,
		    int objc, Tcl_Obj *const objv[]);

/*
 *======================================================================
 * Tcl half.
 *======================================================================
 */

/* Drops a client list's closed handles; returns how many are open. */
static int
CountClients(
    Server *serverPtr)
{
    Tcl_Obj **names, *open = Tcl_NewListObj(0, NULL);
    int n, i;

    Tcl_ListObjGetElements(NULL, serverPtr->clients, &n, &names);
    for (i = 0; i < n; i++) {
	if (CourierConnIsOpen(serverPtr->handle.interp, Tcl_GetString(names[i]))) {
	    Tcl_ListObjAppendElement(NULL, open, names[i]);
	}
    }
    Tcl_DecrRefCount(serverPtr->clients);
    serverPtr->clients = open;
    Tcl_IncrRefCount(open);
    Tcl_ListObjLength(NULL, open, &n);
    return n;
}

/*
 * ServerAcceptError --
 *	An accept error from the I/O half ("ERRNAME\0message"): calls
 *	-onaccepterror as {*}cmd $server $message ERRNAME, or without it
 *	raises a background error, -errorcode {COURIER ACCEPT ERRNAME}.
 */

static void
ServerAcceptError(
    Server *serverPtr,
    CourierMsg *msgPtr)
{
    Tcl_Interp *interp = serverPtr->handle.interp;
    const char *name = (const char *) msgPtr->data;
    size_t nameLen = strlen(name);
    Tcl_Obj *text = Tcl_NewStringObj(name + nameLen + 1,
	    (int) (msgPtr->size - nameLen - 1));
    Tcl_Obj *serverName = serverPtr->handle.nameObj, *args[3];

    assert(nameLen < msgPtr->size);
    Tcl_IncrRefCount(text);
    Tcl_IncrRefCount(serverName);
    if (serverPtr->onAcceptError == NULL) {
	Tcl_SetObjResult(interp, Tcl_ObjPrintf(
		"listener %s cannot accept: %s", Tcl_GetString(serverName),
		Tcl_GetString(text)));
	Tcl_SetErrorCode(interp, "COURIER", "ACCEPT", name, NULL);
	Tcl_BackgroundException(interp, TCL_ERROR);
	Tcl_DecrRefCount(serverName);
	Tcl_DecrRefCount(text);
	return;
    }
    args[0] = serverName;
    args[1] = text;
    args[2] = Tcl_NewStringObj(name, -1);
    CourierCallPrefix(interp, "-onaccepterror", args[0],
	    serverPtr->onAcceptError, 3, args);
    Tcl_DecrRefCount(serverName);
    Tcl_DecrRefCount(text);
}

static void
ServerDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Server *serverPtr = ownerData;
    Tcl_Interp *interp = serverPtr->handle.interp;
    AcceptInfo info;
    Tcl_Obj *connName;

    if (msgPtr->kind == SERVER_MSG_ERROR) {
	ServerAcceptError(serverPtr, msgPtr);
	return;
    }
    memcpy(&info, msgPtr->data, sizeof(info));
    if (serverPtr->maxClients > 0
	    && CountClients(serverPtr) >= serverPtr->maxClients) {
	CourierConnAbortIo(info.connPtr);
	CourierConnUnref(info.connPtr);
	return;
    }
    connName = CourierConnAdopt(CourierGetInterp(interp), info.connPtr,
	    &serverPtr->opts);
    Tcl_IncrRefCount(connName);
    if (serverPtr->tlsCtx != NULL) {
	CourierConnAcceptTls(info.connPtr, serverPtr->tlsCtx);
    }
    {
	int len;

	/*
	 * A long-running server that never asks for $s info must not keep
	 * the name of every connection it ever accepted: prune when the
	 * list has doubled since the last time (amortized O(1)).
	 */

	Tcl_ListObjLength(NULL, serverPtr->clients, &len);
	if (len >= serverPtr->pruneAt) {
	    serverPtr->pruneAt = 2 * CountClients(serverPtr) + 64;
	}
    }
    if (Tcl_IsShared(serverPtr->clients)) {
	/* $s info handed the list out: append to a copy of our own. */
	Tcl_Obj *copy = Tcl_DuplicateObj(serverPtr->clients);

	Tcl_DecrRefCount(serverPtr->clients);
	serverPtr->clients = copy;
	Tcl_IncrRefCount(copy);
    }
    Tcl_ListObjAppendElement(NULL, serverPtr->clients, connName);
    if (serverPtr->onaccept != NULL) {
	Tcl_Obj *args[4];

	args[0] = serverPtr->handle.nameObj;
	args[1] = connName;
	args[2] = Tcl_NewStringObj(info.host, -1);
	args[3] = Tcl_NewIntObj(info.port);
	CourierCallPrefix(interp, "-onaccept", args[0],
		serverPtr->onaccept, 4, args);
    }
    /*
     * -onaccept may have closed or renamed the handle: the message's
     * reference keeps the connection to ask; a closed one does not start.
     */

    CourierConnStart(info.connPtr);
    CourierConnUnref(info.connPtr);	/* The message's reference. */
    Tcl_DecrRefCount(connName);
}

/* Accepted sockets that no one will adopt: close them. */
static void
ServerDiscard(
    CourierMsg *msgPtr)
{
    AcceptInfo info;

    if (msgPtr->kind == SERVER_MSG_ACCEPT) {
	memcpy(&info, msgPtr->data, sizeof(info));
	CourierConnAbortIo(info.connPtr);
	CourierConnUnref(info.connPtr);
    }
}

static void
ServerNotify(
    void *producerData,
    int event)
{
    /* Accepts are rare and small: no flow control for listeners. */
    (void) producerData;
    (void) event;
}

static void
ServerPortReleased(
    void *producerData)
{
    CourierServerUnref(producerData);
}

static const CourierPortType serverPortType = {
    "server", ServerDeliver, ServerNotify, ServerPortReleased, ServerDiscard
};

/*
 *----------------------------------------------------------------------
 *
 * CourierListenObjCmd --
 *
 *	courier::listen port ?-host addr? ?-backlog n? ?-maxclients n?
 *		?-onaccept cmd? ?connection options? ?TLS options?
 *
 * Results:
 *	A listener handle (::courier::serverN).
 *
 *----------------------------------------------------------------------
 */

/*
 * A listener's options of its own. -host and -backlog are given when it is
 * made; the others can be changed with $s configure.
 */
typedef struct ListenOptions {
    Tcl_Obj *host;		/* NULL: 127.0.0.1. */
    int backlog;
    int maxClients;
    Tcl_Obj *onaccept;
    Tcl_Obj *onAcceptError;
} ListenOptions;

#define LISTEN_FIELD(field) offsetof(ListenOptions, field)

static const CourierOptSpec listenOptionSpecs[] = {
    {.name = "-backlog", .type = COURIER_OPT_INT,
	.offset = LISTEN_FIELD(backlog), .flags = COURIER_OPT_CREATE_ONLY,
	.min = 1, .max = 65535},
    {.name = "-host", .type = COURIER_OPT_STRING,
	.offset = LISTEN_FIELD(host), .flags = COURIER_OPT_CREATE_ONLY},
    {.name = "-maxclients", .type = COURIER_OPT_INT,
	.offset = LISTEN_FIELD(maxClients), .min = 0, .max = 1000000},
    {.name = "-onaccept", .type = COURIER_OPT_PREFIX,
	.offset = LISTEN_FIELD(onaccept)},
    {.name = "-onaccepterror", .type = COURIER_OPT_PREFIX,
	.offset = LISTEN_FIELD(onAcceptError)},
    {.name = NULL}
};

int
CourierListenObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    CourierInterp *cinterpPtr;
    ConnOptions opts;
    ListenOptions own = {NULL, 128, 0, NULL, NULL};
    CourierOptTable tables[3] = {
	{courierConnOptionSpecs, &opts}, {courierTlsOptionSpecs, &opts},
	{listenOptionSpecs, &own}
    };
    SSL_CTX_t *tlsCtx;
    Tcl_WideInt port;
    const char *host;
    Server *serverPtr;
    CourierIoThread *ioPtr;
    int fd, boundPort, family;
    Tcl_Obj *nameObj;

    (void) clientData;
    if (objc < 2) {
	return CourierUsage(interp, 1, objv, "port ?-option value ...?");
    }
    if (CourierGetPositiveWide(interp, objv[1], "port", 0, 65535,
	    &port) != TCL_OK) {
	return TCL_ERROR;
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    if (CourierTcpOptionsParse(interp, tables, objc - 2, objv + 2, 1,
	    &tlsCtx) != TCL_OK) {
	return TCL_ERROR;
    }
    host = own.host != NULL ? Tcl_GetString(own.host) : "127.0.0.1";

    fd = CourierBindSocket(interp, SOCK_STREAM, host, (int) port, AF_UNSPEC,
	    COURIER_BIND_REUSEADDR, own.backlog, "listen on", &family,
	    &boundPort);
    if (fd < 0) {
	goto error;
    }
    ioPtr = CourierIoPick(interp);
    if (ioPtr == NULL) {
	close(fd);
	goto error;
    }
    serverPtr = CourierAllocZero(sizeof(Server));
    atomic_init(&serverPtr->refCount, 3);	/* Tcl, I/O, port. */
    serverPtr->ioObj.abortProc = CourierServerIoAbort;
    serverPtr->ioPtr = ioPtr;
    serverPtr->opts = opts;
    serverPtr->tlsCtx = tlsCtx;			/* Takes the reference. */
    serverPtr->onaccept = own.onaccept;		/* Takes the references. */
    serverPtr->onAcceptError = own.onAcceptError;
    own.onaccept = own.onAcceptError = NULL;
    atomic_init(&serverPtr->acceptErrors, 0);
    serverPtr->probeFd = -1;
    serverPtr->clients = Tcl_NewListObj(0, NULL);
    Tcl_IncrRefCount(serverPtr->clients);
    serverPtr->pruneAt = 64;
    serverPtr->maxClients = own.maxClients;
    serverPtr->port = boundPort;
    snprintf(serverPtr->host, sizeof(serverPtr->host), "%s", host);
    serverPtr->backlog = own.backlog;
    serverPtr->fd = fd;
    serverPtr->tclPort = CourierPortOpen(cinterpPtr->inboxPtr,
	    &serverPortType, interp, serverPtr, serverPtr, 1 << 20);
    serverPtr->ioPort = serverPtr->tclPort;
    nameObj = CourierHandleCreate(&serverPtr->handle, cinterpPtr, serverKind,
	    ServerObjCmd, ServerClosed);
    CourierServerIoStart(serverPtr);
    Tcl_SetObjResult(interp, nameObj);
    CourierOptRelease(listenOptionSpecs, &own);
    return TCL_OK;

  error:
    if (tlsCtx != NULL) {
	CourierTlsContextFree(tlsCtx);
    }
    CourierConnOptionsFree(&opts);
    CourierOptRelease(listenOptionSpecs, &own);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * Closing the listener: the handle goes, the I/O half stops listening.
 * Connections it accepted stay open: they are handles of their own.
 *
 *----------------------------------------------------------------------
 */

/*
 * ServerClosed --
 *	The handle is closed (CourierHandleClose): stop listening, drop the
 *	Tcl half.
 */

static void
ServerClosed(
    CourierHandle *handlePtr)
{
    Server *serverPtr = HANDLE_TO_SERVER(handlePtr);

    CourierServerIoStop(serverPtr);
    CourierPortClose(serverPtr->tclPort);
    serverPtr->tclPort = NULL;
    CourierConnOptionsFree(&serverPtr->opts);
    if (serverPtr->tlsCtx != NULL) {
	CourierTlsContextFree(serverPtr->tlsCtx);
	serverPtr->tlsCtx = NULL;
    }
    CourierObjClear(&serverPtr->onaccept);
    CourierObjClear(&serverPtr->onAcceptError);
    Tcl_DecrRefCount(serverPtr->clients);
    serverPtr->clients = NULL;
    CourierServerUnref(serverPtr);		/* The Tcl half's. */
}

/*
 *----------------------------------------------------------------------
 *
 * ServerObjCmd --
 *
 *	$s port | info | close | configure ?-option ?value ...?? |
 *	   cget -option
 *	configure and cget take the connection options given to accepted
 *	connections, and -onaccept and -maxclients.
 *
 *----------------------------------------------------------------------
 */

static int
ServerObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const subcommands[] = {
	"cget", "close", "configure", "info", "port", NULL
    };
    enum { SC_CGET, SC_CLOSE, SC_CONFIGURE, SC_INFO, SC_PORT };
    Server *serverPtr = HANDLE_TO_SERVER(clientData);
    int index;

    if (serverPtr->handle.closed) {
	/* Called from a delete trace while $s close runs. */
	return CourierError(interp, "CLOSED", NULL,
		"listener \"%s\" is being closed", Tcl_GetString(objv[0]));
    }
    if (CourierGetSubcommand(interp, objc, objv, 1, subcommands,
	    &index) != TCL_OK) {
	return TCL_ERROR;
    }
    if (index != SC_CONFIGURE && index != SC_CGET && objc != 2) {
	return CourierUsage(interp, 2, objv, NULL);
    }
    switch (index) {
    case SC_PORT:
	Tcl_SetObjResult(interp, Tcl_NewIntObj(serverPtr->port));
	return TCL_OK;
    case SC_CLOSE:
	CourierHandleClose(&serverPtr->handle);
	return TCL_OK;
    case SC_INFO: {
	Tcl_Obj *d = Tcl_NewDictObj();

	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("host", -1),
		Tcl_NewStringObj(serverPtr->host, -1));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("port", -1),
		Tcl_NewIntObj(serverPtr->port));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("clients", -1),
		Tcl_NewIntObj(CountClients(serverPtr)));
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("handles", -1),
		serverPtr->clients);
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("acceptErrors", -1),
		Tcl_NewIntObj(atomic_load(&serverPtr->acceptErrors)));
	Tcl_SetObjResult(interp, d);
	return TCL_OK;
    }
    case SC_CGET:
	if (objc != 3) {
	    return CourierUsage(interp, 2, objv, "-option");
	}
	/* FALLTHRU */
    case SC_CONFIGURE: {
	ConnOptions copy;
	ListenOptions own = {NULL, serverPtr->backlog, serverPtr->maxClients,
		serverPtr->onaccept, serverPtr->onAcceptError};
	CourierOptTable tables[3] = {
	    {courierConnOptionSpecs, &serverPtr->opts},
	    {courierTlsOptionSpecs, &serverPtr->opts},
	    {listenOptionSpecs, &own}
	};

	if (objc <= 3) {
	    return CourierOptRead(interp, tables, 3, objc - 2, objv + 2,
		    COURIER_OPT_CREATE_ONLY);
	}
	if (objc % 2 != 0) {
	    return CourierError(interp, "USAGE", NULL,
		    "wrong # args: should be \"%s configure -option value "
		    "?-option value ...?\"", Tcl_GetString(objv[0]));
	}

	/* Check everything on copies before changing anything. */
	CourierConnOptionsCopy(&copy, &serverPtr->opts);
	CourierOptRetain(listenOptionSpecs, &own);
	tables[0].record = tables[1].record = &copy;
	if (CourierConnOptionsParse(interp, tables, 3, objc - 2, objv + 2,
		COURIER_OPT_CREATE_ONLY) != TCL_OK) {
	    return TCL_ERROR;
	}
	CourierConnOptionsFree(&serverPtr->opts);
	serverPtr->opts = copy;
	CourierObjClear(&serverPtr->onaccept);
	CourierObjClear(&serverPtr->onAcceptError);
	serverPtr->onaccept = own.onaccept;	/* The copy's references. */
	serverPtr->onAcceptError = own.onAcceptError;
	serverPtr->maxClients = own.maxClients;
	return TCL_OK;
    }
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierListenInit --
 *
 *	Creates courier::listen in an interpreter (called by Courier_Init).
 *
 *----------------------------------------------------------------------
 */

void
CourierListenInit(
    Tcl_Interp *interp)
{
    Tcl_CreateObjCommand(interp, "::courier::listen", CourierListenObjCmd,
	    NULL, NULL);
}
