/*
 * udpdeliver.c --
 *
 *	Delivery of a UDP socket's messages (see udpInt.h): the datagrams
 *	and errors the I/O half posted to the handle's inbox port become
 *	-ondata and -onerror callbacks (or a background error), payloads
 *	decoded with -encoding and senders turned into host values; a
 *	resumed port restarts receiving. Runs in the interpreter's thread.
 */

#include "udpInt.h"
#include <string.h>
#include <assert.h>
#include <arpa/inet.h>

/*
 * UdpCallBack --
 *	{*}prefix handle ?arg ...? through CourierCallPrefix (references held
 *	for the call; errors to bgerror). Nothing when the option is unset.
 */

static void
UdpCallBack(
    Udp *udpPtr,
    const char *kind,		/* The option, to name a slow callback. */
    Tcl_Obj *prefixPtr,
    int objc,
    Tcl_Obj *const args[])
{
    Tcl_Obj *objv[4];
    int i;

    assert(objc < 4);
    if (udpPtr->handle.closed) {
	/* Free what was made for the call. */
	CourierCallPrefix(udpPtr->handle.interp, kind, NULL, NULL, objc, args);
	return;
    }
    objv[0] = udpPtr->handle.nameObj;
    for (i = 0; i < objc; i++) {
	objv[i + 1] = args[i];
    }
    CourierCallPrefix(udpPtr->handle.interp, kind, udpPtr->handle.nameObj,
	    prefixPtr, objc + 1, objv);
}

/*
 * PeerObjs --
 *	The sender's address and port as Tcl values (borrowed references);
 *	the last ones are kept, since a burst usually comes from one sender.
 */

static void
PeerObjs(
    Udp *udpPtr,
    const UdpPeer *peerPtr,
    Tcl_Obj **hostPtrPtr,
    Tcl_Obj **portPtrPtr)
{
    char host[INET6_ADDRSTRLEN];

    if (udpPtr->lastHostObj == NULL || peerPtr->family
	    != udpPtr->lastPeer.family || memcmp(peerPtr->addr,
	    udpPtr->lastPeer.addr, sizeof(peerPtr->addr)) != 0) {
	inet_ntop(peerPtr->family, peerPtr->addr, host, sizeof(host));
	CourierObjClear(&udpPtr->lastHostObj);
	udpPtr->lastHostObj = Tcl_NewStringObj(host, -1);
	Tcl_IncrRefCount(udpPtr->lastHostObj);
	CourierObjClear(&udpPtr->lastPortObj);
	udpPtr->lastPeer = *peerPtr;
    }
    if (udpPtr->lastPortObj == NULL || peerPtr->port
	    != udpPtr->lastPeer.port) {
	CourierObjClear(&udpPtr->lastPortObj);
	udpPtr->lastPortObj = Tcl_NewIntObj(peerPtr->port);
	Tcl_IncrRefCount(udpPtr->lastPortObj);
	udpPtr->lastPeer.port = peerPtr->port;
    }
    *hostPtrPtr = udpPtr->lastHostObj;
    *portPtrPtr = udpPtr->lastPortObj;
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
	args[0] = CourierDecodeBytes(udpPtr->opts.encoding,
		msgPtr->data + sizeof(peer), msgPtr->size - sizeof(peer));
	PeerObjs(udpPtr, &peer, &args[1], &args[2]);
	UdpCallBack(udpPtr, "-ondata", udpPtr->opts.ondata, 3, args);
	break;
    case UDP_MSG_BATCH: {
	/*
	 * The list is made in one go: its triples are counted first, made
	 * into an array, and the list takes the array.
	 */

	const unsigned char *p = msgPtr->data, *end = p + msgPtr->size;
	Tcl_Obj *fixed[64] = {NULL}, **triples = fixed;
	size_t count = 0, i = 0;

	while (p + 4 + sizeof(peer) <= end) {
	    uint32_t n;

	    memcpy(&n, p, 4);
	    assert(p + 4 + sizeof(peer) + n <= end);
	    p += 4 + sizeof(peer) + n;
	    count++;
	}
	if (count > sizeof(fixed) / sizeof(fixed[0])) {
	    triples = (Tcl_Obj **) ckalloc(count * sizeof(Tcl_Obj *));
	}
	for (p = msgPtr->data; i < count; i++) {
	    uint32_t n;
	    Tcl_Obj *triple[3];

	    memcpy(&n, p, 4);
	    memcpy(&peer, p + 4, sizeof(peer));
	    triple[0] = CourierDecodeBytes(udpPtr->opts.encoding,
		    p + 4 + sizeof(peer), n);
	    PeerObjs(udpPtr, &peer, &triple[1], &triple[2]);
	    triples[i] = Tcl_NewListObj(3, triple);
	    udpPtr->datagramsIn++;
	    udpPtr->bytesIn += n;
	    p += 4 + sizeof(peer) + n;
	}
	args[0] = Tcl_NewListObj((int) count, triples);
	if (triples != fixed) {
	    ckfree((char *) triples);
	}
	UdpCallBack(udpPtr, "-ondata", udpPtr->opts.ondata, 1, args);
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
	    UdpCallBack(udpPtr, "-onerror", udpPtr->opts.onerror, 2, args);
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
	UdpCmd *ucPtr = CourierUdpCmdNew(udpPtr, UDP_OP_PAUSE);

	ucPtr->flag = 2;
	CourierIoSubmit(udpPtr->ioPtr, &ucPtr->header);
    }
}

static void
UdpPortReleased(
    void *producerData)
{
    CourierUdpUnref(producerData);
}

/*
 * courierUdpPortType --
 *	The port type of a UDP socket's inbox port, for courier::udp
 *	(udp.c): delivery, resumption, release.
 */

const CourierPortType courierUdpPortType = {
    "udp", UdpDeliver, UdpNotify, UdpPortReleased, NULL
};
