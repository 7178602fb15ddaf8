/*
 * stream.c --
 *
 *	The byte stream of a connection, shared by TCP sockets (tcp.c) and
 *	a child process's stdin and stdout (process.c), as libuv's stream.c
 *	is shared by tcp.c, pipe.c and process.c. It owns the Conn struct's
 *	life and the commands the Tcl half sends to the I/O half (any
 *	thread), and, in the connection's I/O thread: posting to the inbox
 *	port, failing, closing the handles and the close command. Reading
 *	and framing (one chain of messages per read), pause and resume, a
 *	new configuration and the STARTTLS switch point are in streamread.c;
 *	writes, batched into one writev, and half-close in streamwrite.c.
 *	See connInt.h.
 */

#include "connInt.h"
#include "resolver.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

static void	IoCloseNow(Conn *connPtr, int reset);

/*
 *======================================================================
 * The shared struct and the commands to the I/O half (any thread).
 *======================================================================
 */

Conn *
CourierConnAlloc(
    CourierIoThread *ioPtr)
{
    Conn *connPtr = CourierAllocZero(sizeof(Conn));

    connPtr->ioPtr = ioPtr;
    connPtr->ioObj.abortProc = CourierConnIoAbort;
    atomic_init(&connPtr->refCount, 1);	/* The I/O half's. */
    atomic_init(&connPtr->pendingOut, 0);
    atomic_init(&connPtr->sendBuffer, 0);
    atomic_init(&connPtr->drainOwed, 0);
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


/*
 * ConnCmdDone, ConnCmdRun, CourierConnCmdDiscard --
 *	The end of a command: drop its reference and free it. Run (I/O
 *	thread) does the command's operation first; discard (its I/O thread
 *	has stopped) releases the producer side of a port that a connect or
 *	start would have taken.
 */

static void
ConnCmdDone(
    ConnCmd *ccPtr)
{
    if (ccPtr->tlsSetup != NULL) {
	CourierTlsSetupFree(ccPtr->tlsSetup);	/* Never started. */
    }
    free(ccPtr->bytes);
    CourierConnUnref(ccPtr->connPtr);
    free(ccPtr);
}

static void
ConnCmdRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;

    assert(ioPtr == ccPtr->connPtr->ioPtr);
    (void) ioPtr;
    ccPtr->opProc(ccPtr->connPtr, ccPtr);
    ConnCmdDone(ccPtr);
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
    ConnCmdDone(ccPtr);
}

/*
 * CourierConnCmdNew, CourierConnSubmit --
 *	A command that runs opProc on the connection in its I/O thread;
 *	submit makes one with no arguments and sends it.
 */

ConnCmd *
CourierConnCmdNew(
    Conn *connPtr,
    ConnIoOp *opProc)
{
    ConnCmd *ccPtr = CourierIoCmdNew(sizeof(ConnCmd), ConnCmdRun,
	    CourierConnCmdDiscard);

    ccPtr->connPtr = connPtr;
    ccPtr->opProc = opProc;
    CourierConnRef(connPtr);
    return ccPtr;
}

void
CourierConnSubmit(
    Conn *connPtr,
    ConnIoOp *opProc)
{
    ConnCmd *ccPtr = CourierConnCmdNew(connPtr, opProc);

    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
}

/*
 *======================================================================
 * The stream in the connection's I/O thread: posting, failing, closing.
 *======================================================================
 */

/*
 * CourierConnIoAbort --
 *	A stopping I/O thread aborts the connection (called once for each of
 *	its open handles). A child process still running gets SIGTERM, then
 *	SIGKILL, and is reaped before the loop ends (CourierProcessAbortIo).
 */

void
CourierConnIoAbort(
    CourierIoObject *objPtr)
{
    Conn *connPtr = (Conn *) objPtr;

    if (connPtr->procPtr != NULL) {
	CourierProcessAbortIo(connPtr->procPtr);
    }
    CourierStreamCloseHandles(connPtr, 1);
}

/*
 * CourierStreamPost --
 *	Posts one message to the Tcl half. A port that is closed (the handle
 *	is gone) or full stops reading; nothing else changes.
 */

void
CourierStreamPost(
    Conn *connPtr,
    int kind,
    const void *bytes,
    size_t length)
{
    CourierMsg *msgPtr;

    if (connPtr->ioPort == NULL) {
	return;				/* Never given a port (not started). */
    }
    msgPtr = CourierMsgAlloc(length);
    msgPtr->kind = kind;
    if (length > 0) {
	memcpy(msgPtr->data, bytes, length);
    }
    CourierStreamHeedPost(connPtr, CourierPortPost(connPtr->ioPort, msgPtr));
}

/*
 * CourierStreamHeedPost --
 *	Acts on what a post answered. FULL: stop reading until RESUME.
 *	CLOSED: the handle is gone and a close command is on its way. Either
 *	way, stop reading now.
 */

void
CourierStreamHeedPost(
    Conn *connPtr,
    int result)
{
    CourierIoPosted(connPtr->ioPtr);
    if (result != COURIER_POST_OK && connPtr->reading) {
	uv_read_stop(STREAM(connPtr));
	connPtr->reading = 0;
	connPtr->flowPaused = 1;
    }
}

/*
 * CourierStreamFail --
 *	The connection is over (error, reset, timeout, refused): tell the
 *	Tcl half why, once, and close the handles.
 */

void
CourierStreamFail(
    Conn *connPtr,
    const char *kind,
    int uvErr,
    const char *message,
    int reset)			/* Close with a reset (RST), not a FIN. */
{
    char buf[512];
    int n;

    if (!connPtr->failed && connPtr->ioPort != NULL) {
	connPtr->failed = 1;
	n = snprintf(buf, sizeof(buf), "%s%c%s%c%s", kind, 0,
		uvErr ? uv_err_name(uvErr) : "", 0,
		message ? message : (uvErr ? uv_strerror(uvErr) : ""));
	if (n >= (int) sizeof(buf)) {
	    n = sizeof(buf) - 1;
	}
	CourierStreamPost(connPtr, CONN_MSG_CLOSED, buf, (size_t) n);
    }
    CourierStreamCloseHandles(connPtr, reset);
}

/*
 * CourierStreamFinish --
 *	Every handle is closed: free what the I/O half owns, tell a child's
 *	exit status, release the port (nothing more will be posted) and the
 *	I/O half's reference.
 */

void
CourierStreamFinish(
    Conn *connPtr)
{
    assert(connPtr->handlesOpen == 0);
    connPtr->ioState = IO_CLOSED;
    CourierStreamFlushEarly(connPtr);		/* Drops them: the state is closed. */
    if (connPtr->addrs != NULL) {
	CourierResolveFree(connPtr->addrs);
	connPtr->addrs = NULL;
    }
    if (connPtr->framerInit) {
	CourierFramerFree(&connPtr->framer);
	connPtr->framerInit = 0;
    }
    if (connPtr->rawMsg != NULL) {
	CourierMsgFree(connPtr->rawMsg);
	connPtr->rawMsg = NULL;
    }
    CourierTlsIoFree(connPtr);
    free(connPtr->tlsHeld);
    connPtr->tlsHeld = NULL;
    if (connPtr->tlsSetupPending != NULL) {
	CourierTlsSetupFree(connPtr->tlsSetupPending);
	connPtr->tlsSetupPending = NULL;
    }
    free(connPtr->openedText);
    connPtr->openedText = NULL;
    if (connPtr->procPtr != NULL && connPtr->procPtr->exited) {
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%lld %d",
		(long long) connPtr->procPtr->exitStatus,
		connPtr->procPtr->termSignal);

	CourierStreamPost(connPtr, CONN_MSG_EXIT, buf, (size_t) n);
    }
    if (connPtr->ioPort != NULL) {
	CourierPort *portPtr = connPtr->ioPort;

	connPtr->ioPort = NULL;
	CourierPortRelease(portPtr);
    }
    CourierConnUnref(connPtr);
}

void
CourierStreamOnHandleClosed(
    uv_handle_t *handle)
{
    Conn *connPtr = handle->data;

    assert(connPtr->handlesOpen > 0);
    if (--connPtr->handlesOpen == 0) {
	CourierStreamFinish(connPtr);
    }
}

/*
 * CourierStreamCloseHandles --
 *	Starts closing the connection in the I/O thread, once; the last
 *	handle's close callback finishes it. A name lookup in progress is
 *	not waited for: its answer is dropped when it comes.
 */

void
CourierStreamCloseHandles(
    Conn *connPtr,
    int reset)
{
    if (connPtr->ioState == IO_CLOSING || connPtr->ioState == IO_CLOSED) {
	return;
    }
    connPtr->ioState = IO_CLOSING;
    IoCloseNow(connPtr, reset);
}

static void
IoCloseNow(
    Conn *connPtr,
    int reset)
{
    connPtr->reading = 0;
    if (connPtr->timerInit) {
	uv_close((uv_handle_t *) &connPtr->timer, CourierStreamOnHandleClosed);
	connPtr->timerInit = 0;
    }
    if (connPtr->streamInit) {
	connPtr->streamInit = 0;
	if (!reset || connPtr->procPtr != NULL
		|| uv_tcp_close_reset(&connPtr->stream.tcp,
			CourierStreamOnHandleClosed) < 0) {
	    uv_close((uv_handle_t *) STREAM(connPtr), CourierStreamOnHandleClosed);
	}
    }
    if (connPtr->handlesOpen == 0) {
	CourierStreamFinish(connPtr);
    }
}

/*
 * CourierStreamPostOpened --
 *	A TLS connection's handshake is done: the addresses IoOpened (tcp.c)
 *	kept go to the Tcl half now, which runs -onconnect.
 */

void
CourierStreamPostOpened(
    Conn *connPtr)
{
    if (connPtr->openedText != NULL) {
	CourierStreamPost(connPtr, CONN_MSG_CONNECTED, connPtr->openedText,
		strlen(connPtr->openedText));
	free(connPtr->openedText);
	connPtr->openedText = NULL;
    }
}

/*
 * CourierConnIoClose --
 *	Graceful (flag 0): writes already queued go out, then FIN, then the
 *	socket closes. Abort (flag 1): reset at once. Flag 2: reset at once,
 *	and an accepted socket that never started (a TLS one closed by
 *	-onaccept, before any handshake) writes nothing of what waits.
 */

void
CourierConnIoClose(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    if (connPtr->ioState == IO_NEW && connPtr->streamInit) {
	/*
	 * An accepted socket closed by -onaccept: never started, but what
	 * -onaccept sent still goes out.
	 */

	connPtr->ioState = IO_OPEN;
	if (ccPtr->flag != 2) {
	    CourierStreamFlushEarly(connPtr);
	}
    }
    if (ccPtr->flag) {
	CourierStreamCloseHandles(connPtr, 1);
    } else if ((connPtr->ioState == IO_NEW
	    || connPtr->ioState == IO_RESOLVING
	    || connPtr->ioState == IO_CONNECTING)
	    && connPtr->earlyHead == NULL) {
	/*
	 * Still connecting with nothing to send: nothing to wait for (a
	 * peer that never answers would keep the socket for minutes).
	 */

	CourierStreamCloseHandles(connPtr, 0);
    } else if (connPtr->ioState == IO_NEW || connPtr->ioState == IO_RESOLVING
	    || connPtr->ioState == IO_CONNECTING) {
	/* Still connecting: once open, write what was sent, then close. */
	connPtr->closeWhenFlushed = 1;
    } else if (connPtr->ioState == IO_OPEN && CourierTlsIoHolding(connPtr)
	    && connPtr->earlyHead == NULL) {
	/* In the TLS handshake with nothing to send: nothing to wait for. */
	CourierStreamCloseHandles(connPtr, 0);
    } else if (connPtr->ioState == IO_OPEN && CourierTlsIoHolding(connPtr)) {
	/* Sends wait for the handshake, which needs reading: then close. */
	connPtr->closeWhenFlushed = 1;
    } else if (connPtr->ioState == IO_OPEN) {
	connPtr->closeWhenFlushed = 1;
	if (connPtr->reading) {
	    uv_read_stop(STREAM(connPtr));
	    connPtr->reading = 0;
	}
	CourierStreamMaybeFinish(connPtr);
    } else {
	CourierStreamCloseHandles(connPtr, 0);
    }
}
