/*
 * connInt.h --
 *
 *	The inside of a connection, for the files that make it:
 *	  stream.c	the struct's life and the commands to the I/O half;
 *			the byte stream shared by sockets and processes:
 *			posting, failing and closing (I/O thread);
 *	  streamread.c	reading and framing, pause and resume, a new
 *			framing, the STARTTLS switch point (I/O thread);
 *	  streamwrite.c	writes batched into one writev, half-close (I/O
 *			thread);
 *	  tcp.c		courier::connect (Tcl thread); lookup answer,
 *			connect and retries, accepted sockets (I/O thread);
 *	  process.c	a child process's connection: spawn, kill, exit
 *			status (both threads);
 *	  conn.c	the Tcl half: options, the handle and its command;
 *	  deliver.c	the Tcl half: the port's procedures, the callbacks;
 *	  tlsconfig.c, tls.c  TLS on the stream (tlsInt.h).
 *	Other files use conn.h and spawn.h only.
 *
 *	A Conn has two halves with one owner each. The I/O half's fields
 *	are touched only by the connection's I/O thread, the Tcl half's only
 *	by the owner interpreter's thread; the two talk through commands
 *	(Tcl -> I/O, below) and the inbox port (I/O -> Tcl); the only fields
 *	both read are the atomic counters.
 */

#ifndef COURIER_CONNINT_H
#define COURIER_CONNINT_H

#include "conn.h"
#include "spawn.h"
#include "tlsInt.h"
#include <stdatomic.h>

/* States of the I/O half. */
enum {
    IO_NEW, IO_RESOLVING, IO_CONNECTING, IO_OPEN, IO_CLOSING, IO_CLOSED
};

/* States of the Tcl half, as $c info reports them. */
enum {
    TCL_CONNECTING, TCL_OPEN, TCL_CLOSED
};

struct Conn {
    CourierIoObject ioObj;	/* Must be first: the data of its handles. */
    atomic_int refCount;
    CourierIoThread *ioPtr;

    /* Counters written by one side, read by the other. */
    atomic_size_t pendingOut;	/* Sent by Tcl, not yet written. */
    atomic_size_t sendBuffer;	/* -sendbuffer, set by Tcl (creation,
				 * configure), read by the I/O half. */
    atomic_int drainOwed;	/* Set by Tcl when pendingOut is above
				 * sendBuffer (a send took it there, or
				 * configure lowered sendBuffer); taken by
				 * the I/O half when it posts -ondrain. */
    atomic_uint_fast64_t bytesWritten;
    atomic_uint_fast64_t bytesRead;

    /* ---- Tcl half: the owner interpreter's thread only ---- */
    CourierHandle handle;	/* Its command, name and resource; closed
				 * once $c close ran. */
    Tcl_ThreadId owner;
    CourierPort *tclPort;	/* Owner side of the port. */
    ConnOptions opts;
    int tclState;
    int closeNow;		/* The handle's close resets the
				 * connection at once (close -now). */
    int portGiven;		/* The I/O half has the producer side. */
    int asciiCompatible;	/* -encoding maps ASCII to itself. */
    int paused;
    int writeShut;		/* $c shutdown write ran. */
    Tcl_Obj *reasonPtr;		/* Why it closed, once closed. */
    Tcl_Obj *peerPtr, *localPtr;
    uint64_t msgsIn, bytesIn, msgsOut, bytesOut;
    Tcl_Obj *tlsInfo;		/* $c tls: NULL on a plaintext connection. */
    Tcl_Obj *starttlsCmd;	/* $c starttls -command, until it is called. */
    int starttlsPending;	/* $c starttls ran; its handshake has not
				 * ended. */
    int tlsSwitching;		/* $c starttls ran; the I/O half's
				 * CONN_MSG_SWITCH has not come: plaintext
				 * messages go back (tlsRestore), never to
				 * -ondata. */
    unsigned char *tlsRestore;	/* Their bytes as read (malloc'ed), for */
    size_t tlsRestoreLen, tlsRestoreCap;	/* CourierConnIoTlsResume. */
    CourierTlsSetup *tlsSetup;	/* An accepted TLS socket's, until
				 * CourierConnStart hands it over. */

    /* ---- I/O half: the I/O thread only ---- */
    int ioState;
    CourierPort *ioPort;	/* Producer side of the port. */
    union {
	uv_tcp_t tcp;		/* A socket, */
	uv_pipe_t pipe;		/* or a child's stdin and stdout. */
    } stream;
    int streamInit;
    CourierProcess *procPtr;	/* A child process (process.c), or NULL. */
    struct addrinfo *addrs, *nextAddr;
    struct addrinfo numericInfo;	/* A numeric host, no lookup. */
    struct sockaddr_storage numericAddr;
    uv_connect_t connectReq;
    uv_timer_t timer;
    int timerInit;
    uv_shutdown_t shutdownReq;
    int handlesOpen;		/* uv handles not yet closed. */
    ConnIoConfig io;
    CourierFramer framer;
    int framerInit;
    CourierMsg *rawMsg;		/* Raw framing: the message being read into. */
    int reading, flowPaused, userPaused, eof;
    int tlsWaitResume;		/* starttls: not reading until the Tcl half
				 * gives back what followed the switch
				 * point (CourierConnIoTlsResume). */
    unsigned char *tlsHeld;	/* Meanwhile: what the framer held then. */
    size_t tlsHeldLen;
    int shutdownInFlight;
    int closeWhenFlushed;	/* A graceful close waits for writes. */
    int shutdownWhenFlushed;	/* $c shutdown write waits too. */
    int writesInFlight;		/* uv_write requests not yet completed. */
    struct WriteCmd *earlyHead;	/* Sent before the connection opened. */
    struct WriteCmd *earlyTail;
    struct WriteCmd *outHead;	/* Queued for the next uv_write. */
    struct WriteCmd *outTail;
    size_t outCount;
    unsigned costPerByte;	/* What a byte read costs the inbox (>= 1;
				 * 0: not known yet). IoLearnCost. */
    CourierIoCmd flushCmd;	/* Scheduled after the batch (one ref). */
    int flushScheduled;
    int failed;			/* A CLOSED message has been posted. */
    CourierTls *tlsPtr;		/* TLS (tls.c), or NULL: plaintext. */
    CourierTlsSetup *tlsSetupPending;	/* A TLS connect's, until the
				 * socket is connected. */
    char *openedText;		/* TLS: the CONNECTED message's text, posted
				 * after the handshake. */
    char *host;
    char service[16];
    int family;
    char *myaddr;
    int myport;
    unsigned timeoutMs;
};

#define HANDLE_TO_CONN(handlePtr) \
    ((Conn *) ((char *) (handlePtr) - offsetof(Conn, handle)))

/* The stream of a connection, socket or pipe alike. */
#define STREAM(connPtr) ((uv_stream_t *) &(connPtr)->stream)

/*
 * A command for the I/O thread about one connection: holds a reference.
 * Its operation runs in the I/O thread (ConnCmdRun, stream.c), which then
 * frees the command and drops the reference.
 */

typedef struct ConnCmd ConnCmd;
typedef void (ConnIoOp)(Conn *connPtr, ConnCmd *ccPtr);

struct ConnCmd {
    CourierIoCmd header;
    Conn *connPtr;
    ConnIoOp *opProc;
    int flag;
    ConnIoConfig config;
    CourierPort *portPtr;	/* For connect and start: the producer side. */
    CourierTlsSetup *tlsSetup;	/* For connect, start and starttls: TLS to
				 * begin, or NULL. */
    unsigned char *bytes;	/* For a TLS resume: the ciphertext read */
    size_t length;		/* after the switch point (malloc'ed). */
};

/*
 * A send: the bytes and their command, which the I/O half keeps until
 * they are written.
 */

typedef struct WriteCmd {
    CourierIoCmd header;
    Conn *connPtr;
    struct WriteCmd *nextOut;	/* In the early or out list. */
    size_t length;
    unsigned char data[];
} WriteCmd;

/* stream.c: the struct and the commands, any thread. */
MODULE_SCOPE Conn *	CourierConnAlloc(CourierIoThread *ioPtr);
MODULE_SCOPE ConnCmd *	CourierConnCmdNew(Conn *connPtr, ConnIoOp *opProc);
MODULE_SCOPE CourierIoDiscardProc CourierConnCmdDiscard;
MODULE_SCOPE void	CourierConnSubmit(Conn *connPtr, ConnIoOp *opProc);

/* stream.c: what the I/O thread runs for the Tcl half. */
MODULE_SCOPE void	CourierConnIoAbort(CourierIoObject *objPtr);
MODULE_SCOPE ConnIoOp CourierConnIoClose;

/* stream.c: the byte stream, for tcp.c, process.c and streamwrite.c (I/O
 * thread). */
MODULE_SCOPE void	CourierStreamHeedPost(Conn *connPtr, int result);
MODULE_SCOPE void	CourierStreamPost(Conn *connPtr, int kind,
			    const void *bytes, size_t length);
MODULE_SCOPE void	CourierStreamFail(Conn *connPtr, const char *kind,
			    int uvErr, const char *message, int reset);
MODULE_SCOPE void	CourierStreamFinish(Conn *connPtr);
MODULE_SCOPE void	CourierStreamOnHandleClosed(uv_handle_t *handle);
MODULE_SCOPE void	CourierStreamCloseHandles(Conn *connPtr, int reset);
MODULE_SCOPE void	CourierStreamPostOpened(Conn *connPtr);

/* streamread.c: reading and framing (I/O thread). */
MODULE_SCOPE void	CourierStreamIoConfig(Conn *connPtr,
			    const ConnIoConfig *configPtr);
MODULE_SCOPE void	CourierStreamStartReading(Conn *connPtr);
MODULE_SCOPE void	CourierStreamDeliverPlain(Conn *connPtr,
			    const unsigned char *bytes, size_t length);
MODULE_SCOPE ConnIoOp CourierConnIoPause;
MODULE_SCOPE ConnIoOp CourierConnIoConfigure;
MODULE_SCOPE ConnIoOp CourierConnIoStartTls;
MODULE_SCOPE ConnIoOp CourierConnIoTlsResume;

/* streamwrite.c: writes and half-close (I/O thread). */
MODULE_SCOPE CourierIoRunProc CourierConnIoWrite;
MODULE_SCOPE CourierIoDiscardProc CourierConnIoWriteDiscard;
MODULE_SCOPE ConnIoOp CourierConnIoShutdown;
MODULE_SCOPE void	CourierStreamFlushEarly(Conn *connPtr);
MODULE_SCOPE void	CourierStreamFlushNow(Conn *connPtr);
MODULE_SCOPE void	CourierStreamPostDrainIfOwed(Conn *connPtr);
MODULE_SCOPE void	CourierStreamWriteWire(Conn *connPtr);
MODULE_SCOPE void	CourierStreamMaybeFinish(Conn *connPtr);

/* tcp.c: the connect and start commands (I/O thread). */
MODULE_SCOPE ConnIoOp CourierConnIoConnect;
MODULE_SCOPE ConnIoOp CourierConnIoStart;
MODULE_SCOPE void	CourierTcpIoTimeout(Conn *connPtr);

/* process.c: a child's commands (I/O thread) and its Tcl half. */
MODULE_SCOPE ConnIoOp CourierConnIoSpawn;
MODULE_SCOPE CourierIoDiscardProc CourierConnIoSpawnDiscard;
MODULE_SCOPE ConnIoOp CourierConnIoKill;
MODULE_SCOPE void	CourierProcessSubmitKill(Conn *connPtr, int signum);
MODULE_SCOPE void	CourierProcessExited(Conn *connPtr,
			    CourierMsg *msgPtr);
MODULE_SCOPE void	CourierProcessHandleClosed(Conn *connPtr);
MODULE_SCOPE void	CourierProcessInfo(Conn *connPtr, Tcl_Obj *d);
MODULE_SCOPE int	CourierProcessKill(Conn *connPtr, Tcl_Interp *interp,
			    int objc, Tcl_Obj *const objv[]);

/* conn.c: the Tcl half (owner thread). */
MODULE_SCOPE void	CourierConnOptionsToIo(const ConnOptions *o,
			    ConnIoConfig *io);
MODULE_SCOPE Tcl_Obj *	CourierConnTclHalfCreate(CourierInterp *cinterpPtr,
			    Conn *connPtr, const ConnOptions *optsPtr,
			    int state);
MODULE_SCOPE void	CourierConnTclHalfClose(Conn *connPtr, int abort);
MODULE_SCOPE int	CourierConnStartTls(Conn *connPtr, Tcl_Interp *interp,
			    int objc, Tcl_Obj *const objv[]);
MODULE_SCOPE int	CourierConnTlsInfo(Conn *connPtr, Tcl_Interp *interp);

/* deliver.c: the port's procedures and the callbacks (owner thread). */
MODULE_SCOPE const CourierPortType courierConnPortType;
MODULE_SCOPE void	CourierConnCallBack(Conn *connPtr, const char *kind,
			    Tcl_Obj *prefixPtr, int objc,
			    Tcl_Obj *const args[]);
MODULE_SCOPE Tcl_Obj *	CourierConnHandleName(Conn *connPtr);
MODULE_SCOPE int	CourierConnPlainAscii(const unsigned char *bytes,
			    size_t length);
MODULE_SCOPE void	CourierConnTlsResume(Conn *connPtr);

#endif /* COURIER_CONNINT_H */
