/*
 * conn.c --
 *
 *	The Tcl half of a connection, socket or process alike (see
 *	connInt.h): the options (their table, defaults, copies and the
 *	configuration they give the I/O half), creating the handle, the
 *	handle command ($c send, close, shutdown, pause, resume, configure,
 *	cget, info; a process's kill and pid) and closing it. Everything here
 *	runs in the owner interpreter's thread. The delivery of what the I/O
 *	half posts is deliver.c's; courier::connect is tcp.c's and
 *	courier::spawn's connection process.c's.
 */

#include "connInt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

static const char *const tclStateNames[] = {"connecting", "open", "closed"};


/*
 *======================================================================
 * The Tcl half. Everything below runs in the owner interpreter's thread.
 *======================================================================
 */

static int	ConnHandleObjCmd(ClientData clientData, Tcl_Interp *interp,
		    int objc, Tcl_Obj *const objv[]);
static CourierHandleCloseProc ConnClosed;

static const char connKind[] = "conn";

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

/*
 * -tlsversion: the minimum protocol version, 1.2 or 1.3, kept as 12 or 13.
 * A bad value is a TLS configuration error, {COURIER TLS CONFIG}.
 */

static int
ParseTlsVersion(
    Tcl_Interp *interp,
    const CourierOptSpec *specPtr,
    Tcl_Obj *valueObj,
    void *fieldPtr)
{
    const char *v = Tcl_GetString(valueObj);

    if (strcmp(v, "1.2") == 0) {
	*(int *) fieldPtr = 12;
    } else if (strcmp(v, "1.3") == 0) {
	*(int *) fieldPtr = 13;
    } else {
	return CourierError(interp, "TLS", "CONFIG",
		"bad value \"%.100s\" for %s: expected 1.2 or 1.3", v,
		specPtr->name);
    }
    return TCL_OK;
}

static Tcl_Obj *
GetTlsVersion(
    const CourierOptSpec *specPtr,
    const void *fieldPtr)
{
    (void) specPtr;
    return Tcl_NewStringObj(*(const int *) fieldPtr == 13 ? "1.3" : "1.2",
	    -1);
}

/*
 * -verify: a boolean; until given, -1 (courier::connect makes it 1,
 * courier::listen 0), which cget shows as the default it will become.
 */

static Tcl_Obj *
GetVerify(
    const CourierOptSpec *specPtr,
    const void *fieldPtr)
{
    (void) specPtr;
    return Tcl_NewIntObj(*(const int *) fieldPtr != 0);
}

static int
ParseVerify(
    Tcl_Interp *interp,
    const CourierOptSpec *specPtr,
    Tcl_Obj *valueObj,
    void *fieldPtr)
{
    int b;

    if (Tcl_GetBooleanFromObj(NULL, valueObj, &b) != TCL_OK) {
	return CourierError(interp, "VALUE", specPtr->name,
		"bad value \"%.100s\" for %s: expected a boolean",
		Tcl_GetString(valueObj), specPtr->name);
    }
    *(int *) fieldPtr = b;
    return TCL_OK;
}

/*
 * The TLS options of a connection (and of a listener, for the connections
 * it accepts; and of $c starttls): fixed once the object is made.
 * tlsconfig.c turns them into an SSL_CTX.
 */

#define TLS_OPT (COURIER_OPT_SOCKET_ONLY | COURIER_OPT_FIXED)

const CourierOptSpec courierTlsOptionSpecs[] = {
    {.name = "-alpn", .type = COURIER_OPT_STRING,
	.offset = CONN_FIELD(alpn), .flags = TLS_OPT},
    {.name = "-cadir", .type = COURIER_OPT_STRING,
	.offset = CONN_FIELD(cadir), .flags = TLS_OPT},
    {.name = "-cafile", .type = COURIER_OPT_STRING,
	.offset = CONN_FIELD(cafile), .flags = TLS_OPT},
    {.name = "-certfile", .type = COURIER_OPT_STRING,
	.offset = CONN_FIELD(certfile), .flags = TLS_OPT},
    {.name = "-ciphers", .type = COURIER_OPT_STRING,
	.offset = CONN_FIELD(ciphers), .flags = TLS_OPT},
    {.name = "-keyfile", .type = COURIER_OPT_STRING,
	.offset = CONN_FIELD(keyfile), .flags = TLS_OPT},
    {.name = "-servername", .type = COURIER_OPT_STRING,
	.offset = CONN_FIELD(servername), .flags = TLS_OPT},
    {.name = "-tls", .type = COURIER_OPT_BOOLEAN,
	.offset = CONN_FIELD(tls), .flags = TLS_OPT},
    {.name = "-tlsversion", .type = COURIER_OPT_CUSTOM,
	.offset = CONN_FIELD(tlsVersion), .flags = TLS_OPT,
	.parseProc = ParseTlsVersion, .getProc = GetTlsVersion},
    {.name = "-verify", .type = COURIER_OPT_CUSTOM,
	.offset = CONN_FIELD(verify), .flags = TLS_OPT,
	.parseProc = ParseVerify, .getProc = GetVerify},
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
    o->verify = -1;
    o->tlsVersion = 12;
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
    CourierOptRetain(courierTlsOptionSpecs, dst);
}

void
CourierConnOptionsFree(
    ConnOptions *o)
{
    CourierOptRelease(courierConnOptionSpecs, o);
    CourierOptRelease(courierTlsOptionSpecs, o);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnOptionsParse --
 *
 *	Applies "-option value ..." to the records of the tables (as
 *	CourierOptParse, with hide), where tables[0].record is a connection's
 *	options (ConnOptions) and the other tables are the TLS options of the
 *	same record or a command's own (courier::connect, courier::listen,
 *	courier::spawn; configure of a connection or a listener). Then checks
 *	the connection's options together: a line decoded through an
 *	encoding may grow to three times its bytes, so with line framing and
 *	an encoding other than binary, -maxmessage must leave room for that
 *	in a Tcl value (COURIER_MAX_ENCODED_LINE).
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message and error code: CourierOptParse's,
 *	or {COURIER VALUE -maxmessage}.
 *
 * Side effects:
 *	On error every record is released (CourierConnOptionsFree,
 *	CourierOptRelease): callers that must not change anything on error
 *	parse into copies.
 *
 *----------------------------------------------------------------------
 */

int
CourierConnOptionsParse(
    Tcl_Interp *interp,
    const CourierOptTable *tables,
    int ntables,
    int objc,
    Tcl_Obj *const objv[],
    int hide)
{
    ConnOptions *o = tables[0].record;
    int code = CourierOptParse(interp, tables, ntables, objc, objv, hide,
	    NULL);
    int i;

    if (code == TCL_OK && o->framing == COURIER_FRAMING_LINE
	    && o->encoding != NULL && o->maxMessage > COURIER_MAX_ENCODED_LINE) {
	code = CourierError(interp, "VALUE", "-maxmessage",
		"bad value \"%" TCL_LL_MODIFIER "d\" for -maxmessage with line "
		"framing and -encoding %s: expected at most %" TCL_LL_MODIFIER
		"d (or -encoding binary)", o->maxMessage,
		Tcl_GetEncodingName(o->encoding), COURIER_MAX_ENCODED_LINE);
    }
    if (code != TCL_OK) {
	CourierConnOptionsFree(o);
	for (i = 1; i < ntables; i++) {
	    if (tables[i].record != o) {
		CourierOptRelease(tables[i].specs, tables[i].record);
	    }
	}
    }
    return code;
}

void
CourierConnOptionsToIo(
    const ConnOptions *o,
    ConnIoConfig *io)
{
    io->framing = o->framing;
    io->eol = o->eol;
    io->lengthBytes = o->lengthBytes;
    io->maxMessage = (uint64_t) o->maxMessage;
    io->maxPending = (size_t) o->maxPending;
    io->nodelay = o->nodelay;
    io->keepalive = o->keepalive;
    io->batch = o->batch;
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
 * SetSendBuffer --
 *	Gives the I/O half the connection's -sendbuffer. When the output is
 *	above it already (configure lowered it), a -ondrain is owed: the
 *	writes in flight bring it.
 */

static void
SetSendBuffer(
    Conn *connPtr)
{
    size_t sendBuffer = (size_t) connPtr->opts.sendBuffer;

    atomic_store(&connPtr->sendBuffer, sendBuffer);
    if (atomic_load(&connPtr->pendingOut) > sendBuffer) {
	atomic_store(&connPtr->drainOwed, 1);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Creating the Tcl half: courier::connect and accepted sockets.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierConnTclHalfCreate(
    CourierInterp *cinterpPtr,
    Conn *connPtr,
    const ConnOptions *optsPtr,
    int state)
{
    CourierConnRef(connPtr);			/* The Tcl half's. */
    CourierConnRef(connPtr);			/* The port's, dropped on release. */
    connPtr->owner = Tcl_GetCurrentThread();
    connPtr->opts = *optsPtr;
    SetSendBuffer(connPtr);
    connPtr->asciiCompatible = AsciiCompatible(optsPtr->encoding);
    connPtr->tclState = state;
    connPtr->tclPort = CourierPortOpen(cinterpPtr->inboxPtr,
	    &courierConnPortType, cinterpPtr->interp, connPtr, connPtr,
	    (size_t) optsPtr->maxPending);
    return CourierHandleCreate(&connPtr->handle, cinterpPtr, connKind,
	    ConnHandleObjCmd, ConnClosed);
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
    return HANDLE_TO_CONN(info.objClientData)->tclState != TCL_CLOSED;
}

/*
 *----------------------------------------------------------------------
 *
 * Closing the Tcl half.
 *
 *----------------------------------------------------------------------
 */

/*
 * CourierConnTclHalfClose --
 *	The handle goes (CourierHandleClose, once): no more callbacks, the
 *	command is deleted, the I/O half is told to close (gracefully, or at
 *	once when abort).
 */

void
CourierConnTclHalfClose(
    Conn *connPtr,
    int abort)
{
    if (abort && !connPtr->handle.closed) {
	connPtr->closeNow = 1;
    }
    CourierHandleClose(&connPtr->handle);
}

/*
 * ConnClosed --
 *	The handle is closed, whether by $c close, rename to "", or the
 *	interpreter or its thread going (those close gracefully): release
 *	the Tcl half.
 */

static void
ConnClosed(
    CourierHandle *handlePtr)
{
    Conn *connPtr = HANDLE_TO_CONN(handlePtr);
    ConnCmd *ccPtr;

    connPtr->tclState = TCL_CLOSED;
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoClose);
    /*
     * An accepted TLS socket closed before it started (by -onaccept) has
     * had no handshake: what -onaccept sent cannot go out, never in
     * plaintext. It is reset, and what waits is dropped (flag 2). So is
     * a connection closed during its STARTTLS switch: the peer's first
     * TLS bytes may be in messages this close drops, so the handshake
     * could never finish (it would wait for its 30 s timeout).
     */
    ccPtr->flag = connPtr->tlsSetup != NULL || connPtr->tlsSwitching ? 2
	    : connPtr->closeNow;
    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);

    CourierPortClose(connPtr->tclPort);
    if (!connPtr->portGiven) {
	/* Never started: the producer side is still ours to release. */
	CourierPortRelease(connPtr->tclPort);
    }
    connPtr->tclPort = NULL;
    CourierConnOptionsFree(&connPtr->opts);
    if (connPtr->procPtr != NULL) {
	CourierProcessHandleClosed(connPtr);
    }
    CourierObjClear(&connPtr->reasonPtr);
    CourierObjClear(&connPtr->peerPtr);
    CourierObjClear(&connPtr->localPtr);
    CourierObjClear(&connPtr->tlsInfo);
    CourierObjClear(&connPtr->starttlsCmd);
    free(connPtr->tlsRestore);
    connPtr->tlsRestore = NULL;
    if (connPtr->tlsSetup != NULL) {
	CourierTlsSetupFree(connPtr->tlsSetup);	/* Accepted, never started. */
	connPtr->tlsSetup = NULL;
    }
    CourierConnUnref(connPtr);			/* The Tcl half's reference. */
}

/*
 *----------------------------------------------------------------------
 *
 * ConnHandleObjCmd --
 *
 *	$c send data | close ?-now? | shutdown write | pause | resume |
 *	   configure ?-option ?value ...?? | cget -option | info |
 *	   tls | starttls ?options? (sockets; tlsconfig.c)
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
		Tcl_GetString(connPtr->handle.nameObj));
    }
    if (connPtr->procPtr != NULL && connPtr->procPtr->stdinClosed) {
	return CourierError(interp, "CLOSED", NULL,
		"cannot send on \"%s\": its stdin is closed",
		Tcl_GetString(connPtr->handle.nameObj));
    }
    if (connPtr->opts.framing == COURIER_FRAMING_LINE
	    && connPtr->opts.encoding != NULL) {
	int utfLength;
	const char *utf = Tcl_GetStringFromObj(dataObj, &utfLength);

	if (connPtr->asciiCompatible && CourierConnPlainAscii(
		(const unsigned char *) utf, (size_t) utfLength)) {
	    /* The same bytes in the encoding: no conversion (DecodeMessage). */
	    bytes = (const unsigned char *) utf;
	    length = utfLength;
	} else {
	    Tcl_UtfToExternalDString(connPtr->opts.encoding, utf, utfLength,
		    &ds);
	    bytes = (const unsigned char *) Tcl_DStringValue(&ds);
	    length = Tcl_DStringLength(&ds);
	    useDs = 1;
	}
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
    wPtr = CourierAlloc(sizeof(WriteCmd) + total);
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
     * owed, and say so before the I/O thread can see the bytes: it posts
     * -ondrain once the output, these bytes included, is down to half.
     */

    if (atomic_fetch_add(&connPtr->pendingOut, total) + total
	    > (size_t) connPtr->opts.sendBuffer) {
	atomic_store(&connPtr->drainOwed, 1);
    }
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
	CourierProcessInfo(connPtr, d);
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
	{procPtr != NULL ? processOptionSpecs : courierTlsOptionSpecs,
		procPtr != NULL ? (void *) &procOpts : (void *) &connPtr->opts}
    };
    int ntables = 2;

    if (objc <= 1) {
	return CourierOptRead(interp, tables, ntables, objc, objv,
		COURIER_OPT_CREATE_ONLY);
    }

    /* Check everything on copies before changing anything. */
    CourierConnOptionsCopy(&copy, &connPtr->opts);
    CourierOptRetain(processOptionSpecs, &procOpts);
    tables[0].record = &copy;
    if (procPtr == NULL) {
	tables[1].record = &copy;
    }
    if (CourierConnOptionsParse(interp, tables, ntables, objc, objv,
	    COURIER_OPT_CREATE_ONLY) != TCL_OK) {
	return TCL_ERROR;
    }
    if (procPtr != NULL) {
	CourierObjClear(&procPtr->onexit);
	procPtr->onexit = procOpts.onexit;	/* The copy's reference. */
    } else {
	CourierOptRelease(processOptionSpecs, &procOpts);
    }
    if (copy.maxPending != connPtr->opts.maxPending) {
	CourierPortSetHighWater(connPtr->tclPort, (size_t) copy.maxPending);
    }
    CourierConnOptionsFree(&connPtr->opts);
    connPtr->opts = copy;
    SetSendBuffer(connPtr);
    connPtr->asciiCompatible = AsciiCompatible(copy.encoding);
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoConfigure);
    CourierConnOptionsToIo(&connPtr->opts, &ccPtr->config);
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
	"shutdown", "starttls", "tls", NULL
    };
    static const char *const processSubcommands[] = {
	"cget", "close", "configure", "info", "pause", "resume", "send",
	"shutdown", "kill", "pid", NULL
    };
    enum { SC_CGET, SC_CLOSE, SC_CONFIGURE, SC_INFO, SC_PAUSE, SC_RESUME,
	   SC_SEND, SC_SHUTDOWN, SC_STARTTLS, SC_TLS, SC_KILL = SC_STARTTLS,
	   SC_PID = SC_TLS };
    Conn *connPtr = HANDLE_TO_CONN(clientData);
    CourierProcess *procPtr = connPtr->procPtr;
    int index;

    if (Tcl_GetCurrentThread() != connPtr->owner) {
	return CourierError(interp, "THREAD", "OWNER",
		"connection \"%s\" belongs to another thread",
		Tcl_GetString(objv[0]));
    }
    if (connPtr->handle.closed) {
	/* Called from a delete trace while $c close runs. */
	return CourierError(interp, "CLOSED", NULL,
		"connection \"%s\" is being closed", Tcl_GetString(objv[0]));
    }
    if (CourierGetSubcommand(interp, objc, objv, 1, procPtr != NULL
	    ? processSubcommands : subcommands, &index) != TCL_OK) {
	return TCL_ERROR;
    }
    if (procPtr != NULL && index == SC_KILL) {
	return CourierProcessKill(connPtr, interp, objc, objv);
    }
    if (procPtr != NULL && index == SC_PID) {
	if (objc != 2) {
	    return CourierUsage(interp, 2, objv, NULL);
	}
	Tcl_SetObjResult(interp, Tcl_NewIntObj(procPtr->pid));
	return TCL_OK;
    }
    switch (index) {
    case SC_SEND:
	if (objc != 3) {
	    return CourierUsage(interp, 2, objv, "data");
	}
	return ConnSend(connPtr, interp, objv[2]);
    case SC_CLOSE:
	if (objc == 3 && strcmp(Tcl_GetString(objv[2]), "-now") == 0) {
	    CourierConnTclHalfClose(connPtr, 1);
	} else if (objc == 2 && procPtr != NULL) {
	    /* A child's stdin: EOF once what was sent is written. */
	    procPtr->stdinClosed = 1;
	    CourierConnSubmit(connPtr, CourierConnIoShutdown);
	} else if (objc == 2) {
	    CourierConnTclHalfClose(connPtr, 0);
	} else {
	    return CourierUsage(interp, 2, objv, "?-now?");
	}
	return TCL_OK;
    case SC_SHUTDOWN:
	if (objc != 3 || strcmp(Tcl_GetString(objv[2]), "write") != 0) {
	    return CourierUsage(interp, 2, objv, "write");
	}
	connPtr->writeShut = 1;
	CourierConnSubmit(connPtr, CourierConnIoShutdown);
	return TCL_OK;
    case SC_PAUSE:
    case SC_RESUME: {
	ConnCmd *ccPtr;

	if (objc != 2) {
	    return CourierUsage(interp, 2, objv, NULL);
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
	    return CourierUsage(interp, 2, objv, "-option");
	}
	return ConnConfigure(connPtr, interp, 1, objv + 2);
    case SC_INFO:
	if (objc != 2) {
	    return CourierUsage(interp, 2, objv, NULL);
	}
	Tcl_SetObjResult(interp, ConnInfo(connPtr));
	return TCL_OK;
    case SC_STARTTLS:
	return CourierConnStartTls(connPtr, interp, objc, objv);
    case SC_TLS:
	if (objc != 2) {
	    return CourierUsage(interp, 2, objv, NULL);
	}
	return CourierConnTlsInfo(connPtr, interp);
    }
    return TCL_OK;
}
