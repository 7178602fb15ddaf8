/*
 * deliver.c --
 *
 *	The delivery of a connection's messages, in the owner interpreter's
 *	thread: the inbox port's procedures for a connection. What the I/O
 *	half posted (connected, data, a batch, drain, eof, closed, a child's
 *	exit, a TLS handshake's result) becomes a call of -onconnect,
 *	-ondata, -ondrain, -onerror, -onclose, -onexit or starttls's
 *	-command, messages decoded through -encoding; an error no callback
 *	hears goes to bgerror. See connInt.h.
 */

#include "connInt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

/*
 *----------------------------------------------------------------------
 *
 * Delivery: the port's procedures.
 *
 *----------------------------------------------------------------------
 */

/*
 * CourierConnCallBack --
 *	{*}prefix ?arg ...? at global level; errors to bgerror. The words
 *	are held across the call, which may reconfigure or close the handle.
 *	Without a prefix the arguments are freed.
 */

void
CourierConnCallBack(
    Conn *connPtr,
    const char *kind,		/* The option, to name a slow callback. */
    Tcl_Obj *prefixPtr,
    int objc,
    Tcl_Obj *const args[])	/* args[0] is the handle's name. */
{
    CourierCallPrefix(connPtr->handle.interp, kind, args[0], prefixPtr, objc,
	    args);
}

/*
 * CourierConnHandleName --
 *	The handle's name as callbacks receive it: shared, made again only
 *	when the handle is renamed (handle.c).
 */

Tcl_Obj *
CourierConnHandleName(
    Conn *connPtr)
{
    return connPtr->handle.nameObj;
}

/*
 * CourierConnPlainAscii --
 *	Are these bytes plain ASCII with no NUL (1..127 each)? Such bytes
 *	are the same in Tcl's own representation and in every encoding
 *	that maps ASCII to itself (asciiCompatible), so a line made of them
 *	needs no conversion either way. Eight bytes at a time: a byte is 0
 *	or >= 0x80 exactly when the high bit of (byte - 1) | byte is set,
 *	the borrow of a lower byte only ever following a zero found already.
 */

int
CourierConnPlainAscii(
    const unsigned char *bytes,
    size_t length)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t highs = 0x8080808080808080ULL;
    size_t i = 0;

    for (; i + 8 <= length; i += 8) {
	uint64_t w;

	memcpy(&w, bytes + i, 8);
	if (((w - ones) | w) & highs) {
	    return 0;
	}
    }
    for (; i < length; i++) {
	if (bytes[i] == 0 || bytes[i] >= 0x80) {
	    return 0;
	}
    }
    return 1;
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
	/*
	 * Plain ASCII (no NUL) is the same in every encoding Courier is
	 * likely to meet and in Tcl's own representation: skip the
	 * conversion, which costs more than the rest of the delivery.
	 */

	if (connPtr->asciiCompatible && CourierConnPlainAscii(bytes, length)) {
	    return Tcl_NewStringObj((const char *) bytes, (int) length);
	}
	return CourierDecodeBytes(connPtr->opts.encoding, bytes, length);
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
    Tcl_Interp *interp = connPtr->handle.interp;
    Tcl_Obj *code = Tcl_NewListObj(0, NULL);

    Tcl_ListObjAppendElement(NULL, code, Tcl_NewStringObj("COURIER", -1));
    Tcl_ListObjAppendElement(NULL, code, Tcl_NewStringObj("CLOSED", -1));
    Tcl_ListObjAppendList(NULL, code, reason);
    if (connPtr->host != NULL) {
	Tcl_SetObjResult(interp, Tcl_ObjPrintf("connection \"%s\" to %s "
		"port %s: %.*s (no -onerror or -onclose to report it)",
		Tcl_GetString(connPtr->handle.nameObj), connPtr->host,
		connPtr->service, messageLen, message));
    } else {
	Tcl_SetObjResult(interp, Tcl_ObjPrintf("connection \"%s\": %.*s "
		"(no -onerror or -onclose to report it)",
		Tcl_GetString(connPtr->handle.nameObj), messageLen, message));
    }
    Tcl_SetObjErrorCode(interp, code);
    Tcl_BackgroundException(interp, TCL_ERROR);
}

/*
 * StartTlsEnded --
 *	The handshake of $c starttls ended: call its -command as {*}cmd $c
 *	ok, or {*}cmd $c error message, once.
 */

static void
StartTlsEnded(
    Conn *connPtr,
    const char *status,
    Tcl_Obj *messageObj)	/* For an error; NULL for ok. */
{
    Tcl_Obj *cmd = connPtr->starttlsCmd, *args[3];
    int objc = 2;

    connPtr->starttlsPending = 0;
    connPtr->starttlsCmd = NULL;
    args[0] = CourierConnHandleName(connPtr);
    args[1] = Tcl_NewStringObj(status, -1);
    if (messageObj != NULL) {
	args[objc++] = messageObj;
    }
    CourierConnCallBack(connPtr, "-command", cmd, objc, args);
    if (cmd != NULL) {
	Tcl_DecrRefCount(cmd);
    }
}

/*
 * RestoreAppend --
 *	Appends bytes to what goes back to the I/O half at the switch
 *	(tlsRestore), growing it by doubling.
 */

static void
RestoreAppend(
    Conn *connPtr,
    const unsigned char *bytes,
    size_t length)
{
    CourierBytesAppend(&connPtr->tlsRestore, &connPtr->tlsRestoreLen,
	    &connPtr->tlsRestoreCap, 256, bytes, length);
}

/*
 * RestoreFrame --
 *	One message's bytes as they were read: its length prefix or end of
 *	line put back as wire (CONN_WIRE_*) says.
 */

static void
RestoreFrame(
    Conn *connPtr,
    int wire,
    const unsigned char *bytes,
    size_t length)
{
    static const char *const ends[] = {"", "\n", "\r\n", "\r"};

    if (wire & CONN_WIRE_LENGTH) {
	unsigned char header[8];

	RestoreAppend(connPtr, header, CourierFrameHeader(
		wire & ~CONN_WIRE_LENGTH, length, header));
	RestoreAppend(connPtr, bytes, length);
	return;
    }
    assert(wire >= CONN_WIRE_RAW && wire <= CONN_WIRE_CR);
    RestoreAppend(connPtr, bytes, length);
    RestoreAppend(connPtr, (const unsigned char *) ends[wire],
	    strlen(ends[wire]));
}

/*
 * ConnRestoreWire --
 *	$c starttls ran and the switch has not come: a plaintext message
 *	(DATA or BATCH) read after the switch point is never delivered; its
 *	bytes go back to the I/O half, for TLS, at the switch.
 */

static void
ConnRestoreWire(
    Conn *connPtr,
    CourierMsg *msgPtr)
{
    const unsigned char *p = msgPtr->data, *end = p + msgPtr->size;

    if (msgPtr->kind == CONN_MSG_DATA) {
	RestoreFrame(connPtr, msgPtr->aux, p, msgPtr->size);
	return;
    }
    while (p + 4 <= end) {
	uint32_t n;

	memcpy(&n, p, 4);
	RestoreFrame(connPtr, (n & CONN_BATCH_CRLF) ? CONN_WIRE_CRLF
		: msgPtr->aux, p + 4, n & ~CONN_BATCH_CRLF);
	p += 4 + (n & ~CONN_BATCH_CRLF);
    }
}

/*
 * CourierConnTlsResume --
 *	Ends the STARTTLS switch on the Tcl half: the bytes of the messages
 *	read after the switch point (ConnRestoreWire) go to the I/O half,
 *	which feeds them to TLS and reads again (CourierConnIoTlsResume).
 *	Called at CONN_MSG_SWITCH. (A close before it resets the
 *	connection: ConnClosed, conn.c.)
 */

void
CourierConnTlsResume(
    Conn *connPtr)
{
    ConnCmd *ccPtr = CourierConnCmdNew(connPtr, CourierConnIoTlsResume);

    assert(connPtr->tlsSwitching);
    connPtr->tlsSwitching = 0;
    ccPtr->bytes = connPtr->tlsRestore;
    ccPtr->length = connPtr->tlsRestoreLen;
    connPtr->tlsRestore = NULL;
    connPtr->tlsRestoreLen = connPtr->tlsRestoreCap = 0;
    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
}

static void
ConnDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Conn *connPtr = ownerData;
    Tcl_Obj *args[2];

    if (connPtr->tlsSwitching && (msgPtr->kind == CONN_MSG_DATA
	    || msgPtr->kind == CONN_MSG_BATCH)) {
	ConnRestoreWire(connPtr, msgPtr);
	return;
    }
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
	args[0] = CourierConnHandleName(connPtr);
	CourierConnCallBack(connPtr, "-onconnect", connPtr->opts.onconnect, 1, args);
	break;
    }
    case CONN_MSG_DATA:
	connPtr->msgsIn++;
	connPtr->bytesIn += msgPtr->size;
	args[0] = CourierConnHandleName(connPtr);
	args[1] = DecodeMessage(connPtr, msgPtr->data, msgPtr->size);
	CourierConnCallBack(connPtr, "-ondata", connPtr->opts.ondata, 2, args);
	break;
    case CONN_MSG_BATCH: {
	const unsigned char *p = msgPtr->data, *end = p + msgPtr->size;
	Tcl_Obj *listPtr = Tcl_NewListObj(0, NULL);

	while (p + 4 <= end) {
	    uint32_t n;

	    memcpy(&n, p, 4);
	    n &= ~CONN_BATCH_CRLF;	/* Only for ConnRestoreWire. */
	    Tcl_ListObjAppendElement(NULL, listPtr,
		    DecodeMessage(connPtr, p + 4, n));
	    connPtr->msgsIn++;
	    connPtr->bytesIn += n;
	    p += 4 + n;
	}
	args[0] = CourierConnHandleName(connPtr);
	args[1] = listPtr;
	CourierConnCallBack(connPtr, "-ondata", connPtr->opts.ondata, 2, args);
	break;
    }
    case CONN_MSG_TLS: {
	int starttls;
	Tcl_Obj *info = CourierTlsInfoFromMsg(msgPtr->data, msgPtr->size,
		&starttls);

	CourierObjClear(&connPtr->tlsInfo);
	connPtr->tlsInfo = info;
	Tcl_IncrRefCount(info);
	if (starttls) {
	    StartTlsEnded(connPtr, "ok", NULL);
	}
	break;
    }
    case CONN_MSG_SWITCH:
	/* What followed the switch point goes back, for TLS. */
	CourierConnTlsResume(connPtr);
	break;
    case CONN_MSG_DRAIN:
	args[0] = CourierConnHandleName(connPtr);
	CourierConnCallBack(connPtr, "-ondrain", connPtr->opts.ondrain, 1, args);
	break;
    case CONN_MSG_EXIT:
	CourierProcessExited(connPtr, msgPtr);
	break;
    case CONN_MSG_EOF:
    case CONN_MSG_CLOSED: {
	Tcl_Obj *reason = Tcl_NewListObj(0, NULL);

	if (msgPtr->kind == CONN_MSG_EOF) {
	    if (connPtr->starttlsPending) {
		StartTlsEnded(connPtr, "error", Tcl_NewStringObj(
			"TLS handshake failed: peer closed the connection",
			-1));
	    }
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
	    if (connPtr->starttlsPending) {
		StartTlsEnded(connPtr, "error", strcmp(kind, "closed") == 0
			? Tcl_NewStringObj("the connection was closed", -1)
			: Tcl_NewStringObj(message, messageLen));
		if (connPtr->handle.closed) {
		    Tcl_DecrRefCount(reason);
		    break;
		}
	    }
	    if (connPtr->opts.onerror == NULL && connPtr->opts.onclose == NULL
		    && strcmp(kind, "closed") != 0) {
		ReportUnheard(connPtr, reason, message, messageLen);
	    }
	    if (strcmp(kind, "error") == 0 || strcmp(kind, "timeout") == 0
		    || strcmp(kind, "refused") == 0) {
		args[0] = CourierConnHandleName(connPtr);
		args[1] = Tcl_NewStringObj(message, messageLen);
		connPtr->tclState = TCL_CLOSED;
		CourierConnCallBack(connPtr, "-onerror", connPtr->opts.onerror, 2, args);
		if (connPtr->handle.closed) {
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
	args[0] = CourierConnHandleName(connPtr);
	args[1] = reason;
	CourierConnCallBack(connPtr, "-onclose", connPtr->opts.onclose, 2, args);
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

const CourierPortType courierConnPortType = {
    "conn", ConnDeliver, ConnNotify, ConnPortReleased, NULL
};
