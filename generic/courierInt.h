/*
 * courierInt.h --
 *
 *	Declarations shared by Courier's C files. Nothing here is public:
 *	the library exports only Courier_Init and Courier_Unload, the entry
 *	points of Tcl's load and unload.
 */

#ifndef COURIER_INT_H
#define COURIER_INT_H

#include <tcl.h>
#include <uv.h>
#include <stdatomic.h>

#ifndef MODULE_SCOPE
#define MODULE_SCOPE extern __attribute__((__visibility__("hidden")))
#endif

#include "inbox.h"
#include "option.h"

#define COURIER_VERSION PACKAGE_VERSION_STR

/*
 * Doubly linked lists with the head kept by the owner of the list (the
 * resources of an interpreter, the actor registry, the thread registry):
 * the element struct has nextPtr and prevPtr fields, head is the pointer to
 * the first element (NULL when empty). Push adds at the front; unlink takes
 * an element out (doing nothing to a list it is not on) and clears its
 * links. The caller holds whatever lock guards the list. Each argument is
 * evaluated more than once: pass plain variables.
 */

#define COURIER_LIST_PUSH(head, elemPtr) \
    do {								\
	(elemPtr)->prevPtr = NULL;					\
	(elemPtr)->nextPtr = (head);					\
	if ((head) != NULL) {						\
	    (head)->prevPtr = (elemPtr);				\
	}								\
	(head) = (elemPtr);						\
    } while (0)

#define COURIER_LIST_UNLINK(head, elemPtr) \
    do {								\
	if ((elemPtr)->prevPtr != NULL) {				\
	    (elemPtr)->prevPtr->nextPtr = (elemPtr)->nextPtr;		\
	} else if ((head) == (elemPtr)) {				\
	    (head) = (elemPtr)->nextPtr;				\
	}								\
	if ((elemPtr)->nextPtr != NULL) {				\
	    (elemPtr)->nextPtr->prevPtr = (elemPtr)->prevPtr;		\
	}								\
	(elemPtr)->nextPtr = (elemPtr)->prevPtr = NULL;			\
    } while (0)

/*
 * Queues: singly linked lists with a head and a tail pointer kept by their
 * owner, linked through the field named link (NULL at the end). APPEND
 * adds elemPtr at the end; APPEND_CHAIN adds a chain firstPtr...lastPtr
 * already linked, whose last link is NULL. The caller holds whatever lock
 * guards the queue. Arguments are evaluated more than once.
 */

#define COURIER_QUEUE_APPEND_CHAIN(head, tail, firstPtr, lastPtr, link) \
    do {								\
	if ((tail) != NULL) {						\
	    (tail)->link = (firstPtr);					\
	} else {							\
	    (head) = (firstPtr);					\
	}								\
	(tail) = (lastPtr);						\
    } while (0)

#define COURIER_QUEUE_APPEND(head, tail, elemPtr, link) \
    COURIER_QUEUE_APPEND_CHAIN(head, tail, elemPtr, elemPtr, link)

/*
 * A resource is anything an interpreter owns that must be shut down when
 * the interpreter is deleted or its thread exits: connections (TCP and
 * child processes), servers, actors and actor clients, pending lookups,
 * test floods. Each kind embeds one as its first member and says how to
 * close it.
 */

typedef struct CourierResource CourierResource;
typedef struct CourierInterp CourierInterp;

struct CourierResource {
    CourierResource *nextPtr;
    CourierResource *prevPtr;
    CourierInterp *ownerPtr;
    const char *kind;		/* "conn", "flood", ...: also the name's
				 * prefix. */
    char name[32];		/* kind + a number, unique in the interp. */
    void (*closeProc)(CourierResource *resPtr);	/* Must call
						 * CourierResourceForget. */
};

/*
 * courier.c: the process-wide settings of courier::configure, shared by
 * every thread: set by the command in any interpreter's thread, read
 * (CourierSetting) wherever they take effect.
 */

enum {
    COURIER_SETTING_BUDGET,	/* -budget: a drain slice's time, in µs
				 * (drain.c). */
    COURIER_SETTING_INBOXSPIN,	/* -inboxspin: the longest spin of a Tcl
				 * thread for its next message, in µs;
				 * 0: never (drain.c). */
    COURIER_SETTING_IOSPIN,	/* -iospin: the longest spin of an I/O
				 * thread for a reply, in µs; 0: never
				 * (io.c). */
    COURIER_SETTING_SLOWCALLBACK,	/* -slowcallback: callbacks longer
				 * than this many ms are reported; 0: off
				 * (callback.c). */
    COURIER_SETTINGS
};

MODULE_SCOPE atomic_long courierSettings[COURIER_SETTINGS];

#define CourierSetting(id) \
    atomic_load_explicit(&courierSettings[(id)], memory_order_relaxed)

/* Per-interpreter state: the assoc data "courier". */
struct CourierInterp {
    Tcl_Interp *interp;
    CourierInbox *inboxPtr;	/* The thread's inbox. */
    CourierResource *resources;	/* Open resources, newest first. */
    CourierInterp *nextPtr;	/* Next interp of the same thread. */
    int detached;		/* The thread exit handler has closed
				 * everything: only free on deletion. */
    unsigned long nextId;	/* Counter for handle names. */
    Tcl_Obj *onSlow;		/* courier::configure -onslow, or NULL. */
};

/* The assoc data key of an interpreter's CourierInterp (courier.c). */
#define COURIER_ASSOC_KEY "courier"

MODULE_SCOPE CourierInterp *CourierGetInterp(Tcl_Interp *interp);

/* util.c: the resources of an interpreter. */
MODULE_SCOPE void	CourierResourceAdd(CourierInterp *ownerPtr,
			    CourierResource *resPtr, const char *kind,
			    void (*closeProc)(CourierResource *));
MODULE_SCOPE CourierResource *CourierResourceFind(CourierInterp *ownerPtr,
			    const char *kind, const char *name);
MODULE_SCOPE void	CourierResourceForget(CourierResource *resPtr);

/*
 * A handle (handle.c): the command that names an object in its owner
 * interpreter. Embedded in the object; its resource must come first.
 */

typedef struct CourierHandle CourierHandle;
typedef void (CourierHandleCloseProc)(CourierHandle *handlePtr);

struct CourierHandle {
    CourierResource resource;	/* Must be first. */
    Tcl_Interp *interp;
    Tcl_Command token;		/* NULL once the command is gone. */
    Tcl_Obj *nameObj;		/* Its current, fully qualified name. */
    int closed;
    CourierHandleCloseProc *closeProc;
};

MODULE_SCOPE Tcl_Obj *	CourierHandleCreate(CourierHandle *handlePtr,
			    CourierInterp *cinterpPtr, const char *kind,
			    Tcl_ObjCmdProc *cmdProc,
			    CourierHandleCloseProc *closeProc);
MODULE_SCOPE void	CourierHandleClose(CourierHandle *handlePtr);

/* address.c: local addresses, binding in the Tcl thread, interfaces,
 * a UDP socket's kernel drops. */
struct sockaddr_storage;
enum {
    COURIER_BIND_REUSEADDR = 1,	/* SO_REUSEADDR */
    COURIER_BIND_REUSEPORT = 2,	/* SO_REUSEPORT */
    COURIER_BIND_V6ONLY = 4	/* IPV6_V6ONLY, for an IPv6 address */
};
MODULE_SCOPE int	CourierParseAddress(const char *host, int port,
			    int family, struct sockaddr_storage *addrPtr);
MODULE_SCOPE int	CourierBindSocket(Tcl_Interp *interp, int type,
			    const char *host, int port, int family, int flags,
			    int backlog, const char *what, int *familyPtr,
			    int *boundPortPtr);
MODULE_SCOPE int	CourierInterfaceAddress(Tcl_Interp *interp, int family,
			    const char *iface, char *buf, size_t bufSize);
MODULE_SCOPE Tcl_WideInt CourierKernelDrops(int family, unsigned long inode);

/* util.c: errors. */
MODULE_SCOPE int	CourierGetSubcommand(Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[], int first,
			    const char *const *table, int *indexPtr);
MODULE_SCOPE void	CourierObjClear(Tcl_Obj **objPtrPtr);
MODULE_SCOPE int	CourierCheckHost(Tcl_Interp *interp, const char *host);
MODULE_SCOPE int	CourierCheckCommandPrefix(Tcl_Interp *interp,
			    const char *option, Tcl_Obj *valueObj);
MODULE_SCOPE int	CourierUsage(Tcl_Interp *interp, int count,
			    Tcl_Obj *const objv[], const char *message);
MODULE_SCOPE int	CourierError(Tcl_Interp *interp, const char *kind,
			    const char *detail, const char *fmt, ...);
MODULE_SCOPE void	CourierPanicOutOfMemory(size_t size);
MODULE_SCOPE void *	CourierAlloc(size_t size);
MODULE_SCOPE void *	CourierAllocZero(size_t size);
MODULE_SCOPE char *	CourierStrdup(const char *s);
MODULE_SCOPE void *	CourierRealloc(void *ptr, size_t size);
MODULE_SCOPE void	CourierBytesAppend(unsigned char **bufPtr, size_t *lenPtr,
			    size_t *capPtr, size_t firstCap,
			    const void *bytes, size_t length);
MODULE_SCOPE Tcl_Obj *	CourierDecodeBytes(Tcl_Encoding encoding,
			    const unsigned char *bytes, size_t length);

/*
 * callback.c: callbacks: {*}prefix ?arg ...? at global level, errors to bgerror. kind
 * (the option the prefix came from, "-ondata") and handleObj (the handle
 * it belongs to, or NULL) name it when it is slow (-slowcallback); the
 * -slowcallback setting and the per-thread counts for courier::stats.
 */
MODULE_SCOPE int	CourierCallPrefix(Tcl_Interp *interp,
			    const char *kind, Tcl_Obj *handleObj,
			    Tcl_Obj *prefixPtr, int objc,
			    Tcl_Obj *const args[]);
MODULE_SCOPE void	CourierSlowCallbackStats(Tcl_Obj *dictPtr, int reset);
MODULE_SCOPE int	CourierGetPositiveWide(Tcl_Interp *interp,
			    Tcl_Obj *objPtr, const char *option,
			    Tcl_WideInt min, Tcl_WideInt max,
			    Tcl_WideInt *valuePtr);

/* inbox.c, owner-thread housekeeping. */
MODULE_SCOPE void	CourierInboxClose(void);
MODULE_SCOPE CourierInbox *CourierInboxForThreadIfOpen(void);

/* threads.c: named threads. */
typedef struct CourierThread CourierThread;
MODULE_SCOPE CourierThread *CourierThreadStart(const char *name,
			    void (*proc)(void *arg), void *arg);
MODULE_SCOPE void	CourierThreadJoin(CourierThread *threadPtr);
MODULE_SCOPE int	CourierThreadJoinUntil(CourierThread *threadPtr,
			    uint64_t deadline);
MODULE_SCOPE Tcl_Obj *	CourierThreadNames(void);

/* Command procedures. */
MODULE_SCOPE Tcl_ObjCmdProc CourierFloodObjCmd;
MODULE_SCOPE Tcl_ObjCmdProc CourierStopFloodObjCmd;
MODULE_SCOPE Tcl_ObjCmdProc CourierEvalLoopObjCmd;
MODULE_SCOPE Tcl_ObjCmdProc CourierResolveObjCmd;

/* Each subsystem's commands, created by Courier_Init. */
MODULE_SCOPE void	CourierFloodInit(Tcl_Interp *interp);
MODULE_SCOPE void	CourierResolveInit(Tcl_Interp *interp);
MODULE_SCOPE Tcl_ObjCmdProc CourierUdpObjCmd;

#endif /* COURIER_INT_H */
