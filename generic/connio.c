/*
 * connio.c --
 *
 *	The I/O half of a connection (see connInt.h): everything here runs
 *	in the connection's I/O thread. The name lookup's answer, connect
 *	and its retries, reading and framing, writes batched into one
 *	writev, half-close and close, accepted sockets, and a child
 *	process's stream. It talks to the Tcl half only by posting messages
 *	to the inbox port, and is driven by the commands the Tcl half
 *	submits (the CourierConnIo* run procedures).
 */

#include "connInt.h"
#include "resolve.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

static void	IoOnHandleClosed(uv_handle_t *handle);
static void	IoCloseHandles(Conn *connPtr, int reset);
static void	IoCloseNow(Conn *connPtr, int reset);
static void	IoFail(Conn *connPtr, const char *kind, int uvErr,
		    const char *message, int reset);
static void	IoFinish(Conn *connPtr);
static void	IoPost(Conn *connPtr, int kind, const void *bytes,
		    size_t length);
static void	IoStartReading(Conn *connPtr);
static void	IoFlushEarly(Conn *connPtr);
static void	IoHeedPost(Conn *connPtr, int result);
static void	IoMaybeFinish(Conn *connPtr);
static void	IoTryConnect(Conn *connPtr);

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
    IoCloseHandles(connPtr, 1);
}

/*
 * IoPost --
 *	Posts one message to the Tcl half. A port that is closed (the handle
 *	is gone) or full stops reading; nothing else changes.
 */

static void
IoPost(
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
    IoHeedPost(connPtr, CourierPortPost(connPtr->ioPort, msgPtr));
}

/*
 * IoHeedPost --
 *	Acts on what a post answered. FULL: stop reading until RESUME.
 *	CLOSED: the handle is gone and a close command is on its way. Either
 *	way, stop reading now.
 */

static void
IoHeedPost(
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
 * IoFail --
 *	The connection is over (error, reset, timeout, refused): tell the
 *	Tcl half why, once, and close the handles.
 */

static void
IoFail(
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
	IoPost(connPtr, CONN_MSG_CLOSED, buf, (size_t) n);
    }
    IoCloseHandles(connPtr, reset);
}

/*
 * IoFinish --
 *	Every handle is closed: free what the I/O half owns, tell a child's
 *	exit status, release the port (nothing more will be posted) and the
 *	I/O half's reference.
 */

static void
IoFinish(
    Conn *connPtr)
{
    assert(connPtr->handlesOpen == 0);
    connPtr->ioState = IO_CLOSED;
    IoFlushEarly(connPtr);		/* Drops them: the state is closed. */
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
    if (connPtr->procPtr != NULL && connPtr->procPtr->exited) {
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%lld %d",
		(long long) connPtr->procPtr->exitStatus,
		connPtr->procPtr->termSignal);

	IoPost(connPtr, CONN_MSG_EXIT, buf, (size_t) n);
    }
    if (connPtr->ioPort != NULL) {
	CourierPort *portPtr = connPtr->ioPort;

	connPtr->ioPort = NULL;
	CourierPortRelease(portPtr);
    }
    CourierConnUnref(connPtr);
}

static void
IoOnHandleClosed(
    uv_handle_t *handle)
{
    Conn *connPtr = handle->data;

    assert(connPtr->handlesOpen > 0);
    if (--connPtr->handlesOpen == 0) {
	IoFinish(connPtr);
    }
}

/*
 * IoCloseHandles --
 *	Starts closing the connection in the I/O thread, once; the last
 *	handle's close callback finishes it. A name lookup in progress is
 *	not waited for: its answer is dropped when it comes.
 */

static void
IoCloseHandles(
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
	uv_close((uv_handle_t *) &connPtr->timer, IoOnHandleClosed);
	connPtr->timerInit = 0;
    }
    if (connPtr->streamInit) {
	connPtr->streamInit = 0;
	if (!reset || connPtr->procPtr != NULL
		|| uv_tcp_close_reset(&connPtr->stream.tcp,
			IoOnHandleClosed) < 0) {
	    uv_close((uv_handle_t *) STREAM(connPtr), IoOnHandleClosed);
	}
    }
    if (connPtr->handlesOpen == 0) {
	IoFinish(connPtr);
    }
}

static void
IoOnTimeout(
    uv_timer_t *timer)
{
    Conn *connPtr = timer->data;

    if (connPtr->ioState == IO_RESOLVING
	    || connPtr->ioState == IO_CONNECTING) {
	IoFail(connPtr, "timeout", 0, "connection timed out", 0);
    }
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
 *	The lookup's answer (see resolve.h): connect to the first address,
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
	IoFail(connPtr, "error", status, msg, 0);
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
	IoFinish(connPtr);
    }
}

/*
 * IoOpened --
 *	The socket is connected (or accepted and started): set the socket
 *	options and tell the Tcl half the addresses. An address the system
 *	cannot tell (the peer already reset) is reported as {} 0.
 */

static void
IoOpened(
    Conn *connPtr)
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
    IoPost(connPtr, CONN_MSG_CONNECTED, buf, (size_t) len);
}

static void
IoOnConnected(
    uv_connect_t *req,
    int status)
{
    Conn *connPtr = req->data;

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
	IoFail(connPtr, status == UV_ECONNREFUSED ? "refused"
		: status == UV_ECONNRESET ? "reset" : "error", status, NULL,
		0);
	return;
    }
    if (connPtr->timerInit) {
	uv_timer_stop(&connPtr->timer);
    }
    IoOpened(connPtr);
    if (!connPtr->closeWhenFlushed) {
	IoStartReading(connPtr);
    }
    IoFlushEarly(connPtr);
    IoMaybeFinish(connPtr);
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
	    IoFail(connPtr, "error", rc, msg, 0);
	    return;
	}
    }
    connPtr->connectReq.data = connPtr;
    rc = uv_tcp_connect(&connPtr->connectReq, &connPtr->stream.tcp,
	    ai->ai_addr, IoOnConnected);
    if (rc < 0) {
	IoFail(connPtr, "error", rc, NULL, 0);
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
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;
    Conn *connPtr = ccPtr->connPtr;
    int rc;

    connPtr->io = ccPtr->config;
    connPtr->ioPort = ccPtr->portPtr;
    ccPtr->portPtr = NULL;
    CourierFramerInit(&connPtr->framer, connPtr->io.framing, connPtr->io.eol,
	    connPtr->io.lengthBytes, connPtr->io.maxMessage);
    connPtr->framerInit = 1;
    if (connPtr->ioState != IO_NEW) {
	CourierConnCmdDone(ccPtr);		/* Closed before it started. */
	return;
    }
    if (connPtr->timeoutMs > 0) {
	uv_timer_init(CourierIoLoop(ioPtr), &connPtr->timer);
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
	CourierConnCmdDone(ccPtr);
	return;
    }
    connPtr->ioState = IO_RESOLVING;
    CourierConnRef(connPtr);			/* The lookup's. */
    rc = CourierResolve(ioPtr, connPtr->host, connPtr->service,
	    connPtr->family, IoOnResolved, connPtr);
    if (rc < 0) {
	CourierConnUnref(connPtr);
	connPtr->ioState = IO_CONNECTING;
	IoFail(connPtr, "error", rc, "cannot start a resolver thread", 0);
    }
    CourierConnCmdDone(ccPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * Reading: the framer splits what arrives; the messages of one read go
 * to the Tcl half as one chain in one block.
 *
 *----------------------------------------------------------------------
 */

typedef struct FrameBatch {
    const unsigned char **ptrs;
    size_t *sizes;
    size_t count, cap, total;
} FrameBatch;

static void
CollectFrame(
    void *clientData,
    const unsigned char *bytes,
    size_t length)
{
    FrameBatch *batchPtr = clientData;

    if (batchPtr->count == batchPtr->cap) {
	batchPtr->cap = batchPtr->cap ? 2 * batchPtr->cap : 64;
	batchPtr->ptrs = realloc(batchPtr->ptrs,
		batchPtr->cap * sizeof(*batchPtr->ptrs));
	batchPtr->sizes = realloc(batchPtr->sizes,
		batchPtr->cap * sizeof(*batchPtr->sizes));
	if (batchPtr->ptrs == NULL || batchPtr->sizes == NULL) {
	    CourierPanicOutOfMemory(batchPtr->cap * sizeof(size_t));
	}
    }
    batchPtr->ptrs[batchPtr->count] = bytes;
    batchPtr->sizes[batchPtr->count] = length;
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
    size_t size, backlog, room;

    (void) suggested;
    buf->base = (char *) CourierIoReadBuffer(connPtr->ioPtr, &size);

    /*
     * Read no more than the room left under -maxpending (but at least
     * 4 KiB), so that one read cannot take the backlog far past it.
     */

    backlog = CourierPortBacklog(connPtr->ioPort);
    room = backlog < connPtr->io.maxPending
	    ? connPtr->io.maxPending - backlog : 0;
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

    if (connPtr->io.framing == COURIER_FRAMING_RAW && !connPtr->io.batch) {
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
	p = headPtr->data;
	for (i = 0; i < batchPtr->count; i++) {
	    uint32_t n = (uint32_t) batchPtr->sizes[i];

	    memcpy(p, &n, 4);
	    memcpy(p + 4, batchPtr->ptrs[i], n);
	    p += 4 + n;
	}
    } else {
	headPtr = CourierMsgAllocChain(batchPtr->count, batchPtr->sizes, 0);
	for (msgPtr = headPtr, i = 0; msgPtr != NULL;
		msgPtr = msgPtr->next, i++) {
	    msgPtr->kind = CONN_MSG_DATA;
	    memcpy(msgPtr->data, batchPtr->ptrs[i], batchPtr->sizes[i]);
	}
    }
    IoHeedPost(connPtr, CourierPortPostChain(connPtr->ioPort, headPtr));
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

static void
IoOnRead(
    uv_stream_t *stream,
    ssize_t nread,
    const uv_buf_t *buf)
{
    Conn *connPtr = stream->data;
    FrameBatch batch = {NULL, NULL, 0, 0, 0};
    int rc;

    if (nread == 0) {
	return;
    }
    if (nread == UV_EOF) {
	uv_read_stop(stream);
	connPtr->reading = 0;
	connPtr->eof = 1;
	IoPost(connPtr, CONN_MSG_EOF, NULL, 0);
	return;
    }
    if (nread < 0) {
	IoFail(connPtr, nread == UV_ECONNRESET ? "reset" : "error",
		(int) nread, NULL, 0);
	return;
    }
    atomic_fetch_add(&connPtr->bytesRead, (uint64_t) nread);
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
	IoHeedPost(connPtr, CourierPortPost(connPtr->ioPort, msgPtr));
	return;
    }
    rc = CourierFramerFeed(&connPtr->framer, (unsigned char *) buf->base,
	    (size_t) nread, CollectFrame, &batch);
    if (batch.count > 0) {
	PostFrames(connPtr, &batch);
    }
    IoLearnCost(connPtr, (size_t) nread, &batch);
    free(batch.ptrs);
    free(batch.sizes);
    if (rc == COURIER_FRAME_TOO_BIG) {
	char msg[200];

	snprintf(msg, sizeof(msg), "message larger than -maxmessage "
		"(%llu bytes): connection closed",
		(unsigned long long) connPtr->io.maxMessage);
	IoFail(connPtr, "error", 0, msg, 1);
    }
}

static void
IoStartReading(
    Conn *connPtr)
{
    if (connPtr->ioState == IO_OPEN && !connPtr->reading
	    && !connPtr->flowPaused && !connPtr->userPaused && !connPtr->eof
	    && connPtr->ioPort != NULL) {
	if (uv_read_start(STREAM(connPtr), IoOnAlloc,
		IoOnRead) == 0) {
	    connPtr->reading = 1;
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Writing. A write command carries its bytes and is its own uv_write_t.
 *
 *----------------------------------------------------------------------
 */


/* One uv_write: every WriteCmd queued when the batch ended. */
typedef struct WriteBatch {
    uv_write_t req;
    Conn *connPtr;
    WriteCmd *cmds;
    size_t total;
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

static void
IoOnWritten(
    uv_write_t *req,
    int status)
{
    WriteBatch *batchPtr = req->data;
    Conn *connPtr = batchPtr->connPtr;
    WriteCmd *wPtr, *nextPtr;
    size_t left;

    connPtr->writesInFlight--;
    left = atomic_fetch_sub(&connPtr->pendingOut, batchPtr->total)
	    - batchPtr->total;
    for (wPtr = batchPtr->cmds; wPtr != NULL; wPtr = nextPtr) {
	nextPtr = wPtr->nextOut;
	CourierConnUnref(connPtr);
	free(wPtr);
    }
    if (status == 0) {
	atomic_fetch_add(&connPtr->bytesWritten, batchPtr->total);
    } else if (connPtr->ioState == IO_OPEN) {
	IoFail(connPtr, status == UV_ECONNRESET || status == UV_EPIPE
		? "reset" : "error", status, NULL, 0);
    }
    if (connPtr->overHigh && left <= connPtr->io.sendBuffer / 2) {
	connPtr->overHigh = 0;
	if (connPtr->ioState == IO_OPEN) {
	    IoPost(connPtr, CONN_MSG_DRAIN, NULL, 0);
	}
    }
    IoMaybeFinish(connPtr);
    CourierConnUnref(connPtr);			/* The batch's. */
    free(batchPtr);
}

/*
 * IoFlush --
 *	Writes everything queued in one uv_write (a writev).
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
    batchPtr = malloc(sizeof(WriteBatch));
    if (batchPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(WriteBatch));
    }
    if (connPtr->outCount > sizeof(stackBufs) / sizeof(stackBufs[0])) {
	bufs = malloc(sizeof(uv_buf_t) * connPtr->outCount);
	if (bufs == NULL) {
	    CourierPanicOutOfMemory(sizeof(uv_buf_t) * connPtr->outCount);
	}
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

static void
FlushRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    Conn *connPtr = (Conn *) ((char *) cmdPtr - offsetof(Conn, flushCmd));

    (void) ioPtr;
    connPtr->flushScheduled = 0;
    IoFlush(connPtr);
    IoMaybeFinish(connPtr);
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
	    || connPtr->ioState == IO_CONNECTING) {
	AppendWrite(&connPtr->earlyHead, &connPtr->earlyTail, wPtr);
	return;
    }
    if (connPtr->ioState != IO_OPEN || connPtr->shutdownWhenFlushed < 0) {
	CourierConnIoWriteDiscard(cmdPtr);
	return;
    }
    if (wPtr->overHigh) {
	connPtr->overHigh = 1;
    }
    AppendWrite(&connPtr->outHead, &connPtr->outTail, wPtr);
    connPtr->outCount++;
    if (!connPtr->flushScheduled) {
	connPtr->flushScheduled = 1;
	connPtr->flushCmd.runProc = FlushRun;
	connPtr->flushCmd.discardProc = NULL;
	CourierConnRef(connPtr);
	CourierIoAfterBatch(ioPtr, &connPtr->flushCmd);
    }
}

/*
 * IoFlushEarly --
 *	Writes sent before the connection opened go out now that it is open
 *	(or are dropped, when it failed).
 */

static void
IoFlushEarly(
    Conn *connPtr)
{
    WriteCmd *wPtr = connPtr->earlyHead, *nextPtr;

    connPtr->earlyHead = connPtr->earlyTail = NULL;
    if (connPtr->ioState != IO_OPEN) {
	DiscardList(wPtr);
	return;
    }
    for (; wPtr != NULL; wPtr = nextPtr) {
	nextPtr = wPtr->nextOut;
	if (wPtr->overHigh) {
	    connPtr->overHigh = 1;
	}
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
	IoCloseHandles(connPtr, 0);
    }
    CourierConnUnref(connPtr);
}

/*
 * IoMaybeFinish --
 *	Once every queued write is done, a pending half-close or graceful
 *	close proceeds: FIN first, then (for a close) the socket goes.
 */

static void
IoMaybeFinish(
    Conn *connPtr)
{
    if (connPtr->ioState != IO_OPEN || connPtr->writesInFlight > 0
	    || connPtr->outHead != NULL || connPtr->shutdownInFlight) {
	return;
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
	IoCloseHandles(connPtr, 0);
    }
}

/*
 * CourierConnIoClose --
 *	Graceful (flag 0): writes already queued go out, then FIN, then the
 *	socket closes. Abort (flag 1): reset at once.
 */

void
CourierConnIoClose(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;
    Conn *connPtr = ccPtr->connPtr;

    (void) ioPtr;
    if (connPtr->ioState == IO_NEW && connPtr->streamInit) {
	/*
	 * An accepted socket closed by -onaccept: never started, but what
	 * -onaccept sent still goes out.
	 */

	connPtr->ioState = IO_OPEN;
	IoFlushEarly(connPtr);
    }
    if (ccPtr->flag) {
	IoCloseHandles(connPtr, 1);
    } else if ((connPtr->ioState == IO_NEW
	    || connPtr->ioState == IO_RESOLVING
	    || connPtr->ioState == IO_CONNECTING)
	    && connPtr->earlyHead == NULL) {
	/*
	 * Still connecting with nothing to send: nothing to wait for (a
	 * peer that never answers would keep the socket for minutes).
	 */

	IoCloseHandles(connPtr, 0);
    } else if (connPtr->ioState == IO_NEW || connPtr->ioState == IO_RESOLVING
	    || connPtr->ioState == IO_CONNECTING) {
	/* Still connecting: once open, write what was sent, then close. */
	connPtr->closeWhenFlushed = 1;
    } else if (connPtr->ioState == IO_OPEN) {
	connPtr->closeWhenFlushed = 1;
	if (connPtr->reading) {
	    uv_read_stop(STREAM(connPtr));
	    connPtr->reading = 0;
	}
	IoMaybeFinish(connPtr);
    } else {
	IoCloseHandles(connPtr, 0);
    }
    CourierConnCmdDone(ccPtr);
}

void
CourierConnIoShutdown(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;
    Conn *connPtr = ccPtr->connPtr;

    (void) ioPtr;
    if (connPtr->shutdownWhenFlushed == 0) {
	/* Before the connection opens, this waits for it. */
	connPtr->shutdownWhenFlushed = 1;
	IoMaybeFinish(connPtr);
    }
    CourierConnCmdDone(ccPtr);
}

/* Manual pause (flag 1) and resume (flag 0); flow-control resume (2). */
void
CourierConnIoPause(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;
    Conn *connPtr = ccPtr->connPtr;

    (void) ioPtr;
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
	IoStartReading(connPtr);	/* Only if open and not held back. */
    }
    CourierConnCmdDone(ccPtr);
}

/*
 * CourierConnIoConfigure --
 *	New options for the I/O half. A framer change keeps the bytes of a
 *	message in progress and reads them again with the new framing.
 */

void
CourierConnIoConfigure(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;
    Conn *connPtr = ccPtr->connPtr;
    ConnIoConfig *newPtr = &ccPtr->config;

    (void) ioPtr;
    if (connPtr->framerInit && (newPtr->framing != connPtr->io.framing
	    || newPtr->eol != connPtr->io.eol
	    || newPtr->lengthBytes != connPtr->io.lengthBytes
	    || newPtr->maxMessage != connPtr->io.maxMessage)) {
	CourierFramer old = connPtr->framer;

	CourierFramerInit(&connPtr->framer, newPtr->framing, newPtr->eol,
		newPtr->lengthBytes, newPtr->maxMessage);
	if (old.partialLen + (size_t) old.headerLen > 0
		&& connPtr->ioState == IO_OPEN) {
	    FrameBatch batch = {NULL, NULL, 0, 0, 0};
	    unsigned char *bytes = malloc(old.partialLen + 8);

	    memcpy(bytes, old.header, (size_t) old.headerLen);
	    if (old.partialLen > 0) {
		memcpy(bytes + old.headerLen, old.partial, old.partialLen);
	    }
	    connPtr->io = *newPtr;
	    CourierFramerFeed(&connPtr->framer, bytes,
		    old.partialLen + (size_t) old.headerLen, CollectFrame,
		    &batch);
	    if (batch.count > 0) {
		PostFrames(connPtr, &batch);
	    }
	    free(batch.ptrs);
	    free(batch.sizes);
	    free(bytes);
	}
	CourierFramerFree(&old);
    }
    connPtr->io = *newPtr;
    if (connPtr->ioState == IO_OPEN && connPtr->procPtr == NULL) {
	uv_tcp_nodelay(&connPtr->stream.tcp, connPtr->io.nodelay);
	uv_tcp_keepalive(&connPtr->stream.tcp, connPtr->io.keepalive, 60);
    }
    CourierConnCmdDone(ccPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * Accepted sockets (called by listen.c in the I/O thread).
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
	IoCloseHandles(connPtr, 0);
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
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;
    Conn *connPtr = ccPtr->connPtr;

    (void) ioPtr;
    if (connPtr->ioState == IO_CLOSED) {
	CourierPortRelease(ccPtr->portPtr);
    } else {
	connPtr->ioPort = ccPtr->portPtr;
    }
    ccPtr->portPtr = NULL;
    if (connPtr->ioState == IO_NEW) {
	connPtr->io = ccPtr->config;
	CourierFramerInit(&connPtr->framer, connPtr->io.framing,
		connPtr->io.eol, connPtr->io.lengthBytes,
		connPtr->io.maxMessage);
	connPtr->framerInit = 1;
	IoOpened(connPtr);
	IoStartReading(connPtr);
	IoFlushEarly(connPtr);
	IoMaybeFinish(connPtr);
    }
    CourierConnCmdDone(ccPtr);
}

/*
 * CourierConnAbortIo --
 *	An accepted socket no Tcl half will take (its listener is gone):
 *	close it from any thread.
 */

static void
AbortRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;
    Conn *connPtr = ccPtr->connPtr;

    (void) ioPtr;
    if (connPtr->ioState == IO_NEW) {
	connPtr->ioState = IO_OPEN;
    }
    IoCloseHandles(connPtr, 1);
    CourierConnCmdDone(ccPtr);
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
 * Child processes (spawn.h): the stream is a socket pair joined to the
 * child's stdin and stdout.
 *
 *----------------------------------------------------------------------
 */

/*
 * CourierConnIoSpawn --
 *	Starts the child, then answers the Tcl thread waiting in
 *	CourierConnSpawn (pid or error) through the semaphore.
 */

void
CourierConnIoSpawn(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;
    Conn *connPtr = ccPtr->connPtr;
    CourierProcess *procPtr = connPtr->procPtr;
    uv_loop_t *loop = CourierIoLoop(ioPtr);
    int rc;

    assert(procPtr != NULL && connPtr->ioState == IO_NEW);
    connPtr->io = ccPtr->config;
    connPtr->ioPort = ccPtr->portPtr;
    ccPtr->portPtr = NULL;
    CourierFramerInit(&connPtr->framer, connPtr->io.framing, connPtr->io.eol,
	    connPtr->io.lengthBytes, connPtr->io.maxMessage);
    connPtr->framerInit = 1;
    uv_pipe_init(loop, &connPtr->stream.pipe, 0);
    connPtr->stream.pipe.data = connPtr;
    connPtr->streamInit = 1;
    connPtr->handlesOpen++;
    rc = CourierProcessSpawnIo(procPtr, loop, &connPtr->stream.pipe,
	    connPtr, IoOnHandleClosed, &connPtr->handlesOpen);
    connPtr->ioState = IO_OPEN;
    if (rc == 0) {
	IoStartReading(connPtr);
    } else {
	connPtr->failed = 1;		/* The error is the command's. */
	IoCloseHandles(connPtr, 0);
    }
    procPtr->spawnError = rc;
    uv_sem_post(&procPtr->answered);	/* The Tcl thread goes on. */
    CourierConnCmdDone(ccPtr);
}

/* The I/O thread has stopped: the spawn fails. */
void
CourierConnIoSpawnDiscard(
    CourierIoCmd *cmdPtr)
{
    CourierProcess *procPtr = ((ConnCmd *) cmdPtr)->connPtr->procPtr;

    procPtr->spawnError = UV_ECANCELED;
    uv_sem_post(&procPtr->answered);
    CourierConnCmdDiscard(cmdPtr);
}

/*
 * $p kill (flag: the signal), and a child whose handle goes (flag 0:
 * SIGTERM, then SIGKILL after the grace period).
 */
void
CourierConnIoKill(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ConnCmd *ccPtr = (ConnCmd *) cmdPtr;

    (void) ioPtr;
    if (ccPtr->flag == 0) {
	CourierProcessAbortIo(ccPtr->connPtr->procPtr);
    } else {
	CourierProcessKillIo(ccPtr->connPtr->procPtr, ccPtr->flag);
    }
    CourierConnCmdDone(ccPtr);
}
