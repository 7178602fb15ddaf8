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
static void	ConnRenamed(ClientData clientData, Tcl_Interp *interp,
		    const char *oldName, const char *newName, int flags);
static void	ConnCloseResource(CourierResource *resPtr);

#define RESOURCE_TO_CONN(resPtr) \
    ((Conn *) ((char *) (resPtr) - offsetof(Conn, resource)))

static const char connKind[] = "conn";

/*
 * SubmitKill --
 *	Asks the I/O thread to signal a child process.
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
 * Options: the spec table, defaults, copies.
 */

static const char *const framingNames[] = {"raw", "line", "length", NULL};
static const char *const eolNames[] = {"auto", "lf", "crlf", "cr", NULL};

/*
 * -lengthbytes: 1, 2, 4 or 8.
 */

static int
ParseLengthBytes(
    Tcl_Interp *interp,
    const CourierOptSpec *specPtr,
    Tcl_Obj *valueObj,
    void *fieldPtr)
{
    Tcl_WideInt w;

    if (CourierGetPositiveWide(interp, valueObj, specPtr->name, 1, 8,
	    &w) != TCL_OK) {
	return TCL_ERROR;
    }
    if (w != 1 && w != 2 && w != 4 && w != 8) {
	return CourierError(interp, "VALUE", specPtr->name,
		"bad value \"%.100s\" for %s: expected 1, 2, 4 or 8",
		Tcl_GetString(valueObj), specPtr->name);
    }
    *(int *) fieldPtr = (int) w;
    return TCL_OK;
}

static Tcl_Obj *
GetInt(
    const CourierOptSpec *specPtr,
    const void *fieldPtr)
{
    (void) specPtr;
    return Tcl_NewIntObj(*(const int *) fieldPtr);
}

#define CONN_FIELD(field) offsetof(ConnOptions, field)
#define SIZE_MAX_40 ((Tcl_WideInt) 1 << 40)

const CourierOptSpec courierConnOptionSpecs[] = {
    {.name = "-batch", .type = COURIER_OPT_BOOLEAN,
	.offset = CONN_FIELD(batch)},
    {.name = "-encoding", .type = COURIER_OPT_ENCODING,
	.offset = CONN_FIELD(encoding)},
    {.name = "-framing", .type = COURIER_OPT_CHOICE,
	.offset = CONN_FIELD(framing), .choices = framingNames,
	.noun = "framing"},
    {.name = "-keepalive", .type = COURIER_OPT_BOOLEAN,
	.offset = CONN_FIELD(keepalive), .flags = COURIER_OPT_SOCKET_ONLY},
    {.name = "-lengthbytes", .type = COURIER_OPT_CUSTOM,
	.offset = CONN_FIELD(lengthBytes), .parseProc = ParseLengthBytes,
	.getProc = GetInt},
    {.name = "-maxmessage", .type = COURIER_OPT_WIDE,
	.offset = CONN_FIELD(maxMessage), .min = 1,
	.max = COURIER_MAX_MESSAGE},
    {.name = "-maxpending", .type = COURIER_OPT_WIDE,
	.offset = CONN_FIELD(maxPending), .min = 1, .max = SIZE_MAX_40},
    {.name = "-nodelay", .type = COURIER_OPT_BOOLEAN,
	.offset = CONN_FIELD(nodelay), .flags = COURIER_OPT_SOCKET_ONLY},
    {.name = "-onclose", .type = COURIER_OPT_PREFIX,
	.offset = CONN_FIELD(onclose)},
    {.name = "-onconnect", .type = COURIER_OPT_PREFIX,
	.offset = CONN_FIELD(onconnect), .flags = COURIER_OPT_SOCKET_ONLY},
    {.name = "-ondata", .type = COURIER_OPT_PREFIX,
	.offset = CONN_FIELD(ondata)},
    {.name = "-ondrain", .type = COURIER_OPT_PREFIX,
	.offset = CONN_FIELD(ondrain)},
    {.name = "-onerror", .type = COURIER_OPT_PREFIX,
	.offset = CONN_FIELD(onerror)},
    {.name = "-sendbuffer", .type = COURIER_OPT_WIDE,
	.offset = CONN_FIELD(sendBuffer), .min = 1, .max = SIZE_MAX_40},
    {.name = "-translation", .type = COURIER_OPT_CHOICE,
	.offset = CONN_FIELD(eol), .choices = eolNames,
	.noun = "translation"},
    {.name = NULL}
};

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

/*
 * CourierConnOptionsCopy, CourierConnOptionsFree --
 *	A copy that holds references of its own; releasing them.
 */

void
CourierConnOptionsCopy(
    ConnOptions *dst,
    const ConnOptions *src)
{
    *dst = *src;
    CourierOptRetain(courierConnOptionSpecs, dst);
}

void
CourierConnOptionsFree(
    ConnOptions *o)
{
    CourierOptRelease(courierConnOptionSpecs, o);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnOptionsCheck --
 *
 *	Checks the options together, once all are parsed: a line decoded
 *	through an encoding may grow to three times its bytes, so with line
 *	framing and an encoding other than binary, -maxmessage must leave
 *	room for that in a Tcl value (COURIER_MAX_ENCODED_LINE).
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message and error code
 *	{COURIER VALUE -maxmessage}.
 *
 *----------------------------------------------------------------------
 */

int
CourierConnOptionsCheck(
    Tcl_Interp *interp,
    const ConnOptions *o)
{
    if (o->framing == COURIER_FRAMING_LINE && o->encoding != NULL
	    && o->maxMessage > COURIER_MAX_ENCODED_LINE) {
	return CourierError(interp, "VALUE", "-maxmessage",
		"bad value \"%" TCL_LL_MODIFIER "d\" for -maxmessage with line "
		"framing and -encoding %s: expected at most %" TCL_LL_MODIFIER
		"d (or -encoding binary)", o->maxMessage,
		Tcl_GetEncodingName(o->encoding), COURIER_MAX_ENCODED_LINE);
    }
    return TCL_OK;
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
    Tcl_TraceCommand(interp, cmdName, TCL_TRACE_RENAME, ConnRenamed,
	    connPtr);
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

/* courier::connect's options of its own. */
typedef struct ConnectOptions {
    int family;			/* AF_UNSPEC, AF_INET or AF_INET6. */
    Tcl_Obj *myaddr;		/* NULL: any. */
    int myport;
    Tcl_WideInt timeout;	/* Milliseconds; 0: none. */
} ConnectOptions;

static int
ParseFamily(
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
	.flags = COURIER_OPT_CREATE_ONLY, .parseProc = ParseFamily},
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
    CourierOptTable tables[2] = {
	{courierConnOptionSpecs, &opts}, {connectOptionSpecs, &own}
    };
    CourierIoThread *ioPtr;
    Conn *connPtr;
    ConnCmd *ccPtr;
    Tcl_WideInt port;
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
    if (CourierOptParse(interp, tables, 2, objc - 3, objv + 3, 0,
	    NULL) != TCL_OK || CourierConnOptionsCheck(interp, &opts) != TCL_OK) {
	goto error;
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
    connPtr->family = own.family;
    connPtr->myaddr = own.myaddr ? strdup(Tcl_GetString(own.myaddr)) : NULL;
    connPtr->myport = own.myport;
    connPtr->timeoutMs = (unsigned) own.timeout;
    CourierOptRelease(connectOptionSpecs, &own);
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
    CourierOptRelease(connectOptionSpecs, &own);
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
 *	{*}prefix ?arg ...? at global level; errors to bgerror. The words
 *	are held across the call, which may reconfigure or close the handle.
 *	Without a prefix the arguments are freed.
 */

static void
CallBack(
    Conn *connPtr,
    const char *kind,		/* The option, to name a slow callback. */
    Tcl_Obj *prefixPtr,
    int objc,
    Tcl_Obj *const args[])	/* args[0] is the handle's name. */
{
    int i;

    if (prefixPtr != NULL) {
	CourierCallPrefix(connPtr->interp, kind, args[0], prefixPtr, objc,
		args);
	return;
    }

    /* No callback: free the values made for it (a message, a reason). */
    for (i = 0; i < objc; i++) {
	Tcl_IncrRefCount(args[i]);
	Tcl_DecrRefCount(args[i]);
    }
}

/*
 * HandleName --
 *	The handle's name as callbacks receive it: shared, made again only
 *	when the handle is renamed (ConnRenamed).
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
 *
 *	Every length must fit Tcl's int sizes. The I/O half never frames a
 *	message over -maxmessage, which is at most COURIER_MAX_MESSAGE (and
 *	COURIER_MAX_ENCODED_LINE for lines with an encoding), and a raw read
 *	is far shorter: a longer message here is a bug, and a panic is
 *	better than Tcl reading past the buffer. A line longer than an
 *	encoding can take was framed before the options changed to line
 *	framing with that encoding (it waited in the inbox meanwhile): it
 *	comes as bytes, undecoded, rather than overflow the decoder.
 */

static Tcl_Obj *
DecodeMessage(
    Conn *connPtr,
    const unsigned char *bytes,
    size_t length)
{
    if (length > (size_t) COURIER_MAX_MESSAGE) {
	Tcl_Panic("courier: a message of %" TCL_LL_MODIFIER "u bytes is "
		"longer than any -maxmessage", (Tcl_WideUInt) length);
    }
    if (connPtr->opts.framing == COURIER_FRAMING_LINE
	    && connPtr->opts.encoding != NULL
	    && length <= (size_t) COURIER_MAX_ENCODED_LINE) {
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

/*
 * ReportUnheard --
 *	A connection failed or ended with an error (refused, timeout, reset,
 *	error) and has neither -onerror nor -onclose to say so: the error
 *	goes to the interpreter's bgerror, as an error in a fileevent
 *	script would, with the error code {COURIER CLOSED reason...}.
 */

static void
ReportUnheard(
    Conn *connPtr,
    Tcl_Obj *reason,
    const char *message,
    int messageLen)
{
    Tcl_Interp *interp = connPtr->interp;
    Tcl_Obj *code = Tcl_NewListObj(0, NULL);

    Tcl_ListObjAppendElement(NULL, code, Tcl_NewStringObj("COURIER", -1));
    Tcl_ListObjAppendElement(NULL, code, Tcl_NewStringObj("CLOSED", -1));
    Tcl_ListObjAppendList(NULL, code, reason);
    if (connPtr->host != NULL) {
	Tcl_SetObjResult(interp, Tcl_ObjPrintf("connection \"%s\" to %s "
		"port %s: %.*s (no -onerror or -onclose to report it)",
		Tcl_GetString(connPtr->nameObj), connPtr->host,
		connPtr->service, messageLen, message));
    } else {
	Tcl_SetObjResult(interp, Tcl_ObjPrintf("connection \"%s\": %.*s "
		"(no -onerror or -onclose to report it)",
		Tcl_GetString(connPtr->nameObj), messageLen, message));
    }
    Tcl_SetObjErrorCode(interp, code);
    Tcl_BackgroundException(interp, TCL_ERROR);
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
	CallBack(connPtr, "-onconnect", connPtr->opts.onconnect, 1, args);
	break;
    }
    case CONN_MSG_DATA:
	connPtr->msgsIn++;
	connPtr->bytesIn += msgPtr->size;
	args[0] = HandleName(connPtr);
	args[1] = DecodeMessage(connPtr, msgPtr->data, msgPtr->size);
	CallBack(connPtr, "-ondata", connPtr->opts.ondata, 2, args);
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
	CallBack(connPtr, "-ondata", connPtr->opts.ondata, 2, args);
	break;
    }
    case CONN_MSG_DRAIN:
	args[0] = HandleName(connPtr);
	CallBack(connPtr, "-ondrain", connPtr->opts.ondrain, 1, args);
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
	CallBack(connPtr, "-onexit", procPtr->onexit, 3, exitArgs);
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
	    if (connPtr->opts.onerror == NULL && connPtr->opts.onclose == NULL
		    && strcmp(kind, "closed") != 0) {
		ReportUnheard(connPtr, reason, message, messageLen);
	    }
	    if (strcmp(kind, "error") == 0 || strcmp(kind, "timeout") == 0
		    || strcmp(kind, "refused") == 0) {
		args[0] = HandleName(connPtr);
		args[1] = Tcl_NewStringObj(message, messageLen);
		connPtr->tclState = TCL_CLOSED;
		CallBack(connPtr, "-onerror", connPtr->opts.onerror, 2, args);
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
	CallBack(connPtr, "-onclose", connPtr->opts.onclose, 2, args);
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
	/* A child does not outlive its handle. */
	if (!connPtr->procPtr->exitSeen) {
	    SubmitKill(connPtr, SIGTERM);
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
 * ConnRenamed --
 *	A command trace: the handle was renamed. Callbacks and messages
 *	name it by its new (fully qualified) name from now on. A rename to
 *	"" is a deletion, which ConnHandleDeleted sees instead.
 */

static void
ConnRenamed(
    ClientData clientData,
    Tcl_Interp *interp,
    const char *oldName,
    const char *newName,
    int flags)
{
    Conn *connPtr = clientData;

    (void) interp;
    (void) oldName;
    if (!(flags & TCL_TRACE_RENAME) || newName == NULL
	    || newName[0] == '\0' || connPtr->handleClosed) {
	return;
    }
    Tcl_DecrRefCount(connPtr->nameObj);
    connPtr->nameObj = Tcl_NewStringObj(newName, -1);
    Tcl_IncrRefCount(connPtr->nameObj);
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

/* A process's option of its own, beside its stream's. */
typedef struct ProcessOptions {
    Tcl_Obj *onexit;
} ProcessOptions;

static const CourierOptSpec processOptionSpecs[] = {
    {.name = "-onexit", .type = COURIER_OPT_PREFIX,
	.offset = offsetof(ProcessOptions, onexit)},
    {.name = NULL}
};

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
    ProcessOptions procOpts = {procPtr != NULL ? procPtr->onexit : NULL};
    CourierOptTable tables[2] = {
	{courierConnOptionSpecs, &connPtr->opts},
	{processOptionSpecs, &procOpts}
    };
    int ntables = procPtr != NULL ? 2 : 1;

    if (objc <= 1) {
	return CourierOptRead(interp, tables, ntables, objc, objv,
		COURIER_OPT_CREATE_ONLY);
    }

    /* Check everything on copies before changing anything. */
    CourierConnOptionsCopy(&copy, &connPtr->opts);
    CourierOptRetain(processOptionSpecs, &procOpts);
    tables[0].record = &copy;
    if (CourierOptParse(interp, tables, ntables, objc, objv,
	    COURIER_OPT_CREATE_ONLY, NULL) != TCL_OK
	    || CourierConnOptionsCheck(interp, &copy) != TCL_OK) {
	CourierConnOptionsFree(&copy);
	CourierOptRelease(processOptionSpecs, &procOpts);
	return TCL_ERROR;
    }
    if (procPtr != NULL) {
	if (procPtr->onexit != NULL) {
	    Tcl_DecrRefCount(procPtr->onexit);
	}
	procPtr->onexit = procOpts.onexit;	/* The copy's reference. */
    } else {
	CourierOptRelease(processOptionSpecs, &procOpts);
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
    return TCL_OK;
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
