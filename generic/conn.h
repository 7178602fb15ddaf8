/*
 * conn.h --
 *
 *	Connections as the rest of Courier sees them: listen.c (listeners,
 *	which create connections for accepted sockets), spawn.c (a child
 *	process's stream is a connection) and courier.c. The inside is in
 *	connInt.h, for the files that make a connection (stream.c,
 *	streamread.c, streamwrite.c, tcp.c, process.c, conn.c, deliver.c).
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
#include "option.h"
#include <stdatomic.h>

/* Kinds of the messages a connection's I/O half posts. */
enum {
    CONN_MSG_CONNECTED = 1,	/* "peerHost peerPort localHost localPort" */
    CONN_MSG_DATA,		/* One message. */
    CONN_MSG_BATCH,		/* Several: [u32 length][bytes]... */
    CONN_MSG_EOF,		/* The peer closed its side. */
    CONN_MSG_CLOSED,		/* "kind\0errno\0message": the socket is gone. */
    CONN_MSG_DRAIN,		/* Outbound bytes fell to the low-water mark. */
    CONN_MSG_EXIT,		/* A child process: "exitStatus termSignal",
				 * once it has exited and its stream is
				 * closed (spawn.h). */
    CONN_MSG_TLS,		/* The TLS handshake is done: the fields of
				 * $c tls (tls.c, TlsPostInfo). */
    CONN_MSG_SWITCH		/* $c starttls: the I/O half switched; no
				 * plaintext message follows. */
};

/*
 * How the bytes of a DATA message were framed on the wire (its aux), so
 * that $c starttls can give back exactly what was read after the switch
 * point (ConnRestoreWire, deliver.c). In a BATCH message aux tells it for
 * every frame, and a frame whose length has CONN_BATCH_CRLF set ended
 * with CR LF.
 */

enum {
    CONN_WIRE_RAW = 0,		/* The bytes as read. */
    CONN_WIRE_LF,		/* A line, then LF, */
    CONN_WIRE_CRLF,		/* then CR LF, */
    CONN_WIRE_CR,		/* then CR. */
    CONN_WIRE_LENGTH = 0x10	/* | lengthBytes: a big-endian length
				 * prefix, then the bytes. */
};
#define CONN_BATCH_CRLF 0x80000000u

/*
 * The longest message Courier delivers. Tcl 8.6 sizes are ints: a value
 * of 2^31 bytes or more cannot be made (a negative length reads past the
 * buffer), and Tcl adds a few bytes of its own to what it allocates.
 * Decoding a line through an encoding can triple its size and Tcl's
 * DString doubles its buffer as an int, so an encoded line is held to
 * less: a third of 2^30.
 */

#define COURIER_MAX_MESSAGE	((Tcl_WideInt) 0x7fffffff - 64)
#define COURIER_MAX_ENCODED_LINE ((((Tcl_WideInt) 1 << 30) - 64) / 3)

/*
 * Everything a connection can be configured with; courierConnOptionSpecs
 * (conn.c) describes each field to the option engine.
 */
typedef struct ConnOptions {
    int framing;		/* A CourierFraming. */
    int eol;			/* A CourierEol. */
    int lengthBytes;
    Tcl_WideInt maxMessage;
    Tcl_WideInt maxPending;
    Tcl_WideInt sendBuffer;
    int nodelay;
    int keepalive;
    int batch;
    Tcl_Encoding encoding;	/* NULL: binary. */
    Tcl_Obj *onconnect, *ondata, *onclose, *onerror, *ondrain;

    /* TLS (courierTlsOptionSpecs, conn.c; fixed once the connection or
     * listener is made). */
    int tls;
    Tcl_Obj *cafile, *cadir, *certfile, *keyfile, *servername, *alpn,
	    *ciphers;
    int verify;			/* -1 until set: 1 for a client, 0 for a
				 * listener. */
    int tlsVersion;		/* 12 or 13: the minimum. */
} ConnOptions;

/* What the I/O half needs of the options, copied to it by commands. */
typedef struct ConnIoConfig {
    CourierFraming framing;
    CourierEol eol;
    int lengthBytes;
    uint64_t maxMessage;
    size_t maxPending;
    int nodelay;
    int keepalive;
    int batch;
} ConnIoConfig;

typedef struct Conn Conn;

/* Spec flag: an option that a process's stream does not take. */
#define COURIER_OPT_SOCKET_ONLY 2

MODULE_SCOPE const CourierOptSpec courierConnOptionSpecs[];
MODULE_SCOPE const CourierOptSpec courierTlsOptionSpecs[];
MODULE_SCOPE void	CourierConnOptionsInit(ConnOptions *optsPtr);
MODULE_SCOPE void	CourierConnOptionsCopy(ConnOptions *dstPtr,
			    const ConnOptions *srcPtr);
MODULE_SCOPE void	CourierConnOptionsFree(ConnOptions *optsPtr);
MODULE_SCOPE int	CourierConnOptionsParse(Tcl_Interp *interp,
			    const CourierOptTable *tables, int ntables,
			    int objc, Tcl_Obj *const objv[], int hide);

/* For listen.c and listenio.c: accepted sockets. */
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
MODULE_SCOPE CourierOptParseProc CourierOptParseFamily;
MODULE_SCOPE int	CourierConnIsOpen(Tcl_Interp *interp,
			    const char *name);

/* Address helpers shared with listen.c. */
MODULE_SCOPE void	CourierSockaddrName(const struct sockaddr *sa,
			    char *host, size_t hostSize, int *portPtr);

MODULE_SCOPE Tcl_ObjCmdProc CourierConnectObjCmd;
MODULE_SCOPE void	CourierTcpInit(Tcl_Interp *interp);
MODULE_SCOPE Tcl_ObjCmdProc CourierListenObjCmd;
MODULE_SCOPE void	CourierListenInit(Tcl_Interp *interp);

#endif /* COURIER_CONN_H */
