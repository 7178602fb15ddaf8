/*
 * conn.c --
 *
 *	TCP connections, the Tcl half (see connInt.h): the struct's life,
 *	courier::connect, the handle command ($c send, close, shutdown,
 *	pause, resume, configure, cget, info; a process's kill and pid), the
 *	options, and the delivery of what the I/O half posts. Everything
 *	here runs in the owner interpreter's thread, except the reference
 *	counting and the commands, which any thread may use.
 */

#include "connInt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <signal.h>

static const char *const tclStateNames[] = {"connecting", "open", "closed"};
static const CourierPortType connPortType;

static int	AsciiCompatible(Tcl_Encoding encoding);
static void	TclHalfClose(Conn *connPtr, int abort);

/*
 *======================================================================
 * The shared struct and the commands to the I/O half (any thread).
 *======================================================================
 */

Conn *
CourierConnAlloc(
    CourierIoThread *ioPtr)
{
    Conn *connPtr = calloc(1, sizeof(Conn));

    if (connPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(Conn));
    }
    connPtr->ioPtr = ioPtr;
    connPtr->ioObj.abortProc = CourierConnIoAbort;
    atomic_init(&connPtr->refCount, 1);	/* The I/O half's. */
    atomic_init(&connPtr->pendingOut, 0);
    atomic_init(&connPtr->bytesWritten, 0);
    atomic_init(&connPtr->bytesRead, 0);
    connPtr->ioState = IO_NEW;
    return connPtr;
}


void
CourierConnRef(
    Conn *connPtr)
{
    atomic_fetch_add(&connPtr->refCount, 1);
}

/*
 * CourierConnUnref --
 *	Drops a reference (any thread). By the time the last goes, each half
 *	has released what it owned in its own thread, so only memory is left.
 */

void
CourierConnUnref(
    Conn *connPtr)
{
    if (atomic_fetch_sub(&connPtr->refCount, 1) == 1) {
	assert(connPtr->handlesOpen == 0);
	if (connPtr->procPtr != NULL) {
	    CourierProcessFree(connPtr->procPtr);
	}
	free(connPtr->host);
	free(connPtr->myaddr);
	free(connPtr);
    }
}


void
CourierConnCmdDiscard(
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;

    if (ccPtr->portPtr != NULL) {
	/* A connect or start that never ran: nothing will post. */
	CourierPortRelease(ccPtr->portPtr);
    }
    CourierConnUnref(ccPtr->connPtr);
    free(ccPtr);
}

ConnCmd *
CourierConnCmdNew(
    Conn *connPtr,
    void (*runProc)(CourierIoThread *, CourierIoCmd *))
{
    ConnCmd *ccPtr = calloc(1, sizeof(ConnCmd));

    if (ccPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(ConnCmd));
    }
    ccPtr->header.runProc = runProc;
    ccPtr->header.discardProc = CourierConnCmdDiscard;
    ccPtr->connPtr = connPtr;
    CourierConnRef(connPtr);
    return ccPtr;
}

void
CourierConnSubmit(
    Conn *connPtr,
    void (*runProc)(CourierIoThread *, CourierIoCmd *))
{
    ConnCmd *ccPtr = CourierConnCmdNew(connPtr, runProc);

    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
}

/*
 * The end of a command's run: drop its reference and free it.
 */

void
CourierConnCmdDone(
    ConnCmd *ccPtr)
{
    CourierConnUnref(ccPtr->connPtr);
    free(ccPtr);
}

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
 *======================================================================
 * The Tcl half. Everything below runs in the owner interpreter's thread.
 *======================================================================
 */

static int	ConnHandleObjCmd(ClientData clientData, Tcl_Interp *interp,
		    int objc, Tcl_Obj *const objv[]);
static void	ConnHandleDeleted(ClientData clientData);
static void	ConnCloseResource(CourierResource *resPtr);

#define RESOURCE_TO_CONN(resPtr) \
    ((Conn *) ((char *) (resPtr) - offsetof(Conn, resource)))

static const char connKind[] = "conn";

/*
 * SubmitKill --
 *	Asks the I/O thread to signal a child process; signum 0: the handle
 *	is gone (SIGTERM, then SIGKILL after COURIER_KILL_GRACE_MS).
 */

static void
SubmitKill(
    Conn *connPtr,
    int signum)
{
    ConnCmd *ccPtr = CourierConnCmdNew(connPtr, CourierConnIoKill);

    ccPtr->flag = signum;
    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
}

/*
 * Options: defaults, copies, parsing, reading back.
 */

void
CourierConnOptionsInit(
    ConnOptions *o)
{
    memset(o, 0, sizeof(*o));
    o->framing = COURIER_FRAMING_RAW;
    o->eol = COURIER_EOL_AUTO;
    o->lengthBytes = 4;
    o->maxMessage = 16 << 20;
    o->maxPending = 1 << 20;
    o->sendBuffer = 1 << 20;
    o->nodelay = 1;
    o->encoding = Tcl_GetEncoding(NULL, "utf-8");
}

#define OPT_CALLBACKS(o) \
    &(o)->onconnect, &(o)->ondata, &(o)->onclose, &(o)->onerror, \
    &(o)->ondrain

void
CourierConnOptionsCopy(
    ConnOptions *dst,
    const ConnOptions *src)
{
    Tcl_Obj **d[] = {OPT_CALLBACKS(dst)};
    size_t i;

    *dst = *src;
    for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
	if (*d[i] != NULL) {
	    Tcl_IncrRefCount(*d[i]);
	}
    }
    if (dst->encoding != NULL) {
	dst->encoding = Tcl_GetEncoding(NULL, Tcl_GetEncodingName(
		src->encoding));
    }
}

void
CourierConnOptionsFree(
    ConnOptions *o)
{
    Tcl_Obj **d[] = {OPT_CALLBACKS(o)};
    size_t i;

    for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
	if (*d[i] != NULL) {
	    Tcl_DecrRefCount(*d[i]);
	    *d[i] = NULL;
	}
    }
    if (o->encoding != NULL) {
	Tcl_FreeEncoding(o->encoding);
	o->encoding = NULL;
    }
}

static const char *const connOptionNames[] = {
    "-batch", "-encoding", "-framing", "-keepalive", "-lengthbytes",
    "-maxmessage", "-maxpending", "-nodelay", "-onclose", "-onconnect",
    "-ondata", "-ondrain", "-onerror", "-sendbuffer", "-translation", NULL
};
enum {
    CO_BATCH, CO_ENCODING, CO_FRAMING, CO_KEEPALIVE, CO_LENGTHBYTES,
    CO_MAXMESSAGE, CO_MAXPENDING, CO_NODELAY, CO_ONCLOSE, CO_ONCONNECT,
    CO_ONDATA, CO_ONDRAIN, CO_ONERROR, CO_SENDBUFFER, CO_TRANSLATION
};
static const char *const framingNames[] = {"raw", "line", "length", NULL};
static const char *const eolNames[] = {"auto", "lf", "crlf", "cr", NULL};

static Tcl_Obj **
CallbackSlot(
    ConnOptions *o,
    int index)
{
    switch (index) {
    case CO_ONCLOSE: return &o->onclose;
    case CO_ONCONNECT: return &o->onconnect;
    case CO_ONDATA: return &o->ondata;
    case CO_ONDRAIN: return &o->ondrain;
    case CO_ONERROR: return &o->onerror;
    }
    return NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnOptionsParse --
 *
 *	Applies -option value pairs to *o. Options that are not connection
 *	options are an error unless unknownPtr is given: then parsing stops
 *	there and *unknownPtr is the index of the first unknown option.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message and error code. On error *o may
 *	hold some of the new values: callers parse into a copy.
 *
 *----------------------------------------------------------------------
 */

int
CourierConnOptionsParse(
    Tcl_Interp *interp,
    ConnOptions *o,
    int objc,
    Tcl_Obj *const objv[],
    int *unknownPtr)
{
    int i, index, b;
    Tcl_WideInt w;

    for (i = 0; i < objc; i += 2) {
	const char *name = Tcl_GetString(objv[i]);

	if (Tcl_GetIndexFromObj(NULL, objv[i], connOptionNames, "option", 0,
		&index) != TCL_OK) {
	    if (unknownPtr != NULL) {
		*unknownPtr = i;
		return TCL_OK;
	    }
	    Tcl_GetIndexFromObj(interp, objv[i], connOptionNames, "option", 0,
		    &index);
	    Tcl_SetErrorCode(interp, "COURIER", "OPTION", name, NULL);
	    return TCL_ERROR;
	}
	if (i + 1 >= objc) {
	    return CourierError(interp, "USAGE", NULL,
		    "value for \"%s\" missing", name);
	}
	switch (index) {
	case CO_BATCH: case CO_KEEPALIVE: case CO_NODELAY:
	    if (Tcl_GetBooleanFromObj(NULL, objv[i + 1], &b) != TCL_OK) {
		return CourierError(interp, "VALUE", connOptionNames[index],
			"bad value \"%.100s\" for %s: expected a boolean",
			Tcl_GetString(objv[i + 1]), connOptionNames[index]);
	    }
	    if (index == CO_BATCH) {
		o->batch = b;
	    } else if (index == CO_KEEPALIVE) {
		o->keepalive = b;
	    } else {
		o->nodelay = b;
	    }
	    break;
	case CO_ENCODING: {
	    const char *enc = Tcl_GetString(objv[i + 1]);
	    Tcl_Encoding e = NULL;

	    if (strcmp(enc, "binary") != 0) {
		e = Tcl_GetEncoding(NULL, enc);
		if (e == NULL) {
		    return CourierError(interp, "VALUE", "-encoding",
			    "unknown encoding \"%.100s\" for -encoding: "
			    "expected binary or a name from encoding names",
			    enc);
		}
	    }
	    if (o->encoding != NULL) {
		Tcl_FreeEncoding(o->encoding);
	    }
	    o->encoding = e;
	    break;
	}
	case CO_FRAMING: case CO_TRANSLATION: {
	    const char *const *table = index == CO_FRAMING ? framingNames
		    : eolNames;
	    int v;

	    if (Tcl_GetIndexFromObj(interp, objv[i + 1], table,
		    index == CO_FRAMING ? "framing" : "translation", 0,
		    &v) != TCL_OK) {
		Tcl_SetErrorCode(interp, "COURIER", "VALUE",
			connOptionNames[index], NULL);
		return TCL_ERROR;
	    }
	    if (index == CO_FRAMING) {
		o->framing = (CourierFraming) v;
	    } else {
		o->eol = (CourierEol) v;
	    }
	    break;
	}
	case CO_LENGTHBYTES:
	    if (CourierGetPositiveWide(interp, objv[i + 1], "-lengthbytes", 1,
		    8, &w) != TCL_OK) {
		return TCL_ERROR;
	    }
	    if (w != 1 && w != 2 && w != 4 && w != 8) {
		return CourierError(interp, "VALUE", "-lengthbytes",
			"bad value \"%.100s\" for -lengthbytes: expected 1, "
			"2, 4 or 8", Tcl_GetString(objv[i + 1]));
	    }
	    o->lengthBytes = (int) w;
	    break;
	case CO_MAXMESSAGE:
	    if (CourierGetPositiveWide(interp, objv[i + 1], "-maxmessage", 1,
		    (Tcl_WideInt) 1 << 31, &w) != TCL_OK) {
		return TCL_ERROR;
	    }
	    o->maxMessage = w;
	    break;
	case CO_MAXPENDING:
	case CO_SENDBUFFER:
	    if (CourierGetPositiveWide(interp, objv[i + 1],
		    connOptionNames[index], 1, (Tcl_WideInt) 1 << 40,
		    &w) != TCL_OK) {
		return TCL_ERROR;
	    }
	    if (index == CO_MAXPENDING) {
		o->maxPending = w;
	    } else {
		o->sendBuffer = w;
	    }
	    break;
	default: {
	    Tcl_Obj **slot = CallbackSlot(o, index);
	    int len;

	    if (Tcl_ListObjLength(NULL, objv[i + 1], &len) != TCL_OK) {
		return CourierError(interp, "VALUE", connOptionNames[index],
			"bad value for %s: expected a command prefix (a "
			"list), or {} for none", connOptionNames[index]);
	    }
	    if (*slot != NULL) {
		Tcl_DecrRefCount(*slot);
		*slot = NULL;
	    }
	    if (len > 0) {
		*slot = Tcl_DuplicateObj(objv[i + 1]);
		Tcl_IncrRefCount(*slot);
	    }
	    break;
	}
	}
    }
    if (unknownPtr != NULL) {
	*unknownPtr = objc;
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnOptionsNext --
 *
 *	For commands that take connection options mixed with options of
 *	their own (connect, listen): parses connection options from
 *	objv[*iPtr] on and stops at the first option named in extra.
 *
 * Results:
 *	The index in extra of that option, with *iPtr on it and its value
 *	checked present at objv[*iPtr + 1]; -1 once every argument is
 *	parsed; -2 with an error in interp (an unknown option, whose message
 *	lists extraText, or a missing value).
 *
 *----------------------------------------------------------------------
 */

int
CourierConnOptionsNext(
    Tcl_Interp *interp,
    ConnOptions *o,
    int objc,
    Tcl_Obj *const objv[],
    int *iPtr,
    const char *const extra[],
    const char *extraText)
{
    int next, index;

    if (*iPtr >= objc) {
	return -1;
    }
    if (CourierConnOptionsParse(interp, o, objc - *iPtr, objv + *iPtr,
	    &next) != TCL_OK) {
	return -2;
    }
    *iPtr += next;
    if (*iPtr >= objc) {
	return -1;
    }
    if (Tcl_GetIndexFromObj(NULL, objv[*iPtr], extra, "option", 0,
	    &index) != TCL_OK) {
	CourierError(interp, "OPTION", Tcl_GetString(objv[*iPtr]),
		"bad option \"%.100s\": must be a connection option or %s",
		Tcl_GetString(objv[*iPtr]), extraText);
	return -2;
    }
    if (*iPtr + 1 >= objc) {
	CourierError(interp, "USAGE", NULL, "value for \"%s\" missing",
		Tcl_GetString(objv[*iPtr]));
	return -2;
    }
    return index;
}

Tcl_Obj *
CourierConnOptionsGet(
    ConnOptions *o,
    const char *name)
{
    int index;
    Tcl_Obj *nameObj = Tcl_NewStringObj(name, -1);
    Tcl_Obj *result = NULL;

    Tcl_IncrRefCount(nameObj);
    if (Tcl_GetIndexFromObj(NULL, nameObj, connOptionNames, "option", 0,
	    &index) == TCL_OK) {
	switch (index) {
	case CO_BATCH: result = Tcl_NewBooleanObj(o->batch); break;
	case CO_KEEPALIVE: result = Tcl_NewBooleanObj(o->keepalive); break;
	case CO_NODELAY: result = Tcl_NewBooleanObj(o->nodelay); break;
	case CO_ENCODING:
	    result = Tcl_NewStringObj(o->encoding == NULL ? "binary"
		    : Tcl_GetEncodingName(o->encoding), -1);
	    break;
	case CO_FRAMING: result = Tcl_NewStringObj(framingNames[o->framing],
		-1); break;
	case CO_TRANSLATION: result = Tcl_NewStringObj(eolNames[o->eol], -1);
	    break;
	case CO_LENGTHBYTES: result = Tcl_NewIntObj(o->lengthBytes); break;
	case CO_MAXMESSAGE: result = Tcl_NewWideIntObj(o->maxMessage); break;
	case CO_MAXPENDING: result = Tcl_NewWideIntObj(o->maxPending); break;
	case CO_SENDBUFFER: result = Tcl_NewWideIntObj(o->sendBuffer); break;
	default: {
	    Tcl_Obj *cb = *CallbackSlot(o, index);

	    result = cb ? cb : Tcl_NewObj();
	}
	}
    }
    Tcl_DecrRefCount(nameObj);
    return result;
}

static void
OptionsToIo(
    const ConnOptions *o,
    ConnIoConfig *io)
{
    io->framing = o->framing;
    io->eol = o->eol;
    io->lengthBytes = o->lengthBytes;
    io->maxMessage = (uint64_t) o->maxMessage;
    io->sendBuffer = (size_t) o->sendBuffer;
    io->maxPending = (size_t) o->maxPending;
    io->nodelay = o->nodelay;
    io->keepalive = o->keepalive;
    io->batch = o->batch;
}

/*
 *----------------------------------------------------------------------
 *
 * Creating the Tcl half: courier::connect and accepted sockets.
 *
 *----------------------------------------------------------------------
 */

static Tcl_Obj *
TclHalfCreate(
    CourierInterp *cinterpPtr,
    Conn *connPtr,
    const ConnOptions *optsPtr,
    int state)
{
    Tcl_Interp *interp = cinterpPtr->interp;
    Tcl_Obj *nameObj;
    char cmdName[64];

    CourierConnRef(connPtr);			/* The Tcl half's. */
    CourierConnRef(connPtr);			/* The port's, dropped on release. */
    connPtr->interp = interp;
    connPtr->owner = Tcl_GetCurrentThread();
    connPtr->opts = *optsPtr;
    connPtr->asciiCompatible = AsciiCompatible(optsPtr->encoding);
    connPtr->tclState = state;
    connPtr->tclPort = CourierPortOpen(cinterpPtr->inboxPtr, &connPortType,
	    interp, connPtr, connPtr, (size_t) optsPtr->maxPending);
    CourierResourceAdd(cinterpPtr, &connPtr->resource, connKind,
	    ConnCloseResource);
    snprintf(cmdName, sizeof(cmdName), "::courier::%s",
	    connPtr->resource.name);
    connPtr->token = Tcl_CreateObjCommand(interp, cmdName, ConnHandleObjCmd,
	    connPtr, ConnHandleDeleted);
    nameObj = Tcl_NewStringObj(cmdName, -1);
    connPtr->nameObj = nameObj;
    Tcl_IncrRefCount(nameObj);
    return nameObj;
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
    return TclHalfCreate(cinterpPtr, connPtr, &copy, TCL_CONNECTING);
}

void
CourierConnStart(
    Conn *connPtr)
{
    ConnCmd *ccPtr;

    if (connPtr->handleClosed) {
	return;
    }
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoStart);
    OptionsToIo(&connPtr->opts, &ccPtr->config);
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

int
CourierConnectObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const connectOnly[] = {
	"-family", "-myaddr", "-myport", "-timeout", NULL
    };
    enum { CX_FAMILY, CX_MYADDR, CX_MYPORT, CX_TIMEOUT };
    CourierInterp *cinterpPtr;
    ConnOptions opts;
    CourierIoThread *ioPtr;
    Conn *connPtr;
    ConnCmd *ccPtr;
    Tcl_WideInt port, timeout = 0, myport = 0;
    const char *myaddr = NULL;
    int family = AF_UNSPEC;
    int i, index;
    Tcl_Obj *nameObj;

    (void) clientData;
    if (objc < 3) {
	Tcl_WrongNumArgs(interp, 1, objv, "host port ?-option value ...?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (CourierGetPositiveWide(interp, objv[2], "port", 1, 65535,
	    &port) != TCL_OK) {
	return TCL_ERROR;
    }
    if (Tcl_GetCharLength(objv[1]) == 0) {
	return CourierError(interp, "VALUE", "host",
		"bad host \"\": expected a host name or address");
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    CourierConnOptionsInit(&opts);
    i = 3;
    while ((index = CourierConnOptionsNext(interp, &opts, objc, objv, &i,
	    connectOnly, "-family, -myaddr, -myport, -timeout")) != -1) {
	if (index == -2) {
	    goto error;
	}
	switch (index) {
	case CX_FAMILY:
	    if (CourierGetFamilyFromObj(interp, objv[i + 1],
		    &family) != TCL_OK) {
		goto error;
	    }
	    break;
	case CX_MYADDR:
	    myaddr = Tcl_GetString(objv[i + 1]);
	    break;
	case CX_MYPORT:
	    if (CourierGetPositiveWide(interp, objv[i + 1], "-myport", 0,
		    65535, &myport) != TCL_OK) {
		goto error;
	    }
	    break;
	case CX_TIMEOUT:
	    if (CourierGetPositiveWide(interp, objv[i + 1], "-timeout", 0,
		    86400000, &timeout) != TCL_OK) {
		goto error;
	    }
	    break;
	}
	i += 2;
    }

    ioPtr = CourierIoPick();
    if (ioPtr == NULL) {
	CourierError(interp, "THREAD", "CREATE",
		"cannot start an I/O thread");
	goto error;
    }
    connPtr = CourierConnAlloc(ioPtr);
    connPtr->host = strdup(Tcl_GetString(objv[1]));
    snprintf(connPtr->service, sizeof(connPtr->service), "%d", (int) port);
    connPtr->family = family;
    connPtr->myaddr = myaddr ? strdup(myaddr) : NULL;
    connPtr->myport = (int) myport;
    connPtr->timeoutMs = (unsigned) timeout;
    nameObj = TclHalfCreate(cinterpPtr, connPtr, &opts, TCL_CONNECTING);

    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoConnect);
    OptionsToIo(&connPtr->opts, &ccPtr->config);
    ccPtr->portPtr = connPtr->tclPort;
    connPtr->portGiven = 1;
    CourierIoSubmit(ioPtr, &ccPtr->header);
    Tcl_SetObjResult(interp, nameObj);
    return TCL_OK;

  error:
    CourierConnOptionsFree(&opts);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnSpawn --
 *
 *	The connection of courier::spawn (spawn.c has checked the arguments
 *	and built the spec): the I/O thread starts the child while this
 *	thread waits for the answer, a fork and exec's time.
 *
 * Results:
 *	The handle, or NULL with an error {COURIER SPAWN errno-name} in
 *	interp. Takes the options and the process either way.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierConnSpawn(
    Tcl_Interp *interp,
    CourierInterp *cinterpPtr,
    ConnOptions *optsPtr,
    CourierProcess *procPtr)
{
    CourierIoThread *ioPtr = CourierIoPick();
    Conn *connPtr;
    ConnCmd *ccPtr;
    Tcl_Obj *nameObj;

    if (ioPtr == NULL) {
	CourierError(interp, "THREAD", "CREATE",
		"cannot start an I/O thread");
	CourierConnOptionsFree(optsPtr);
	if (procPtr->onexit != NULL) {
	    Tcl_DecrRefCount(procPtr->onexit);
	    procPtr->onexit = NULL;
	}
	CourierProcessFree(procPtr);
	return NULL;
    }
    connPtr = CourierConnAlloc(ioPtr);
    connPtr->procPtr = procPtr;
    nameObj = TclHalfCreate(cinterpPtr, connPtr, optsPtr, TCL_OPEN);
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoSpawn);
    ccPtr->header.discardProc = CourierConnIoSpawnDiscard;
    OptionsToIo(&connPtr->opts, &ccPtr->config);
    ccPtr->portPtr = connPtr->tclPort;
    connPtr->portGiven = 1;
    CourierIoSubmit(ioPtr, &ccPtr->header);
    uv_sem_wait(&procPtr->answered);
    if (procPtr->spawnError != 0) {
	int err = procPtr->spawnError;

	CourierError(interp, "SPAWN", uv_err_name(err),
		"cannot run \"%.200s\": %s", procPtr->argv[0],
		uv_strerror(err));
	procPtr->exitSeen = 1;		/* Nothing to kill. */
	TclHalfClose(connPtr, 1);
	return NULL;
    }
    return nameObj;
}

/*
 *----------------------------------------------------------------------
 *
 * Delivery: the port's procedures.
 *
 *----------------------------------------------------------------------
 */

/*
 * CallBack --
 *	{*}prefix ?arg ...? at global level; errors to bgerror. The prefix
 *	is held across the call, which may reconfigure or close the handle.
 */

static void
CallBack(
    Conn *connPtr,
    Tcl_Obj *prefixPtr,
    int objc,
    Tcl_Obj *const args[])
{
    Tcl_Interp *interp = connPtr->interp;
    Tcl_Obj **prefix, *stackObjv[16], **objv = stackObjv;
    int prefixLen, code, i;

    if (prefixPtr == NULL) {
	return;
    }
    Tcl_IncrRefCount(prefixPtr);
    Tcl_ListObjGetElements(NULL, prefixPtr, &prefixLen, &prefix);
    if (prefixLen + objc > (int) (sizeof(stackObjv) / sizeof(Tcl_Obj *))) {
	objv = (Tcl_Obj **) ckalloc(sizeof(Tcl_Obj *) * (prefixLen + objc));
    }
    memcpy(objv, prefix, sizeof(Tcl_Obj *) * prefixLen);
    for (i = 0; i < objc; i++) {
	objv[prefixLen + i] = args[i];
	Tcl_IncrRefCount(args[i]);
    }
    code = Tcl_EvalObjv(interp, prefixLen + objc, objv, TCL_EVAL_GLOBAL);
    if (code != TCL_OK) {
	Tcl_BackgroundException(interp, code);
    }
    for (i = 0; i < objc; i++) {
	Tcl_DecrRefCount(args[i]);
    }
    if (objv != stackObjv) {
	ckfree(objv);
    }
    Tcl_DecrRefCount(prefixPtr);
}

/*
 * HandleName --
 *	The handle's name as callbacks receive it: made once, shared.
 */

static Tcl_Obj *
HandleName(
    Conn *connPtr)
{
    return connPtr->nameObj;
}

/*
 * AsciiCompatible --
 *	Does the encoding turn ASCII 1..127 into the same bytes?
 */

static int
AsciiCompatible(
    Tcl_Encoding encoding)
{
    char ascii[128];
    Tcl_DString ds;
    int i, same;

    if (encoding == NULL) {
	return 0;
    }
    for (i = 1; i < 128; i++) {
	ascii[i - 1] = (char) i;
    }
    Tcl_UtfToExternalDString(encoding, ascii, 127, &ds);
    same = Tcl_DStringLength(&ds) == 127
	    && memcmp(Tcl_DStringValue(&ds), ascii, 127) == 0;
    Tcl_DStringFree(&ds);
    return same;
}

/*
 * DecodeMessage --
 *	A message's bytes as a Tcl value: a string through -encoding for
 *	line framing, else (or with -encoding binary) a byte array.
 */

static Tcl_Obj *
DecodeMessage(
    Conn *connPtr,
    const unsigned char *bytes,
    size_t length)
{
    if (connPtr->opts.framing == COURIER_FRAMING_LINE
	    && connPtr->opts.encoding != NULL) {
	Tcl_DString ds;
	Tcl_Obj *objPtr;
	size_t i;

	/*
	 * Plain ASCII (no NUL) is the same in every encoding Courier is
	 * likely to meet and in Tcl's own representation: skip the
	 * conversion, which costs more than the rest of the delivery.
	 */

	for (i = 0; i < length; i++) {
	    if (bytes[i] == 0 || bytes[i] >= 0x80) {
		break;
	    }
	}
	if (i == length && connPtr->asciiCompatible) {
	    return Tcl_NewStringObj((const char *) bytes, (int) length);
	}
	Tcl_ExternalToUtfDString(connPtr->opts.encoding, (const char *) bytes,
		(int) length, &ds);
	objPtr = Tcl_NewStringObj(Tcl_DStringValue(&ds),
		Tcl_DStringLength(&ds));
	Tcl_DStringFree(&ds);
	return objPtr;
    }
    return Tcl_NewByteArrayObj(bytes, (int) length);
}

static void
ConnDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Conn *connPtr = ownerData;
    Tcl_Obj *args[2];

    switch (msgPtr->kind) {
    case CONN_MSG_CONNECTED: {
	/* "{peerHost} peerPort {localHost} localPort" (IoOpened). */
	Tcl_Obj *text = Tcl_NewStringObj((const char *) msgPtr->data,
		(int) msgPtr->size);
	Tcl_Obj **parts;
	int n;

	Tcl_IncrRefCount(text);
	if (Tcl_ListObjGetElements(NULL, text, &n, &parts) == TCL_OK
		&& n == 4 && connPtr->peerPtr == NULL) {
	    connPtr->peerPtr = Tcl_NewListObj(2, parts);
	    Tcl_IncrRefCount(connPtr->peerPtr);
	    connPtr->localPtr = Tcl_NewListObj(2, parts + 2);
	    Tcl_IncrRefCount(connPtr->localPtr);
	}
	Tcl_DecrRefCount(text);
	connPtr->tclState = TCL_OPEN;
	args[0] = HandleName(connPtr);
	CallBack(connPtr, connPtr->opts.onconnect, 1, args);
	break;
    }
    case CONN_MSG_DATA:
	connPtr->msgsIn++;
	connPtr->bytesIn += msgPtr->size;
	args[0] = HandleName(connPtr);
	args[1] = DecodeMessage(connPtr, msgPtr->data, msgPtr->size);
	CallBack(connPtr, connPtr->opts.ondata, 2, args);
	break;
    case CONN_MSG_BATCH: {
	const unsigned char *p = msgPtr->data, *end = p + msgPtr->size;
	Tcl_Obj *listPtr = Tcl_NewListObj(0, NULL);

	while (p + 4 <= end) {
	    uint32_t n;

	    memcpy(&n, p, 4);
	    Tcl_ListObjAppendElement(NULL, listPtr,
		    DecodeMessage(connPtr, p + 4, n));
	    connPtr->msgsIn++;
	    connPtr->bytesIn += n;
	    p += 4 + n;
	}
	args[0] = HandleName(connPtr);
	args[1] = listPtr;
	CallBack(connPtr, connPtr->opts.ondata, 2, args);
	break;
    }
    case CONN_MSG_DRAIN:
	args[0] = HandleName(connPtr);
	CallBack(connPtr, connPtr->opts.ondrain, 1, args);
	break;
    case CONN_MSG_EXIT: {
	/* A child has exited and its output is all delivered: -onexit,
	 * then the handle goes. */
	CourierProcess *procPtr = connPtr->procPtr;
	char buf[64];
	long long status = 0;
	int signum = 0;
	Tcl_Obj *exitArgs[3];

	assert(procPtr != NULL);
	memcpy(buf, msgPtr->data, msgPtr->size < sizeof(buf) - 1
		? msgPtr->size : sizeof(buf) - 1);
	buf[msgPtr->size < sizeof(buf) - 1 ? msgPtr->size
		: sizeof(buf) - 1] = '\0';
	sscanf(buf, "%lld %d", &status, &signum);
	procPtr->exitSeen = 1;
	procPtr->tclSignal = signum;
	procPtr->tclExitCode = signum ? -1 : (Tcl_WideInt) status;
	connPtr->tclState = TCL_CLOSED;
	exitArgs[0] = HandleName(connPtr);
	exitArgs[1] = Tcl_NewWideIntObj(procPtr->tclExitCode);
	exitArgs[2] = Tcl_NewStringObj(signum ? Tcl_SignalId(signum) : "",
		-1);
	CallBack(connPtr, procPtr->onexit, 3, exitArgs);
	if (!connPtr->handleClosed) {
	    TclHalfClose(connPtr, 0);
	}
	break;
    }
    case CONN_MSG_EOF:
    case CONN_MSG_CLOSED: {
	Tcl_Obj *reason = Tcl_NewListObj(0, NULL);

	if (msgPtr->kind == CONN_MSG_EOF) {
	    Tcl_ListObjAppendElement(NULL, reason,
		    Tcl_NewStringObj("eof", -1));
	    /* Flush what callbacks sent, then FIN and close. */
	    CourierConnSubmit(connPtr, CourierConnIoClose);
	} else {
	    const char *kind = (const char *) msgPtr->data;
	    const char *errName = kind + strlen(kind) + 1;
	    const char *message = errName + strlen(errName) + 1;
	    int messageLen = (int) (msgPtr->size
		    - (size_t) (message - kind));

	    Tcl_ListObjAppendElement(NULL, reason,
		    Tcl_NewStringObj(kind, -1));
	    if (strcmp(kind, "closed") != 0) {
		Tcl_ListObjAppendElement(NULL, reason,
			Tcl_NewStringObj(message, messageLen));
		Tcl_ListObjAppendElement(NULL, reason,
			Tcl_NewStringObj(errName, -1));
	    }
	    if (strcmp(kind, "error") == 0 || strcmp(kind, "timeout") == 0
		    || strcmp(kind, "refused") == 0) {
		args[0] = HandleName(connPtr);
		args[1] = Tcl_NewStringObj(message, messageLen);
		connPtr->tclState = TCL_CLOSED;
		CallBack(connPtr, connPtr->opts.onerror, 2, args);
		if (connPtr->handleClosed) {
		    Tcl_DecrRefCount(reason);
		    break;
		}
	    }
	}
	connPtr->tclState = TCL_CLOSED;
	Tcl_IncrRefCount(reason);
	if (connPtr->reasonPtr == NULL) {
	    connPtr->reasonPtr = reason;
	    Tcl_IncrRefCount(reason);
	}
	args[0] = HandleName(connPtr);
	args[1] = reason;
	CallBack(connPtr, connPtr->opts.onclose, 2, args);
	Tcl_DecrRefCount(reason);
	break;
    }
    }
}

/*
 * ConnNotify --
 *	Flow control news from the inbox (Tcl thread): a RESUME restarts
 *	reading in the I/O thread.
 */

static void
ConnNotify(
    void *producerData,
    int event)
{
    Conn *connPtr = producerData;

    if (event == COURIER_NOTIFY_RESUME) {
	ConnCmd *ccPtr = CourierConnCmdNew(connPtr, CourierConnIoPause);

	ccPtr->flag = 2;
	CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
    }
}

static void
ConnPortReleased(
    void *producerData)
{
    CourierConnUnref(producerData);
}

static const CourierPortType connPortType = {
    "conn", ConnDeliver, ConnNotify, ConnPortReleased, NULL
};

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
 * CourierConnIsOpen --
 *	Is name a connection handle of interp that is not closed? (For a
 *	listener counting its clients.)
 */

int
CourierConnIsOpen(
    Tcl_Interp *interp,
    const char *name)
{
    Tcl_CmdInfo info;

    if (!Tcl_GetCommandInfo(interp, name, &info)
	    || info.objProc != ConnHandleObjCmd) {
	return 0;
    }
    return ((Conn *) info.objClientData)->tclState != TCL_CLOSED;
}

/*
 *----------------------------------------------------------------------
 *
 * Closing the Tcl half.
 *
 *----------------------------------------------------------------------
 */

/*
 * TclHalfClose --
 *	The handle goes: no more callbacks, the command is deleted, the I/O
 *	half is told to close (gracefully, or at once when abort).
 */

static void
TclHalfClose(
    Conn *connPtr,
    int abort)
{
    ConnCmd *ccPtr;
    Tcl_Command token = connPtr->token;

    if (connPtr->handleClosed) {
	return;
    }
    connPtr->handleClosed = 1;
    connPtr->tclState = TCL_CLOSED;
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoClose);
    ccPtr->flag = abort;
    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);

    CourierPortClose(connPtr->tclPort);
    if (!connPtr->portGiven) {
	/* Never started: the producer side is still ours to release. */
	CourierPortRelease(connPtr->tclPort);
    }
    connPtr->tclPort = NULL;
    CourierResourceForget(&connPtr->resource);
    connPtr->token = NULL;
    if (token != NULL) {
	Tcl_DeleteCommandFromToken(connPtr->interp, token);
    }
    CourierConnOptionsFree(&connPtr->opts);
    if (connPtr->procPtr != NULL) {
	/* A child does not outlive its handle: SIGTERM, then SIGKILL. */
	if (!connPtr->procPtr->exitSeen) {
	    SubmitKill(connPtr, 0);
	}
	if (connPtr->procPtr->onexit != NULL) {
	    Tcl_DecrRefCount(connPtr->procPtr->onexit);
	    connPtr->procPtr->onexit = NULL;
	}
    }
    if (connPtr->reasonPtr != NULL) {
	Tcl_DecrRefCount(connPtr->reasonPtr);
    }
    if (connPtr->peerPtr != NULL) {
	Tcl_DecrRefCount(connPtr->peerPtr);
    }
    if (connPtr->localPtr != NULL) {
	Tcl_DecrRefCount(connPtr->localPtr);
    }
    Tcl_DecrRefCount(connPtr->nameObj);
    CourierConnUnref(connPtr);			/* The Tcl half's reference. */
}

static void
ConnHandleDeleted(
    ClientData clientData)
{
    Conn *connPtr = clientData;

    if (!connPtr->handleClosed) {
	/* Deleted by rename or namespace deletion: close gracefully. */
	connPtr->token = NULL;
	TclHalfClose(connPtr, 0);
    }
}

/*
 * ConnCloseResource --
 *	The interpreter is deleted or its thread exits: close gracefully
 *	(the I/O thread still flushes what was sent).
 */

static void
ConnCloseResource(
    CourierResource *resPtr)
{
    TclHalfClose(RESOURCE_TO_CONN(resPtr), 0);
}

/*
 *----------------------------------------------------------------------
 *
 * ConnHandleObjCmd --
 *
 *	$c send data | close ?-now? | shutdown write | pause | resume |
 *	   configure ?-option ?value ...?? | cget -option | info
 *
 *----------------------------------------------------------------------
 */

static int
ConnSend(
    Conn *connPtr,
    Tcl_Interp *interp,
    Tcl_Obj *dataObj)
{
    const unsigned char *bytes;
    int length;
    size_t total;
    Tcl_DString ds;
    int useDs = 0;
    unsigned char header[8];
    size_t headerLen = 0;
    const char *eol = "";
    WriteCmd *wPtr;

    if (connPtr->tclState == TCL_CLOSED) {
	return CourierError(interp, "CLOSED", NULL,
		"cannot send on \"%s\": the connection is closed",
		Tcl_GetString(connPtr->nameObj));
    }
    if (connPtr->procPtr != NULL && connPtr->procPtr->stdinClosed) {
	return CourierError(interp, "CLOSED", NULL,
		"cannot send on \"%s\": its stdin is closed",
		Tcl_GetString(connPtr->nameObj));
    }
    if (connPtr->opts.framing == COURIER_FRAMING_LINE
	    && connPtr->opts.encoding != NULL) {
	int utfLength;
	const char *utf = Tcl_GetStringFromObj(dataObj, &utfLength);

	Tcl_UtfToExternalDString(connPtr->opts.encoding, utf, utfLength,
		&ds);
	bytes = (const unsigned char *) Tcl_DStringValue(&ds);
	length = Tcl_DStringLength(&ds);
	useDs = 1;
    } else {
	bytes = Tcl_GetByteArrayFromObj(dataObj, &length);
    }
    if (connPtr->opts.framing == COURIER_FRAMING_LINE) {
	eol = connPtr->opts.eol == COURIER_EOL_CRLF ? "\r\n"
		: connPtr->opts.eol == COURIER_EOL_CR ? "\r" : "\n";
    } else if (connPtr->opts.framing == COURIER_FRAMING_LENGTH) {
	if ((uint64_t) length > (uint64_t) connPtr->opts.maxMessage
		|| (connPtr->opts.lengthBytes < 8 && (uint64_t) length
		>= ((uint64_t) 1 << (8 * connPtr->opts.lengthBytes)))) {
	    if (useDs) {
		Tcl_DStringFree(&ds);
	    }
	    return CourierError(interp, "VALUE", "data",
		    "message of %d bytes is too large for -maxmessage or "
		    "-lengthbytes", length);
	}
	headerLen = CourierFrameHeader(connPtr->opts.lengthBytes,
		(uint64_t) length, header);
    }
    total = headerLen + (size_t) length + strlen(eol);
    wPtr = malloc(sizeof(WriteCmd) + total);
    if (wPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(WriteCmd) + total);
    }
    memcpy(wPtr->data, header, headerLen);
    memcpy(wPtr->data + headerLen, bytes, (size_t) length);
    memcpy(wPtr->data + headerLen + length, eol, strlen(eol));
    if (useDs) {
	Tcl_DStringFree(&ds);
    }
    wPtr->length = total;
    wPtr->header.runProc = CourierConnIoWrite;
    wPtr->header.reply = 1;
    wPtr->header.discardProc = CourierConnIoWriteDiscard;
    wPtr->connPtr = connPtr;
    CourierConnRef(connPtr);

    /*
     * Decide here, where sendBufferFull is seen, whether a -ondrain is
     * owed: the I/O thread may find the output already drained.
     */

    wPtr->overHigh = atomic_fetch_add(&connPtr->pendingOut, total) + total
	    > (size_t) connPtr->opts.sendBuffer;
    connPtr->msgsOut++;
    connPtr->bytesOut += (uint64_t) length;	/* As bytesIn: no framing. */
    CourierIoSubmit(connPtr->ioPtr, &wPtr->header);
    return TCL_OK;
}

static Tcl_Obj *
ConnInfo(
    Conn *connPtr)
{
    Tcl_Obj *d = Tcl_NewDictObj();
    size_t pendingOut = atomic_load(&connPtr->pendingOut);

#define PUT(k, v) Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(k, -1), (v))
    PUT("state", Tcl_NewStringObj(tclStateNames[connPtr->tclState], -1));
    PUT("peer", connPtr->peerPtr ? connPtr->peerPtr : Tcl_NewObj());
    PUT("local", connPtr->localPtr ? connPtr->localPtr : Tcl_NewObj());
    PUT("messagesIn", Tcl_NewWideIntObj((Tcl_WideInt) connPtr->msgsIn));
    PUT("bytesIn", Tcl_NewWideIntObj((Tcl_WideInt) connPtr->bytesIn));
    PUT("messagesOut", Tcl_NewWideIntObj((Tcl_WideInt) connPtr->msgsOut));
    PUT("bytesOut", Tcl_NewWideIntObj((Tcl_WideInt) connPtr->bytesOut));
    PUT("bytesRead", Tcl_NewWideIntObj((Tcl_WideInt)
	    atomic_load(&connPtr->bytesRead)));
    PUT("bytesWritten", Tcl_NewWideIntObj((Tcl_WideInt)
	    atomic_load(&connPtr->bytesWritten)));
    PUT("pendingIn", Tcl_NewWideIntObj((Tcl_WideInt) (connPtr->tclPort
	    ? CourierPortPending(connPtr->tclPort) : 0)));
    PUT("pendingOut", Tcl_NewWideIntObj((Tcl_WideInt) pendingOut));
    PUT("sendBufferFull", Tcl_NewBooleanObj(pendingOut
	    > (size_t) connPtr->opts.sendBuffer));
    PUT("paused", Tcl_NewBooleanObj(connPtr->paused));
    PUT("reason", connPtr->reasonPtr ? connPtr->reasonPtr : Tcl_NewObj());
    if (connPtr->procPtr != NULL) {
	CourierProcess *procPtr = connPtr->procPtr;

	PUT("pid", Tcl_NewIntObj(procPtr->pid));
	PUT("stdinClosed", Tcl_NewBooleanObj(procPtr->stdinClosed));
	PUT("exited", Tcl_NewBooleanObj(procPtr->exitSeen));
	PUT("exitCode", procPtr->exitSeen
		? Tcl_NewWideIntObj(procPtr->tclExitCode) : Tcl_NewObj());
	PUT("signal", Tcl_NewStringObj(procPtr->tclSignal
		? Tcl_SignalId(procPtr->tclSignal) : "", -1));
    }
#undef PUT
    return d;
}

static int
ConnConfigure(
    Conn *connPtr,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    ConnOptions copy;
    ConnCmd *ccPtr;
    CourierProcess *procPtr = connPtr->procPtr;
    Tcl_Obj *stackObjv[16], **rest = stackObjv, *onexit = NULL;
    int i, nrest, setOnexit = 0, result = TCL_ERROR;

    if (objc == 0) {
	Tcl_Obj *d = Tcl_NewDictObj();

	for (i = 0; connOptionNames[i] != NULL; i++) {
	    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(connOptionNames[i], -1),
		    CourierConnOptionsGet(&connPtr->opts,
			    connOptionNames[i]));
	}
	if (procPtr != NULL) {
	    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("-onexit", -1),
		    procPtr->onexit ? procPtr->onexit : Tcl_NewObj());
	}
	Tcl_SetObjResult(interp, d);
	return TCL_OK;
    }
    if (objc == 1 && procPtr != NULL
	    && strcmp(Tcl_GetString(objv[0]), "-onexit") == 0) {
	Tcl_SetObjResult(interp, procPtr->onexit ? procPtr->onexit
		: Tcl_NewObj());
	return TCL_OK;
    }
    if (objc == 1) {
	Tcl_Obj *v = CourierConnOptionsGet(&connPtr->opts,
		Tcl_GetString(objv[0]));
	int index;

	if (v == NULL) {
	    Tcl_GetIndexFromObj(interp, objv[0], connOptionNames, "option", 0,
		    &index);
	    Tcl_SetErrorCode(interp, "COURIER", "OPTION",
		    Tcl_GetString(objv[0]), NULL);
	    return TCL_ERROR;
	}
	Tcl_SetObjResult(interp, v);
	return TCL_OK;
    }

    /* A process's -onexit is its own, not a connection option. */
    if (objc > (int) (sizeof(stackObjv) / sizeof(stackObjv[0]))) {
	rest = (Tcl_Obj **) ckalloc(sizeof(Tcl_Obj *) * (size_t) objc);
    }
    for (i = 0, nrest = 0; i < objc; i += 2) {
	if (procPtr != NULL && i + 1 < objc
		&& strcmp(Tcl_GetString(objv[i]), "-onexit") == 0) {
	    int len;

	    if (Tcl_ListObjLength(NULL, objv[i + 1], &len) != TCL_OK) {
		CourierError(interp, "VALUE", "-onexit",
			"bad value for -onexit: expected a command prefix (a "
			"list), or {} for none");
		goto done;
	    }
	    onexit = len > 0 ? objv[i + 1] : NULL;
	    setOnexit = 1;
	    continue;
	}
	rest[nrest++] = objv[i];
	if (i + 1 < objc) {
	    rest[nrest++] = objv[i + 1];
	}
    }
    CourierConnOptionsCopy(&copy, &connPtr->opts);
    if (CourierConnOptionsParse(interp, &copy, nrest, rest, NULL) != TCL_OK) {
	CourierConnOptionsFree(&copy);
	goto done;
    }
    if (setOnexit) {
	if (onexit != NULL) {
	    onexit = Tcl_DuplicateObj(onexit);
	    Tcl_IncrRefCount(onexit);
	}
	if (procPtr->onexit != NULL) {
	    Tcl_DecrRefCount(procPtr->onexit);
	}
	procPtr->onexit = onexit;
    }
    if (copy.maxPending != connPtr->opts.maxPending) {
	CourierPortSetHighWater(connPtr->tclPort, (size_t) copy.maxPending);
    }
    CourierConnOptionsFree(&connPtr->opts);
    connPtr->opts = copy;
    connPtr->asciiCompatible = AsciiCompatible(copy.encoding);
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoConfigure);
    OptionsToIo(&connPtr->opts, &ccPtr->config);
    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
    result = TCL_OK;

  done:
    if (rest != stackObjv) {
	ckfree(rest);
    }
    return result;
}

static int
ConnHandleObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const subcommands[] = {
	"cget", "close", "configure", "info", "pause", "resume", "send",
	"shutdown", NULL
    };
    static const char *const processSubcommands[] = {
	"cget", "close", "configure", "info", "pause", "resume", "send",
	"shutdown", "kill", "pid", NULL
    };
    enum { SC_CGET, SC_CLOSE, SC_CONFIGURE, SC_INFO, SC_PAUSE, SC_RESUME,
	   SC_SEND, SC_SHUTDOWN, SC_KILL, SC_PID };
    Conn *connPtr = clientData;
    CourierProcess *procPtr = connPtr->procPtr;
    int index;

    if (Tcl_GetCurrentThread() != connPtr->owner) {
	return CourierError(interp, "THREAD", "OWNER",
		"connection \"%s\" belongs to another thread",
		Tcl_GetString(objv[0]));
    }
    if (connPtr->handleClosed) {
	/* Called from a delete trace while $c close runs. */
	return CourierError(interp, "CLOSED", NULL,
		"connection \"%s\" is being closed", Tcl_GetString(objv[0]));
    }
    if (objc < 2) {
	Tcl_WrongNumArgs(interp, 1, objv, "subcommand ?arg ...?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (Tcl_GetIndexFromObj(interp, objv[1], procPtr != NULL
	    ? processSubcommands : subcommands, "subcommand", 0,
	    &index) != TCL_OK) {
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    switch (index) {
    case SC_SEND:
	if (objc != 3) {
	    Tcl_WrongNumArgs(interp, 2, objv, "data");
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	return ConnSend(connPtr, interp, objv[2]);
    case SC_CLOSE:
	if (objc == 3 && strcmp(Tcl_GetString(objv[2]), "-now") == 0) {
	    TclHalfClose(connPtr, 1);
	} else if (objc == 2 && procPtr != NULL) {
	    /* A child's stdin: EOF once what was sent is written. */
	    procPtr->stdinClosed = 1;
	    CourierConnSubmit(connPtr, CourierConnIoShutdown);
	} else if (objc == 2) {
	    TclHalfClose(connPtr, 0);
	} else {
	    Tcl_WrongNumArgs(interp, 2, objv, "?-now?");
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	return TCL_OK;
    case SC_SHUTDOWN:
	if (objc != 3 || strcmp(Tcl_GetString(objv[2]), "write") != 0) {
	    Tcl_WrongNumArgs(interp, 2, objv, "write");
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	CourierConnSubmit(connPtr, CourierConnIoShutdown);
	return TCL_OK;
    case SC_PAUSE:
    case SC_RESUME: {
	ConnCmd *ccPtr;

	if (objc != 2) {
	    Tcl_WrongNumArgs(interp, 2, objv, NULL);
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	connPtr->paused = (index == SC_PAUSE);
	ccPtr = CourierConnCmdNew(connPtr, CourierConnIoPause);
	ccPtr->flag = (index == SC_PAUSE) ? 1 : 0;
	CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
	return TCL_OK;
    }
    case SC_CONFIGURE:
	return ConnConfigure(connPtr, interp, objc - 2, objv + 2);
    case SC_CGET:
	if (objc != 3) {
	    Tcl_WrongNumArgs(interp, 2, objv, "-option");
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	return ConnConfigure(connPtr, interp, 1, objv + 2);
    case SC_INFO:
	if (objc != 2) {
	    Tcl_WrongNumArgs(interp, 2, objv, NULL);
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	Tcl_SetObjResult(interp, ConnInfo(connPtr));
	return TCL_OK;
    case SC_PID:
	if (objc != 2) {
	    Tcl_WrongNumArgs(interp, 2, objv, NULL);
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	Tcl_SetObjResult(interp, Tcl_NewIntObj(procPtr->pid));
	return TCL_OK;
    case SC_KILL: {
	int signum = SIGTERM;

	if (objc > 3) {
	    Tcl_WrongNumArgs(interp, 2, objv, "?signal?");
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	if (objc == 3 && CourierGetSignalFromObj(interp, objv[2],
		&signum) != TCL_OK) {
	    return TCL_ERROR;
	}
	if (procPtr->exitSeen) {
	    return CourierError(interp, "CLOSED", NULL,
		    "cannot kill \"%s\": the process has exited",
		    Tcl_GetString(objv[0]));
	}
	SubmitKill(connPtr, signum);
	return TCL_OK;
    }
    }
    return TCL_OK;
}
