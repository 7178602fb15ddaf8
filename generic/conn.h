/*
 * conn.h --
 *
 *	Connections as the rest of Courier sees them: listen.c (listeners,
 *	which create connections for accepted sockets), spawn.c (a child
 *	process's stream is a connection) and courier.c. The inside is in
 *	connInt.h, for conn.c (the Tcl half) and connio.c (the I/O half).
 *
 *	A Conn has two halves with one owner each: the Tcl half (handle
 *	command, callbacks, options) belongs to the interpreter's thread; the
 *	I/O half (libuv handle, framer, write state) to its I/O thread. They
 *	talk through the inbox port (I/O -> Tcl) and I/O commands (Tcl ->
 *	I/O); the only fields both read are the atomic counters. The struct
 *	is freed when the last reference goes: the Tcl half, the I/O half,
 *	the port and every command in flight each hold one.
 */

#ifndef COURIER_CONN_H
#define COURIER_CONN_H

#include "courierInt.h"
#include "io.h"
#include "framing.h"
#include <stdatomic.h>

/* Kinds of the messages a connection's I/O half posts. */
enum {
    CONN_MSG_CONNECTED = 1,	/* "peerHost peerPort localHost localPort" */
    CONN_MSG_DATA,		/* One message. */
    CONN_MSG_BATCH,		/* Several: [u32 length][bytes]... */
    CONN_MSG_EOF,		/* The peer closed its side. */
    CONN_MSG_CLOSED,		/* "kind\0errno\0message": the socket is gone. */
    CONN_MSG_DRAIN,		/* Outbound bytes fell to the low-water mark. */
    CONN_MSG_EXIT		/* A child process: "exitStatus termSignal",
				 * once it has exited and its stream is
				 * closed (spawn.h). */
};

/* Everything a connection can be configured with. */
typedef struct ConnOptions {
    CourierFraming framing;
    CourierEol eol;
    int lengthBytes;
    Tcl_WideInt maxMessage;
    Tcl_WideInt maxPending;
    Tcl_WideInt sendBuffer;
    int nodelay;
    int keepalive;
    int batch;
    Tcl_Encoding encoding;	/* NULL: binary. */
    Tcl_Obj *onconnect, *ondata, *onclose, *onerror, *ondrain;
} ConnOptions;

/* What the I/O half needs of the options, copied to it by commands. */
typedef struct ConnIoConfig {
    CourierFraming framing;
    CourierEol eol;
    int lengthBytes;
    uint64_t maxMessage;
    size_t sendBuffer;
    size_t maxPending;
    int nodelay;
    int keepalive;
    int batch;
} ConnIoConfig;

typedef struct Conn Conn;

MODULE_SCOPE void	CourierConnOptionsInit(ConnOptions *optsPtr);
MODULE_SCOPE void	CourierConnOptionsCopy(ConnOptions *dstPtr,
			    const ConnOptions *srcPtr);
MODULE_SCOPE void	CourierConnOptionsFree(ConnOptions *optsPtr);
MODULE_SCOPE int	CourierConnOptionsParse(Tcl_Interp *interp,
			    ConnOptions *optsPtr, int objc,
			    Tcl_Obj *const objv[], int *unknownPtr);
MODULE_SCOPE int	CourierConnOptionsNext(Tcl_Interp *interp,
			    ConnOptions *optsPtr, int objc,
			    Tcl_Obj *const objv[], int *iPtr,
			    const char *const extra[],
			    const char *const exclude[]);
MODULE_SCOPE int	CourierConnBadOption(Tcl_Interp *interp,
			    const char *name, const char *const extra[],
			    const char *const exclude[]);
MODULE_SCOPE Tcl_Obj *	CourierConnOptionsGet(ConnOptions *optsPtr,
			    const char *name);

/* For listen.c: accepted sockets. */
MODULE_SCOPE Conn *	CourierConnAcceptIo(CourierIoThread *ioPtr,
			    uv_stream_t *serverHandle, char *peerHost,
			    size_t hostSize, int *peerPortPtr);
MODULE_SCOPE Tcl_Obj *	CourierConnAdopt(CourierInterp *cinterpPtr,
			    Conn *connPtr, const ConnOptions *optsPtr);
MODULE_SCOPE void	CourierConnStart(Conn *connPtr);
MODULE_SCOPE void	CourierConnAbortIo(Conn *connPtr);
MODULE_SCOPE void	CourierConnRef(Conn *connPtr);
MODULE_SCOPE void	CourierConnUnref(Conn *connPtr);
MODULE_SCOPE int	CourierGetFamilyFromObj(Tcl_Interp *interp,
			    Tcl_Obj *objPtr, int *familyPtr);
MODULE_SCOPE int	CourierConnIsOpen(Tcl_Interp *interp,
			    const char *name);

/* Address helpers shared with listen.c. */
MODULE_SCOPE void	CourierSockaddrName(const struct sockaddr *sa,
			    char *host, size_t hostSize, int *portPtr);

MODULE_SCOPE Tcl_ObjCmdProc CourierConnectObjCmd;
MODULE_SCOPE Tcl_ObjCmdProc CourierListenObjCmd;

#endif /* COURIER_CONN_H */
