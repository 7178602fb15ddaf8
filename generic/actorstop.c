/*
 * actorstop.c --
 *
 *	How actors end from the outside: the stop subcommand (graceful or
 *	-now), the creator closing its side (interpreter deleted, thread
 *	ended, or the actor ended on its own), stopping every actor at once
 *	at exit within COURIER_EXIT_WAIT_MS, and the exit procedure that
 *	shuts the door on new actor interpreters once exit has begun.
 *
 *	Threads: stop runs in any thread holding a handle; closing runs in
 *	the creator's thread; the exit handling in the exiting thread;
 *	CourierActorCreateInterp in the actor thread.
 */

#include "actorInt.h"

static void		ActorStopNow(Actor *actorPtr);

/*
 *----------------------------------------------------------------------
 *
 * CourierActorStop --
 *
 *	$a stop ?-now?
 *	Graceful: the messages already queued run, then the actor ends.
 *	-now: queued messages are dropped (asks get an error reply) and a
 *	running handler is cancelled.
 *
 * Results:
 *	How many messages were queued: those that will still run, or those
 *	dropped with -now.
 *
 *----------------------------------------------------------------------
 */

static void
PostStop(
    Actor *actorPtr)
{
    CourierMsg *msgPtr = CourierActorMakeMail(MAIL_STOP, actorPtr, NULL, 0,
	    0, NULL);

    CourierPortPost(actorPtr->mailbox, msgPtr);
}

static void
ActorStopNow(
    Actor *actorPtr)
{
    int was = atomic_exchange(&actorPtr->stopping, STOP_NOW);

    if (was != STOP_NOW) {
	PostStop(actorPtr);
    }
    uv_mutex_lock(&actorPtr->lock);
    if (actorPtr->interp != NULL) {
	Tcl_CancelEval(actorPtr->interp, NULL, NULL, TCL_CANCEL_UNWIND);
    }
    uv_cond_broadcast(&actorPtr->cond);
    uv_mutex_unlock(&actorPtr->lock);
}

int
CourierActorStop(
    Tcl_Interp *interp,
    Actor *actorPtr,
    int objc,
    Tcl_Obj *const objv[])
{
    size_t queued;
    int expected = STOP_NONE;

    if (objc > 1 || (objc == 1
	    && strcmp(Tcl_GetString(objv[0]), "-now") != 0)) {
	return CourierError(interp, "USAGE", NULL,
		"wrong # args: should be \"stop ?-now?\"");
    }
    if (objc == 1) {
	if (CourierActorOfThread() == actorPtr) {
	    /* Cancelling our own script would also cancel this caller. */
	    atomic_store(&actorPtr->stopping, STOP_NOW);
	    queued = atomic_load(&actorPtr->queued);
	    PostStop(actorPtr);
	} else {
	    ActorStopNow(actorPtr);
	    queued = atomic_load(&actorPtr->queued);
	}
    } else {
	queued = atomic_load(&actorPtr->queued);
	if (atomic_compare_exchange_strong(&actorPtr->stopping, &expected,
		STOP_GRACEFUL)) {
	    PostStop(actorPtr);
	}
    }
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj((Tcl_WideInt) queued));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorCloseResource --
 *
 *	The creator is done with the actor (creator thread): its
 *	interpreter is deleted, its thread exits, the process exits, or the
 *	actor has ended on its own (ActorFinish). Stops the actor at once if
 *	it still runs, joins its thread, and drops the creator's side.
 *
 *----------------------------------------------------------------------
 */

static atomic_uint_fast64_t exitDeadline;	/* uv_hrtime; 0: not exiting. */

void
CourierActorCloseResource(
    CourierResource *resPtr)
{
    Actor *actorPtr = (Actor *) resPtr;
    Tcl_Command token = actorPtr->token;

    assert(!actorPtr->closing);
    actorPtr->closing = 1;
    if (actorPtr->threadPtr != NULL) {
	uint64_t deadline = atomic_load(&exitDeadline);

	ActorStopNow(actorPtr);
	if (deadline != 0) {
	    /* Exiting: a thread that does not end in time is let go. */
	    CourierThreadJoinUntil(actorPtr->threadPtr, deadline);
	} else {
	    CourierThreadJoin(actorPtr->threadPtr);
	}
	actorPtr->threadPtr = NULL;
    }
    CourierPortClose(actorPtr->controlPort);
    CourierResourceForget(resPtr);
    CourierActorRegistryRemove(actorPtr);
    CourierObjClear(&actorPtr->onError);
    CourierObjClear(&actorPtr->onExit);
    CourierObjClear(&actorPtr->onNotice);
    if (token != NULL) {
	actorPtr->token = NULL;
	Tcl_DeleteCommandFromToken(actorPtr->ownerInterp, token);
    }
    CourierActorUnref(actorPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorStopOwned --
 *
 *	An interpreter is deleted or its thread exits (creator thread):
 *	stops every actor it created at once, before its resources are
 *	closed one by one (CourierActorCloseResource joins them), so that the
 *	actors end in parallel rather than one after another.
 *
 *----------------------------------------------------------------------
 */

void
CourierActorStopOwned(
    CourierInterp *cinterpPtr)
{
    CourierResource *resPtr;

    for (resPtr = cinterpPtr->resources; resPtr != NULL;
	    resPtr = resPtr->nextPtr) {
	if (resPtr->kind == courierActorKind
		&& ((Actor *) resPtr)->threadPtr != NULL) {
	    ActorStopNow((Actor *) resPtr);
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorExiting --
 *
 *	The process exits (exit handler, before any resource is closed):
 *	sets the deadline by which the joins of actor threads give up
 *	(COURIER_EXIT_WAIT_MS from now) and stops every actor of the
 *	process at once, whichever thread created it.
 *
 *----------------------------------------------------------------------
 */

void
CourierActorExiting(void)
{
    Actor *actorPtr, **actors;
    size_t n, i;

    atomic_store(&exitDeadline,
	    uv_hrtime() + (uint64_t) COURIER_EXIT_WAIT_MS * 1000000);

    /* Take references under the registry's lock; stop them after it. */
    actors = CourierActorRegistryAll(&n);
    for (i = 0; i < n; i++) {
	int started;

	actorPtr = actors[i];
	uv_mutex_lock(&actorPtr->lock);
	started = actorPtr->started;	/* Its mailbox exists. */
	uv_mutex_unlock(&actorPtr->lock);
	if (started) {
	    ActorStopNow(actorPtr);
	}
	CourierActorUnref(actorPtr);
    }
    free(actors);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorCreateInterp, ActorExitProc, CourierActorUnload --
 *
 *	Tcl panics when an interpreter is created once exit has begun, and
 *	it marks exit as begun before any exit handler runs: an actor
 *	starting or restarting while another thread calls exit would abort
 *	the process. So Courier installs an exit procedure that runs first:
 *	it closes the door on new actor interpreters (waiting for those
 *	being created right now), then exits the ordinary way, where the
 *	exit handlers stop and join the actors.
 *
 *	A handshake on two atomics, no lock: a creator announces itself,
 *	then looks at the door; exit shuts the door, then waits for the
 *	announced creators to finish.
 *
 *----------------------------------------------------------------------
 */

static atomic_int exitBegun;
static atomic_int interpsInCreation;
static Tcl_ExitProc *previousExitProc;
static int exitProcSet;		/* Guarded by courierActorRegistryLock. */

Tcl_Interp *
CourierActorCreateInterp(void)
{
    Tcl_Interp *interp = NULL;

    atomic_fetch_add(&interpsInCreation, 1);
    if (!atomic_load(&exitBegun)) {
	interp = Tcl_CreateInterp();
    }
    atomic_fetch_sub(&interpsInCreation, 1);
    return interp;
}

static void
ActorExitProc(
    ClientData clientData)
{
    atomic_store(&exitBegun, 1);
    while (atomic_load(&interpsInCreation) > 0) {
	uv_sleep(1);
    }
    Tcl_SetExitProc(previousExitProc);
    Tcl_Exit((int) (intptr_t) clientData);
}

void
CourierActorSetExitProc(void)
{
    uv_mutex_lock(&courierActorRegistryLock);
    if (!exitProcSet) {
	exitProcSet = 1;
	previousExitProc = Tcl_SetExitProc(ActorExitProc);
    }
    uv_mutex_unlock(&courierActorRegistryLock);
}

/*
 * CourierActorUnload --
 *	The library is about to be unmapped: give the exit procedure back.
 */

void
CourierActorUnload(void)
{
    uv_once(&courierActorRegistryOnce, CourierActorRegistryInit);
    uv_mutex_lock(&courierActorRegistryLock);
    if (exitProcSet) {
	exitProcSet = 0;
	Tcl_SetExitProc(previousExitProc);
    }
    uv_mutex_unlock(&courierActorRegistryLock);
}
