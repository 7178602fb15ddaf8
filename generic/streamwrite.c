/*
 * streamwrite.c --
 *
 *	The writing side of a connection's byte stream (see stream.c and
 *	connInt.h), socket or pipe alike; everything here runs in the
 *	connection's I/O thread. Sends queued during one batch of commands
 *	go out in one uv_write (a writev); sends made before the stream
 *	opened wait for it; -ondrain is owed once the output falls to half
 *	of -sendbuffer; a half-close ($c shutdown write, a child's stdin
 *	closed) or a graceful close sends FIN once every write is done.
 */

#include "connInt.h"
#include <stdlib.h>
#include <string.h>
#include <assert.h>

/*
 *----------------------------------------------------------------------
 *
 * Writing. A write command carries its bytes and is its own uv_write_t.
 *
 *----------------------------------------------------------------------
 */


/*
 * One uv_write: every WriteCmd queued when the batch ended; with TLS, the
 * ciphertext they became (the WriteCmds are freed once encrypted).
 */
typedef struct WriteBatch {
    uv_write_t req;
    Conn *connPtr;
    WriteCmd *cmds;
    size_t total;		/* Bytes sent by Tcl (pendingOut). */
    unsigned char *wire;	/* TLS: the ciphertext, or NULL. */
    size_t wireLen;
} WriteBatch;

void
CourierConnIoWriteDiscard(
    CourierIoCmd *cmdPtr)
{
    WriteCmd *wPtr = (WriteCmd *) cmdPtr;

    atomic_fetch_sub(&wPtr->connPtr->pendingOut, wPtr->length);
    CourierConnUnref(wPtr->connPtr);
    free(wPtr);
}

static void
DiscardList(
    WriteCmd *wPtr)
{
    while (wPtr != NULL) {
	WriteCmd *nextPtr = wPtr->nextOut;

	CourierConnIoWriteDiscard(&wPtr->header);
	wPtr = nextPtr;
    }
}

/*
 * CourierStreamPostDrainIfOwed --
 *	Posts -ondrain when one is owed (the output went above -sendbuffer,
 *	conn.c) and the output now, sends not yet written included, is down
 *	to half of -sendbuffer; once per crossing. The flag is taken before
 *	the output is read: a send that goes above after that owes a
 *	-ondrain of its own, and the flag goes back when the output is
 *	still above half, so no -ondrain owed is ever spent on a reading
 *	older than the send that owed it.
 */

void
CourierStreamPostDrainIfOwed(
    Conn *connPtr)
{
    if (!atomic_load(&connPtr->drainOwed)
	    || !atomic_exchange(&connPtr->drainOwed, 0)) {
	return;
    }
    if (atomic_load(&connPtr->pendingOut)
	    > atomic_load(&connPtr->sendBuffer) / 2) {
	atomic_store(&connPtr->drainOwed, 1);
	return;
    }
    if (connPtr->ioState == IO_OPEN) {
	CourierStreamPost(connPtr, CONN_MSG_DRAIN, NULL, 0);
    }
}

static void
IoOnWritten(
    uv_write_t *req,
    int status)
{
    WriteBatch *batchPtr = req->data;
    Conn *connPtr = batchPtr->connPtr;
    WriteCmd *wPtr, *nextPtr;

    connPtr->writesInFlight--;
    atomic_fetch_sub(&connPtr->pendingOut, batchPtr->total);
    for (wPtr = batchPtr->cmds; wPtr != NULL; wPtr = nextPtr) {
	nextPtr = wPtr->nextOut;
	CourierConnUnref(connPtr);
	free(wPtr);
    }
    free(batchPtr->wire);
    if (status == 0) {
	atomic_fetch_add(&connPtr->bytesWritten, batchPtr->wire != NULL
		? batchPtr->wireLen : batchPtr->total);
    } else if (connPtr->ioState == IO_OPEN) {
	CourierStreamFail(connPtr, status == UV_ECONNRESET || status == UV_EPIPE
		? "reset" : "error", status, NULL, 0);
    }
    CourierStreamPostDrainIfOwed(connPtr);
    CourierStreamMaybeFinish(connPtr);
    CourierConnUnref(connPtr);			/* The batch's. */
    free(batchPtr);
}

/*
 * WriteTls --
 *	TLS: writes the ciphertext tls.c has made (of the sends queued,
 *	whose plaintext bytes, "total", leave pendingOut when it is written;
 *	or of the handshake or a close_notify, total 0) in one uv_write.
 */

static void
WriteTls(
    Conn *connPtr,
    size_t total)
{
    WriteBatch *batchPtr;
    uv_buf_t buf;
    size_t wireLen;
    unsigned char *wire;

    assert(connPtr->tlsPtr != NULL);
    wire = CourierTlsIoTakeOutput(connPtr, &wireLen);
    if (wire == NULL) {
	/* Nothing to write (a failure already closed it, say). */
	atomic_fetch_sub(&connPtr->pendingOut, total);
	return;
    }
    batchPtr = CourierAllocZero(sizeof(WriteBatch));
    batchPtr->connPtr = connPtr;
    batchPtr->total = total;
    batchPtr->wire = wire;
    batchPtr->wireLen = wireLen;
    batchPtr->req.data = batchPtr;
    buf = uv_buf_init((char *) wire, (unsigned) wireLen);
    CourierConnRef(connPtr);
    connPtr->writesInFlight++;
    if (uv_write(&batchPtr->req, STREAM(connPtr), &buf, 1,
	    IoOnWritten) < 0) {
	connPtr->writesInFlight--;
	atomic_fetch_sub(&connPtr->pendingOut, total);
	free(wire);
	free(batchPtr);
	CourierConnUnref(connPtr);
    }
}

/*
 * CourierStreamWriteWire --
 *	TLS: writes what tls.c has made without a send (handshake records,
 *	alerts, session tickets, close_notify), if anything.
 */

void
CourierStreamWriteWire(
    Conn *connPtr)
{
    if (connPtr->ioState == IO_OPEN && connPtr->streamInit) {
	WriteTls(connPtr, 0);
    }
}

/*
 * IoFlushTls --
 *	TLS: encrypts every send queued (freeing each once it is encrypted)
 *	and writes the ciphertext in one uv_write. The plaintext bytes stay
 *	counted in pendingOut until the ciphertext is written.
 */

static void
IoFlushTls(
    Conn *connPtr)
{
    WriteCmd *wPtr = connPtr->outHead, *nextPtr;
    size_t total = 0;
    int ok = 1;

    assert(!CourierTlsIoHolding(connPtr));	/* Sends wait for it. */
    connPtr->outHead = connPtr->outTail = NULL;
    connPtr->outCount = 0;
    for (; wPtr != NULL; wPtr = nextPtr) {
	nextPtr = wPtr->nextOut;
	if (ok && !CourierTlsIoEncrypt(connPtr, wPtr->data, wPtr->length)) {
	    ok = 0;			/* The connection failed. */
	}
	total += wPtr->length;
	CourierConnUnref(connPtr);
	free(wPtr);
    }
    if (!ok || connPtr->ioState != IO_OPEN) {
	atomic_fetch_sub(&connPtr->pendingOut, total);
	return;
    }
    WriteTls(connPtr, total);
}

/*
 * IoFlush --
 *	Writes everything queued in one uv_write (a writev); with TLS,
 *	encrypted first.
 */

static void
IoFlush(
    Conn *connPtr)
{
    uv_buf_t stackBufs[64], *bufs = stackBufs;
    WriteBatch *batchPtr;
    WriteCmd *wPtr;
    size_t i = 0;

    if (connPtr->outHead == NULL) {
	return;
    }
    if (connPtr->ioState != IO_OPEN || connPtr->shutdownWhenFlushed < 0) {
	DiscardList(connPtr->outHead);
	connPtr->outHead = connPtr->outTail = NULL;
	connPtr->outCount = 0;
	return;
    }
    if (connPtr->tlsPtr != NULL) {
	IoFlushTls(connPtr);
	return;
    }
    batchPtr = CourierAllocZero(sizeof(WriteBatch));
    if (connPtr->outCount > sizeof(stackBufs) / sizeof(stackBufs[0])) {
	bufs = CourierAlloc(sizeof(uv_buf_t) * connPtr->outCount);
    }
    batchPtr->connPtr = connPtr;
    batchPtr->cmds = connPtr->outHead;
    batchPtr->total = 0;
    for (wPtr = connPtr->outHead; wPtr != NULL; wPtr = wPtr->nextOut) {
	bufs[i++] = uv_buf_init((char *) wPtr->data, (unsigned) wPtr->length);
	batchPtr->total += wPtr->length;
    }
    connPtr->outHead = connPtr->outTail = NULL;
    connPtr->outCount = 0;
    batchPtr->req.data = batchPtr;
    CourierConnRef(connPtr);
    connPtr->writesInFlight++;
    if (uv_write(&batchPtr->req, STREAM(connPtr), bufs,
	    (unsigned) i, IoOnWritten) < 0) {
	connPtr->writesInFlight--;
	atomic_fetch_sub(&connPtr->pendingOut, batchPtr->total);
	for (wPtr = batchPtr->cmds; wPtr != NULL; ) {
	    WriteCmd *nextPtr = wPtr->nextOut;

	    CourierConnUnref(connPtr);
	    free(wPtr);
	    wPtr = nextPtr;
	}
	CourierConnUnref(connPtr);
	free(batchPtr);
    }
    if (bufs != stackBufs) {
	free(bufs);
    }
}

/*
 * CourierStreamFlushNow --
 *	Writes what is queued now rather than after the batch ($c starttls:
 *	what was sent before it goes out in plaintext).
 */

void
CourierStreamFlushNow(
    Conn *connPtr)
{
    IoFlush(connPtr);
}

static void
FlushRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    Conn *connPtr = (Conn *) ((char *) cmdPtr - offsetof(Conn, flushCmd));

    (void) ioPtr;
    connPtr->flushScheduled = 0;
    IoFlush(connPtr);
    CourierStreamMaybeFinish(connPtr);
    CourierConnUnref(connPtr);			/* The schedule's. */
}

static void
AppendWrite(
    WriteCmd **headPtr,
    WriteCmd **tailPtr,
    WriteCmd *wPtr)
{
    wPtr->nextOut = NULL;
    if (*tailPtr != NULL) {
	(*tailPtr)->nextOut = wPtr;
    } else {
	*headPtr = wPtr;
    }
    *tailPtr = wPtr;
}

/*
 * CourierConnIoWrite --
 *	A send: kept until connected, then queued for the write that goes
 *	out when the current batch of commands is done.
 */

void
CourierConnIoWrite(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    WriteCmd *wPtr = (WriteCmd *) cmdPtr;
    Conn *connPtr = wPtr->connPtr;

    if (connPtr->ioState == IO_NEW || connPtr->ioState == IO_RESOLVING
	    || connPtr->ioState == IO_CONNECTING
	    || (connPtr->ioState == IO_OPEN && CourierTlsIoHolding(connPtr))) {
	/* Not open yet, or in the TLS handshake: wait for it. */
	AppendWrite(&connPtr->earlyHead, &connPtr->earlyTail, wPtr);
	return;
    }
    if (connPtr->ioState != IO_OPEN) {
	CourierConnIoWriteDiscard(cmdPtr);	/* May free connPtr. */
	return;
    }
    if (connPtr->shutdownWhenFlushed < 0) {
	/* Sent after the FIN: dropped, so no longer waiting to go out. */
	CourierConnIoWriteDiscard(cmdPtr);
	CourierStreamPostDrainIfOwed(connPtr);
	return;
    }
    AppendWrite(&connPtr->outHead, &connPtr->outTail, wPtr);
    connPtr->outCount++;

    /*
     * Earlier writes may have brought the output down to half before
     * this send, the one that went above, ran here.
     */

    CourierStreamPostDrainIfOwed(connPtr);
    if (!connPtr->flushScheduled) {
	connPtr->flushScheduled = 1;
	connPtr->flushCmd.runProc = FlushRun;
	connPtr->flushCmd.discardProc = NULL;
	CourierConnRef(connPtr);
	CourierIoAfterBatch(ioPtr, &connPtr->flushCmd);
    }
}

/*
 * CourierStreamFlushEarly --
 *	Writes sent before the connection opened go out now that it is open
 *	(or are dropped, when it failed).
 */

void
CourierStreamFlushEarly(
    Conn *connPtr)
{
    WriteCmd *wPtr = connPtr->earlyHead, *nextPtr;

    if (connPtr->ioState == IO_OPEN && CourierTlsIoHolding(connPtr)) {
	return;			/* After the TLS handshake. */
    }
    connPtr->earlyHead = connPtr->earlyTail = NULL;
    if (connPtr->ioState != IO_OPEN) {
	DiscardList(wPtr);
	return;
    }
    for (; wPtr != NULL; wPtr = nextPtr) {
	nextPtr = wPtr->nextOut;
	AppendWrite(&connPtr->outHead, &connPtr->outTail, wPtr);
	connPtr->outCount++;
    }
    IoFlush(connPtr);
}

static void
IoOnShutdown(
    uv_shutdown_t *req,
    int status)
{
    Conn *connPtr = req->data;

    (void) status;
    connPtr->shutdownInFlight = 0;
    if (connPtr->closeWhenFlushed) {
	CourierStreamCloseHandles(connPtr, 0);
    }
    CourierConnUnref(connPtr);
}

/*
 * CourierStreamMaybeFinish --
 *	Once every queued write is done, a pending half-close or graceful
 *	close proceeds: with TLS a close_notify, then FIN, then (for a
 *	close) the socket goes. Not during a TLS handshake: sends wait
 *	for it.
 */

void
CourierStreamMaybeFinish(
    Conn *connPtr)
{
    if (connPtr->ioState != IO_OPEN || connPtr->writesInFlight > 0
	    || connPtr->outHead != NULL || connPtr->shutdownInFlight
	    || CourierTlsIoHolding(connPtr)) {
	return;
    }
    if ((connPtr->shutdownWhenFlushed > 0 || connPtr->closeWhenFlushed)
	    && connPtr->shutdownWhenFlushed >= 0
	    && CourierTlsIoCloseNotify(connPtr)) {
	/* TLS: close_notify first; FIN once it is written. */
	CourierStreamWriteWire(connPtr);
	if (connPtr->writesInFlight > 0) {
	    return;
	}
    }
    if ((connPtr->shutdownWhenFlushed > 0 || connPtr->closeWhenFlushed)
	    && connPtr->shutdownWhenFlushed >= 0) {
	connPtr->shutdownWhenFlushed = -1;	/* FIN sent: no more writes. */
	connPtr->shutdownReq.data = connPtr;
	CourierConnRef(connPtr);
	if (uv_shutdown(&connPtr->shutdownReq, STREAM(connPtr),
		IoOnShutdown) == 0) {
	    connPtr->shutdownInFlight = 1;
	    return;
	}
	CourierConnUnref(connPtr);
    }
    if (connPtr->closeWhenFlushed) {
	CourierStreamCloseHandles(connPtr, 0);
    }
}


void
CourierConnIoShutdown(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    (void) ccPtr;
    if (connPtr->shutdownWhenFlushed == 0) {
	/* Before the connection opens, this waits for it. */
	connPtr->shutdownWhenFlushed = 1;
	CourierStreamMaybeFinish(connPtr);
    }
}

