/*
 * udp.c --
 *
 *	Datagram sockets: courier::udp and its handle ($u send, connect,
 *	join, leave, pause, resume, info, configure, cget, port, close).
 *
 *	The socket is made and bound in the Tcl thread (a few system calls,
 *	no name lookup), so that "address in use" and the port picked for
 *	port 0 are known when courier::udp returns. Its I/O thread then owns
 *	it: it receives, and posts the datagrams of one loop turn to the
 *	handle's inbox port as one chain (UdpFlushRecv, from a uv_check
 *	handle), or as one packed message with -batch. Sends are commands: a
 *	numeric address is checked in the Tcl thread, a host name is looked
 *	up on the resolver threads (resolver.c) and the datagram sent when the
 *	answer comes back to the I/O thread.
 *
 *	UDP has no flow control: when the undelivered datagrams pass
 *	-maxpending bytes the I/O thread stops receiving until the port
 *	resumes it, and the kernel drops what its buffer cannot hold.
 *	Courier itself never drops a datagram it has received.
 *
 *	Who owns what: the Tcl half (handle, options, callbacks) belongs to
 *	the interpreter's thread; the uv_udp_t and the pending chain to the
 *	I/O thread; they share only atomic counters. The struct is freed
 *	when the last reference goes (Tcl half, I/O half, port, commands).
 */

#include "courierInt.h"
#include "io.h"
#include "resolver.h"
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <assert.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

/* Kinds of the messages the I/O half posts. */
enum {
    UDP_MSG_DATAGRAM = 1,	/* UdpPeer, then the payload. */
    UDP_MSG_BATCH,		/* [u32 length][UdpPeer][payload]... */
    UDP_MSG_ERROR		/* "ERRNAME\0message". */
};

/* The largest payloads IPv4 and IPv6 (without jumbograms) can carry. */
#define UDP_MAX_PAYLOAD4 65507
#define UDP_MAX_PAYLOAD6 65527

/* A datagram's sender, as it crosses to the Tcl thread (no strings). */
typedef struct UdpPeer {
    uint8_t family;		/* AF_INET or AF_INET6. */
    uint8_t pad;
    uint16_t port;		/* Host order. */
    uint8_t addr[16];		/* 4 or 16 bytes used. */
} UdpPeer;

/* What can be changed with $u configure. */
typedef struct UdpOptions {
    int broadcast;
    int ttl;
    int multicastLoop;
    int multicastTtl;
    Tcl_Obj *multicastIf;	/* NULL: the kernel's choice. */
    int recvBuffer;		/* SO_RCVBUF; 0: the kernel's default. */
    int maxDatagram;		/* Larger ones count as truncated. */
    Tcl_WideInt maxPending;
    int batch;
    Tcl_Encoding encoding;	/* NULL: binary. */
    Tcl_Obj *ondata, *onerror;
} UdpOptions;

/* What is given once, to courier::udp. */
typedef struct UdpCreateOptions {
    int port;
    Tcl_Obj *host;		/* NULL: 127.0.0.1. */
    int family;			/* An index into familyNames. */
    int reuseAddr;
} UdpCreateOptions;

typedef struct Udp {
    CourierIoObject ioObj;	/* Must be first: the data of its handle. */
    atomic_int refCount;	/* Tcl half, I/O half, port, commands. */
    CourierIoThread *ioPtr;

    /* Tcl half. */
    CourierHandle handle;	/* Its command, name and resource. */
    CourierPort *tclPort;
    UdpOptions opts;
    int family;			/* AF_INET or AF_INET6. */
    int port;
    char host[64];
    unsigned long inode;	/* The socket's, for its kernel counters. */
    int connected;		/* $u connect was called. */
    Tcl_Obj *peerObj;		/* {host port} after connect, or NULL. */
    Tcl_Obj *lastHostObj;	/* The last sender's host, cached ... */
    UdpPeer lastPeer;		/* ... for this address. */
    uint64_t datagramsIn, bytesIn, datagramsOut, bytesOut;

    /* I/O half. */
    uv_udp_t udp;
    uv_check_t flush;		/* Posts what one loop turn received. */
    CourierPort *ioPort;
    int fd;			/* Until the I/O half takes it. */
    int ioHandles;		/* libuv handles not yet closed. */
    int receiving;		/* uv_udp_recv_start is in force. */
    int throttled;		/* The port said FULL. */
    int userPaused;		/* $u pause. */
    int ioClosed;
    int ioBatch;		/* -batch, as the I/O half knows it. */
    size_t ioMaxDatagram;	/* -maxdatagram, likewise. */
    CourierMsg *pendHead, *pendTail;	/* Received, not yet posted. */
    unsigned char *batchBuf;	/* -batch: the packed datagrams ... */
    size_t batchLen, batchCap;	/* ... of this loop turn. */

    /* Both halves. */
    atomic_uint_fast64_t truncated;	/* Datagrams cut by the kernel. */
    atomic_uint_fast64_t sendErrors;
    atomic_size_t pendingOut;		/* Bytes sent, not yet written. */
} Udp;

#define HANDLE_TO_UDP(handlePtr) \
    ((Udp *) ((char *) (handlePtr) - offsetof(Udp, handle)))

static const char udpKind[] = "udp";

static const char *const familyNames[] = {"any", "inet", "inet6", NULL};
enum { FAMILY_ANY, FAMILY_INET, FAMILY_INET6 };

static void	IoUdpFlush(uv_check_t *handle);

static void
UdpUnref(
    Udp *udpPtr)
{
    if (atomic_fetch_sub(&udpPtr->refCount, 1) == 1) {
	free(udpPtr->batchBuf);
	free(udpPtr);
    }
}

/*
 *======================================================================
 * I/O half.
 *======================================================================
 */

/* A command to the I/O half. */
/* The operations of UdpCmdRun. */
enum {
    UDP_OP_OPEN, UDP_OP_CLOSE, UDP_OP_CONFIGURE, UDP_OP_PAUSE,
    UDP_OP_MEMBERSHIP, UDP_OP_CONNECT
};

typedef struct UdpCmd {
    CourierIoCmd header;
    Udp *udpPtr;
    int op;			/* UDP_OP_*: what UdpCmdRun does. */
    int flag;			/* What the operation is told. */
    UdpOptions io;		/* Options, for UDP_OP_CONFIGURE (no Tcl
				 * values are read: only the numbers). */
    char ifaddr[64];		/* -multicastif, "" for none. */
    /* For commands whose caller waits for the answer (join, connect). */
    uv_sem_t *donePtr;
    int *resultPtr;
    char group[64];
    struct sockaddr_storage addr;
} UdpCmd;

/* A datagram to send: the command, then the bytes. */
typedef struct UdpSendCmd {
    CourierIoCmd header;
    Udp *udpPtr;
    uv_udp_send_t req;
    struct sockaddr_storage addr;
    int useAddr;		/* 0: the connected peer. */
    char *hostName;		/* A name to look up first, or NULL. */
    char service[8];
    size_t length;
    unsigned char data[];
} UdpSendCmd;

static void	UdpCmdRun(CourierIoThread *ioPtr, CourierIoCmd *cmdPtr);
static void	UdpOpenRun(CourierIoThread *ioPtr, CourierIoCmd *cmdPtr);
static void	UdpOpenDiscard(CourierIoCmd *cmdPtr);
static void	UdpCmdDiscard(CourierIoCmd *cmdPtr);

/*
 * UdpCmdNew --
 *	A command for the I/O half: op is UDP_OP_OPEN (UdpOpenRun) or one
 *	of UdpCmdRun's.
 */

static UdpCmd *
UdpCmdNew(
    Udp *udpPtr,
    int op)
{
    UdpCmd *ucPtr = calloc(1, sizeof(UdpCmd));

    if (ucPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(UdpCmd));
    }
    ucPtr->op = op;
    ucPtr->header.runProc = op == UDP_OP_OPEN ? UdpOpenRun : UdpCmdRun;
    ucPtr->header.discardProc = op == UDP_OP_OPEN ? UdpOpenDiscard
	    : UdpCmdDiscard;
    ucPtr->udpPtr = udpPtr;
    atomic_fetch_add(&udpPtr->refCount, 1);
    return ucPtr;
}

/*
 * UdpCmdDone --
 *	Frees a command; tells a waiting caller its result first.
 */

static void
UdpCmdDone(
    UdpCmd *ucPtr,
    int result)
{
    if (ucPtr->donePtr != NULL) {
	*ucPtr->resultPtr = result;
	uv_sem_post(ucPtr->donePtr);
    }
    UdpUnref(ucPtr->udpPtr);
    free(ucPtr);
}

static void
UdpCmdDiscard(
    CourierIoCmd *cmdPtr)
{
    UdpCmdDone((UdpCmd *) cmdPtr, UV_ECANCELED);
}

/*
 * UdpSubmitWait --
 *	Tcl thread: submits a command and waits for its result, a system
 *	call's time (the I/O thread never waits for the Tcl thread).
 */

static int
UdpSubmitWait(
    Udp *udpPtr,
    UdpCmd *ucPtr)
{
    uv_sem_t done;
    int result = 0;

    uv_sem_init(&done, 0);
    ucPtr->donePtr = &done;
    ucPtr->resultPtr = &result;
    CourierIoSubmit(udpPtr->ioPtr, &ucPtr->header);
    uv_sem_wait(&done);
    uv_sem_destroy(&done);
    return result;
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
    UdpUnref(udpPtr);			/* The I/O half's. */
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

static void
IoUdpAbort(
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

static void
IoUdpAlloc(
    uv_handle_t *handle,
    size_t suggested,
    uv_buf_t *bufPtr)
{
    Udp *udpPtr = handle->data;
    size_t size;

    (void) suggested;
    bufPtr->base = (char *) CourierIoReadBuffer(udpPtr->ioPtr, &size);
    bufPtr->len = size < udpPtr->ioMaxDatagram ? size
	    : udpPtr->ioMaxDatagram;
}

/*
 * IoUdpRecv --
 *	One datagram (or an error) from libuv: kept in the turn's pending
 *	chain or batch; the flush handle posts it once the turn's reads are
 *	done.
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
	return;				/* Nothing more to read now. */
    }
    IoUdpPeer(addr, &peer);
    if (flags & UV_UDP_PARTIAL) {
	char text[160], host[INET6_ADDRSTRLEN];

	atomic_fetch_add(&udpPtr->truncated, 1);
	inet_ntop(peer.family, peer.addr, host, sizeof(host));
	snprintf(text, sizeof(text), "datagram from %s port %u was larger "
		"than -maxdatagram (%lu bytes): dropped", host,
		(unsigned) peer.port, (unsigned long) bufPtr->len);
	IoPostError(udpPtr, UV_EMSGSIZE, text);
	return;
    }
    if (udpPtr->ioBatch) {
	size_t need = udpPtr->batchLen + 4 + sizeof(UdpPeer) + (size_t) nread;
	uint32_t len32 = (uint32_t) nread;

	if (need > udpPtr->batchCap) {
	    size_t cap = udpPtr->batchCap ? udpPtr->batchCap : 64 * 1024;
	    unsigned char *bigger;

	    while (cap < need) {
		cap *= 2;
	    }
	    bigger = realloc(udpPtr->batchBuf, cap);
	    if (bigger == NULL) {
		CourierPanicOutOfMemory(cap);
	    }
	    udpPtr->batchBuf = bigger;
	    udpPtr->batchCap = cap;
	}
	memcpy(udpPtr->batchBuf + udpPtr->batchLen, &len32, 4);
	memcpy(udpPtr->batchBuf + udpPtr->batchLen + 4, &peer, sizeof(peer));
	memcpy(udpPtr->batchBuf + udpPtr->batchLen + 4 + sizeof(peer),
		bufPtr->base, (size_t) nread);
	udpPtr->batchLen = need;
    } else {
	CourierMsg *msgPtr = CourierMsgAlloc(sizeof(peer) + (size_t) nread);

	msgPtr->kind = UDP_MSG_DATAGRAM;
	memcpy(msgPtr->data, &peer, sizeof(peer));
	memcpy(msgPtr->data + sizeof(peer), bufPtr->base, (size_t) nread);
	msgPtr->next = NULL;
	if (udpPtr->pendTail != NULL) {
	    udpPtr->pendTail->next = msgPtr;
	} else {
	    udpPtr->pendHead = msgPtr;
	}
	udpPtr->pendTail = msgPtr;
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

static void
UdpOpenRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    UdpCmd *ucPtr = (UdpCmd *) cmdPtr;
    Udp *udpPtr = ucPtr->udpPtr;
    int err;

    uv_udp_init(CourierIoLoop(ioPtr), &udpPtr->udp);
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
    UdpCmdDone(ucPtr, err);
}

/*
 * UdpOpenDiscard --
 *	The I/O thread stopped before the socket was opened: the I/O half
 *	ends here.
 */

static void
UdpOpenDiscard(
    CourierIoCmd *cmdPtr)
{
    UdpCmd *ucPtr = (UdpCmd *) cmdPtr;
    Udp *udpPtr = ucPtr->udpPtr;

    close(udpPtr->fd);
    CourierPortRelease(udpPtr->ioPort);
    udpPtr->ioPort = NULL;
    UdpUnref(udpPtr);			/* The I/O half's. */
    UdpCmdDone(ucPtr, UV_ECANCELED);
}

/*
 *----------------------------------------------------------------------
 *
 * UdpCmdRun --
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

static void
UdpCmdRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    UdpCmd *ucPtr = (UdpCmd *) cmdPtr;
    Udp *udpPtr = ucPtr->udpPtr;
    const struct sockaddr *addr = (const struct sockaddr *) &ucPtr->addr;
    int err = 0;

    (void) ioPtr;
    if (udpPtr->ioClosed) {
	UdpCmdDone(ucPtr, ucPtr->op == UDP_OP_MEMBERSHIP
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
    UdpCmdDone(ucPtr, err);
}

/*
 * Sending.
 */

static void
UdpSendFree(
    UdpSendCmd *sendPtr)
{
    atomic_fetch_sub(&sendPtr->udpPtr->pendingOut, sendPtr->length);
    UdpUnref(sendPtr->udpPtr);
    free(sendPtr->hostName);
    free(sendPtr);
}

static void
UdpSendDiscard(
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

static void
UdpSendRun(
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

/*
 *======================================================================
 * Tcl half.
 *======================================================================
 */

/*
 * UdpCallBack --
 *	{*}prefix handle ?arg ...? through CourierCallPrefix (references held
 *	for the call; errors to bgerror). Nothing when the option is unset.
 */

static void
UdpCallBack(
    Udp *udpPtr,
    Tcl_Obj *prefixPtr,
    int objc,
    Tcl_Obj *const args[])
{
    Tcl_Obj *objv[4];
    int i;

    assert(objc < 4);
    objv[0] = udpPtr->handle.nameObj;
    for (i = 0; i < objc; i++) {
	objv[i + 1] = args[i];
    }
    if (prefixPtr == NULL || udpPtr->handle.closed) {
	/* Free what was made for the call. */
	for (i = 1; i <= objc; i++) {
	    Tcl_IncrRefCount(objv[i]);
	    Tcl_DecrRefCount(objv[i]);
	}
	return;
    }
    CourierCallPrefix(udpPtr->handle.interp, prefixPtr, objc + 1, objv);
}

/*
 * PeerHost --
 *	The sender's address as a Tcl value; the last one is kept, since a
 *	burst usually comes from one sender.
 */

static Tcl_Obj *
PeerHost(
    Udp *udpPtr,
    const UdpPeer *peerPtr)
{
    char host[INET6_ADDRSTRLEN];

    if (udpPtr->lastHostObj != NULL && peerPtr->family
	    == udpPtr->lastPeer.family && memcmp(peerPtr->addr,
	    udpPtr->lastPeer.addr, sizeof(peerPtr->addr)) == 0) {
	return udpPtr->lastHostObj;
    }
    inet_ntop(peerPtr->family, peerPtr->addr, host, sizeof(host));
    if (udpPtr->lastHostObj != NULL) {
	Tcl_DecrRefCount(udpPtr->lastHostObj);
    }
    udpPtr->lastHostObj = Tcl_NewStringObj(host, -1);
    Tcl_IncrRefCount(udpPtr->lastHostObj);
    udpPtr->lastPeer = *peerPtr;
    return udpPtr->lastHostObj;
}

static Tcl_Obj *
DecodePayload(
    Udp *udpPtr,
    const unsigned char *bytes,
    size_t length)
{
    if (udpPtr->opts.encoding != NULL) {
	Tcl_DString ds;
	Tcl_Obj *objPtr;

	Tcl_ExternalToUtfDString(udpPtr->opts.encoding,
		(const char *) bytes, (int) length, &ds);
	objPtr = Tcl_NewStringObj(Tcl_DStringValue(&ds),
		Tcl_DStringLength(&ds));
	Tcl_DStringFree(&ds);
	return objPtr;
    }
    return Tcl_NewByteArrayObj(bytes, (int) length);
}

static void
UdpDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Udp *udpPtr = ownerData;
    Tcl_Obj *args[3];
    UdpPeer peer;

    switch (msgPtr->kind) {
    case UDP_MSG_DATAGRAM:
	assert(msgPtr->size >= sizeof(peer));
	memcpy(&peer, msgPtr->data, sizeof(peer));
	udpPtr->datagramsIn++;
	udpPtr->bytesIn += msgPtr->size - sizeof(peer);
	args[0] = DecodePayload(udpPtr, msgPtr->data + sizeof(peer),
		msgPtr->size - sizeof(peer));
	args[1] = PeerHost(udpPtr, &peer);
	args[2] = Tcl_NewIntObj(peer.port);
	UdpCallBack(udpPtr, udpPtr->opts.ondata, 3, args);
	break;
    case UDP_MSG_BATCH: {
	const unsigned char *p = msgPtr->data, *end = p + msgPtr->size;
	Tcl_Obj *listObj = Tcl_NewListObj(0, NULL);

	while (p + 4 + sizeof(peer) <= end) {
	    uint32_t n;
	    Tcl_Obj *triple[3];

	    memcpy(&n, p, 4);
	    memcpy(&peer, p + 4, sizeof(peer));
	    assert(p + 4 + sizeof(peer) + n <= end);
	    triple[0] = DecodePayload(udpPtr, p + 4 + sizeof(peer), n);
	    triple[1] = PeerHost(udpPtr, &peer);
	    triple[2] = Tcl_NewIntObj(peer.port);
	    Tcl_ListObjAppendElement(NULL, listObj,
		    Tcl_NewListObj(3, triple));
	    udpPtr->datagramsIn++;
	    udpPtr->bytesIn += n;
	    p += 4 + sizeof(peer) + n;
	}
	args[0] = listObj;
	UdpCallBack(udpPtr, udpPtr->opts.ondata, 1, args);
	break;
    }
    case UDP_MSG_ERROR: {
	const char *name = (const char *) msgPtr->data;
	size_t nameLen = strlen(name);
	Tcl_Obj *text = Tcl_NewStringObj(name + nameLen + 1,
		(int) (msgPtr->size - nameLen - 1));

	Tcl_IncrRefCount(text);
	if (udpPtr->opts.onerror != NULL) {
	    args[0] = text;
	    args[1] = Tcl_NewStringObj(name, -1);
	    UdpCallBack(udpPtr, udpPtr->opts.onerror, 2, args);
	} else {
	    /* No one would hear of it otherwise: as a fileevent error. */
	    Tcl_SetObjResult(udpPtr->handle.interp, Tcl_ObjPrintf("%s: %s",
		    Tcl_GetString(udpPtr->handle.nameObj), Tcl_GetString(text)));
	    Tcl_SetErrorCode(udpPtr->handle.interp, "COURIER", "UDP", name, NULL);
	    Tcl_BackgroundException(udpPtr->handle.interp, TCL_ERROR);
	}
	Tcl_DecrRefCount(text);
	break;
    }
    }
}

static void
UdpNotify(
    void *producerData,
    int event)
{
    Udp *udpPtr = producerData;

    if (event == COURIER_NOTIFY_RESUME) {
	UdpCmd *ucPtr = UdpCmdNew(udpPtr, UDP_OP_PAUSE);

	ucPtr->flag = 2;
	CourierIoSubmit(udpPtr->ioPtr, &ucPtr->header);
    }
}

static void
UdpPortReleased(
    void *producerData)
{
    UdpUnref(producerData);
}

static const CourierPortType udpPortType = {
    "udp", UdpDeliver, UdpNotify, UdpPortReleased, NULL
};

/*
 * Options.
 */

#define UDP_FIELD(field) offsetof(UdpOptions, field)
#define CREATE_FIELD(field) offsetof(UdpCreateOptions, field)

static const CourierOptSpec udpOptionSpecs[] = {
    {.name = "-batch", .type = COURIER_OPT_BOOLEAN,
	.offset = UDP_FIELD(batch)},
    {.name = "-broadcast", .type = COURIER_OPT_BOOLEAN,
	.offset = UDP_FIELD(broadcast)},
    {.name = "-encoding", .type = COURIER_OPT_ENCODING,
	.offset = UDP_FIELD(encoding)},
    {.name = "-maxdatagram", .type = COURIER_OPT_INT,
	.offset = UDP_FIELD(maxDatagram), .min = 1, .max = 65536},
    {.name = "-maxpending", .type = COURIER_OPT_WIDE,
	.offset = UDP_FIELD(maxPending), .min = 1,
	.max = (Tcl_WideInt) 1 << 40},
    {.name = "-multicastif", .type = COURIER_OPT_STRING,
	.offset = UDP_FIELD(multicastIf)},
    {.name = "-multicastloop", .type = COURIER_OPT_BOOLEAN,
	.offset = UDP_FIELD(multicastLoop)},
    {.name = "-multicastttl", .type = COURIER_OPT_INT,
	.offset = UDP_FIELD(multicastTtl), .min = 0, .max = 255},
    {.name = "-ondata", .type = COURIER_OPT_PREFIX,
	.offset = UDP_FIELD(ondata)},
    {.name = "-onerror", .type = COURIER_OPT_PREFIX,
	.offset = UDP_FIELD(onerror)},
    {.name = "-recvbuffer", .type = COURIER_OPT_INT,
	.offset = UDP_FIELD(recvBuffer), .min = 0, .max = 1 << 30},
    {.name = "-ttl", .type = COURIER_OPT_INT, .offset = UDP_FIELD(ttl),
	.min = 1, .max = 255},
    {.name = NULL}
};

static const CourierOptSpec udpCreateSpecs[] = {
    {.name = "-family", .type = COURIER_OPT_CHOICE,
	.offset = CREATE_FIELD(family), .flags = COURIER_OPT_CREATE_ONLY,
	.choices = familyNames, .noun = "family"},
    {.name = "-host", .type = COURIER_OPT_STRING,
	.offset = CREATE_FIELD(host), .flags = COURIER_OPT_CREATE_ONLY},
    {.name = "-port", .type = COURIER_OPT_INT, .offset = CREATE_FIELD(port),
	.flags = COURIER_OPT_CREATE_ONLY, .min = 0, .max = 65535},
    {.name = "-reuseaddr", .type = COURIER_OPT_BOOLEAN,
	.offset = CREATE_FIELD(reuseAddr), .flags = COURIER_OPT_CREATE_ONLY},
    {.name = NULL}
};

/*
 * ParseAddress --
 *	A numeric address (or localhost) and a port as a sockaddr; the
 *	family must be the socket's unless family is AF_UNSPEC.
 *	Returns 1 on success, 0 for not numeric.
 */

static int
ParseAddress(
    const char *host,
    int port,
    int family,
    struct sockaddr_storage *addrPtr)
{
    memset(addrPtr, 0, sizeof(*addrPtr));
    if (strcmp(host, "localhost") == 0) {
	host = family == AF_INET6 ? "::1" : "127.0.0.1";
    }
    if (family != AF_INET6 && uv_ip4_addr(host, port,
	    (struct sockaddr_in *) addrPtr) == 0) {
	return 1;
    }
    if (family != AF_INET && uv_ip6_addr(host, port,
	    (struct sockaddr_in6 *) addrPtr) == 0) {
	return 1;
    }
    return 0;
}

/*
 * BindUdp --
 *	socket, options, bind in the calling thread. Returns the
 *	descriptor, or -1 with an error in interp.
 */

static int
BindUdp(
    Tcl_Interp *interp,
    Udp *udpPtr,
    const UdpCreateOptions *c)
{
    struct sockaddr_storage addr;
    struct stat st;
    socklen_t len;
    const char *host = c->host ? Tcl_GetString(c->host) : NULL;
    int fd, on = 1, family = c->family == FAMILY_INET ? AF_INET
	    : c->family == FAMILY_INET6 ? AF_INET6 : AF_UNSPEC;

    if (host == NULL) {
	host = family == AF_INET6 ? "::1" : "127.0.0.1";
    }
    if (!ParseAddress(host, c->port, family, &addr)) {
	CourierError(interp, "VALUE", "-host",
		"bad value \"%.100s\" for -host: expected a numeric %s "
		"address, or localhost", host, family == AF_INET ? "IPv4"
		: family == AF_INET6 ? "IPv6" : "IPv4 or IPv6");
	return -1;
    }
    family = addr.ss_family;
    len = family == AF_INET ? sizeof(struct sockaddr_in)
	    : sizeof(struct sockaddr_in6);
    fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
	CourierError(interp, "POSIX", Tcl_ErrnoId(),
		"cannot create a socket: %s", Tcl_ErrnoMsg(errno));
	return -1;
    }
    if (c->reuseAddr) {
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    }
    if (family == AF_INET6) {
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }
    if (bind(fd, (struct sockaddr *) &addr, len) < 0) {
	int err = errno;

	close(fd);
	CourierError(interp, "POSIX", Tcl_ErrnoId(),
		"cannot bind a UDP socket to %s port %d: %s", host, c->port,
		Tcl_ErrnoMsg(err));
	return -1;
    }
    len = sizeof(addr);
    getsockname(fd, (struct sockaddr *) &addr, &len);
    if (fstat(fd, &st) == 0) {
	udpPtr->inode = (unsigned long) st.st_ino;
    }
    udpPtr->family = family;
    udpPtr->port = ntohs(family == AF_INET
	    ? ((struct sockaddr_in *) &addr)->sin_port
	    : ((struct sockaddr_in6 *) &addr)->sin6_port);
    snprintf(udpPtr->host, sizeof(udpPtr->host), "%s", host);
    return fd;
}

/*
 * UdpCmdOptions --
 *	A configure command carrying the options the I/O half applies.
 */

static UdpCmd *
UdpCmdOptions(
    Udp *udpPtr,
    int op)
{
    UdpCmd *ucPtr = UdpCmdNew(udpPtr, op);

    ucPtr->io = udpPtr->opts;
    ucPtr->io.ondata = ucPtr->io.onerror = ucPtr->io.multicastIf = NULL;
    ucPtr->io.encoding = NULL;		/* Only numbers cross. */
    if (udpPtr->opts.multicastIf != NULL) {
	snprintf(ucPtr->ifaddr, sizeof(ucPtr->ifaddr), "%s",
		Tcl_GetString(udpPtr->opts.multicastIf));
    }
    return ucPtr;
}

/*
 * UdpClosed --
 *	The handle is closed (CourierHandleClose): the socket goes, and the
 *	Tcl half with it.
 */

static void
UdpClosed(
    CourierHandle *handlePtr)
{
    Udp *udpPtr = HANDLE_TO_UDP(handlePtr);

    /*
     * Wait (a loop turn) until the I/O thread has closed the socket, so
     * that its port is free when close returns: a script may bind it again
     * at once.
     */

    UdpSubmitWait(udpPtr, UdpCmdNew(udpPtr, UDP_OP_CLOSE));
    CourierPortClose(udpPtr->tclPort);
    udpPtr->tclPort = NULL;
    CourierOptRelease(udpOptionSpecs, &udpPtr->opts);
    if (udpPtr->peerObj != NULL) {
	Tcl_DecrRefCount(udpPtr->peerObj);
	udpPtr->peerObj = NULL;
    }
    if (udpPtr->lastHostObj != NULL) {
	Tcl_DecrRefCount(udpPtr->lastHostObj);
	udpPtr->lastHostObj = NULL;
    }
    UdpUnref(udpPtr);			/* The Tcl half's. */
}

/*
 * UdpSend --
 *	$u send ?host port? data: copies the datagram into a command. The
 *	size is checked here; a numeric address too; a host name is looked
 *	up by the I/O thread on the resolver threads.
 */

static int
UdpSend(
    Udp *udpPtr,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    const unsigned char *bytes;
    int length, useDs = 0;
    Tcl_WideInt port = 0;
    Tcl_DString ds;
    UdpSendCmd *sendPtr;
    size_t max = udpPtr->family == AF_INET6 ? UDP_MAX_PAYLOAD6
	    : UDP_MAX_PAYLOAD4;
    struct sockaddr_storage addr;
    const char *host = NULL;
    int numeric = 0;

    if (objc != 3 && objc != 5) {
	Tcl_WrongNumArgs(interp, 2, objv, "?host port? data");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (objc == 3 && !udpPtr->connected) {
	return CourierError(interp, "USAGE", NULL,
		"%s send: no host and port given, and the socket is not "
		"connected (use \"%s connect host port\" first)",
		Tcl_GetString(udpPtr->handle.nameObj),
		Tcl_GetString(udpPtr->handle.nameObj));
    }
    if (objc == 5) {
	host = Tcl_GetString(objv[2]);
	if (*host == '\0') {
	    return CourierError(interp, "VALUE", "host",
		    "bad host \"\": expected a host name or address");
	}
	if (CourierGetPositiveWide(interp, objv[3], "port", 1, 65535,
		&port) != TCL_OK) {
	    return TCL_ERROR;
	}
	numeric = ParseAddress(host, (int) port, udpPtr->family, &addr);
	if (!numeric && ParseAddress(host, (int) port, AF_UNSPEC, &addr)) {
	    return CourierError(interp, "VALUE", "host",
		    "cannot send to %s from an %s socket", host,
		    udpPtr->family == AF_INET ? "IPv4" : "IPv6");
	}
    }
    if (udpPtr->opts.encoding != NULL) {
	int utfLength;
	const char *utf = Tcl_GetStringFromObj(objv[objc - 1], &utfLength);

	Tcl_UtfToExternalDString(udpPtr->opts.encoding, utf, utfLength, &ds);
	bytes = (const unsigned char *) Tcl_DStringValue(&ds);
	length = Tcl_DStringLength(&ds);
	useDs = 1;
    } else {
	bytes = Tcl_GetByteArrayFromObj(objv[objc - 1], &length);
    }
    if ((size_t) length > max) {
	if (useDs) {
	    Tcl_DStringFree(&ds);
	}
	return CourierError(interp, "VALUE", "data",
		"datagram of %d bytes is too large: an %s datagram carries "
		"at most %lu bytes", length, udpPtr->family == AF_INET6
		? "IPv6" : "IPv4", (unsigned long) max);
    }
    sendPtr = calloc(1, sizeof(UdpSendCmd) + (size_t) length);
    if (sendPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(UdpSendCmd) + (size_t) length);
    }
    sendPtr->header.runProc = UdpSendRun;
    sendPtr->header.discardProc = UdpSendDiscard;
    sendPtr->header.reply = 1;
    sendPtr->udpPtr = udpPtr;
    atomic_fetch_add(&udpPtr->refCount, 1);
    sendPtr->length = (size_t) length;
    memcpy(sendPtr->data, bytes, (size_t) length);
    if (useDs) {
	Tcl_DStringFree(&ds);
    }
    if (objc == 5) {
	if (numeric) {
	    sendPtr->addr = addr;
	    sendPtr->useAddr = 1;
	} else {
	    sendPtr->hostName = strdup(host);
	    snprintf(sendPtr->service, sizeof(sendPtr->service), "%d",
		    (int) port);
	}
    }
    atomic_fetch_add(&udpPtr->pendingOut, sendPtr->length);
    udpPtr->datagramsOut++;
    udpPtr->bytesOut += (uint64_t) length;
    CourierIoSubmit(udpPtr->ioPtr, &sendPtr->header);
    return TCL_OK;
}

/*
 * InterfaceAddress --
 *	A multicast interface given by name or address, as the address
 *	libuv takes: an IPv4 address, or "::%name" for IPv6 (the scope
 *	names the interface). Returns 0, or -1 with an error in interp.
 */

static int
InterfaceAddress(
    Tcl_Interp *interp,
    int family,
    const char *iface,
    char *buf,
    size_t bufSize)
{
    struct sockaddr_storage addr;
    struct ifaddrs *list, *ifa;
    int found = 0;

    if (ParseAddress(iface, 0, family, &addr)) {
	snprintf(buf, bufSize, "%s", iface);
	return 0;
    }
    if (family == AF_INET6) {
	snprintf(buf, bufSize, "::%%%s", iface);
	if (uv_ip6_addr(buf, 0, (struct sockaddr_in6 *) &addr) == 0
		&& ((struct sockaddr_in6 *) &addr)->sin6_scope_id != 0) {
	    return 0;
	}
    } else if (getifaddrs(&list) == 0) {
	for (ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
	    if (ifa->ifa_addr != NULL && ifa->ifa_addr->sa_family == AF_INET
		    && strcmp(ifa->ifa_name, iface) == 0) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)
			ifa->ifa_addr)->sin_addr, buf, (socklen_t) bufSize);
		found = 1;
		break;
	    }
	}
	freeifaddrs(list);
	if (found) {
	    return 0;
	}
    }
    return CourierError(interp, "VALUE", "interface",
	    "bad interface \"%.100s\": expected the address or the name of "
	    "a network interface", iface);
}

/*
 * UdpMembership --
 *	$u join|leave group ?interface?
 */

static int
UdpMembership(
    Udp *udpPtr,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[],
    int join)
{
    struct sockaddr_storage addr;
    const char *group;
    UdpCmd *ucPtr;
    int err, multicast;

    if (objc != 3 && objc != 4) {
	Tcl_WrongNumArgs(interp, 2, objv, "group ?interface?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    group = Tcl_GetString(objv[2]);
    if (!ParseAddress(group, 0, udpPtr->family, &addr)) {
	return CourierError(interp, "VALUE", "group",
		"bad group \"%.100s\": expected a numeric %s multicast "
		"address", group, udpPtr->family == AF_INET ? "IPv4" : "IPv6");
    }
    multicast = addr.ss_family == AF_INET
	    ? IN_MULTICAST(ntohl(((struct sockaddr_in *) &addr)
		    ->sin_addr.s_addr))
	    : IN6_IS_ADDR_MULTICAST(&((struct sockaddr_in6 *) &addr)
		    ->sin6_addr);
    if (!multicast) {
	return CourierError(interp, "VALUE", "group",
		"bad group \"%.100s\": not a multicast address (%s)", group,
		udpPtr->family == AF_INET ? "224.0.0.0/4" : "ff00::/8");
    }
    ucPtr = UdpCmdNew(udpPtr, UDP_OP_MEMBERSHIP);
    ucPtr->flag = join ? UV_JOIN_GROUP : UV_LEAVE_GROUP;
    snprintf(ucPtr->group, sizeof(ucPtr->group), "%s", group);
    if (objc == 4 && InterfaceAddress(interp, udpPtr->family,
	    Tcl_GetString(objv[3]), ucPtr->ifaddr,
	    sizeof(ucPtr->ifaddr)) != TCL_OK) {
	UdpCmdDone(ucPtr, 0);
	return TCL_ERROR;
    }
    err = UdpSubmitWait(udpPtr, ucPtr);
    if (err != 0) {
	return CourierError(interp, "UDP", uv_err_name(err),
		"cannot %s multicast group %s: %s", join ? "join" : "leave",
		group, uv_strerror(err));
    }
    return TCL_OK;
}

/*
 * UdpConnect --
 *	$u connect host port: a fixed peer (numeric address or localhost),
 *	so that "$u send data" needs no address and ICMP errors from that
 *	peer are reported.
 */

static int
UdpConnect(
    Udp *udpPtr,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    UdpCmd *ucPtr;
    Tcl_WideInt port;
    const char *host;
    int err;

    if (objc != 4) {
	Tcl_WrongNumArgs(interp, 2, objv, "host port");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    host = Tcl_GetString(objv[2]);
    if (CourierGetPositiveWide(interp, objv[3], "port", 1, 65535,
	    &port) != TCL_OK) {
	return TCL_ERROR;
    }
    ucPtr = UdpCmdNew(udpPtr, UDP_OP_CONNECT);
    if (!ParseAddress(host, (int) port, udpPtr->family, &ucPtr->addr)) {
	UdpCmdDone(ucPtr, 0);
	return CourierError(interp, "VALUE", "host",
		"bad host \"%.100s\": expected a numeric %s address, or "
		"localhost", host, udpPtr->family == AF_INET ? "IPv4" : "IPv6");
    }
    err = UdpSubmitWait(udpPtr, ucPtr);
    if (err != 0) {
	return CourierError(interp, "UDP", uv_err_name(err),
		"cannot connect to %s port %d: %s", host, (int) port,
		uv_strerror(err));
    }
    udpPtr->connected = 1;
    if (udpPtr->peerObj != NULL) {
	Tcl_DecrRefCount(udpPtr->peerObj);
    }
    udpPtr->peerObj = Tcl_NewListObj(2, &objv[2]);
    Tcl_IncrRefCount(udpPtr->peerObj);
    return TCL_OK;
}

/*
 * KernelDrops --
 *	How many datagrams the kernel dropped for this socket (its receive
 *	buffer was full), from the "drops" column of /proc/net/udp or udp6;
 *	-1 where that cannot be read.
 */

static Tcl_WideInt
KernelDrops(
    Udp *udpPtr)
{
    FILE *f = fopen(udpPtr->family == AF_INET6 ? "/proc/net/udp6"
	    : "/proc/net/udp", "r");
    char line[512];
    Tcl_WideInt drops = -1;

    if (f == NULL || udpPtr->inode == 0) {
	if (f != NULL) {
	    fclose(f);
	}
	return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
	unsigned long inode;
	long long value;
	char *field = line;
	int i;

	/* sl local rem st tx:rx tr:when retr uid timeout inode ref ptr drops */
	for (i = 0; i < 9 && field != NULL; i++) {
	    field += strspn(field, " ");
	    field = strchr(field, ' ');
	}
	if (field == NULL || sscanf(field, "%lu %*s %*s %lld", &inode,
		&value) != 2 || inode != udpPtr->inode) {
	    continue;
	}
	drops = value;
	break;
    }
    fclose(f);
    return drops;
}

static Tcl_Obj *
UdpInfo(
    Udp *udpPtr)
{
    Tcl_Obj *d = Tcl_NewDictObj();

#define PUT(key, value) \
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(key, -1), value)
    PUT("host", Tcl_NewStringObj(udpPtr->host, -1));
    PUT("port", Tcl_NewIntObj(udpPtr->port));
    PUT("family", Tcl_NewStringObj(udpPtr->family == AF_INET ? "inet"
	    : "inet6", -1));
    PUT("peer", udpPtr->peerObj ? udpPtr->peerObj : Tcl_NewObj());
    PUT("datagramsIn", Tcl_NewWideIntObj((Tcl_WideInt) udpPtr->datagramsIn));
    PUT("bytesIn", Tcl_NewWideIntObj((Tcl_WideInt) udpPtr->bytesIn));
    PUT("datagramsOut",
	    Tcl_NewWideIntObj((Tcl_WideInt) udpPtr->datagramsOut));
    PUT("bytesOut", Tcl_NewWideIntObj((Tcl_WideInt) udpPtr->bytesOut));
    PUT("pending", Tcl_NewWideIntObj((Tcl_WideInt)
	    CourierPortPending(udpPtr->tclPort)));
    PUT("pendingOut", Tcl_NewWideIntObj((Tcl_WideInt)
	    atomic_load(&udpPtr->pendingOut)));
    PUT("dropped", Tcl_NewWideIntObj(0));	/* Courier drops none. */
    PUT("kernelDrops", Tcl_NewWideIntObj(KernelDrops(udpPtr)));
    PUT("truncated", Tcl_NewWideIntObj((Tcl_WideInt)
	    atomic_load(&udpPtr->truncated)));
    PUT("sendErrors", Tcl_NewWideIntObj((Tcl_WideInt)
	    atomic_load(&udpPtr->sendErrors)));
#undef PUT
    return d;
}

static int
UdpConfigure(
    Udp *udpPtr,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    UdpOptions copy;
    CourierOptTable table = {udpOptionSpecs, &udpPtr->opts};

    if (objc <= 1) {
	return CourierOptRead(interp, &table, 1, objc, objv,
		COURIER_OPT_CREATE_ONLY);
    }
    copy = udpPtr->opts;
    CourierOptRetain(udpOptionSpecs, &copy);
    table.record = &copy;
    if (CourierOptParse(interp, &table, 1, objc, objv,
	    COURIER_OPT_CREATE_ONLY, NULL) != TCL_OK) {
	CourierOptRelease(udpOptionSpecs, &copy);
	return TCL_ERROR;
    }
    CourierOptRelease(udpOptionSpecs, &udpPtr->opts);
    udpPtr->opts = copy;
    CourierPortSetHighWater(udpPtr->tclPort, (size_t) copy.maxPending);
    CourierIoSubmit(udpPtr->ioPtr,
	    &UdpCmdOptions(udpPtr, UDP_OP_CONFIGURE)->header);
    return TCL_OK;
}

static int
UdpObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const subcommands[] = {
	"cget", "close", "configure", "connect", "info", "join", "leave",
	"pause", "port", "resume", "send", NULL
    };
    enum { UC_CGET, UC_CLOSE, UC_CONFIGURE, UC_CONNECT, UC_INFO, UC_JOIN,
	UC_LEAVE, UC_PAUSE, UC_PORT, UC_RESUME, UC_SEND };
    Udp *udpPtr = HANDLE_TO_UDP(clientData);
    int index;

    if (objc < 2) {
	Tcl_WrongNumArgs(interp, 1, objv, "subcommand ?arg ...?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (Tcl_GetIndexFromObj(interp, objv[1], subcommands, "subcommand", 0,
	    &index) != TCL_OK) {
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if ((index == UC_CLOSE || index == UC_INFO || index == UC_PAUSE
	    || index == UC_PORT || index == UC_RESUME) && objc != 2) {
	Tcl_WrongNumArgs(interp, 2, objv, NULL);
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    switch (index) {
    case UC_SEND:
	return UdpSend(udpPtr, interp, objc, objv);
    case UC_CONNECT:
	return UdpConnect(udpPtr, interp, objc, objv);
    case UC_JOIN:
    case UC_LEAVE:
	return UdpMembership(udpPtr, interp, objc, objv, index == UC_JOIN);
    case UC_PAUSE:
    case UC_RESUME: {
	UdpCmd *ucPtr = UdpCmdNew(udpPtr, UDP_OP_PAUSE);

	ucPtr->flag = (index == UC_PAUSE);
	CourierIoSubmit(udpPtr->ioPtr, &ucPtr->header);
	return TCL_OK;
    }
    case UC_PORT:
	Tcl_SetObjResult(interp, Tcl_NewIntObj(udpPtr->port));
	return TCL_OK;
    case UC_INFO:
	Tcl_SetObjResult(interp, UdpInfo(udpPtr));
	return TCL_OK;
    case UC_CLOSE:
	CourierHandleClose(&udpPtr->handle);
	return TCL_OK;
    case UC_CGET:
	if (objc != 3) {
	    Tcl_WrongNumArgs(interp, 2, objv, "-option");
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	return UdpConfigure(udpPtr, interp, 1, objv + 2);
    case UC_CONFIGURE:
	return UdpConfigure(udpPtr, interp, objc - 2, objv + 2);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierUdpObjCmd --
 *
 *	courier::udp ?-port n? ?-host addr? ?-family any|inet|inet6?
 *		?-reuseaddr bool? ?options?
 *
 * Results:
 *	A handle (::courier::udpN), bound and receiving.
 *
 *----------------------------------------------------------------------
 */

int
CourierUdpObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    CourierInterp *cinterpPtr;
    UdpOptions opts;
    UdpCreateOptions create = {0, NULL, FAMILY_ANY, 0};
    CourierOptTable tables[2] = {
	{udpOptionSpecs, &opts}, {udpCreateSpecs, &create}
    };
    CourierIoThread *ioPtr;
    Udp *udpPtr;
    UdpCmd *ucPtr;
    Tcl_Obj *nameObj;
    int fd;

    (void) clientData;
    memset(&opts, 0, sizeof(opts));
    opts.multicastLoop = 1;
    opts.multicastTtl = 1;
    opts.ttl = 64;
    opts.maxDatagram = 65536;
    opts.maxPending = 1 << 20;
    if (CourierOptParse(interp, tables, 2, objc - 1, objv + 1, 0,
	    NULL) != TCL_OK) {
	goto error;
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	goto error;
    }
    udpPtr = calloc(1, sizeof(Udp));
    if (udpPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(Udp));
    }
    fd = BindUdp(interp, udpPtr, &create);
    if (fd < 0) {
	free(udpPtr);
	goto error;
    }
    ioPtr = CourierIoPick();
    if (ioPtr == NULL) {
	close(fd);
	free(udpPtr);
	CourierError(interp, "THREAD", "CREATE",
		"cannot start an I/O thread");
	goto error;
    }
    atomic_init(&udpPtr->refCount, 3);	/* Tcl, I/O, port. */
    atomic_init(&udpPtr->truncated, 0);
    atomic_init(&udpPtr->sendErrors, 0);
    atomic_init(&udpPtr->pendingOut, 0);
    udpPtr->ioObj.abortProc = IoUdpAbort;
    udpPtr->ioPtr = ioPtr;
    udpPtr->handle.interp = interp;
    udpPtr->opts = opts;
    udpPtr->fd = fd;
    udpPtr->tclPort = CourierPortOpen(cinterpPtr->inboxPtr, &udpPortType,
	    interp, udpPtr, udpPtr, (size_t) opts.maxPending);
    udpPtr->ioPort = udpPtr->tclPort;
    nameObj = CourierHandleCreate(&udpPtr->handle, cinterpPtr, udpKind,
	    UdpObjCmd, UdpClosed);
    ucPtr = UdpCmdOptions(udpPtr, UDP_OP_OPEN);
    CourierIoSubmit(ioPtr, &ucPtr->header);
    CourierOptRelease(udpCreateSpecs, &create);
    Tcl_SetObjResult(interp, nameObj);
    return TCL_OK;

  error:
    CourierOptRelease(udpOptionSpecs, &opts);
    CourierOptRelease(udpCreateSpecs, &create);
    return TCL_ERROR;
}
