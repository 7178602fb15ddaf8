/*
 * courier.c --
 *
 *	Package initialisation, per-interpreter and per-thread state, and the
 *	general commands: courier::stats, courier::threads,
 *	courier::configure.
 *
 *	Lifetimes. Each interpreter that loads Courier gets a CourierInterp
 *	(assoc data) listing the resources it owns. Each thread that has such
 *	an interpreter gets one inbox and one thread exit handler. When an
 *	interpreter is deleted its resources are closed; when the thread
 *	exits (or the process exits through Tcl_Exit) every resource of every
 *	interpreter of the thread is closed, then the inbox.
 */

#include "courierInt.h"
#include "conn.h"
#include "resolve.h"
#include "spawn.h"
#include "actor.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

#define ASSOC_KEY "courier"

typedef struct ThreadState {
    CourierInterp *interps;	/* Interps of this thread using Courier. */
    int exitHandlerSet;
} ThreadState;

static Tcl_ThreadDataKey threadStateKey;

/*
 * Interpreters using Courier in the whole process: when the last goes, the
 * I/O threads stop. Guarded by interpCountLock.
 */

TCL_DECLARE_MUTEX(interpCountLock)
static int interpCount;
static int exitHandlerSet;

static void	InstallInteractiveLoop(Tcl_Interp *interp);
static void	ProcessExitHandler(ClientData clientData);
static void	ShutDownThread(void);

static void	CloseResources(CourierInterp *cinterpPtr);
static int	ConfigureObjCmd(ClientData clientData, Tcl_Interp *interp,
		    int objc, Tcl_Obj *const objv[]);
static void	InterpDeleteProc(ClientData clientData, Tcl_Interp *interp);
static int	StatsObjCmd(ClientData clientData, Tcl_Interp *interp,
		    int objc, Tcl_Obj *const objv[]);
static void	ThreadExitHandler(ClientData clientData);
static int	ThreadsObjCmd(ClientData clientData, Tcl_Interp *interp,
		    int objc, Tcl_Obj *const objv[]);

/*
 *----------------------------------------------------------------------
 *
 * Courier_Init --
 *
 *	Loads Courier into an interpreter: creates the commands and the
 *	per-interpreter state, and the thread's inbox on first use.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message.
 *
 *----------------------------------------------------------------------
 */

DLLEXPORT int
Courier_Init(
    Tcl_Interp *interp)
{
    if (Tcl_InitStubs(interp, "8.6", 0) == NULL) {
	return TCL_ERROR;
    }
    if (CourierGetInterp(interp) == NULL) {
	return TCL_ERROR;
    }

    /*
     * Tcl's Unix notifier starts its own thread lazily, and that thread
     * watches its wake-up pipe with select(): if Courier's sockets have
     * taken every descriptor below FD_SETSIZE by then, the pipe lands
     * above it and the thread aborts. Start it now, while descriptors are
     * low.
     */

    Tcl_ServiceModeHook(TCL_SERVICE_ALL);
    if (Tcl_CreateNamespace(interp, "::courier", NULL, NULL) == NULL
	    || Tcl_CreateNamespace(interp, "::courier::test", NULL,
		    NULL) == NULL) {
	return TCL_ERROR;
    }
    Tcl_CreateObjCommand(interp, "::courier::stats", StatsObjCmd, NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::threads", ThreadsObjCmd, NULL,
	    NULL);
    Tcl_CreateObjCommand(interp, "::courier::configure", ConfigureObjCmd,
	    NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::connect", CourierConnectObjCmd,
	    NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::listen", CourierListenObjCmd,
	    NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::resolve", CourierResolveObjCmd,
	    NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::spawn", CourierSpawnObjCmd,
	    NULL, NULL);
    CourierActorInit(interp);
    Tcl_CreateObjCommand(interp, "::courier::test::flood",
	    CourierFloodObjCmd, NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::test::stopflood",
	    CourierStopFloodObjCmd, NULL, NULL);
    InstallInteractiveLoop(interp);
    return Tcl_PkgProvide(interp, "courier", COURIER_VERSION);
}

/*
 *----------------------------------------------------------------------
 *
 * InstallInteractiveLoop, InteractiveLoop --
 *
 *	Plain interactive tclsh runs events only inside update and vwait:
 *	a user at the % prompt would never see a callback run. When Courier
 *	is loaded into the main interpreter of an interactive tclsh that has
 *	no main loop of its own (Tk brings one, and replaces this one if it
 *	is loaded later), install an event loop as the main loop: tclsh then
 *	reads the prompt through a channel handler, and callbacks run and
 *	print while the user sits at the prompt. Scripts run from a file
 *	(tcl_interactive 0) and wish are left as they are; exit and
 *	end-of-file behave as before (tclsh exits on either).
 *
 *----------------------------------------------------------------------
 */

static void
InteractiveLoop(void)
{
    for (;;) {
	Tcl_DoOneEvent(TCL_ALL_EVENTS);
    }
}

static void
InstallInteractiveLoop(
    Tcl_Interp *interp)
{
    const char *interactive;

    if (Tcl_GetMaster(interp) != NULL) {
	return;				/* A child interpreter. */
    }
    interactive = Tcl_GetVar2(interp, "tcl_interactive", NULL,
	    TCL_GLOBAL_ONLY);
    if (interactive == NULL || strcmp(interactive, "1") != 0) {
	return;
    }
    if (Tcl_PkgPresent(interp, "Tk", NULL, 0) != NULL) {
	return;				/* Tk has its own main loop. */
    }
    Tcl_ResetResult(interp);
    Tcl_SetMainLoop(InteractiveLoop);
}

/*
 *----------------------------------------------------------------------
 *
 * Courier_Unload --
 *
 *	"unload": detach Courier from an interpreter (its objects are
 *	closed, its commands deleted). When no interpreter of the thread
 *	uses Courier any more, the thread's inbox and exit handler go too;
 *	when no interpreter of the process does (the library is about to be
 *	unmapped), the I/O threads are stopped and joined and the process
 *	exit handler is removed, so that no thread runs Courier's code
 *	afterwards.
 *
 * Results:
 *	TCL_OK.
 *
 *----------------------------------------------------------------------
 */

DLLEXPORT int
Courier_Unload(
    Tcl_Interp *interp,
    int flags)
{
    ThreadState *tsPtr =
	    Tcl_GetThreadData(&threadStateKey, sizeof(ThreadState));
    Tcl_Namespace *nsPtr;

    Tcl_DeleteAssocData(interp, ASSOC_KEY);
    nsPtr = Tcl_FindNamespace(interp, "::courier", NULL, 0);
    if (nsPtr != NULL) {
	Tcl_DeleteNamespace(nsPtr);
    }
    if (tsPtr->interps == NULL && tsPtr->exitHandlerSet) {
	Tcl_DeleteThreadExitHandler(ThreadExitHandler, NULL);
	tsPtr->exitHandlerSet = 0;
	CourierInboxClose();
    }
    if (flags == TCL_UNLOAD_DETACH_FROM_PROCESS) {
	CourierActorUnload();
	CourierResolverStop(0);
	CourierIoStopAll();
	CourierIoFreeRetired();
	CourierMsgPoolFree();
	Tcl_MutexLock(&interpCountLock);
	if (exitHandlerSet) {
	    Tcl_DeleteExitHandler(ProcessExitHandler, NULL);
	    exitHandlerSet = 0;
	}
	Tcl_MutexUnlock(&interpCountLock);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierGetInterp --
 *
 *	Returns the interpreter's Courier state, creating it (and the
 *	thread's inbox and exit handler) on first use.
 *
 * Results:
 *	The state; NULL with an error in the interpreter when the thread is
 *	already exiting.
 *
 *----------------------------------------------------------------------
 */

CourierInterp *
CourierGetInterp(
    Tcl_Interp *interp)
{
    CourierInterp *cinterpPtr = Tcl_GetAssocData(interp, ASSOC_KEY, NULL);
    ThreadState *tsPtr;

    if (cinterpPtr != NULL) {
	if (cinterpPtr->detached) {
	    CourierError(interp, "THREAD", "EXITING",
		    "courier is shut down in this thread: it is exiting");
	    return NULL;
	}
	return cinterpPtr;
    }
    tsPtr = Tcl_GetThreadData(&threadStateKey, sizeof(ThreadState));
    if (!tsPtr->exitHandlerSet) {
	Tcl_CreateThreadExitHandler(ThreadExitHandler, NULL);
	tsPtr->exitHandlerSet = 1;
    }
    cinterpPtr = (CourierInterp *) ckalloc(sizeof(CourierInterp));
    memset(cinterpPtr, 0, sizeof(CourierInterp));
    cinterpPtr->interp = interp;
    cinterpPtr->inboxPtr = CourierInboxForThread();
    cinterpPtr->nextPtr = tsPtr->interps;
    tsPtr->interps = cinterpPtr;
    Tcl_SetAssocData(interp, ASSOC_KEY, InterpDeleteProc, cinterpPtr);

    Tcl_MutexLock(&interpCountLock);
    interpCount++;
    if (!exitHandlerSet) {
	exitHandlerSet = 1;
	Tcl_CreateExitHandler(ProcessExitHandler, NULL);
    }
    Tcl_MutexUnlock(&interpCountLock);
    return cinterpPtr;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierResourceAdd, CourierResourceForget, CourierResourceFind,
 * CloseResources --
 *
 *	The list of resources an interpreter owns, each named after its
 *	kind ("flood3"). closeProc must release everything and call
 *	CourierResourceForget. A linear search is fine for the handful of
 *	resources that have no command of their own.
 *
 *----------------------------------------------------------------------
 */

void
CourierResourceAdd(
    CourierInterp *cinterpPtr,
    CourierResource *resPtr,
    const char *kind,
    void (*closeProc)(CourierResource *))
{
    resPtr->kind = kind;
    snprintf(resPtr->name, sizeof(resPtr->name), "%s%lu", kind,
	    ++cinterpPtr->nextId);
    resPtr->ownerPtr = cinterpPtr;
    resPtr->closeProc = closeProc;
    resPtr->prevPtr = NULL;
    resPtr->nextPtr = cinterpPtr->resources;
    if (cinterpPtr->resources != NULL) {
	cinterpPtr->resources->prevPtr = resPtr;
    }
    cinterpPtr->resources = resPtr;
}

void
CourierResourceForget(
    CourierResource *resPtr)
{
    CourierInterp *cinterpPtr = resPtr->ownerPtr;

    if (resPtr->prevPtr != NULL) {
	resPtr->prevPtr->nextPtr = resPtr->nextPtr;
    } else {
	assert(cinterpPtr->resources == resPtr);
	cinterpPtr->resources = resPtr->nextPtr;
    }
    if (resPtr->nextPtr != NULL) {
	resPtr->nextPtr->prevPtr = resPtr->prevPtr;
    }
    resPtr->nextPtr = resPtr->prevPtr = NULL;
}

CourierResource *
CourierResourceFind(
    CourierInterp *cinterpPtr,
    const char *kind,
    const char *name)
{
    CourierResource *resPtr;

    for (resPtr = cinterpPtr->resources; resPtr != NULL;
	    resPtr = resPtr->nextPtr) {
	if (resPtr->kind == kind && strcmp(resPtr->name, name) == 0) {
	    return resPtr;
	}
    }
    return NULL;
}

static void
CloseResources(
    CourierInterp *cinterpPtr)
{
    CourierActorStopOwned(cinterpPtr);	/* All at once, then one by one. */
    while (cinterpPtr->resources != NULL) {
	CourierResource *resPtr = cinterpPtr->resources;

	resPtr->closeProc(resPtr);
	assert(cinterpPtr->resources != resPtr);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * InterpDeleteProc --
 *
 *	The interpreter is being deleted: close what it owns, unlink and
 *	free its state.
 *
 *----------------------------------------------------------------------
 */

static void
InterpDeleteProc(
    ClientData clientData,
    Tcl_Interp *interp)
{
    CourierInterp *cinterpPtr = clientData;
    int last;

    (void) interp;
    if (!cinterpPtr->detached) {
	ThreadState *tsPtr =
		Tcl_GetThreadData(&threadStateKey, sizeof(ThreadState));
	CourierInterp **linkPtr;

	CloseResources(cinterpPtr);
	for (linkPtr = &tsPtr->interps; *linkPtr != NULL;
		linkPtr = &(*linkPtr)->nextPtr) {
	    if (*linkPtr == cinterpPtr) {
		*linkPtr = cinterpPtr->nextPtr;
		break;
	    }
	}
    }
    ckfree(cinterpPtr);

    /* The last interpreter using Courier is gone: stop the I/O threads. */
    Tcl_MutexLock(&interpCountLock);
    last = (--interpCount == 0);
    Tcl_MutexUnlock(&interpCountLock);
    if (last) {
	CourierIoStopAll();
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ThreadExitHandler --
 *
 *	The thread is exiting (thread end, or exit in the main thread):
 *	close every resource of every interpreter here, then the inbox.
 *	Interpreters that outlive this keep a detached state that is freed
 *	when they are deleted.
 *
 *----------------------------------------------------------------------
 */

static void
ThreadExitHandler(
    ClientData clientData)
{
    (void) clientData;
    ShutDownThread();
    CourierInboxClose();
}

/*
 * ShutDownThread --
 *	Closes every resource of every interpreter of the calling thread and
 *	detaches their state.
 */

static void
ShutDownThread(void)
{
    ThreadState *tsPtr =
	    Tcl_GetThreadData(&threadStateKey, sizeof(ThreadState));

    while (tsPtr->interps != NULL) {
	CourierInterp *cinterpPtr = tsPtr->interps;

	CloseResources(cinterpPtr);
	cinterpPtr->detached = 1;
	tsPtr->interps = cinterpPtr->nextPtr;
	cinterpPtr->nextPtr = NULL;
    }
}

/*
 * ProcessExitHandler --
 *	exit: Tcl runs process exit handlers before the calling thread's
 *	exit handlers, so stop every actor (with a deadline for their
 *	threads) and close this thread's objects first (their close commands
 *	reach the I/O threads), then stop and join the I/O threads (which
 *	reap the children they signalled). The thread exit handler then
 *	closes the inbox.
 */

static void
ProcessExitHandler(
    ClientData clientData)
{
    (void) clientData;
    CourierActorExiting();
    ShutDownThread();
    CourierResolverStop(1);
    CourierIoStopAll();
}

/*
 *----------------------------------------------------------------------
 *
 * CourierError --
 *
 *	Sets a formatted error message and the error code
 *	{COURIER kind detail} (detail may be NULL).
 *
 * Results:
 *	TCL_ERROR, for "return CourierError(...)".
 *
 *----------------------------------------------------------------------
 */

int
CourierError(
    Tcl_Interp *interp,
    const char *kind,
    const char *detail,
    const char *fmt,
    ...)
{
    va_list ap;
    char buf[512];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(buf, -1));
    if (detail != NULL) {
	Tcl_SetErrorCode(interp, "COURIER", kind, detail, NULL);
    } else {
	Tcl_SetErrorCode(interp, "COURIER", kind, NULL);
    }
    return TCL_ERROR;
}

void
CourierPanicOutOfMemory(
    size_t size)
{
    Tcl_Panic("courier: out of memory allocating %lu bytes",
	    (unsigned long) size);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierGetPositiveWide --
 *
 *	Reads an integer option value in [min, max].
 *
 * Results:
 *	TCL_OK with *valuePtr set, or TCL_ERROR with a message naming the
 *	option and error code {COURIER VALUE option}.
 *
 *----------------------------------------------------------------------
 */

int
CourierGetPositiveWide(
    Tcl_Interp *interp,
    Tcl_Obj *objPtr,
    const char *option,
    Tcl_WideInt min,
    Tcl_WideInt max,
    Tcl_WideInt *valuePtr)
{
    Tcl_WideInt value;

    if (Tcl_GetWideIntFromObj(NULL, objPtr, &value) != TCL_OK
	    || value < min || value > max) {
	return CourierError(interp, "VALUE", option,
		"bad value \"%.100s\" for %s: expected an integer from "
		"%" TCL_LL_MODIFIER "d to %" TCL_LL_MODIFIER "d",
		Tcl_GetString(objPtr), option, min, max);
    }
    *valuePtr = value;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * StatsObjCmd --
 *
 *	courier::stats ?-reset?
 *	Returns the calling thread's inbox counters as a dict.
 *
 *----------------------------------------------------------------------
 */

static int
StatsObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    CourierInterp *cinterpPtr;
    int reset = 0;

    (void) clientData;
    if (objc == 2 && strcmp(Tcl_GetString(objv[1]), "-reset") == 0) {
	reset = 1;
    } else if (objc != 1) {
	Tcl_WrongNumArgs(interp, 1, objv, "?-reset?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, CourierInboxStats(cinterpPtr->inboxPtr, reset));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * ThreadsObjCmd --
 *
 *	courier::threads
 *	Returns the OS names of the threads Courier has started.
 *
 *----------------------------------------------------------------------
 */

static int
ThreadsObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    (void) clientData;
    if (objc != 1) {
	Tcl_WrongNumArgs(interp, 1, objv, NULL);
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, CourierThreadNames());
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * ConfigureObjCmd --
 *
 *	courier::configure ?-option ?value ...??
 *	Process-wide settings. With no argument returns them all as a dict;
 *	with one option returns its value; with pairs sets them.
 *
 *	-budget microseconds	How long one drain slice may deliver before
 *				the event loop gets its turn (default 4000).
 *	-inboxspin microseconds	How long a Tcl thread that has just
 *				delivered messages watches its inbox for
 *				the next before it sleeps (default 50; 0
 *				never spins).
 *	-iospin microseconds	How long an I/O thread that has just
 *				delivered messages spins for a reply before
 *				it sleeps (default 50; 0 never spins).
 *	-iothreads n		How many I/O threads new connections are
 *				spread over (default 1; takes effect for
 *				threads not yet started).
 *
 *----------------------------------------------------------------------
 */

static int
ConfigureObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const options[] = {
	"-budget", "-inboxspin", "-iospin", "-iothreads", NULL
    };
    enum { OPT_BUDGET, OPT_INBOXSPIN, OPT_IOSPIN, OPT_IOTHREADS };
    int i, index;

    (void) clientData;
    if (objc == 1) {
	Tcl_Obj *dictPtr = Tcl_NewDictObj();

	Tcl_DictObjPut(NULL, dictPtr, Tcl_NewStringObj("-budget", -1),
		Tcl_NewLongObj(CourierInboxGetBudget()));
	Tcl_DictObjPut(NULL, dictPtr, Tcl_NewStringObj("-inboxspin", -1),
		Tcl_NewLongObj((long) CourierInboxGetSpin()));
	Tcl_DictObjPut(NULL, dictPtr, Tcl_NewStringObj("-iospin", -1),
		Tcl_NewLongObj((long) CourierIoGetSpin()));
	Tcl_DictObjPut(NULL, dictPtr, Tcl_NewStringObj("-iothreads", -1),
		Tcl_NewIntObj(CourierIoGetThreadCount()));
	Tcl_SetObjResult(interp, dictPtr);
	return TCL_OK;
    }
    if (objc == 2) {
	if (Tcl_GetIndexFromObj(interp, objv[1], options, "option", 0,
		&index) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "COURIER", "OPTION",
		    Tcl_GetString(objv[1]), NULL);
	    return TCL_ERROR;
	}
	Tcl_SetObjResult(interp, index == OPT_BUDGET
		? Tcl_NewLongObj(CourierInboxGetBudget())
		: index == OPT_INBOXSPIN
		? Tcl_NewLongObj((long) CourierInboxGetSpin())
		: index == OPT_IOSPIN ? Tcl_NewLongObj((long) CourierIoGetSpin())
		: Tcl_NewIntObj(CourierIoGetThreadCount()));
	return TCL_OK;
    }
    if (objc % 2 == 0) {
	return CourierError(interp, "USAGE", NULL,
		"value for \"%s\" missing", Tcl_GetString(objv[objc - 1]));
    }

    /* Check every pair before changing anything. */
    for (i = 1; i < objc; i += 2) {
	Tcl_WideInt value;
	int spin;

	if (Tcl_GetIndexFromObj(interp, objv[i], options, "option", 0,
		&index) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "COURIER", "OPTION",
		    Tcl_GetString(objv[i]), NULL);
	    return TCL_ERROR;
	}
	spin = (index == OPT_INBOXSPIN || index == OPT_IOSPIN);
	if (CourierGetPositiveWide(interp, objv[i + 1], options[index],
		index == OPT_BUDGET ? 100 : spin ? 0 : 1,
		index == OPT_BUDGET ? 1000000 : spin ? 1000 : 16,
		&value) != TCL_OK) {
	    return TCL_ERROR;
	}
    }
    for (i = 1; i < objc; i += 2) {
	Tcl_WideInt value;

	Tcl_GetIndexFromObj(NULL, objv[i], options, "option", 0, &index);
	Tcl_GetWideIntFromObj(NULL, objv[i + 1], &value);
	if (index == OPT_BUDGET) {
	    CourierInboxSetBudget((long) value);
	} else if (index == OPT_INBOXSPIN) {
	    CourierInboxSetSpin((unsigned) value);
	} else if (index == OPT_IOSPIN) {
	    CourierIoSetSpin((unsigned) value);
	} else {
	    CourierIoSetThreadCount((int) value);
	}
    }
    return TCL_OK;
}
