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
 *	handle's inbox port (udpio.c). Sends are commands: a numeric
 *	address and the size are checked here, in the Tcl thread; a host
 *	name is looked up by the I/O half.
 *
 *	UDP has no flow control: when the undelivered datagrams pass
 *	-maxpending bytes the I/O thread stops receiving until the port
 *	resumes it, and the kernel drops what its buffer cannot hold.
 *	Courier itself never drops a datagram it has received.
 *
 *	This file is the Tcl half (see udpInt.h) but for the delivery of
 *	datagrams (udpdeliver.c): everything here runs in the interpreter's
 *	thread. The struct is freed when the last reference goes (Tcl half,
 *	I/O half, port, commands).
 */

#include "udpInt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <assert.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>

static const char udpKind[] = "udp";

static const char *const familyNames[] = {"any", "inet", "inet6", NULL};
enum { FAMILY_ANY, FAMILY_INET, FAMILY_INET6 };

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
    struct stat st;
    const char *host = c->host ? Tcl_GetString(c->host) : NULL;
    int fd, family = c->family == FAMILY_INET ? AF_INET
	    : c->family == FAMILY_INET6 ? AF_INET6 : AF_UNSPEC;

    if (host == NULL) {
	host = family == AF_INET6 ? "::1" : "127.0.0.1";
    }
    fd = CourierBindSocket(interp, SOCK_DGRAM, host, c->port, family,
	    COURIER_BIND_V6ONLY | (c->reuseAddr ? COURIER_BIND_REUSEADDR
	    | COURIER_BIND_REUSEPORT : 0), 0, "bind a UDP socket to",
	    &udpPtr->family, &udpPtr->port);
    if (fd >= 0 && fstat(fd, &st) == 0) {
	udpPtr->inode = (unsigned long) st.st_ino;
    }
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
    UdpCmd *ucPtr = CourierUdpCmdNew(udpPtr, op);

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

    UdpSubmitWait(udpPtr, CourierUdpCmdNew(udpPtr, UDP_OP_CLOSE));
    CourierPortClose(udpPtr->tclPort);
    udpPtr->tclPort = NULL;
    CourierOptRelease(udpOptionSpecs, &udpPtr->opts);
    CourierObjClear(&udpPtr->peerObj);
    CourierObjClear(&udpPtr->lastHostObj);
    CourierObjClear(&udpPtr->lastPortObj);
    CourierUdpUnref(udpPtr);			/* The Tcl half's. */
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
	return CourierUsage(interp, 2, objv, "?host port? data");
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
	if (CourierCheckHost(interp, host) != TCL_OK) {
	    return TCL_ERROR;
	}
	if (CourierGetPositiveWide(interp, objv[3], "port", 1, 65535,
		&port) != TCL_OK) {
	    return TCL_ERROR;
	}
	numeric = CourierParseAddress(host, (int) port, udpPtr->family, &addr);
	if (!numeric && CourierParseAddress(host, (int) port, AF_UNSPEC, &addr)) {
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
    sendPtr = CourierIoCmdNew(sizeof(UdpSendCmd) + (size_t) length,
	    CourierUdpIoSend, CourierUdpIoSendDiscard);
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
	    sendPtr->hostName = CourierStrdup(host);
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
	return CourierUsage(interp, 2, objv, "group ?interface?");
    }
    group = Tcl_GetString(objv[2]);
    if (!CourierParseAddress(group, 0, udpPtr->family, &addr)) {
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
    ucPtr = CourierUdpCmdNew(udpPtr, UDP_OP_MEMBERSHIP);
    ucPtr->flag = join ? UV_JOIN_GROUP : UV_LEAVE_GROUP;
    snprintf(ucPtr->group, sizeof(ucPtr->group), "%s", group);
    if (objc == 4 && CourierInterfaceAddress(interp, udpPtr->family,
	    Tcl_GetString(objv[3]), ucPtr->ifaddr,
	    sizeof(ucPtr->ifaddr)) != TCL_OK) {
	CourierUdpCmdDone(ucPtr, 0);
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
	return CourierUsage(interp, 2, objv, "host port");
    }
    host = Tcl_GetString(objv[2]);
    if (CourierGetPositiveWide(interp, objv[3], "port", 1, 65535,
	    &port) != TCL_OK) {
	return TCL_ERROR;
    }
    ucPtr = CourierUdpCmdNew(udpPtr, UDP_OP_CONNECT);
    if (!CourierParseAddress(host, (int) port, udpPtr->family, &ucPtr->addr)) {
	CourierUdpCmdDone(ucPtr, 0);
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
    CourierObjClear(&udpPtr->peerObj);
    udpPtr->peerObj = Tcl_NewListObj(2, &objv[2]);
    Tcl_IncrRefCount(udpPtr->peerObj);
    return TCL_OK;
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
    PUT("kernelDrops", Tcl_NewWideIntObj(CourierKernelDrops(udpPtr->family,
	    udpPtr->inode)));
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

    if (CourierGetSubcommand(interp, objc, objv, 1, subcommands,
	    &index) != TCL_OK) {
	return TCL_ERROR;
    }
    if ((index == UC_CLOSE || index == UC_INFO || index == UC_PAUSE
	    || index == UC_PORT || index == UC_RESUME) && objc != 2) {
	return CourierUsage(interp, 2, objv, NULL);
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
	UdpCmd *ucPtr = CourierUdpCmdNew(udpPtr, UDP_OP_PAUSE);

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
	    return CourierUsage(interp, 2, objv, "-option");
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
    udpPtr = CourierAllocZero(sizeof(Udp));
    fd = BindUdp(interp, udpPtr, &create);
    if (fd < 0) {
	free(udpPtr);
	goto error;
    }
    ioPtr = CourierIoPick(interp);
    if (ioPtr == NULL) {
	close(fd);
	free(udpPtr);
	goto error;
    }
    atomic_init(&udpPtr->refCount, 3);	/* Tcl, I/O, port. */
    atomic_init(&udpPtr->truncated, 0);
    atomic_init(&udpPtr->sendErrors, 0);
    atomic_init(&udpPtr->pendingOut, 0);
    udpPtr->ioObj.abortProc = CourierUdpIoAbort;
    udpPtr->ioPtr = ioPtr;
    udpPtr->handle.interp = interp;
    udpPtr->opts = opts;
    udpPtr->fd = fd;
    udpPtr->tclPort = CourierPortOpen(cinterpPtr->inboxPtr, &courierUdpPortType,
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
