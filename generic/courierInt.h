/*
 * courierInt.h --
 *
 *	Declarations shared by Courier's C files. Nothing here is public:
 *	the only exported symbol is Courier_Init.
 */

#ifndef COURIER_INT_H
#define COURIER_INT_H

#include <tcl.h>
#include <uv.h>

#ifndef MODULE_SCOPE
#define MODULE_SCOPE extern __attribute__((__visibility__("hidden")))
#endif

#include "inbox.h"

#define COURIER_VERSION PACKAGE_VERSION_STR

/*
 * A resource is anything an interpreter owns that must be shut down when
 * the interpreter is deleted or its thread exits: a test flood now, later
 * connections, listeners, processes. Each kind embeds one as its first
 * member and says how to close it.
 */

typedef struct CourierResource CourierResource;
typedef struct CourierInterp CourierInterp;

struct CourierResource {
    CourierResource *nextPtr;
    CourierResource *prevPtr;
    CourierInterp *ownerPtr;
    const char *kind;		/* "flood", ...: also the name's prefix. */
    char name[32];		/* kind + a number, unique in the interp. */
    void (*closeProc)(CourierResource *resPtr);	/* Must call
						 * CourierResourceForget. */
};

/* Per-interpreter state: the assoc data "courier". */
struct CourierInterp {
    Tcl_Interp *interp;
    CourierInbox *inboxPtr;	/* The thread's inbox. */
    CourierResource *resources;	/* Open resources, newest first. */
    CourierInterp *nextPtr;	/* Next interp of the same thread. */
    int detached;		/* The thread exit handler has closed
				 * everything: only free on deletion. */
    unsigned long nextId;	/* Counter for handle names. */
};

MODULE_SCOPE CourierInterp *CourierGetInterp(Tcl_Interp *interp);
MODULE_SCOPE void	CourierResourceAdd(CourierInterp *ownerPtr,
			    CourierResource *resPtr, const char *kind,
			    void (*closeProc)(CourierResource *));
MODULE_SCOPE CourierResource *CourierResourceFind(CourierInterp *ownerPtr,
			    const char *kind, const char *name);
MODULE_SCOPE void	CourierResourceForget(CourierResource *resPtr);

/* Errors. */
MODULE_SCOPE int	CourierError(Tcl_Interp *interp, const char *kind,
			    const char *detail, const char *fmt, ...);
MODULE_SCOPE void	CourierPanicOutOfMemory(size_t size);
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
MODULE_SCOPE Tcl_ObjCmdProc CourierResolveObjCmd;

#endif /* COURIER_INT_H */
