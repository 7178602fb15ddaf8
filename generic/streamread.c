/*
 * streamread.c --
 *
 *	Reading a connection's byte stream, in its I/O thread: buffers for
 *	libuv's reads, the framer (framing.c) splitting what arrives, the
 *	messages of one read posted to the Tcl half as one chain, a refused
 *	stream, pause and resume of reading, a new framing configuration,
 *	and the STARTTLS switch point (what was read past it goes to TLS,
 *	tls.c). Shared by TCP sockets and child processes' output, as the
 *	rest of stream.c is; writes are in streamwrite.c. See connInt.h.
 */

#include "connInt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

static void	IoFrameRefused(Conn *connPtr, int rc);

/*
 *----------------------------------------------------------------------
 *
 * Reading: the framer splits what arrives; the messages of one read go
 * to the Tcl half as one chain in one block.
 *
 *----------------------------------------------------------------------
 */

typedef struct FrameBatch {
    CourierFramer *framerPtr;	/* Whose frames these are. */
    const unsigned char **ptrs;
    size_t *sizes;
    unsigned char *wires;	/* How each was framed: CONN_WIRE_*. */
    size_t count, cap, total;
} FrameBatch;

#define FRAME_BATCH_INIT(connPtr) {&(connPtr)->framer, NULL, NULL, NULL, 0, 0, 0}

/*
 * FrameWire --
 *	How the message the framer passes on right now was framed on the
 *	wire (CONN_WIRE_*, conn.h), so that it can be given back exactly.
 */

static int
FrameWire(
    const CourierFramer *f)
{
    switch (f->framing) {
    case COURIER_FRAMING_LINE:
	return f->eolLen == 2 ? CONN_WIRE_CRLF
		: f->eol == COURIER_EOL_CR ? CONN_WIRE_CR : CONN_WIRE_LF;
    case COURIER_FRAMING_LENGTH:
	return CONN_WIRE_LENGTH | f->lengthBytes;
    default:
	return CONN_WIRE_RAW;
    }
}

/*
 * CollectFrame --
 *	The framer's proc: notes a message found (the bytes stay valid
 *	until the next feed) and how it was framed.
 */

static void
CollectFrame(
    void *clientData,
    const unsigned char *bytes,
    size_t length)
{
    FrameBatch *batchPtr = clientData;

    /* The framer's maximum is -maxmessage, itself at most this. */
    assert(length <= (size_t) COURIER_MAX_MESSAGE);
    if (batchPtr->count == batchPtr->cap) {
	batchPtr->cap = batchPtr->cap ? 2 * batchPtr->cap : 64;
	batchPtr->ptrs = CourierRealloc(batchPtr->ptrs,
		batchPtr->cap * sizeof(*batchPtr->ptrs));
	batchPtr->sizes = CourierRealloc(batchPtr->sizes,
		batchPtr->cap * sizeof(*batchPtr->sizes));
	batchPtr->wires = CourierRealloc(batchPtr->wires, batchPtr->cap);
    }
    batchPtr->ptrs[batchPtr->count] = bytes;
    batchPtr->sizes[batchPtr->count] = length;
    batchPtr->wires[batchPtr->count] =
	    (unsigned char) FrameWire(batchPtr->framerPtr);
    batchPtr->count++;
    batchPtr->total += length;
}

static void
IoOnAlloc(
    uv_handle_t *handle,
    size_t suggested,
    uv_buf_t *buf)
{
    Conn *connPtr = handle->data;
    size_t size, backlog, held, room;

    (void) suggested;
    buf->base = (char *) CourierIoReadBuffer(connPtr->ioPtr, &size);

    /*
     * Read no more than the room left under -maxpending (but at least
     * 4 KiB), so that one read cannot take the backlog far past it.
     */

    backlog = CourierPortBacklog(connPtr->ioPort);
    held = connPtr->framerInit ? CourierFramerBuffered(&connPtr->framer)
	    : 0;
    if (backlog == 0) {
	/*
	 * With messages waiting in the inbox, the bytes of a message in
	 * progress (held by the framer) take room too; with none waiting
	 * they do not: a message longer than -maxpending must still be
	 * read to its end (the framer holds it to -maxmessage).
	 */

	held = 0;
    }
    room = backlog + held < connPtr->io.maxPending
	    ? connPtr->io.maxPending - backlog - held : 0;
    if (connPtr->costPerByte > 1) {
	room /= connPtr->costPerByte;	/* Small messages cost more. */
    }
    if (room < 4096) {
	room = 4096;
    }
    buf->len = room < size ? room : size;

    /*
     * Raw framing: every read is one message, so read straight into a
     * message and spare a copy (IoOnRead trims it to what came).
     */

    if (connPtr->io.framing == COURIER_FRAMING_RAW && !connPtr->io.batch
	    && connPtr->tlsPtr == NULL) {
	if (connPtr->rawMsg == NULL) {
	    connPtr->rawMsg = CourierMsgAlloc(COURIER_MSG_READ_SIZE);
	}
	buf->base = (char *) connPtr->rawMsg->data;
    }
}

/*
 * PostFrames --
 *	Posts the frames of one read: one chain of messages, or in batch
 *	mode one message that packs them all.
 */

static void
PostFrames(
    Conn *connPtr,
    FrameBatch *batchPtr)
{
    CourierMsg *headPtr, *msgPtr;
    size_t i;

    if (connPtr->io.batch) {
	unsigned char *p;

	headPtr = CourierMsgAlloc(batchPtr->total + 4 * batchPtr->count);
	headPtr->kind = CONN_MSG_BATCH;
	headPtr->aux = batchPtr->wires[0] == CONN_WIRE_CRLF ? CONN_WIRE_LF
		: batchPtr->wires[0];
	p = headPtr->data;
	for (i = 0; i < batchPtr->count; i++) {
	    uint32_t n = (uint32_t) batchPtr->sizes[i];

	    assert((n & CONN_BATCH_CRLF) == 0);
	    if (batchPtr->wires[i] == CONN_WIRE_CRLF) {
		n |= CONN_BATCH_CRLF;
	    }
	    memcpy(p, &n, 4);
	    memcpy(p + 4, batchPtr->ptrs[i], batchPtr->sizes[i]);
	    p += 4 + batchPtr->sizes[i];
	}
    } else {
	headPtr = CourierMsgAllocChain(batchPtr->count, batchPtr->sizes, 0);
	for (msgPtr = headPtr, i = 0; msgPtr != NULL;
		msgPtr = msgPtr->next, i++) {
	    msgPtr->kind = CONN_MSG_DATA;
	    msgPtr->aux = batchPtr->wires[i];
	    memcpy(msgPtr->data, batchPtr->ptrs[i], batchPtr->sizes[i]);
	}
    }
    CourierStreamHeedPost(connPtr, CourierPortPostChain(connPtr->ioPort, headPtr));
}

/*
 * IoLearnCost --
 *	What the messages of a read cost the inbox (bytes and each
 *	message's bookkeeping, as it counts them) per byte read: IoOnAlloc
 *	divides the room under -maxpending by it, so that a stream of tiny
 *	messages stays near the limit rather than many times over it.
 */

static void
IoLearnCost(
    Conn *connPtr,
    size_t nread,
    const FrameBatch *batchPtr)
{
    size_t cost;

    if (nread < 4096) {
	return;				/* Too few bytes to tell. */
    }
    cost = batchPtr->total + (connPtr->io.batch
	    ? 4 * batchPtr->count + sizeof(CourierMsg)
	    : batchPtr->count * sizeof(CourierMsg));
    connPtr->costPerByte = (unsigned) ((cost + nread - 1) / nread);
}

/*
 * CourierStreamDeliverPlain --
 *	Plaintext of the stream (read from the socket or, with TLS,
 *	decrypted by tls.c) to the framer; the messages it completes go to
 *	the Tcl half as one chain. A refusal fails the connection.
 */

void
CourierStreamDeliverPlain(
    Conn *connPtr,
    const unsigned char *bytes,
    size_t length)
{
    FrameBatch batch = FRAME_BATCH_INIT(connPtr);
    int rc;

    assert(connPtr->framerInit);
    rc = CourierFramerFeed(&connPtr->framer, bytes, length, CollectFrame,
	    &batch);
    if (batch.count > 0) {
	PostFrames(connPtr, &batch);
    }
    IoLearnCost(connPtr, length, &batch);
    free(batch.ptrs);
    free(batch.sizes);
    free(batch.wires);
    if (rc != COURIER_FRAME_OK) {
	IoFrameRefused(connPtr, rc);
    }
}

static void
IoOnRead(
    uv_stream_t *stream,
    ssize_t nread,
    const uv_buf_t *buf)
{
    Conn *connPtr = stream->data;

    if (nread == 0) {
	return;
    }
    if (nread < 0 && connPtr->tlsPtr != NULL
	    && CourierTlsIoHolding(connPtr)) {
	/* The peer went away in the middle of the handshake. */
	CourierStreamFail(connPtr, "error", 0, "TLS handshake failed: "
		"peer closed the connection", 0);
	return;
    }
    if ((nread == UV_EOF || nread == UV_ECONNRESET)
	    && connPtr->tlsPtr != NULL && CourierTlsIoCutRecord(connPtr)) {
	/*
	 * FIN or reset in the middle of a TLS record: the stream was cut
	 * (a truncation an application must not take for the peer's end).
	 */

	CourierStreamFail(connPtr, "error", 0, "TLS: connection closed in "
		"the middle of a record", 0);
	return;
    }
    if (nread == UV_EOF) {
	uv_read_stop(stream);
	connPtr->reading = 0;
	connPtr->eof = 1;
	CourierStreamPost(connPtr, CONN_MSG_EOF, NULL, 0);
	return;
    }
    if (nread < 0) {
	CourierStreamFail(connPtr, nread == UV_ECONNRESET ? "reset" : "error",
		(int) nread, NULL, 0);
	return;
    }
    atomic_fetch_add(&connPtr->bytesRead, (uint64_t) nread);
    if (connPtr->tlsPtr != NULL) {
	CourierTlsIoRead(connPtr, (unsigned char *) buf->base,
		(size_t) nread);
	return;
    }
    if (connPtr->rawMsg != NULL && buf->base
	    == (char *) connPtr->rawMsg->data) {
	CourierMsg *msgPtr;

	if (nread >= COURIER_MSG_READ_SIZE / 4) {
	    /* Send the read buffer itself: at most 4 times the bytes. */
	    msgPtr = connPtr->rawMsg;
	    connPtr->rawMsg = NULL;
	    msgPtr->size = (size_t) nread;
	} else {
	    /* A short read: copy it, keep the buffer for the next. */
	    msgPtr = CourierMsgAlloc((size_t) nread);
	    memcpy(msgPtr->data, buf->base, (size_t) nread);
	}
	msgPtr->kind = CONN_MSG_DATA;
	CourierStreamHeedPost(connPtr, CourierPortPost(connPtr->ioPort, msgPtr));
	return;
    }
    CourierStreamDeliverPlain(connPtr, (unsigned char *) buf->base,
	    (size_t) nread);
}


/*
 * TakeFramerBytes --
 *	The bytes the framer holds of a message not yet complete, in stream
 *	order (a length prefix read so far, then the body), malloc'ed; the
 *	framer is emptied. *lengthPtr is 0 (and the result NULL) when it
 *	holds nothing.
 */

static unsigned char *
TakeFramerBytes(
    Conn *connPtr,
    size_t *lengthPtr)
{
    CourierFramer *f = &connPtr->framer;
    size_t held = CourierFramerBuffered(f);
    unsigned char *bytes;

    *lengthPtr = 0;
    if (held == 0) {
	return NULL;
    }
    bytes = CourierAlloc(held);
    memcpy(bytes, f->header, (size_t) f->headerLen);
    if (f->partialLen > 0) {
	memcpy(bytes + f->headerLen, f->partial, f->partialLen);
    }
    assert((size_t) f->headerLen + f->partialLen == held);
    CourierFramerFree(f);
    CourierFramerInit(f, connPtr->io.framing, connPtr->io.eol,
	    connPtr->io.lengthBytes, connPtr->io.maxMessage);
    *lengthPtr = held;
    return bytes;
}

/*
 * CourierConnIoStartTls --
 *	$c starttls in the I/O thread. What was sent before goes out now,
 *	in plaintext; sends after it wait for the handshake (they come
 *	after this command in the queue). The Tcl half may not have
 *	delivered everything framed so far: it gives back the messages
 *	that follow the one whose -ondata called starttls, as their bytes,
 *	when it meets the CONN_MSG_SWITCH posted here behind them. Until
 *	then reading stops and the bytes the framer holds of an incomplete
 *	message wait (tlsHeld); CourierConnIoTlsResume feeds TLS with both,
 *	in stream order, then reads again.
 */

void
CourierConnIoStartTls(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    CourierTlsSetup *setupPtr = ccPtr->tlsSetup;

    ccPtr->tlsSetup = NULL;
    if (connPtr->ioState != IO_OPEN || connPtr->tlsPtr != NULL
	    || connPtr->shutdownWhenFlushed < 0 || connPtr->closeWhenFlushed
	    || connPtr->eof) {
	/* Closing, closed or ended by the peer: the close or EOF tells
	 * the Tcl half (its starttls ends in an error). */
	CourierTlsSetupFree(setupPtr);
	return;
    }
    CourierStreamFlushNow(connPtr);		/* Plaintext, before the switch. */
    assert(connPtr->tlsHeld == NULL);
    connPtr->tlsHeld = TakeFramerBytes(connPtr, &connPtr->tlsHeldLen);
    CourierStreamPost(connPtr, CONN_MSG_SWITCH, NULL, 0);
    connPtr->tlsWaitResume = 1;
    if (connPtr->reading) {
	uv_read_stop(STREAM(connPtr));
	connPtr->reading = 0;
    }
    CourierTlsIoStart(connPtr, setupPtr);
}

/*
 * CourierConnIoTlsResume --
 *	The Tcl half met CONN_MSG_SWITCH and gives back what it did not
 *	deliver (the command's bytes): with the framer's bytes held at the
 *	switch, in stream order, they are the peer's first TLS bytes. Then
 *	everything read goes to TLS.
 */

void
CourierConnIoTlsResume(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    connPtr->tlsWaitResume = 0;
    if (connPtr->tlsHeldLen > 0) {
	ccPtr->bytes = CourierRealloc(ccPtr->bytes,
		ccPtr->length + connPtr->tlsHeldLen);
	memcpy(ccPtr->bytes + ccPtr->length, connPtr->tlsHeld,
		connPtr->tlsHeldLen);
	ccPtr->length += connPtr->tlsHeldLen;
    }
    free(connPtr->tlsHeld);
    connPtr->tlsHeld = NULL;
    connPtr->tlsHeldLen = 0;
    if (connPtr->ioState == IO_OPEN && connPtr->tlsPtr != NULL) {
	if (ccPtr->length > 0) {
	    CourierTlsIoRead(connPtr, ccPtr->bytes, ccPtr->length);
	}

	/* A close asked for after the handshake reads no more. */
	if (connPtr->ioState == IO_OPEN && !(connPtr->closeWhenFlushed
		&& !CourierTlsIoHolding(connPtr))) {
	    CourierStreamStartReading(connPtr);
	}
    }
}

/*
 * IoFrameRefused --
 *	The framer refused the stream (rc is not COURIER_FRAME_OK: today
 *	only TOO_BIG, a message over -maxmessage): the rest of the stream
 *	cannot be trusted, so the connection fails with an error and is
 *	reset. Every path that feeds the framer ends here on a refusal.
 */

static void
IoFrameRefused(
    Conn *connPtr,
    int rc)
{
    char msg[200];

    assert(rc == COURIER_FRAME_TOO_BIG);
    (void) rc;
    snprintf(msg, sizeof(msg), "message larger than -maxmessage "
	    "(%llu bytes): connection closed",
	    (unsigned long long) connPtr->io.maxMessage);
    CourierStreamFail(connPtr, "error", 0, msg, 1);
}

/*
 * CourierStreamIoConfig --
 *	The I/O half takes the configuration a connect, accept or spawn
 *	command carries and sets up its framer (I/O thread, once, before the
 *	first read).
 */

void
CourierStreamIoConfig(
    Conn *connPtr,
    const ConnIoConfig *configPtr)
{
    connPtr->io = *configPtr;
    CourierFramerInit(&connPtr->framer, connPtr->io.framing, connPtr->io.eol,
	    connPtr->io.lengthBytes, connPtr->io.maxMessage);
    connPtr->framerInit = 1;
}

void
CourierStreamStartReading(
    Conn *connPtr)
{
    if (connPtr->ioState == IO_OPEN && !connPtr->reading
	    && !connPtr->flowPaused && !connPtr->userPaused && !connPtr->eof
	    && !connPtr->tlsWaitResume && connPtr->ioPort != NULL) {
	if (uv_read_start(STREAM(connPtr), IoOnAlloc,
		IoOnRead) == 0) {
	    connPtr->reading = 1;
	}
    }
}




/* Manual pause (flag 1) and resume (flag 0); flow-control resume (2). */
void
CourierConnIoPause(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    if (ccPtr->flag == 1) {
	connPtr->userPaused = 1;
	if (connPtr->reading) {
	    uv_read_stop(STREAM(connPtr));
	    connPtr->reading = 0;
	}
    } else {
	if (ccPtr->flag == 0) {
	    connPtr->userPaused = 0;
	} else {
	    connPtr->flowPaused = 0;
	}
	CourierStreamStartReading(connPtr);	/* Only if open and not held back. */
    }
}

/*
 * CourierConnIoConfigure --
 *	New options for the I/O half. A framer change keeps the bytes of a
 *	message in progress and reads them again with the new framing and
 *	-maxmessage, exactly as if they had just arrived: the messages they
 *	complete are posted, and a refusal (a line or a length prefix over
 *	the new -maxmessage) fails the connection as a read would.
 */

void
CourierConnIoConfigure(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    ConnIoConfig *newPtr = &ccPtr->config;

    if (connPtr->framerInit && (newPtr->framing != connPtr->io.framing
	    || newPtr->eol != connPtr->io.eol
	    || newPtr->lengthBytes != connPtr->io.lengthBytes
	    || newPtr->maxMessage != connPtr->io.maxMessage)) {
	if (connPtr->ioState == IO_OPEN) {
	    FrameBatch batch = FRAME_BATCH_INIT(connPtr);
	    int rc;

	    connPtr->io = *newPtr;
	    rc = CourierFramerReconfigure(&connPtr->framer, newPtr->framing,
		    newPtr->eol, newPtr->lengthBytes, newPtr->maxMessage,
		    CollectFrame, &batch);
	    if (batch.count > 0) {
		PostFrames(connPtr, &batch);
	    }
	    free(batch.ptrs);
	    free(batch.sizes);
	    free(batch.wires);
	    if (rc != COURIER_FRAME_OK) {
		IoFrameRefused(connPtr, rc);
	    }
	} else {
	    /* Not reading (any more): what it held goes. */
	    CourierFramerFree(&connPtr->framer);
	    CourierFramerInit(&connPtr->framer, newPtr->framing, newPtr->eol,
		    newPtr->lengthBytes, newPtr->maxMessage);
	}
    }
    connPtr->io = *newPtr;
    if (connPtr->ioState == IO_OPEN && connPtr->procPtr == NULL) {
	uv_tcp_nodelay(&connPtr->stream.tcp, connPtr->io.nodelay);
	uv_tcp_keepalive(&connPtr->stream.tcp, connPtr->io.keepalive, 60);
    }

    /* A -sendbuffer raised (conn.c) may put the output at half of it. */
    CourierStreamPostDrainIfOwed(connPtr);
}

