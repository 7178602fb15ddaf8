/*
 * listenInt.h --
 *
 *	The inside of a listener, for the two files that make it: listen.c
 *	(courier::listen, the server handle's command and options, the
 *	delivery of accepted connections: the Tcl half, in the
 *	interpreter's thread) and listenio.c (the libuv side: listening,
 *	accepting, the descriptor probe: the I/O half, in the listener's
 *	I/O thread). The halves share the reference count and the accept
 *	error counter (atomics); they talk through commands (Tcl -> I/O)
 *	and the inbox port (I/O -> Tcl).
 */

#ifndef COURIER_LISTENINT_H
#define COURIER_LISTENINT_H

#include "conn.h"
#include "tlsInt.h"
#include <stdatomic.h>
#include <stdint.h>

enum { SERVER_MSG_ACCEPT = 1, SERVER_MSG_ERROR = 2 };

/* Accept errors are posted to Tcl at most once per this many ms. */
#define ACCEPT_ERROR_INTERVAL_MS 1000

/* The payload of an ACCEPT message. */
typedef struct AcceptInfo {
    Conn *connPtr;		/* Holds one reference for the message. */
    int port;
    char host[64];
} AcceptInfo;

typedef struct Server {
    CourierIoObject ioObj;	/* Must be first: the data of its handle. */
    atomic_int refCount;	/* Tcl half, I/O half, port, commands. */
    CourierIoThread *ioPtr;

    /* Tcl half. */
    CourierHandle handle;	/* Its command, name and resource. */
    CourierPort *tclPort;
    ConnOptions opts;		/* Given to every accepted connection. */
    SSL_CTX_t *tlsCtx;		/* -tls 1: the accepted connections'
				 * context (one reference); else NULL. */
    Tcl_Obj *onaccept;
    Tcl_Obj *onAcceptError;	/* NULL: accept errors go to bgerror. */
    Tcl_Obj *clients;		/* Names of the accepted handles. */
    int pruneAt;		/* Drop the closed ones from clients when
				 * it grows this long. */
    int maxClients;
    int port;
    char host[64];
    int backlog;

    /* I/O half. */
    uv_tcp_t tcp;
    CourierPort *ioPort;
    int fd;			/* Until the I/O half takes it. */
    uv_poll_t probe;		/* Readable when a connection waits. */
    int probeFd;		/* A dup of fd; -1 when there is no probe. */
    int listenFd;		/* fd, once the I/O half owns it. */
    int ioHandles;		/* libuv handles not yet closed. */
    int reportedOnce;		/* An accept error was posted ... */
    uint64_t lastReportMs;	/* ... at this loop time. */

    /* Both halves. */
    atomic_int acceptErrors;	/* Accept failures seen, posted or not. */
} Server;

/* listenio.c: the I/O half, as the Tcl half sees it. */
MODULE_SCOPE void	CourierServerUnref(Server *serverPtr);
MODULE_SCOPE void	CourierServerIoStart(Server *serverPtr);
MODULE_SCOPE void	CourierServerIoStop(Server *serverPtr);
MODULE_SCOPE void	CourierServerIoAbort(CourierIoObject *objPtr);

#endif /* COURIER_LISTENINT_H */
