/*
 * courier.c --
 *
 *	Package initialisation, per-interpreter and per-thread state, and the
 *	general commands: courier::stats, courier::threads,
 *	courier::configure. Runs in the thread of each interpreter that
 *	loads Courier. Callbacks and their slow-callback reports are
 *	callback.c's.
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
#include "resolver.h"
#include "spawn.h"
#include "actor.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

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
    CourierTcpInit(interp);
    CourierListenInit(interp);
    CourierResolveInit(interp);
    Tcl_CreateObjCommand(interp, "::courier::udp", CourierUdpObjCmd, NULL,
	    NULL);
    CourierSpawnInit(interp);
    CourierActorInit(interp);
    CourierFloodInit(interp);
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
 *	The prompt is drawn again after a callback's output: courier.tcl
 *	stacks a transform on stdout and stderr that sets
 *	::courier::prompt::Redraw to 1 when what was written last ends a
 *	line (0 otherwise, as after tclsh's own prompt). After each event of
 *	this loop (never inside a vwait or update of a command, which run
 *	their own events), a 1 draws the prompt: tcl_prompt1, or "% ".
 *
 *----------------------------------------------------------------------
 */

static Tcl_Interp *interactiveInterp;	/* The main interpreter, once the
					 * loop is installed. */

static void
RedrawPrompt(
    Tcl_Interp *interp)
{
    const char *redraw = Tcl_GetVar2(interp, "::courier::prompt::Redraw",
	    NULL, TCL_GLOBAL_ONLY);
    Tcl_InterpState state;
    Tcl_Channel out;

    if (redraw == NULL || strcmp(redraw, "1") != 0) {
	return;
    }
    Tcl_SetVar2(interp, "::courier::prompt::Redraw", NULL, "0",
	    TCL_GLOBAL_ONLY);
    state = Tcl_SaveInterpState(interp, TCL_OK);
    if (Tcl_GetVar2(interp, "tcl_prompt1", NULL, TCL_GLOBAL_ONLY) == NULL
	    || Tcl_EvalEx(interp, "eval $::tcl_prompt1", -1,
		    TCL_EVAL_GLOBAL) != TCL_OK) {
	out = Tcl_GetStdChannel(TCL_STDOUT);
	if (out != NULL) {
	    Tcl_WriteChars(out, "% ", 2);
	}
    }
    out = Tcl_GetStdChannel(TCL_STDOUT);
    if (out != NULL) {
	Tcl_Flush(out);
    }
    Tcl_RestoreInterpState(interp, state);
}

static void
InteractiveLoop(void)
{
    for (;;) {
	Tcl_DoOneEvent(TCL_ALL_EVENTS);
	if (interactiveInterp != NULL) {
	    RedrawPrompt(interactiveInterp);
	}
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
    interactiveInterp = interp;
    /* courier.tcl sets up the prompt's redrawing when this is set. */
    Tcl_SetVar2(interp, "::courier::Interactive", NULL, "1",
	    TCL_GLOBAL_ONLY);
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

    Tcl_DeleteAssocData(interp, COURIER_ASSOC_KEY);
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
    CourierInterp *cinterpPtr = Tcl_GetAssocData(interp, COURIER_ASSOC_KEY, NULL);
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
    Tcl_SetAssocData(interp, COURIER_ASSOC_KEY, InterpDeleteProc, cinterpPtr);

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
 * CloseResources --
 *	Closes every resource of an interpreter, newest first (see
 *	CourierResourceAdd in util.c).
 */

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
    CourierObjClear(&cinterpPtr->onSlow);
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
 * StatsObjCmd --
 *
 *	courier::stats ?-reset?
 *	Returns the calling thread's inbox counters as a dict, and its
 *	count of slow callbacks (-slowcallback) and the slowest one's time.
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
    Tcl_Obj *dictPtr;
    int reset = 0;

    (void) clientData;
    if (objc == 2 && strcmp(Tcl_GetString(objv[1]), "-reset") == 0) {
	reset = 1;
    } else if (objc != 1) {
	return CourierUsage(interp, 1, objv, "?-reset?");
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    dictPtr = CourierInboxStats(cinterpPtr->inboxPtr, reset);
    CourierSlowCallbackStats(dictPtr, reset);
    Tcl_SetObjResult(interp, dictPtr);
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
	return CourierUsage(interp, 1, objv, NULL);
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
 *	-onslow cmd		This interpreter's report of slow callbacks
 *				(default {}: a line on stderr).
 *	-slowcallback ms	Callbacks running longer are reported
 *				(default 0: none are timed).
 *
 *----------------------------------------------------------------------
 */

/*
 * courierSettings --
 *	The process-wide settings (courierInt.h), with their defaults.
 */

atomic_long courierSettings[COURIER_SETTINGS] = {
    [COURIER_SETTING_BUDGET] = 4000,
    [COURIER_SETTING_INBOXSPIN] = 50,
    [COURIER_SETTING_IOSPIN] = 50,
    [COURIER_SETTING_SLOWCALLBACK] = 0
};

static int
ConfigureObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    typedef struct GlobalOptions {
	Tcl_WideInt settings[COURIER_SETTINGS];	/* courierSettings' */
	Tcl_WideInt iothreads;
	Tcl_Obj *onslow;
    } GlobalOptions;
#define SETTING_FIELD(id) offsetof(GlobalOptions, settings[(id)])
    static const CourierOptSpec specs[] = {
	{.name = "-budget", .type = COURIER_OPT_WIDE,
	    .offset = SETTING_FIELD(COURIER_SETTING_BUDGET), .min = 100,
	    .max = 1000000},
	{.name = "-inboxspin", .type = COURIER_OPT_WIDE,
	    .offset = SETTING_FIELD(COURIER_SETTING_INBOXSPIN), .min = 0,
	    .max = 1000},
	{.name = "-iospin", .type = COURIER_OPT_WIDE,
	    .offset = SETTING_FIELD(COURIER_SETTING_IOSPIN), .min = 0,
	    .max = 1000},
	{.name = "-iothreads", .type = COURIER_OPT_WIDE,
	    .offset = offsetof(GlobalOptions, iothreads), .min = 1,
	    .max = 16},
	{.name = "-onslow", .type = COURIER_OPT_PREFIX,
	    .offset = offsetof(GlobalOptions, onslow)},
	{.name = "-slowcallback", .type = COURIER_OPT_WIDE,
	    .offset = SETTING_FIELD(COURIER_SETTING_SLOWCALLBACK), .min = 0,
	    .max = 3600000},
	{.name = NULL}
    };
#undef SETTING_FIELD
    GlobalOptions o, was;
    CourierOptTable table = {specs, &o};
    CourierInterp *cinterpPtr = CourierGetInterp(interp);
    int code, i;

    (void) clientData;
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    for (i = 0; i < COURIER_SETTINGS; i++) {
	o.settings[i] = CourierSetting(i);
    }
    o.iothreads = CourierIoGetThreadCount();
    o.onslow = cinterpPtr->onSlow;
    if (o.onslow != NULL) {
	Tcl_IncrRefCount(o.onslow);	/* The record's own reference. */
    }
    was = o;
    if (objc <= 2) {
	code = CourierOptRead(interp, &table, 1, objc - 1, objv + 1, 0);
	CourierOptStoreObj(&o.onslow, NULL);
	return code;
    }

    /*
     * Every pair is checked before anything changes; only what changed is
     * set, so that another thread's setting of another option stays.
     */
    if (CourierOptParse(interp, &table, 1, objc - 1, objv + 1, 0,
	    NULL) != TCL_OK) {
	CourierOptStoreObj(&o.onslow, NULL);
	return TCL_ERROR;
    }
    if (o.onslow != was.onslow) {
	CourierOptStoreObj(&cinterpPtr->onSlow, o.onslow);
    }
    CourierOptStoreObj(&o.onslow, NULL);
    for (i = 0; i < COURIER_SETTINGS; i++) {
	if (o.settings[i] != was.settings[i]) {
	    atomic_store(&courierSettings[i], (long) o.settings[i]);
	}
    }
    if (o.iothreads != was.iothreads) {
	CourierIoSetThreadCount((int) o.iothreads);
    }
    return TCL_OK;
}
