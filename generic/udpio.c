/*
 * udpio.c --
 *
 *	The I/O half of a UDP socket (see udpInt.h): everything here but
 *	the command constructors runs in the socket's I/O thread. Datagrams
 *	received in one loop turn are posted to the handle's inbox port in
 *	one go (IoUdpFlush, from a uv_check handle), as a chain or, with
 *	-batch, packed into one message; when the port is full the socket
 *	stops receiving until the Tcl half resumes it. Sends try
 *	uv_udp_try_send first; a host name is looked up on the resolver
 *	threads (resolver.c) and the datagram sent when the answer comes
 *	back. Errors are posted for -onerror; the socket stays open.
 */

#include "udpInt.h"
#include "resolver.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <assert.h>
#include <netdb.h>
#include <sys/socket.h>
#include <arpa/inet.h>

/*
 * libuv reads up to 20 datagrams per system call (recvmmsg) when asked to
 * (uv_udp_init_ex with UV_UDP_RECVMMSG; 1.40 and later, which end each
 * call's datagrams with a UV_UDP_MMSG_FREE callback; where the system has
 * no recvmmsg it reads one at a time as before).
 */
#if UV_VERSION_HEX >= 0x012800
#define UDP_USE_MMSG 1
#define UDP_FLAG_CHUNK UV_UDP_MMSG_CHUNK
#define UDP_FLAG_FREE UV_UDP_MMSG_FREE
#else
#define UDP_USE_MMSG 0
#define UDP_FLAG_CHUNK 0
#define UDP_FLAG_FREE 0
#endif

static void	IoUdpFlush(uv_check_t *handle);

/*
 * CourierUdpUnref --
 *	Drops a reference (Tcl half, I/O half, port, each command); the
 *	last one frees the socket's struct.
 */

void
CourierUdpUnref(
    Udp *udpPtr)
{
    if (atomic_fetch_sub(&udpPtr->refCount, 1) == 1) {
	free(udpPtr->batchBuf);
	free(udpPtr);
    }
}

/*
 * CourierUdpCmdNew --
 *	A command for the I/O half: op is UDP_OP_OPEN (CourierUdpIoOpen) or one
 *	of CourierUdpIoRun's.
 */

UdpCmd *
CourierUdpCmdNew(
    Udp *udpPtr,
    int op)
{
    UdpCmd *ucPtr = CourierIoCmdNew(sizeof(UdpCmd),
	    op == UDP_OP_OPEN ? CourierUdpIoOpen : CourierUdpIoRun,
	    op == UDP_OP_OPEN ? CourierUdpIoOpenDiscard : CourierUdpCmdDiscard);

    ucPtr->op = op;
    ucPtr->udpPtr = udpPtr;
    atomic_fetch_add(&udpPtr->refCount, 1);
    return ucPtr;
}

/*
 * CourierUdpCmdDone --
 *	Frees a command; tells a waiting caller its result first.
 */

void
CourierUdpCmdDone(
    UdpCmd *ucPtr,
    int result)
{
    if (ucPtr->donePtr != NULL) {
	*ucPtr->resultPtr = result;
	uv_sem_post(ucPtr->donePtr);
    }
    CourierUdpUnref(ucPtr->udpPtr);
    free(ucPtr);
}

void
CourierUdpCmdDiscard(
    CourierIoCmd *cmdPtr)
{
    CourierUdpCmdDone((UdpCmd *) cmdPtr, UV_ECANCELED);
}

/*
 * IoPostError --
 *	Posts "ERRNAME\0message" for -onerror.
 */

static void
IoPostError(
    Udp *udpPtr,
    int err,
    const char *text)
{
    const char *name = uv_err_name(err);
    size_t nameLen = strlen(name), textLen = strlen(text);
    CourierMsg *msgPtr = CourierMsgAlloc(nameLen + 1 + textLen);

    msgPtr->kind = UDP_MSG_ERROR;
    memcpy(msgPtr->data, name, nameLen + 1);
    memcpy(msgPtr->data + nameLen + 1, text, textLen);
    if (udpPtr->ioPort != NULL) {
	CourierPortPost(udpPtr->ioPort, msgPtr);
    } else {
	CourierMsgFree(msgPtr);
    }
}

static void
IoUdpClosed(
    uv_handle_t *handle)
{
    Udp *udpPtr = handle->data;

    assert(udpPtr->ioHandles > 0);
    if (--udpPtr->ioHandles > 0) {
	return;
    }
    CourierMsgFreeChain(udpPtr->pendHead);
    udpPtr->pendHead = udpPtr->pendTail = NULL;
    if (udpPtr->ioPort != NULL) {
	CourierPortRelease(udpPtr->ioPort);
	udpPtr->ioPort = NULL;
    }
    CourierUdpUnref(udpPtr);			/* The I/O half's. */
}

/*
 * IoUdpClose --
 *	Closes the socket and the flush handle; the last close callback
 *	ends the I/O half. Safe to call twice.
 */

static void
IoUdpClose(
    Udp *udpPtr)
{
    if (udpPtr->ioClosed) {
	return;
    }
    udpPtr->ioClosed = 1;
    uv_close((uv_handle_t *) &udpPtr->udp, IoUdpClosed);
    uv_close((uv_handle_t *) &udpPtr->flush, IoUdpClosed);
}

void
CourierUdpIoAbort(
    CourierIoObject *objPtr)
{
    IoUdpClose((Udp *) objPtr);
}

/*
 * IoUdpPeer --
 *	The sender of a datagram in the form that crosses threads.
 */

static void
IoUdpPeer(
    const struct sockaddr *addr,
    UdpPeer *peerPtr)
{
    memset(peerPtr, 0, sizeof(*peerPtr));
    if (addr->sa_family == AF_INET6) {
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *) addr;

	peerPtr->family = AF_INET6;
	peerPtr->port = ntohs(a6->sin6_port);
	memcpy(peerPtr->addr, &a6->sin6_addr, 16);
    } else {
	const struct sockaddr_in *a4 = (const struct sockaddr_in *) addr;

	peerPtr->family = AF_INET;
	peerPtr->port = ntohs(a4->sin_port);
	memcpy(peerPtr->addr, &a4->sin_addr, 4);
    }
}

/*
 * IoUdpAlloc --
 *	The buffer of a read: with recvmmsg (UDP_USE_MMSG), the thread's
 *	datagram buffer, which libuv cuts into 64 KiB chunks, one per
 *	datagram, so that one system call reads up to
 *	COURIER_IO_DATAGRAM_CHUNKS of them; else the thread's read buffer,
 *	cut to -maxdatagram so that the kernel flags a larger datagram.
 */

static void
IoUdpAlloc(
    uv_handle_t *handle,
    size_t suggested,
    uv_buf_t *bufPtr)
{
    Udp *udpPtr = handle->data;
    size_t size;

    (void) suggested;
#if UDP_USE_MMSG
    if (uv_udp_using_recvmmsg(&udpPtr->udp)) {
	assert(udpPtr->chunkCount == 0);	/* The last call's are copied. */
	bufPtr->base = (char *) CourierIoDatagramBuffer(udpPtr->ioPtr, &size);
	bufPtr->len = size;
	return;
    }
#endif
    bufPtr->base = (char *) CourierIoReadBuffer(udpPtr->ioPtr, &size);
    bufPtr->len = size < udpPtr->ioMaxDatagram ? size
	    : udpPtr->ioMaxDatagram;
}

/*
 * IoUdpPend --
 *	Appends a chain of datagram messages to the turn's pending chain;
 *	the flush handle posts it once the turn's reads are done.
 */

static void
IoUdpPend(
    Udp *udpPtr,
    CourierMsg *headPtr,
    CourierMsg *tailPtr)
{
    COURIER_QUEUE_APPEND_CHAIN(udpPtr->pendHead, udpPtr->pendTail, headPtr,
	    tailPtr, next);
    uv_check_start(&udpPtr->flush, IoUdpFlush);
}

/*
 * IoUdpPendChunks --
 *	The end of a recvmmsg call without -batch: its datagrams, still in
 *	the thread's datagram buffer, become messages in one allocation
 *	(CourierMsgAllocChain), pending like the others.
 */

static void
IoUdpPendChunks(
    Udp *udpPtr)
{
    size_t sizes[COURIER_IO_DATAGRAM_CHUNKS] = {0};
    CourierMsg *headPtr, *msgPtr, *tailPtr = NULL;
    int i, n = udpPtr->chunkCount;

    if (n == 0) {
	return;
    }
    for (i = 0; i < n; i++) {
	sizes[i] = sizeof(UdpPeer) + udpPtr->chunks[i].length;
    }
    headPtr = CourierMsgAllocChain((size_t) n, sizes, 0);
    for (i = 0, msgPtr = headPtr; i < n; i++, msgPtr = msgPtr->next) {
	const UdpChunk *chunkPtr = &udpPtr->chunks[i];

	msgPtr->kind = UDP_MSG_DATAGRAM;
	memcpy(msgPtr->data, &chunkPtr->peer, sizeof(UdpPeer));
	memcpy(msgPtr->data + sizeof(UdpPeer), chunkPtr->data,
		chunkPtr->length);
	tailPtr = msgPtr;
    }
    assert(tailPtr != NULL && tailPtr->next == NULL);
    udpPtr->chunkCount = 0;
    IoUdpPend(udpPtr, headPtr, tailPtr);
}

/*
 * IoUdpRecv --
 *	One datagram (or an error) from libuv: kept in the turn's pending
 *	chain or batch; the flush handle posts it once the turn's reads are
 *	done. A datagram larger than -maxdatagram (flagged by the kernel, or
 *	longer than the limit in a recvmmsg chunk, which holds any datagram)
 *	is counted as truncated and reported, not delivered.
 */

static void
IoUdpRecv(
    uv_udp_t *handle,
    ssize_t nread,
    const uv_buf_t *bufPtr,
    const struct sockaddr *addr,
    unsigned flags)
{
    Udp *udpPtr = handle->data;
    UdpPeer peer;

    if (nread < 0) {
	/* An ICMP error on a connected socket, say: report, go on. */
	IoPostError(udpPtr, (int) nread, uv_strerror((int) nread));
	return;
    }
    if (addr == NULL) {
	if (flags & UDP_FLAG_FREE) {
	    IoUdpPendChunks(udpPtr);	/* A recvmmsg call's last. */
	}
	return;				/* Nothing more to read now. */
    }
    IoUdpPeer(addr, &peer);
    if ((flags & UV_UDP_PARTIAL) || (size_t) nread > udpPtr->ioMaxDatagram) {
	char text[160], host[INET6_ADDRSTRLEN];

	atomic_fetch_add(&udpPtr->truncated, 1);
	inet_ntop(peer.family, peer.addr, host, sizeof(host));
	snprintf(text, sizeof(text), "datagram from %s port %u was larger "
		"than -maxdatagram (%lu bytes): dropped", host,
		(unsigned) peer.port, (unsigned long) udpPtr->ioMaxDatagram);
	IoPostError(udpPtr, UV_EMSGSIZE, text);
	return;
    }
    if (udpPtr->ioBatch) {
	size_t need = udpPtr->batchLen + 4 + sizeof(UdpPeer) + (size_t) nread;
	uint32_t len32 = (uint32_t) nread;

	if (need > udpPtr->batchCap) {
	    size_t cap = udpPtr->batchCap ? udpPtr->batchCap : 64 * 1024;

	    while (cap < need) {
		cap *= 2;
	    }
	    udpPtr->batchBuf = CourierRealloc(udpPtr->batchBuf, cap);
	    udpPtr->batchCap = cap;
	}
	memcpy(udpPtr->batchBuf + udpPtr->batchLen, &len32, 4);
	memcpy(udpPtr->batchBuf + udpPtr->batchLen + 4, &peer, sizeof(peer));
	memcpy(udpPtr->batchBuf + udpPtr->batchLen + 4 + sizeof(peer),
		bufPtr->base, (size_t) nread);
	udpPtr->batchLen = need;
    } else if (flags & UDP_FLAG_CHUNK) {
	/* Copied with the call's other datagrams (IoUdpPendChunks). */
	UdpChunk *chunkPtr = &udpPtr->chunks[udpPtr->chunkCount++];

	assert(udpPtr->chunkCount <= COURIER_IO_DATAGRAM_CHUNKS);
	chunkPtr->data = (const unsigned char *) bufPtr->base;
	chunkPtr->length = (size_t) nread;
	chunkPtr->peer = peer;
	return;
    } else {
	CourierMsg *msgPtr = CourierMsgAlloc(sizeof(peer) + (size_t) nread);

	msgPtr->kind = UDP_MSG_DATAGRAM;
	memcpy(msgPtr->data, &peer, sizeof(peer));
	memcpy(msgPtr->data + sizeof(peer), bufPtr->base, (size_t) nread);
	msgPtr->next = NULL;
	IoUdpPend(udpPtr, msgPtr, msgPtr);
	return;
    }
    uv_check_start(&udpPtr->flush, IoUdpFlush);
}

/*
 * IoUdpUpdateReading --
 *	Receives while neither the user nor the port has paused it.
 */

static void
IoUdpUpdateReading(
    Udp *udpPtr)
{
    int want = !udpPtr->userPaused && !udpPtr->throttled
	    && !udpPtr->ioClosed;

    if (want && !udpPtr->receiving) {
	if (uv_udp_recv_start(&udpPtr->udp, IoUdpAlloc, IoUdpRecv) == 0) {
	    udpPtr->receiving = 1;
	}
    } else if (!want && udpPtr->receiving) {
	uv_udp_recv_stop(&udpPtr->udp);
	udpPtr->receiving = 0;
    }
}

/*
 * IoUdpFlush --
 *	The check handle, after the loop turn's reads: posts what they
 *	received in one go; stops receiving if the port is full.
 */

static void
IoUdpFlush(
    uv_check_t *handle)
{
    Udp *udpPtr = handle->data;
    int result = COURIER_POST_OK;

    uv_check_stop(handle);
    if (udpPtr->pendHead != NULL) {
	CourierMsg *headPtr = udpPtr->pendHead;

	udpPtr->pendHead = udpPtr->pendTail = NULL;
	result = CourierPortPostChain(udpPtr->ioPort, headPtr);
    }
    if (udpPtr->batchLen > 0 && result != COURIER_POST_CLOSED) {
	CourierMsg *msgPtr = CourierMsgAlloc(udpPtr->batchLen);

	msgPtr->kind = UDP_MSG_BATCH;
	memcpy(msgPtr->data, udpPtr->batchBuf, udpPtr->batchLen);
	result = CourierPortPost(udpPtr->ioPort, msgPtr);
    }
    udpPtr->batchLen = 0;
    if (udpPtr->batchCap > 1024 * 1024) {
	/* A burst is over: do not keep its buffer. */
	free(udpPtr->batchBuf);
	udpPtr->batchBuf = NULL;
	udpPtr->batchCap = 0;
    }
    CourierIoPosted(udpPtr->ioPtr);
    if (result == COURIER_POST_FULL) {
	udpPtr->throttled = 1;
	IoUdpUpdateReading(udpPtr);
    } else if (result == COURIER_POST_CLOSED) {
	IoUdpClose(udpPtr);
    }
}

/*
 * IoUdpApply --
 *	Sets the socket options the I/O half is told (UDP_OP_CONFIGURE and
 *	at open). A failure is reported through -onerror.
 */

static void
IoUdpApply(
    Udp *udpPtr,
    const UdpCmd *ucPtr)
{
    const UdpOptions *o = &ucPtr->io;
    int err;

    udpPtr->ioBatch = o->batch;
    udpPtr->ioMaxDatagram = (size_t) o->maxDatagram;
    if (o->recvBuffer > 0) {
	int value = o->recvBuffer;

	if ((err = uv_recv_buffer_size((uv_handle_t *) &udpPtr->udp,
		&value)) != 0) {
	    IoPostError(udpPtr, err, "cannot set -recvbuffer");
	}
    }
    if ((err = uv_udp_set_broadcast(&udpPtr->udp, o->broadcast)) != 0) {
	IoPostError(udpPtr, err, "cannot set -broadcast");
    }
    if ((err = uv_udp_set_ttl(&udpPtr->udp, o->ttl)) != 0) {
	IoPostError(udpPtr, err, "cannot set -ttl");
    }
    if ((err = uv_udp_set_multicast_loop(&udpPtr->udp,
	    o->multicastLoop)) != 0) {
	IoPostError(udpPtr, err, "cannot set -multicastloop");
    }
    if ((err = uv_udp_set_multicast_ttl(&udpPtr->udp,
	    o->multicastTtl)) != 0) {
	IoPostError(udpPtr, err, "cannot set -multicastttl");
    }
    if (ucPtr->ifaddr[0] != '\0' && (err = uv_udp_set_multicast_interface(
	    &udpPtr->udp, ucPtr->ifaddr)) != 0) {
	IoPostError(udpPtr, err, "cannot set -multicastif");
    }
}

void
CourierUdpIoOpen(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    UdpCmd *ucPtr = (UdpCmd *) cmdPtr;
    Udp *udpPtr = ucPtr->udpPtr;
    int err;

#if UDP_USE_MMSG
    uv_udp_init_ex(CourierIoLoop(ioPtr), &udpPtr->udp,
	    AF_UNSPEC | UV_UDP_RECVMMSG);
#else
    uv_udp_init(CourierIoLoop(ioPtr), &udpPtr->udp);
#endif
    udpPtr->udp.data = udpPtr;
    uv_check_init(CourierIoLoop(ioPtr), &udpPtr->flush);
    udpPtr->flush.data = udpPtr;
    udpPtr->ioHandles = 2;
    err = uv_udp_open(&udpPtr->udp, udpPtr->fd);
    if (err != 0) {
	close(udpPtr->fd);
	IoPostError(udpPtr, err, uv_strerror(err));
	IoUdpClose(udpPtr);
    } else {
	IoUdpApply(udpPtr, ucPtr);
	IoUdpUpdateReading(udpPtr);
    }
    CourierUdpCmdDone(ucPtr, err);
}

/*
 * CourierUdpIoOpenDiscard --
 *	The I/O thread stopped before the socket was opened: the I/O half
 *	ends here.
 */

void
CourierUdpIoOpenDiscard(
    CourierIoCmd *cmdPtr)
{
    UdpCmd *ucPtr = (UdpCmd *) cmdPtr;
    Udp *udpPtr = ucPtr->udpPtr;

    close(udpPtr->fd);
    CourierPortRelease(udpPtr->ioPort);
    udpPtr->ioPort = NULL;
    CourierUdpUnref(udpPtr);			/* The I/O half's. */
    CourierUdpCmdDone(ucPtr, UV_ECANCELED);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierUdpIoRun --
 *
 *	Every command of the Tcl half but open and send, by its op:
 *	  UDP_OP_CLOSE		close the socket;
 *	  UDP_OP_CONFIGURE	apply the options the command carries;
 *	  UDP_OP_PAUSE		flag 1 pause, 0 resume ($u pause/resume),
 *				2 the port has room again;
 *	  UDP_OP_MEMBERSHIP	join (flag UV_JOIN_GROUP) or leave a group on
 *				ifaddr ("" for the kernel's choice);
 *	  UDP_OP_CONNECT	fix the peer (addr).
 *	A socket already closed does nothing (join and connect: UV_EBADF).
 *
 *----------------------------------------------------------------------
 */

void
CourierUdpIoRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    UdpCmd *ucPtr = (UdpCmd *) cmdPtr;
    Udp *udpPtr = ucPtr->udpPtr;
    const struct sockaddr *addr = (const struct sockaddr *) &ucPtr->addr;
    int err = 0;

    (void) ioPtr;
    if (udpPtr->ioClosed) {
	CourierUdpCmdDone(ucPtr, ucPtr->op == UDP_OP_MEMBERSHIP
		|| ucPtr->op == UDP_OP_CONNECT ? UV_EBADF : 0);
	return;
    }
    switch (ucPtr->op) {
    case UDP_OP_CLOSE:
	IoUdpClose(udpPtr);
	break;
    case UDP_OP_CONFIGURE:
	IoUdpApply(udpPtr, ucPtr);
	break;
    case UDP_OP_PAUSE:
	if (ucPtr->flag == 2) {
	    udpPtr->throttled = 0;
	} else {
	    udpPtr->userPaused = ucPtr->flag;
	}
	IoUdpUpdateReading(udpPtr);
	break;
    case UDP_OP_MEMBERSHIP:
	err = uv_udp_set_membership(&udpPtr->udp, ucPtr->group,
		ucPtr->ifaddr[0] ? ucPtr->ifaddr : NULL,
		(uv_membership) ucPtr->flag);
	break;
    case UDP_OP_CONNECT:
	err = uv_udp_connect(&udpPtr->udp, addr);
	if (err == UV_EISCONN) {	/* Connected elsewhere: move. */
	    uv_udp_connect(&udpPtr->udp, NULL);
	    err = uv_udp_connect(&udpPtr->udp, addr);
	}
	break;
    }
    CourierUdpCmdDone(ucPtr, err);
}

/*
 * Sending.
 */

static void
UdpSendFree(
    UdpSendCmd *sendPtr)
{
    atomic_fetch_sub(&sendPtr->udpPtr->pendingOut, sendPtr->length);
    CourierUdpUnref(sendPtr->udpPtr);
    free(sendPtr->hostName);
    free(sendPtr);
}

void
CourierUdpIoSendDiscard(
    CourierIoCmd *cmdPtr)
{
    UdpSendFree((UdpSendCmd *) cmdPtr);
}

static void
IoSendFailed(
    UdpSendCmd *sendPtr,
    int err,
    const char *what)
{
    char text[300];

    atomic_fetch_add(&sendPtr->udpPtr->sendErrors, 1);
    snprintf(text, sizeof(text), "cannot send a datagram of %lu bytes%s%s: "
	    "%s", (unsigned long) sendPtr->length, what ? " to " : "",
	    what ? what : "", uv_strerror(err));
    IoPostError(sendPtr->udpPtr, err, text);
}

static void
IoOnSent(
    uv_udp_send_t *req,
    int status)
{
    UdpSendCmd *sendPtr = req->data;

    if (status < 0) {
	IoSendFailed(sendPtr, status, sendPtr->hostName);
    }
    UdpSendFree(sendPtr);
}

/*
 * IoSendNow --
 *	Sends at once when the socket takes it (uv_udp_try_send), else
 *	queues it in libuv; the command is freed when done.
 */

static void
IoSendNow(
    UdpSendCmd *sendPtr)
{
    Udp *udpPtr = sendPtr->udpPtr;
    uv_buf_t buf = uv_buf_init((char *) sendPtr->data,
	    (unsigned) sendPtr->length);
    const struct sockaddr *addr = sendPtr->useAddr
	    ? (const struct sockaddr *) &sendPtr->addr : NULL;
    int n;

    if (udpPtr->ioClosed) {
	UdpSendFree(sendPtr);
	return;
    }
    n = uv_udp_try_send(&udpPtr->udp, &buf, 1, addr);
    if (n >= 0) {
	UdpSendFree(sendPtr);
	return;
    }
    if (n != UV_EAGAIN) {
	IoSendFailed(sendPtr, n, sendPtr->hostName);
	UdpSendFree(sendPtr);
	return;
    }
    sendPtr->req.data = sendPtr;
    n = uv_udp_send(&sendPtr->req, &udpPtr->udp, &buf, 1, addr, IoOnSent);
    if (n < 0) {
	IoSendFailed(sendPtr, n, sendPtr->hostName);
	UdpSendFree(sendPtr);
    }
}

/*
 * IoOnResolved --
 *	The answer to a send's host name: the first address of the
 *	socket's family gets the datagram.
 */

static void
IoOnResolved(
    void *clientData,
    int status,
    struct addrinfo *result)
{
    UdpSendCmd *sendPtr = clientData;
    struct addrinfo *ai;

    if (status == UV_ECANCELED) {
	UdpSendFree(sendPtr);		/* The I/O thread has stopped. */
	return;
    }
    for (ai = status == 0 ? result : NULL; ai != NULL; ai = ai->ai_next) {
	if (ai->ai_family == sendPtr->udpPtr->family) {
	    memcpy(&sendPtr->addr, ai->ai_addr, ai->ai_addrlen);
	    break;
	}
    }
    if (result != NULL) {
	CourierResolveFree(result);
    }
    if (ai == NULL) {
	IoSendFailed(sendPtr, status != 0 ? status : UV_EAI_ADDRFAMILY,
		sendPtr->hostName);
	UdpSendFree(sendPtr);
	return;
    }
    sendPtr->useAddr = 1;
    IoSendNow(sendPtr);
}

void
CourierUdpIoSend(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    UdpSendCmd *sendPtr = (UdpSendCmd *) cmdPtr;

    if (sendPtr->hostName != NULL && !sendPtr->udpPtr->ioClosed) {
	int err = CourierResolve(ioPtr, sendPtr->hostName, sendPtr->service,
		sendPtr->udpPtr->family, IoOnResolved, sendPtr);

	if (err != 0) {
	    IoSendFailed(sendPtr, err, sendPtr->hostName);
	    UdpSendFree(sendPtr);
	}
	return;
    }
    IoSendNow(sendPtr);
}
