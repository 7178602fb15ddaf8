/*
 * udpInt.h --
 *
 *	The inside of a UDP socket, for the files that make it: udp.c
 *	(courier::udp, the handle command, options) and udpdeliver.c (the
 *	delivery of datagrams and errors to callbacks): the Tcl half, in the
 *	interpreter's thread; and udpio.c (the libuv side: receive, send,
 *	socket options: the I/O half, in the socket's I/O thread). The halves share only the atomic counters;
 *	they talk through commands (Tcl -> I/O) and the inbox port (I/O ->
 *	Tcl).
 */

#ifndef COURIER_UDPINT_H
#define COURIER_UDPINT_H

#include "courierInt.h"
#include "io.h"
#include <stdatomic.h>
#include <stdint.h>
#include <netinet/in.h>

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

/* A datagram of the current recvmmsg call, not yet copied (I/O half). */
typedef struct UdpChunk {
    const unsigned char *data;	/* In the I/O thread's datagram buffer. */
    size_t length;
    UdpPeer peer;
} UdpChunk;

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
    Tcl_Obj *lastHostObj;	/* The last sender's host and port, cached */
    Tcl_Obj *lastPortObj;	/* ... for this address and port ... */
    UdpPeer lastPeer;		/* ... (lastPortObj: NULL when unknown). */
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
    UdpChunk chunks[COURIER_IO_DATAGRAM_CHUNKS];	/* Without -batch: the
				 * datagrams of one recvmmsg call, copied
				 * into one allocation at its end. */
    int chunkCount;
    unsigned char *batchBuf;	/* -batch: the packed datagrams ... */
    size_t batchLen, batchCap;	/* ... of this loop turn. */

    /* Both halves. */
    atomic_uint_fast64_t truncated;	/* Datagrams cut by the kernel. */
    atomic_uint_fast64_t sendErrors;
    atomic_size_t pendingOut;		/* Bytes sent, not yet written. */
} Udp;

#define HANDLE_TO_UDP(handlePtr) \
    ((Udp *) ((char *) (handlePtr) - offsetof(Udp, handle)))

/* The operations of a command to the I/O half (CourierUdpIoRun). */
enum {
    UDP_OP_OPEN, UDP_OP_CLOSE, UDP_OP_CONFIGURE, UDP_OP_PAUSE,
    UDP_OP_MEMBERSHIP, UDP_OP_CONNECT
};

typedef struct UdpCmd {
    CourierIoCmd header;
    Udp *udpPtr;
    int op;			/* UDP_OP_*: what CourierUdpIoRun does. */
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

/* udpio.c: commands and the I/O half. */
MODULE_SCOPE void	CourierUdpUnref(Udp *udpPtr);
MODULE_SCOPE UdpCmd *	CourierUdpCmdNew(Udp *udpPtr, int op);
MODULE_SCOPE void	CourierUdpCmdDone(UdpCmd *ucPtr, int result);
MODULE_SCOPE CourierIoDiscardProc CourierUdpCmdDiscard;
MODULE_SCOPE CourierIoRunProc CourierUdpIoOpen;
MODULE_SCOPE CourierIoDiscardProc CourierUdpIoOpenDiscard;
MODULE_SCOPE CourierIoRunProc CourierUdpIoRun;
MODULE_SCOPE CourierIoRunProc CourierUdpIoSend;
MODULE_SCOPE CourierIoDiscardProc CourierUdpIoSendDiscard;
MODULE_SCOPE void	CourierUdpIoAbort(CourierIoObject *objPtr);

/* udpdeliver.c: the handle's inbox port type (Tcl thread). */
MODULE_SCOPE const CourierPortType courierUdpPortType;

#endif /* COURIER_UDPINT_H */
