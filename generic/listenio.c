/*
 * listenio.c --
 *
 *	Listeners, the I/O half (see listenInt.h): everything here but
 *	CourierServerIoStart/Stop (which submit commands from the Tcl
 *	thread) and CourierServerUnref (any thread) runs in the listener's
 *	I/O thread. It takes over the socket that listen.c bound, accepts,
 *	and posts each accepted socket to the listener's inbox port.
 *
 *	Out of descriptors, libuv accepts and closes the waiting connections
 *	itself (its reserve-descriptor trick) and does not tell the listener.
 *	So the I/O half checks, after each accept and whenever a duplicate of
 *	the listening descriptor (the "probe") says a connection waits, that
 *	a descriptor is free; when none is while a connection waits, it posts
 *	an error, at most one a second, for -onaccepterror.
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

/*
 *----------------------------------------------------------------------
 *
 * CourierServerUnref --
 *
 *	Drops one reference to a listener (the Tcl half's, the I/O half's,
 *	the port's or a command's; any thread), freeing it with the last.
 *
 *----------------------------------------------------------------------
 */

void
CourierServerUnref(
    Server *serverPtr)
{
    if (atomic_fetch_sub(&serverPtr->refCount, 1) == 1) {
	free(serverPtr);
    }
}

/*
 *======================================================================
 * I/O half.
 *======================================================================
 */

typedef struct ServerCmd {
    CourierIoCmd header;
    Server *serverPtr;
} ServerCmd;

static void
ServerCmdDiscard(
    CourierIoCmd *cmdPtr)
{
    ServerCmd *scPtr = (ServerCmd *) cmdPtr;

    CourierServerUnref(scPtr->serverPtr);
    free(scPtr);
}

static void
ServerSubmit(
    Server *serverPtr,
    void (*runProc)(CourierIoThread *, CourierIoCmd *),
    void (*discardProc)(CourierIoCmd *))
{
    ServerCmd *scPtr = CourierIoCmdNew(sizeof(ServerCmd), runProc,
	    discardProc);

    scPtr->serverPtr = serverPtr;
    atomic_fetch_add(&serverPtr->refCount, 1);
    CourierIoSubmit(serverPtr->ioPtr, &scPtr->header);
}

static void
IoServerClosed(
    uv_handle_t *handle)
{
    Server *serverPtr = handle->data;

    assert(serverPtr->ioHandles > 0);
    if (--serverPtr->ioHandles > 0) {
	return;
    }
    if (serverPtr->ioPort != NULL) {
	CourierPortRelease(serverPtr->ioPort);
	serverPtr->ioPort = NULL;
    }
    CourierServerUnref(serverPtr);		/* The I/O half's. */
}

/*
 * IoServerClose --
 *	Closes the I/O half's handles (the listening socket and the probe);
 *	the last close callback ends the I/O half. Safe to call twice.
 */

static void
IoServerClose(
    Server *serverPtr)
{
    if (!uv_is_closing((uv_handle_t *) &serverPtr->tcp)) {
	uv_close((uv_handle_t *) &serverPtr->tcp, IoServerClosed);
    }
    if (serverPtr->probeFd >= 0) {
	/*
	 * uv_close stops polling at once: the duplicate can go now, so the
	 * socket stops listening as soon as the listener is closed.
	 */

	uv_close((uv_handle_t *) &serverPtr->probe, IoServerClosed);
	close(serverPtr->probeFd);
	serverPtr->probeFd = -1;
    }
}

/*
 * CourierServerIoAbort --
 *	A stopping I/O thread closes the listener (the listener's
 *	CourierIoObject abortProc, set by listen.c).
 */

void
CourierServerIoAbort(
    CourierIoObject *objPtr)
{
    IoServerClose((Server *) objPtr);
}

/*
 * IoAcceptFailed --
 *	Counts an accept failure (err, a libuv error code) and posts it to
 *	the Tcl half as "ERRNAME\0message", unless one was posted less than
 *	ACCEPT_ERROR_INTERVAL_MS ago: a storm of failures is one event a
 *	second, not one per connection.
 */

static void
IoAcceptFailed(
    Server *serverPtr,
    int err)
{
    uint64_t now = uv_now(serverPtr->tcp.loop);
    const char *name = uv_err_name(err), *text = uv_strerror(err);
    size_t nameLen = strlen(name), textLen = strlen(text);
    CourierMsg *msgPtr;

    atomic_fetch_add(&serverPtr->acceptErrors, 1);
    if (serverPtr->reportedOnce
	    && now - serverPtr->lastReportMs < ACCEPT_ERROR_INTERVAL_MS) {
	return;
    }
    serverPtr->reportedOnce = 1;
    serverPtr->lastReportMs = now;
    msgPtr = CourierMsgAlloc(nameLen + 1 + textLen);
    msgPtr->kind = SERVER_MSG_ERROR;
    memcpy(msgPtr->data, name, nameLen + 1);
    memcpy((char *) msgPtr->data + nameLen + 1, text, textLen);
    CourierPortPost(serverPtr->ioPort, msgPtr);
}

/*
 * IoCheckDescriptors --
 *	Reports EMFILE or ENFILE when not one descriptor is free while a
 *	connection waits to be accepted: libuv then closes that connection
 *	without a word. The check is a dup, closed at once. waiting: a
 *	connection is known to wait; else the socket is polled for one.
 */

static void
IoCheckDescriptors(
    Server *serverPtr,
    int waiting)
{
    struct pollfd pfd;
    int spare, err;

    spare = fcntl(serverPtr->listenFd, F_DUPFD_CLOEXEC, 0);
    if (spare >= 0) {
	close(spare);
	return;
    }
    err = errno;
    if (err != EMFILE && err != ENFILE) {
	return;
    }
    if (!waiting) {
	pfd.fd = serverPtr->listenFd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 1) {
	    return;
	}
    }
    IoAcceptFailed(serverPtr, uv_translate_sys_error(err));
}

/*
 * IoProbeReadable --
 *	A connection waits (or waited, if libuv's own watcher on the same
 *	socket has taken it since): check that a descriptor is free. This
 *	catches a process that was out of descriptors before the
 *	connection came; IoOnConnection catches one that an accept filled.
 */

static void
IoProbeReadable(
    uv_poll_t *handle,
    int status,
    int events)
{
    (void) events;
    if (status == 0) {
	IoCheckDescriptors(handle->data, 1);
    }
}

static void
IoOnConnection(
    uv_stream_t *stream,
    int status)
{
    Server *serverPtr = stream->data;
    AcceptInfo info;
    CourierMsg *msgPtr;

    if (status < 0) {
	/* Out of memory or buffers, say: tell the Tcl half, keep listening. */
	IoAcceptFailed(serverPtr, status);
	return;
    }
    memset(&info, 0, sizeof(info));
    info.connPtr = CourierConnAcceptIo(serverPtr->ioPtr, stream, info.host,
	    sizeof(info.host), &info.port);
    if (info.connPtr == NULL) {
	return;
    }
    /* If that took the last descriptor, libuv drops the next in line. */
    IoCheckDescriptors(serverPtr, 0);
    CourierConnRef(info.connPtr);	/* The message's. */
    msgPtr = CourierMsgAlloc(sizeof(info));
    msgPtr->kind = SERVER_MSG_ACCEPT;
    memcpy(msgPtr->data, &info, sizeof(info));
    if (CourierPortPost(serverPtr->ioPort, msgPtr) == COURIER_POST_CLOSED) {
	/* The listener is gone: the message was freed. */
	CourierConnAbortIo(info.connPtr);
	CourierConnUnref(info.connPtr);
    }
}

static void
ListenRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ServerCmd *scPtr = (ServerCmd *) cmdPtr;
    Server *serverPtr = scPtr->serverPtr;

    uv_tcp_init(CourierIoLoop(ioPtr), &serverPtr->tcp);
    serverPtr->tcp.data = serverPtr;
    serverPtr->ioHandles = 1;
    serverPtr->probeFd = -1;
    serverPtr->listenFd = serverPtr->fd;
    if (uv_tcp_open(&serverPtr->tcp, serverPtr->fd) < 0) {
	close(serverPtr->fd);
	IoServerClose(serverPtr);
    } else if (uv_listen((uv_stream_t *) &serverPtr->tcp, serverPtr->backlog,
	    IoOnConnection) < 0) {
	IoServerClose(serverPtr);
    } else {
	/* Without a probe (no descriptor for it) accepts work the same. */
	serverPtr->probeFd = fcntl(serverPtr->fd, F_DUPFD_CLOEXEC, 0);
	if (serverPtr->probeFd >= 0) {
	    uv_poll_init_socket(CourierIoLoop(ioPtr), &serverPtr->probe,
		    serverPtr->probeFd);
	    serverPtr->probe.data = serverPtr;
	    serverPtr->ioHandles++;
	    uv_poll_start(&serverPtr->probe, UV_READABLE, IoProbeReadable);
	}
    }
    ServerCmdDiscard(cmdPtr);
}

/*
 * ListenDiscard --
 *	The I/O thread stopped before the listener started: the I/O half
 *	ends here.
 */

static void
ListenDiscard(
    CourierIoCmd *cmdPtr)
{
    Server *serverPtr = ((ServerCmd *) cmdPtr)->serverPtr;

    close(serverPtr->fd);
    CourierPortRelease(serverPtr->ioPort);
    serverPtr->ioPort = NULL;
    CourierServerUnref(serverPtr);		/* The I/O half's. */
    ServerCmdDiscard(cmdPtr);
}

/*
 * UnlistenRun --
 *	Stops listening; runs after ListenRun (same queue), so the handle
 *	is initialised.
 */

static void
UnlistenRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ServerCmd *scPtr = (ServerCmd *) cmdPtr;

    (void) ioPtr;
    IoServerClose(scPtr->serverPtr);
    ServerCmdDiscard(cmdPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierServerIoStart, CourierServerIoStop --
 *
 *	From the Tcl thread: hand the bound socket to the I/O thread, which
 *	starts listening (or, if it is stopping, closes it and ends the I/O
 *	half); and stop listening. Each command holds a reference to the
 *	listener until it has run or been discarded.
 *
 *----------------------------------------------------------------------
 */

void
CourierServerIoStart(
    Server *serverPtr)
{
    ServerSubmit(serverPtr, ListenRun, ListenDiscard);
}

void
CourierServerIoStop(
    Server *serverPtr)
{
    ServerSubmit(serverPtr, UnlistenRun, ServerCmdDiscard);
}
