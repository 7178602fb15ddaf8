/*
 * actorthread.c --
 *
 *	The actor thread: opening the mailbox, each incarnation of the
 *	interpreter (its setup, -init, exit and background errors),
 *	delivering mailbox messages one at a time (holding those that arrive
 *	while a handler waits in the event loop), crashes and the -restart
 *	supervision, and, at the end, answering what is left and telling the
 *	creator.
 *
 *	Threads: the actor thread only, except CourierActorOfThread and
 *	CourierActorOwnStopsNow, which any thread may call about itself.
 */

#include "actorInt.h"

static void		ActorCrash(Actor *actorPtr, Tcl_Obj *messagePtr,
			    Tcl_Obj *optionsPtr);
static void		ActorDispatch(Actor *actorPtr, CourierMsg *msgPtr);
static void		ActorRunIncarnation(Actor *actorPtr);
static void		MailboxDeliver(void *ownerData, CourierMsg *msgPtr);

static const CourierPortType mailboxPortType = {
    "actor-mailbox", MailboxDeliver, CourierActorNoopNotify, NULL,
    CourierActorMailboxDiscard
};

/*
 *----------------------------------------------------------------------
 *
 * CourierActorOfThread, CourierActorOwnStopsNow --
 *
 *	The actor whose thread this is, or NULL (for waits that must give
 *	up when their own actor is stopped at once); whether that actor is
 *	being stopped at once (stop -now, exit).
 *
 *----------------------------------------------------------------------
 */

typedef struct ActorThreadData {
    Actor *actorPtr;
} ActorThreadData;

static Tcl_ThreadDataKey actorThreadKey;

Actor *
CourierActorOfThread(void)
{
    ActorThreadData *tdPtr =
	    Tcl_GetThreadData(&actorThreadKey, sizeof(ActorThreadData));

    return tdPtr->actorPtr;
}

int
CourierActorOwnStopsNow(void)
{
    Actor *selfPtr = CourierActorOfThread();

    return selfPtr != NULL && atomic_load(&selfPtr->stopping) == STOP_NOW;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorThreadMain --
 *
 *	The actor's thread: opens the mailbox, then runs incarnations of the
 *	interpreter until the actor ends, restarting per the policy; then
 *	answers what is left in the mailbox, tells the creator and finishes
 *	the thread's Tcl state.
 *
 *----------------------------------------------------------------------
 */

static int
ActorMayRestart(
    Actor *actorPtr)
{
    Tcl_WideInt now = (Tcl_WideInt) (uv_hrtime() / 1000000);
    int i, kept = 0;

    /* Forget restarts older than the window, then count the rest. */
    for (i = 0; i < actorPtr->restartLogCount; i++) {
	if (now - actorPtr->restartLog[i] < actorPtr->withinMs) {
	    actorPtr->restartLog[kept++] = actorPtr->restartLog[i];
	}
    }
    actorPtr->restartLogCount = kept;
    if (kept >= actorPtr->maxRestarts) {
	return 0;
    }
    actorPtr->restartLog[actorPtr->restartLogCount++] = now;
    return 1;
}

void
CourierActorThreadMain(
    void *arg)
{
    Actor *actorPtr = arg;
    ActorThreadData *tdPtr =
	    Tcl_GetThreadData(&actorThreadKey, sizeof(ActorThreadData));
    const char *reason;
    const char *strings[1];
    CourierMsg *msgPtr;

    tdPtr->actorPtr = actorPtr;
    actorPtr->mailbox = CourierPortOpen(CourierInboxForThread(),
	    &mailboxPortType, NULL, actorPtr, actorPtr, PORT_NO_LIMIT);
    Tcl_InitHashTable(&actorPtr->deferred, TCL_STRING_KEYS);
    uv_mutex_lock(&actorPtr->lock);
    actorPtr->thread = Tcl_GetCurrentThread();
    actorPtr->started = 1;
    uv_cond_broadcast(&actorPtr->cond);
    uv_mutex_unlock(&actorPtr->lock);

    for (;;) {
	int end;

	ActorRunIncarnation(actorPtr);
	end = actorPtr->ending;
	if (end == END_STOP || atomic_load(&actorPtr->stopping) != STOP_NONE) {
	    reason = "stopped";
	    break;
	}
	if (end == END_EXIT && actorPtr->restartPolicy != RESTART_ALWAYS) {
	    reason = "exit";
	    break;
	}
	if (end == END_CRASH && actorPtr->restartPolicy == RESTART_NEVER) {
	    reason = "error";
	    break;
	}
	if (!ActorMayRestart(actorPtr)) {
	    reason = "failed";
	    break;
	}
	atomic_fetch_add(&actorPtr->restarts, 1);
	atomic_store(&actorPtr->state, STATE_RESTARTING);
    }

    /* No more messages: answer what is held and what is still queued. */
    atomic_store(&actorPtr->state, STATE_STOPPING);
    if (atomic_load(&actorPtr->stopping) == STOP_NONE) {
	int expected = STOP_NONE;

	atomic_compare_exchange_strong(&actorPtr->stopping, &expected,
		STOP_GRACEFUL);
    }
    while ((msgPtr = actorPtr->heldHead) != NULL) {
	actorPtr->heldHead = msgPtr->next;
	CourierActorMailReject(msgPtr, "stopped before it ran this message",
		"COURIER ACTOR STOPPED");
	CourierMsgFree(msgPtr);
    }
    actorPtr->heldTail = NULL;
    Tcl_DeleteHashTable(&actorPtr->deferred);
    CourierPortClose(actorPtr->mailbox);
    CourierInboxClose();		/* Discards (answers) the rest. */

    atomic_store(&actorPtr->state, STATE_STOPPED);
    strings[0] = reason;
    CourierActorPostNotice(actorPtr, NOTE_EXIT, 1, strings);
    CourierPortRelease(actorPtr->controlPort);
    tdPtr->actorPtr = NULL;
    Tcl_FinalizeThread();
    CourierActorUnref(actorPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * ActorSetupInterp --
 *
 *	Makes a new interpreter an actor's: Tcl's init, courier loaded the
 *	way the creator loaded it, courier::self, an exit that ends the
 *	actor instead of the process, and a background-error handler that
 *	reports a crash. Then the -init script.
 *
 *----------------------------------------------------------------------
 */

static int	ActorBgerrorObjCmd(ClientData clientData, Tcl_Interp *interp,
		    int objc, Tcl_Obj *const objv[]);
static int	ActorExitObjCmd(ClientData clientData, Tcl_Interp *interp,
		    int objc, Tcl_Obj *const objv[]);

static int
ActorSetupInterp(
    Actor *actorPtr,
    Tcl_Interp *interp)
{
    Tcl_Obj *scriptPtr;
    int code;

    if (Tcl_Init(interp) != TCL_OK) {
	return TCL_ERROR;
    }
    if (actorPtr->pkgScript == NULL) {
	scriptPtr = Tcl_NewStringObj("package require courier ", -1);
    } else {
	scriptPtr = Tcl_ObjPrintf("package ifneeded courier %s ",
		actorPtr->pkgVersion);
	Tcl_ListObjAppendElement(NULL, scriptPtr,
		Tcl_NewStringObj(actorPtr->pkgScript, -1));
	Tcl_AppendToObj(scriptPtr, "; package require courier ", -1);
    }
    Tcl_AppendToObj(scriptPtr, actorPtr->pkgVersion, -1);
    Tcl_IncrRefCount(scriptPtr);
    code = Tcl_EvalObjEx(interp, scriptPtr, TCL_EVAL_GLOBAL);
    Tcl_DecrRefCount(scriptPtr);
    if (code != TCL_OK) {
	return TCL_ERROR;
    }
    Tcl_SetAssocData(interp, SELF_KEY, NULL, actorPtr);
    CourierActorRef(actorPtr);
    Tcl_CreateObjCommand(interp, actorPtr->handle, CourierActorHandleObjCmd,
	    actorPtr, CourierActorHandleDeleted);
    Tcl_CreateObjCommand(interp, "::exit", ActorExitObjCmd, actorPtr, NULL);
    Tcl_CreateObjCommand(interp, "::courier::ActorBgerror",
	    ActorBgerrorObjCmd, actorPtr, NULL);
    if (Tcl_EvalEx(interp, "interp bgerror {} ::courier::ActorBgerror", -1,
	    TCL_EVAL_GLOBAL) != TCL_OK) {
	return TCL_ERROR;
    }
    Tcl_ResetResult(interp);
    if (actorPtr->initScript != NULL) {
	return Tcl_EvalEx(interp, actorPtr->initScript, -1, TCL_EVAL_GLOBAL);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * ActorRunIncarnation --
 *
 *	One life of the actor's interpreter: create it, set it up, run held
 *	and new messages and every other event until it ends (stop, exit,
 *	crash), then delete it. Sets actorPtr->ending.
 *
 *----------------------------------------------------------------------
 */

static void
ActorRunIncarnation(
    Actor *actorPtr)
{
    Tcl_Interp *interp = CourierActorCreateInterp();
    int i;

    if (interp == NULL) {
	actorPtr->ending = END_STOP;	/* The process is exiting. */
	return;
    }
    actorPtr->ending = END_NONE;
    actorPtr->ready = 0;
    actorPtr->runInterp = interp;
    uv_mutex_lock(&actorPtr->lock);
    actorPtr->interp = interp;
    uv_mutex_unlock(&actorPtr->lock);
    if (atomic_load(&actorPtr->stopping) == STOP_NOW) {
	actorPtr->ending = END_STOP;
    } else if (ActorSetupInterp(actorPtr, interp) != TCL_OK) {
	if (actorPtr->ending == END_NONE) {
	    Tcl_Obj *optsPtr = Tcl_GetReturnOptions(interp, TCL_ERROR);
	    Tcl_Obj *msgPtr = Tcl_GetObjResult(interp);

	    Tcl_IncrRefCount(optsPtr);
	    Tcl_IncrRefCount(msgPtr);
	    if (atomic_load(&actorPtr->stopping) == STOP_NOW) {
		actorPtr->ending = END_STOP;
	    } else {
		ActorCrash(actorPtr, msgPtr, optsPtr);
	    }
	    Tcl_DecrRefCount(msgPtr);
	    Tcl_DecrRefCount(optsPtr);
	}
    } else if (actorPtr->ending == END_NONE) {
	actorPtr->ready = 1;
	atomic_store(&actorPtr->state, STATE_RUNNING);
    }
    Tcl_ResetResult(interp);

    while (actorPtr->ending == END_NONE) {
	if (actorPtr->heldHead != NULL && actorPtr->ready
		&& actorPtr->depth == 0) {
	    CourierMsg *msgPtr = actorPtr->heldHead;

	    actorPtr->heldHead = msgPtr->next;
	    if (actorPtr->heldHead == NULL) {
		actorPtr->heldTail = NULL;
	    }
	    ActorDispatch(actorPtr, msgPtr);
	    CourierMsgFree(msgPtr);
	    Tcl_DoOneEvent(TCL_ALL_EVENTS | TCL_DONT_WAIT);
	    continue;
	}
	Tcl_DoOneEvent(TCL_ALL_EVENTS);
    }

    actorPtr->ready = 0;
    CourierActorRejectDeferred(actorPtr,
	    actorPtr->ending == END_STOP ? "stopped" : "restarted",
	    actorPtr->ending == END_STOP ? "COURIER ACTOR STOPPED"
	    : "COURIER ACTOR RESTARTED");
    for (i = 0; i < CMD_CACHE_SIZE; i++) {
	CourierObjClear(&actorPtr->cmdCache[i]);
    }
    uv_mutex_lock(&actorPtr->lock);
    actorPtr->interp = NULL;
    uv_mutex_unlock(&actorPtr->lock);
    actorPtr->runInterp = NULL;
    Tcl_DeleteInterp(interp);
}

/*
 *----------------------------------------------------------------------
 *
 * MailboxDeliver --
 *
 *	A mailbox message reaches the actor thread: run it now if nothing
 *	else runs and nothing waits before it; else keep a copy for later
 *	(in order); drop it if the actor stops now.
 *
 *----------------------------------------------------------------------
 */

static void
MailboxDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Actor *actorPtr = ownerData;
    CourierMsg *copyPtr;

    if (atomic_load(&actorPtr->stopping) == STOP_NOW) {
	if (msgPtr->kind == MAIL_STOP) {
	    actorPtr->ending = END_STOP;
	    actorPtr->ready = 0;
	} else {
	    CourierActorMailReject(msgPtr,
		    "was stopped before it ran this message",
		    "COURIER ACTOR STOPPED");
	}
	return;
    }
    if (actorPtr->ready && actorPtr->depth == 0
	    && actorPtr->heldHead == NULL) {
	ActorDispatch(actorPtr, msgPtr);
	return;
    }
    copyPtr = CourierMsgAlloc(msgPtr->size);
    copyPtr->kind = msgPtr->kind;
    memcpy(copyPtr->data, msgPtr->data, msgPtr->size);
    COURIER_QUEUE_APPEND(actorPtr->heldHead, actorPtr->heldTail, copyPtr,
	    next);
}

/*
 *----------------------------------------------------------------------
 *
 * CommandWord --
 *
 *	The Tcl object for a message's command word. The last few are kept
 *	(per actor thread), so that a stream of messages to one command
 *	reuses one object and Tcl's cached command lookup in it.
 *
 *----------------------------------------------------------------------
 */

static Tcl_Obj *
CommandWord(
    Actor *actorPtr,
    int tag,
    const unsigned char *bytes,
    size_t len)
{
    unsigned slot;
    Tcl_Obj *objPtr;

    if (tag != WORD_STRING || len == 0) {
	return CourierActorWordObj(tag, bytes, len);
    }
    slot = (unsigned) (len * 31 + bytes[0] * 7 + bytes[len - 1])
	    % CMD_CACHE_SIZE;
    objPtr = actorPtr->cmdCache[slot];
    if (objPtr != NULL) {
	int have;
	const char *s = Tcl_GetStringFromObj(objPtr, &have);

	if ((size_t) have == len && memcmp(s, bytes, len) == 0) {
	    return objPtr;
	}
	Tcl_DecrRefCount(objPtr);
    }
    objPtr = CourierActorWordObj(tag, bytes, len);
    Tcl_IncrRefCount(objPtr);
    actorPtr->cmdCache[slot] = objPtr;
    return objPtr;
}

/*
 *----------------------------------------------------------------------
 *
 * ActorDispatch --
 *
 *	Runs one mailbox message in the actor's interpreter: rebuilds the
 *	words, evaluates them as one command at global level, answers an
 *	ask (unless the handler deferred its answer) or treats an error in
 *	a tell as a crash. The message is not freed here.
 *
 *----------------------------------------------------------------------
 */

static void
ActorDispatch(
    Actor *actorPtr,
    CourierMsg *msgPtr)
{
    Tcl_Interp *interp = actorPtr->runInterp;
    const unsigned char *p, *end;
    Tcl_Obj *stackv[16], **objv = stackv;
    MailHeader header;
    ReplyTo saved;
    int savedDeferred, code, i;

    if (msgPtr->kind == MAIL_STOP) {
	actorPtr->ending = END_STOP;
	actorPtr->ready = 0;
	return;
    }
    memcpy(&header, msgPtr->data, sizeof(header));
    assert(header.actorPtr == actorPtr);
    if (header.argc > 16) {
	objv = (Tcl_Obj **) ckalloc(sizeof(Tcl_Obj *) * header.argc);
    }
    p = msgPtr->data + sizeof(header);
    end = msgPtr->data + msgPtr->size;
    for (i = 0; i < (int) header.argc; i++) {
	const unsigned char *bytes;
	size_t len;
	int tag;

	p = CourierActorGetWord(p, end, &tag, &bytes, &len);
	assert(p != NULL);
	objv[i] = i == 0 ? CommandWord(actorPtr, tag, bytes, len)
		: CourierActorWordObj(tag, bytes, len);
	Tcl_IncrRefCount(objv[i]);
    }

    saved = actorPtr->current;
    savedDeferred = actorPtr->currentDeferred;
    actorPtr->current.kind = msgPtr->kind == MAIL_TELL ? 0 : msgPtr->kind;
    actorPtr->current.ptr = header.replyPtr;
    actorPtr->current.id = header.id;
    actorPtr->currentDeferred = 0;

    CourierActorMailboxTaken(actorPtr);
    actorPtr->depth++;
    code = Tcl_EvalObjv(interp, (int) header.argc, objv, TCL_EVAL_GLOBAL);
    actorPtr->depth--;
    atomic_fetch_add(&actorPtr->processed, 1);

    if (actorPtr->current.kind != 0) {
	if (!actorPtr->currentDeferred) {
	    if (actorPtr->ending == END_EXIT) {
		CourierActorReplyWithError(&actorPtr->current,
			"actor exited while running this message",
			"COURIER ACTOR EXITED");
	    } else if (atomic_load(&actorPtr->stopping) == STOP_NOW) {
		CourierActorReplyWithError(&actorPtr->current,
			"actor was stopped while running this message",
			"COURIER ACTOR STOPPED");
	    } else {
		CourierActorReplyWithResult(&actorPtr->current, interp,
			code == TCL_ERROR ? TCL_ERROR : TCL_OK);
	    }
	}
    } else if (code == TCL_ERROR && actorPtr->ending == END_NONE
	    && atomic_load(&actorPtr->stopping) != STOP_NOW) {
	Tcl_Obj *optsPtr = Tcl_GetReturnOptions(interp, code);
	Tcl_Obj *resultPtr = Tcl_GetObjResult(interp);

	Tcl_IncrRefCount(optsPtr);
	Tcl_IncrRefCount(resultPtr);
	ActorCrash(actorPtr, resultPtr, optsPtr);
	Tcl_DecrRefCount(resultPtr);
	Tcl_DecrRefCount(optsPtr);
    }
    actorPtr->current = saved;
    actorPtr->currentDeferred = savedDeferred;
    Tcl_ResetResult(interp);
    for (i = 0; i < (int) header.argc; i++) {
	Tcl_DecrRefCount(objv[i]);
    }
    if (objv != stackv) {
	ckfree(objv);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ActorCrash --
 *
 *	The actor's code failed (actor thread): end this incarnation and
 *	tell the creator (-onerror) with the message, -errorcode and
 *	-errorinfo.
 *
 *----------------------------------------------------------------------
 */

static void
ActorCrash(
    Actor *actorPtr,
    Tcl_Obj *messagePtr,
    Tcl_Obj *optionsPtr)
{
    Tcl_Obj *codePtr = NULL, *infoPtr = NULL, *key;
    const char *strings[3];

    if (actorPtr->ending != END_NONE) {
	return;
    }
    actorPtr->ending = END_CRASH;
    actorPtr->ready = 0;
    atomic_store(&actorPtr->state, STATE_RESTARTING);
    key = Tcl_NewStringObj("-errorcode", -1);
    Tcl_IncrRefCount(key);
    Tcl_DictObjGet(NULL, optionsPtr, key, &codePtr);
    Tcl_SetStringObj(key, "-errorinfo", -1);
    Tcl_DictObjGet(NULL, optionsPtr, key, &infoPtr);
    strings[0] = Tcl_GetString(messagePtr);
    strings[1] = codePtr != NULL ? Tcl_GetString(codePtr) : "NONE";
    strings[2] = infoPtr != NULL ? Tcl_GetString(infoPtr) : "";
    CourierActorPostNotice(actorPtr, NOTE_ERROR, 3, strings);
    Tcl_DecrRefCount(key);
}

/*
 * ActorBgerrorObjCmd --
 *	The actor interpreter's background-error handler (msg options): an
 *	error nobody caught is a crash.
 */

static int
ActorBgerrorObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    Actor *actorPtr = clientData;

    if (objc != 3) {
	Tcl_WrongNumArgs(interp, 1, objv, "message options");
	return TCL_ERROR;
    }
    if (atomic_load(&actorPtr->stopping) != STOP_NOW) {
	ActorCrash(actorPtr, objv[1], objv[2]);
    }
    return TCL_OK;
}

/*
 * ActorExitObjCmd --
 *	exit ?status? in an actor ends the actor, not the process: the
 *	running script is unwound (catch cannot stop it).
 */

static int
ActorExitObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    Actor *actorPtr = clientData;
    int status;

    if (objc > 2 || (objc == 2
	    && Tcl_GetIntFromObj(NULL, objv[1], &status) != TCL_OK)) {
	return CourierError(interp, "USAGE", NULL,
		"wrong # args: should be \"exit ?returnCode?\"");
    }
    if (actorPtr->ending == END_NONE) {
	actorPtr->ending = END_EXIT;
	actorPtr->ready = 0;
    }
    Tcl_CancelEval(interp, Tcl_ObjPrintf("actor \"%s\" exited",
	    actorPtr->name), NULL, TCL_CANCEL_UNWIND);
    Tcl_SetObjResult(interp, Tcl_ObjPrintf("actor \"%s\" exited",
	    actorPtr->name));
    Tcl_SetErrorCode(interp, "COURIER", "ACTOR", "EXITED", NULL);
    return TCL_ERROR;
}
