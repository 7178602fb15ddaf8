/*
 * actorsend.c --
 *
 *	Tell, ask and call: putting a message into an actor's mailbox (with
 *	the -mailbox bound and -block wait), the caller's side of an ask
 *	(its reply port, pending asks and their -timeout, delivering the
 *	answer to -command), and call, which waits on a sync slot and
 *	refuses a call that would close a cycle of calls.
 *
 *	Threads: the sender's (any thread holding a handle); ReplyDeliver
 *	runs in the asking interpreter's thread, from its inbox.
 */

#include "actorInt.h"

static const char clientKind[] = "actorclient";

static int		ActorSend(Tcl_Interp *interp, Actor *actorPtr,
			    CourierMsg *msgPtr, Tcl_WideInt blockMs);
static void		ClientClose(CourierResource *resPtr);
static ActorClient *	ClientGet(Tcl_Interp *interp);
static int		IsGuiThread(Tcl_Interp *interp);
static void		PendingTimeout(ClientData clientData);
static void		ReplyDeliver(void *ownerData, CourierMsg *msgPtr);

static const CourierPortType replyPortType = {
    "actor-reply", ReplyDeliver, CourierActorNoopNotify, NULL, NULL
};

/*
 *----------------------------------------------------------------------
 *
 * ActorSend --
 *
 *	Puts a tell or ask into an actor's mailbox (sender's thread). With
 *	a bounded mailbox that is full, fails at once, or waits up to
 *	blockMs for space.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message: {COURIER MAILBOX FULL},
 *	{COURIER ACTOR STOPPED}. On error the message is freed (a reference
 *	it carried is the caller's to drop).
 *
 *----------------------------------------------------------------------
 */

static int
ActorSend(
    Tcl_Interp *interp,
    Actor *actorPtr,
    CourierMsg *msgPtr,
    Tcl_WideInt blockMs)
{
    size_t max = actorPtr->mailboxMax;

    if (atomic_load(&actorPtr->stopping) != STOP_NONE) {
	CourierMsgFree(msgPtr);
	return CourierError(interp, "ACTOR", "STOPPED",
		"actor \"%s\" is stopping: it takes no more messages",
		actorPtr->name);
    }
    if (atomic_fetch_add(&actorPtr->queued, 1) >= max && max > 0) {
	uint64_t deadline = uv_hrtime() + (uint64_t) blockMs * 1000000;
	int ok = 0;

	/*
	 * Give the slot back as the actor does (CourierActorMailboxTaken):
	 * a sender waiting for space may have counted ours and gone back to
	 * sleep just after the actor made room.
	 */

	CourierActorMailboxTaken(actorPtr);
	if (blockMs > 0) {
	    uv_mutex_lock(&actorPtr->lock);
	    atomic_fetch_add(&actorPtr->spaceWaiters, 1);
	    for (;;) {
		uint64_t now;

		if (atomic_fetch_add(&actorPtr->queued, 1) < max) {
		    ok = 1;
		    break;
		}
		atomic_fetch_sub(&actorPtr->queued, 1);
		now = uv_hrtime();
		if (now >= deadline || CourierActorOwnStopsNow()
			|| atomic_load(&actorPtr->stopping) != STOP_NONE) {
		    break;
		}
		uv_cond_timedwait(&actorPtr->cond, &actorPtr->lock,
			deadline - now < WAIT_SLICE_NS ? deadline - now
			: WAIT_SLICE_NS);
	    }
	    atomic_fetch_sub(&actorPtr->spaceWaiters, 1);
	    uv_mutex_unlock(&actorPtr->lock);
	}
	if (!ok) {
	    CourierMsgFree(msgPtr);
	    if (atomic_load(&actorPtr->stopping) != STOP_NONE) {
		return CourierError(interp, "ACTOR", "STOPPED",
			"actor \"%s\" is stopping: it takes no more "
			"messages", actorPtr->name);
	    }
	    Tcl_SetObjResult(interp, Tcl_ObjPrintf(
		    "mailbox of actor \"%s\" is full (%lu messages)",
		    actorPtr->name, (unsigned long) max));
	    Tcl_SetErrorCode(interp, "COURIER", "MAILBOX", "FULL", NULL);
	    return TCL_ERROR;
	}
    }
    if (CourierPortPost(actorPtr->mailbox, msgPtr) == COURIER_POST_CLOSED) {
	atomic_fetch_sub(&actorPtr->queued, 1);
	return CourierError(interp, "ACTOR", "STOPPED",
		"actor \"%s\" has stopped", actorPtr->name);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * IsGuiThread --
 *
 *	Does this interpreter's thread own a Tk main window? Blocking there
 *	would freeze the GUI. Looks at the interpreter and its parents (a
 *	child interpreter of a Tk application runs in the GUI thread too).
 *
 *----------------------------------------------------------------------
 */

static int
IsGuiThread(
    Tcl_Interp *interp)
{
    Tcl_Interp *ip;
    int gui = 0;

    for (ip = interp; ip != NULL && !gui; ip = Tcl_GetMaster(ip)) {
	Tcl_CmdInfo info;
	Tcl_Obj *savedPtr = Tcl_GetObjResult(ip);

	Tcl_IncrRefCount(savedPtr);
	gui = Tcl_PkgPresent(ip, "Tk", NULL, 0) != NULL
		&& Tcl_GetCommandInfo(ip, ".", &info);
	Tcl_SetObjResult(ip, savedPtr);
	Tcl_DecrRefCount(savedPtr);
    }
    return gui;
}

/*
 *----------------------------------------------------------------------
 *
 * ParseSendOptions --
 *
 *	Reads the options in front of a command: objv[*indexPtr ...] up to
 *	the first word that does not start with "-" (or after "--").
 *	allowed lists the accepted options; values go into the matching
 *	slots of values[] (NULL when absent).
 *
 * Results:
 *	TCL_OK with *indexPtr at the command word, or TCL_ERROR.
 *
 *----------------------------------------------------------------------
 */

static int
ParseSendOptions(
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[],
    int *indexPtr,
    const char *const allowed[],
    Tcl_Obj *values[],
    const char *usage)
{
    int i = *indexPtr, index;

    while (i < objc) {
	const char *word = Tcl_GetString(objv[i]);

	if (word[0] != '-') {
	    break;
	}
	if (strcmp(word, "--") == 0) {
	    i++;
	    break;
	}
	if (Tcl_GetIndexFromObj(interp, objv[i], allowed, "option", 0,
		&index) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "COURIER", "OPTION", word, NULL);
	    return TCL_ERROR;
	}
	if (i + 1 >= objc) {
	    return CourierError(interp, "USAGE", NULL,
		    "value for \"%s\" missing: should be \"%s\"", word, usage);
	}
	values[index] = objv[i + 1];
	i += 2;
    }
    if (i >= objc) {
	return CourierError(interp, "USAGE", NULL,
		"wrong # args: should be \"%s\"", usage);
    }
    *indexPtr = i;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorTell --
 *
 *	$a tell ?-block ms? ?--? cmd ?arg ...?
 *
 *----------------------------------------------------------------------
 */

int
CourierActorTell(
    Tcl_Interp *interp,
    Actor *actorPtr,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const options[] = {"-block", NULL};
    static const char usage[] = "tell ?-block ms? ?--? cmd ?arg ...?";
    Tcl_Obj *values[1] = {NULL};
    Tcl_WideInt blockMs = 0;
    int i = 0;

    if (ParseSendOptions(interp, objc, objv, &i, options, values, usage)
	    != TCL_OK) {
	return TCL_ERROR;
    }
    if (values[0] != NULL) {
	if (CourierGetPositiveWide(interp, values[0], "-block", 0,
		86400000, &blockMs) != TCL_OK) {
	    return TCL_ERROR;
	}
	if (blockMs > 0 && IsGuiThread(interp)) {
	    return CourierError(interp, "ACTOR", "GUI",
		    "tell -block would freeze the GUI: this thread owns a "
		    "Tk main window (use tell without -block, or ask)");
	}
    }
    return ActorSend(interp, actorPtr, CourierActorMakeMail(MAIL_TELL,
	    actorPtr, NULL, 0, objc - i, objv + i), blockMs);
}

/*
 *----------------------------------------------------------------------
 *
 * ClientGet, ClientClose --
 *
 *	The interpreter's ask state: its reply port and pending asks,
 *	created on first use, closed with the interpreter (pending asks are
 *	dropped without a callback: there is nobody left to call).
 *
 *----------------------------------------------------------------------
 */

static ActorClient *
ClientGet(
    Tcl_Interp *interp)
{
    ActorClient *clientPtr = Tcl_GetAssocData(interp, CLIENT_KEY, NULL);
    CourierInterp *cinterpPtr;
    ReplyChannel *channelPtr;

    if (clientPtr != NULL) {
	return clientPtr;
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return NULL;
    }
    clientPtr = (ActorClient *) ckalloc(sizeof(ActorClient));
    memset(clientPtr, 0, sizeof(ActorClient));
    clientPtr->interp = interp;
    Tcl_InitHashTable(&clientPtr->pending, TCL_ONE_WORD_KEYS);
    channelPtr = CourierAllocZero(sizeof(ReplyChannel));
    atomic_init(&channelPtr->refCount, 1);
    channelPtr->port = CourierPortOpen(cinterpPtr->inboxPtr, &replyPortType,
	    interp, clientPtr, channelPtr, PORT_NO_LIMIT);
    clientPtr->channel = channelPtr;
    CourierResourceAdd(cinterpPtr, &clientPtr->resource, clientKind,
	    ClientClose);
    Tcl_SetAssocData(interp, CLIENT_KEY, NULL, clientPtr);
    return clientPtr;
}

static void
PendingFree(
    Pending *pendingPtr)
{
    if (pendingPtr->timer != NULL) {
	Tcl_DeleteTimerHandler(pendingPtr->timer);
    }
    Tcl_DecrRefCount(pendingPtr->cmdPtr);
    ckfree(pendingPtr);
}

static void
ClientClose(
    CourierResource *resPtr)
{
    ActorClient *clientPtr = (ActorClient *) resPtr;
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;

    for (hPtr = Tcl_FirstHashEntry(&clientPtr->pending, &search);
	    hPtr != NULL; hPtr = Tcl_NextHashEntry(&search)) {
	PendingFree(Tcl_GetHashValue(hPtr));
    }
    Tcl_DeleteHashTable(&clientPtr->pending);
    CourierPortClose(clientPtr->channel->port);
    CourierActorChannelUnref(clientPtr->channel);
    CourierResourceForget(resPtr);
    Tcl_DeleteAssocData(clientPtr->interp, CLIENT_KEY);
    ckfree(clientPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * PendingFinish --
 *
 *	Runs an ask's callback with its outcome words appended, at global
 *	level in the caller's interpreter (errors go to bgerror), and frees
 *	the pending record (already removed from the table).
 *
 *----------------------------------------------------------------------
 */

static void
PendingFinish(
    Pending *pendingPtr,
    int n,
    Tcl_Obj *words[])
{
    Tcl_Interp *interp = pendingPtr->clientPtr->interp;
    Tcl_Obj *cmdPtr = pendingPtr->cmdPtr;

    Tcl_IncrRefCount(cmdPtr);
    PendingFree(pendingPtr);
    Tcl_Preserve(interp);
    CourierCallPrefix(interp, "-command", NULL, cmdPtr, n, words);
    Tcl_ResetResult(interp);
    Tcl_Release(interp);
    Tcl_DecrRefCount(cmdPtr);
}

static void
PendingTimeout(
    ClientData clientData)
{
    Pending *pendingPtr = clientData;
    Tcl_HashEntry *hPtr = Tcl_FindHashEntry(&pendingPtr->clientPtr->pending,
	    (char *) (uintptr_t) pendingPtr->id);
    Tcl_Obj *word = Tcl_NewStringObj("timeout", -1);

    assert(hPtr != NULL);
    Tcl_DeleteHashEntry(hPtr);
    pendingPtr->timer = NULL;
    PendingFinish(pendingPtr, 1, &word);
}

/*
 *----------------------------------------------------------------------
 *
 * ReplyDeliver --
 *
 *	A reply arrived in the caller's thread: run the ask's callback with
 *	"ok value" or "error message errorcode". A reply whose ask timed out
 *	is dropped.
 *
 *----------------------------------------------------------------------
 */

static void
ReplyDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    ActorClient *clientPtr = ownerData;
    Tcl_HashEntry *hPtr;
    Pending *pendingPtr;
    Tcl_Obj *words[3];
    uint64_t id;
    int n;

    memcpy(&id, msgPtr->data, sizeof(id));
    hPtr = Tcl_FindHashEntry(&clientPtr->pending, (char *) (uintptr_t) id);
    if (hPtr == NULL) {
	return;
    }
    pendingPtr = Tcl_GetHashValue(hPtr);
    Tcl_DeleteHashEntry(hPtr);
    words[0] = Tcl_NewStringObj(msgPtr->kind == REPLY_OK ? "ok" : "error",
	    -1);
    n = CourierActorReadWords(msgPtr, &id, 2, words + 1);
    PendingFinish(pendingPtr, n + 1, words);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorAsk --
 *
 *	$a ask ?-timeout ms? -command cb ?--? cmd ?arg ...?
 *	Posts the command and returns at once; cb runs later in this
 *	interpreter with "ok value", "error message errorcode" or "timeout".
 *
 *----------------------------------------------------------------------
 */

int
CourierActorAsk(
    Tcl_Interp *interp,
    Actor *actorPtr,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const options[] = {"-command", "-timeout", NULL};
    static const char usage[] =
	    "ask ?-timeout ms? -command cb ?--? cmd ?arg ...?";
    Tcl_Obj *values[2] = {NULL, NULL};
    Tcl_WideInt timeoutMs = 0;
    ActorClient *clientPtr;
    Pending *pendingPtr;
    Tcl_HashEntry *hPtr;
    CourierMsg *msgPtr;
    int i = 0, isNew;

    if (ParseSendOptions(interp, objc, objv, &i, options, values, usage)
	    != TCL_OK) {
	return TCL_ERROR;
    }
    if (values[0] == NULL) {
	return CourierError(interp, "USAGE", "-command",
		"missing -command: ask needs a command prefix to call with "
		"the reply (should be \"%s\")", usage);
    }
    if (CourierCheckCommandPrefix(interp, "-command", values[0]) != TCL_OK) {
	return TCL_ERROR;
    }
    if (values[1] != NULL && CourierGetPositiveWide(interp, values[1],
	    "-timeout", 1, 86400000, &timeoutMs) != TCL_OK) {
	return TCL_ERROR;
    }
    clientPtr = ClientGet(interp);
    if (clientPtr == NULL) {
	return TCL_ERROR;
    }

    atomic_fetch_add(&clientPtr->channel->refCount, 1);
    msgPtr = CourierActorMakeMail(MAIL_ASK, actorPtr, clientPtr->channel,
	    ++clientPtr->nextId, objc - i, objv + i);
    if (ActorSend(interp, actorPtr, msgPtr, 0) != TCL_OK) {
	CourierActorChannelUnref(clientPtr->channel);
	return TCL_ERROR;
    }
    pendingPtr = (Pending *) ckalloc(sizeof(Pending));
    pendingPtr->id = clientPtr->nextId;
    pendingPtr->cmdPtr = Tcl_DuplicateObj(values[0]);
    Tcl_IncrRefCount(pendingPtr->cmdPtr);
    pendingPtr->clientPtr = clientPtr;
    pendingPtr->timer = NULL;
    if (timeoutMs > 0) {
	pendingPtr->timer = Tcl_CreateTimerHandler((int) timeoutMs,
		PendingTimeout, pendingPtr);
    }
    hPtr = Tcl_CreateHashEntry(&clientPtr->pending,
	    (char *) (uintptr_t) pendingPtr->id, &isNew);
    assert(isNew);
    Tcl_SetHashValue(hPtr, pendingPtr);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CallWouldDeadlock, CallDone --
 *
 *	Deadlock detection for call between actors. An actor that calls
 *	another notes whom it waits for; a call that would close a cycle
 *	(the target waits, directly or through others, for the caller) can
 *	never be answered, since a waiting actor runs no message. Such a
 *	call fails at once. The check and the note are made under the
 *	registry lock, so that of two calls closing a cycle at the same
 *	time the second sees the first. Every actor on a chain is alive:
 *	the one waiting for it holds a reference until its call returns.
 *
 * Results:
 *	CallWouldDeadlock: 1 with an error {COURIER ACTOR DEADLOCK} in
 *	interp, or 0 with selfPtr noted as waiting for targetPtr (CallDone
 *	clears the note; NULL is allowed, for a caller that is no actor).
 *
 *----------------------------------------------------------------------
 */

static int
CallWouldDeadlock(
    Tcl_Interp *interp,
    Actor *selfPtr,
    Actor *targetPtr)
{
    Actor *p;
    char chain[400];
    size_t used;
    int steps = 0;

    used = (size_t) snprintf(chain, sizeof(chain), "%s", selfPtr->name);
    uv_mutex_lock(&courierActorRegistryLock);
    for (p = targetPtr; p != NULL && p != selfPtr && steps < 10000;
	    p = p->waitingFor, steps++) {
	if (used < sizeof(chain)) {
	    used += (size_t) snprintf(chain + used, sizeof(chain) - used,
		    " -> %s", p->name);
	}
    }
    if (p != selfPtr) {
	selfPtr->waitingFor = targetPtr;
    }
    uv_mutex_unlock(&courierActorRegistryLock);
    if (p != selfPtr) {
	return 0;
    }
    if (used < sizeof(chain)) {
	snprintf(chain + used, sizeof(chain) - used, " -> %s",
		selfPtr->name);
    }
    CourierError(interp, "ACTOR", "DEADLOCK",
	    "call to actor \"%s\" would deadlock: the actors would wait for "
	    "each other for ever (%s)", targetPtr->name, chain);
    return 1;
}

static void
CallDone(
    Actor *selfPtr)
{
    if (selfPtr != NULL) {
	uv_mutex_lock(&courierActorRegistryLock);
	selfPtr->waitingFor = NULL;
	uv_mutex_unlock(&courierActorRegistryLock);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorCall --
 *
 *	$a call ?-timeout ms? ?--? cmd ?arg ...?
 *	Posts the command and blocks this thread until the reply (no events
 *	run meanwhile). Refused on a Tk GUI thread, for an actor's own
 *	mailbox (it would wait for itself) and for a call that would close a
 *	cycle of actors waiting for each other (CallWouldDeadlock).
 *
 * Results:
 *	The handler's result, or its error (message and errorcode);
 *	{COURIER ACTOR TIMEOUT} after -timeout ms; {COURIER ACTOR
 *	DEADLOCK}.
 *
 *----------------------------------------------------------------------
 */

int
CourierActorCall(
    Tcl_Interp *interp,
    Actor *actorPtr,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const options[] = {"-timeout", NULL};
    static const char usage[] = "call ?-timeout ms? ?--? cmd ?arg ...?";
    Tcl_Obj *values[1] = {NULL}, *words[2];
    Tcl_WideInt timeoutMs = 0;
    SyncSlot *slotPtr;
    CourierMsg *replyPtr;
    Actor *selfPtr;
    uint64_t deadline, id;
    int i = 0, n, timedOut = 0, abandoned = 0;

    if (ParseSendOptions(interp, objc, objv, &i, options, values, usage)
	    != TCL_OK) {
	return TCL_ERROR;
    }
    if (values[0] != NULL && CourierGetPositiveWide(interp, values[0],
	    "-timeout", 1, 86400000, &timeoutMs) != TCL_OK) {
	return TCL_ERROR;
    }
    if (CourierActorOfThread() == actorPtr) {
	return CourierError(interp, "ACTOR", "SELF",
		"actor \"%s\" cannot call itself: it would wait for its own "
		"mailbox (use tell or ask)", actorPtr->name);
    }
    if (IsGuiThread(interp)) {
	return CourierError(interp, "ACTOR", "GUI",
		"call would freeze the GUI: this thread owns a Tk main window "
		"(use ask -command instead)");
    }
    selfPtr = CourierActorOfThread();
    if (selfPtr != NULL && CallWouldDeadlock(interp, selfPtr, actorPtr)) {
	return TCL_ERROR;
    }

    slotPtr = CourierActorSlotNew();
    if (ActorSend(interp, actorPtr, CourierActorMakeMail(MAIL_CALL, actorPtr,
	    slotPtr, 0, objc - i, objv + i), 0) != TCL_OK) {
	CourierActorSlotUnref(slotPtr);		/* The message's reference. */
	CourierActorSlotUnref(slotPtr);
	CallDone(selfPtr);
	return TCL_ERROR;
    }
    deadline = timeoutMs > 0 ? uv_hrtime() + (uint64_t) timeoutMs * 1000000
	    : UINT64_MAX;
    uv_mutex_lock(&slotPtr->lock);
    while (!slotPtr->done) {
	uint64_t now = uv_hrtime(), wait = WAIT_SLICE_NS;

	if (now >= deadline) {
	    timedOut = 1;
	    break;
	}
	if (CourierActorOwnStopsNow()) {
	    abandoned = 1;
	    break;
	}
	if (deadline - now < wait) {
	    wait = deadline - now;
	}
	uv_cond_timedwait(&slotPtr->cond, &slotPtr->lock, wait);
    }
    slotPtr->done = 1;
    replyPtr = slotPtr->reply;
    slotPtr->reply = NULL;
    uv_mutex_unlock(&slotPtr->lock);
    CourierActorSlotUnref(slotPtr);
    CallDone(selfPtr);

    if (replyPtr == NULL) {
	if (abandoned) {
	    return CourierError(interp, "ACTOR", "STOPPED",
		    "call to actor \"%s\" abandoned: this actor is stopping",
		    actorPtr->name);
	}
	assert(timedOut);
	(void) timedOut;
	return CourierError(interp, "ACTOR", "TIMEOUT",
		"actor \"%s\" did not answer within %" TCL_LL_MODIFIER "d ms",
		actorPtr->name, timeoutMs);
    }
    n = CourierActorReadWords(replyPtr, &id, 2, words);
    if (replyPtr->kind == REPLY_OK) {
	assert(n == 1);
	Tcl_SetObjResult(interp, words[0]);
	CourierMsgFree(replyPtr);
	return TCL_OK;
    }
    assert(n == 2);
    Tcl_SetObjResult(interp, words[0]);
    Tcl_SetObjErrorCode(interp, words[1]);
    CourierMsgFree(replyPtr);
    return TCL_ERROR;
}
