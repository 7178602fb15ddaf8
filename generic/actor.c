/*
 * actor.c --
 *
 *	courier::actor: Tcl code in a thread of its own, reached only through
 *	messages. An actor is a named thread ("the OS thread is named after
 *	the actor") that creates its own interpreter, loads Courier into it
 *	(so it has its own inbox) and runs an event loop until it is stopped.
 *
 *	  sender (any thread)                   actor thread
 *	  -------------------                   ------------
 *	  $a tell cmd args: copy the words      MailboxDeliver: rebuild objv
 *	  into one message, post it to the      from the copied words, run it,
 *	  mailbox (a port on the actor          one message at a time
 *	  thread's inbox)
 *	  $a ask ... -command cb: the same,     the result goes back as a
 *	  plus an id and a reference to the     message through the caller's
 *	  caller's reply port                   reply port (ReplyChannel)
 *	  $a call: the same, plus a SyncSlot    the result is put into the slot
 *	  the caller waits on                   and the caller is woken
 *	  onerror/onexit: run by the creator    notices posted to the
 *	  thread from its control port          creator's control port
 *
 *	What crosses threads is bytes (strings or byte arrays, copied), never
 *	a Tcl_Obj. Each Tcl object lives in one thread: the creator's Tcl_Objs
 *	(-onerror, -onexit, pending asks) in the creator, the interpreter and
 *	its objects in the actor thread.
 *
 *	One at a time. A message is run only when no other is running: a
 *	handler that enters the event loop (vwait, update) lets timers and
 *	sockets run, but a mailbox message that arrives then is held (copied
 *	to a private list) and run after the handler returns, in order. The
 *	same list holds messages while the interpreter is (re)starting.
 *
 *	Crashes and restarts. An error in a tell handler, or an uncaught
 *	background error in the actor, is a crash: -onerror is told, and the
 *	-restart policy decides whether a fresh interpreter is made (the
 *	mailbox is kept). An error in an ask or call handler is only the
 *	reply. Too many restarts within the window (-maxrestarts, -within)
 *	and the actor gives up, like an OTP supervisor.
 *
 *	Lifetimes. The creating interpreter owns the actor (a Courier
 *	resource): deleting it, ending its thread or exiting the process stops
 *	the actor at once and joins its thread. All the actors concerned are
 *	stopped first, then joined, so that they end in parallel. Exit waits
 *	COURIER_EXIT_WAIT_MS in all; a thread still running then (blocked in
 *	a C call that cancellation cannot interrupt) is detached and no longer
 *	holds the process (CourierActorExiting). An actor that ends on its own
 *	(stop, exit, crash without restart) tells its creator, which joins it
 *	and runs -onexit. Every ask gets an answer: a reply, an error reply
 *	when the actor stops first, or a timeout; nothing is delivered into a
 *	deleted interpreter.
 *
 *	Files. actor.c: the actor command, create, the handle command and
 *	the registry; mail.c: the words' wire format, replies and sync
 *	slots; actorsend.c: tell, ask, call; actorthread.c: the actor
 *	thread, delivery, crashes and restarts; actorstop.c: stop, the
 *	creator's close, exit; notice.c: notices to the creator and
 *	courier::notify; self.c: courier::self. actorInt.h: what they share.
 *
 *	Threads: courier::actor and the handle command run in any thread
 *	holding them; create runs in the creator's thread.
 *
 *	Locks. Actor.lock guards the interpreter pointer (so that another
 *	thread may cancel a running script) and the mailbox-space condition;
 *	the registry lock guards the list of actors. Neither is held while
 *	calling Tcl, except Tcl_CancelEval, which is documented as callable
 *	from any thread and takes only Tcl's private cancel lock.
 */

#include "actorInt.h"

static const char *const stateNames[] = {
    "starting", "running", "restarting", "stopping", "stopped"
};

const char courierActorKind[] = "actor";

uv_once_t courierActorRegistryOnce = UV_ONCE_INIT;
uv_mutex_t courierActorRegistryLock;
Actor *courierActorRegistry;		/* Newest first. */
static unsigned long actorCounter;	/* Default names; under the lock. */

static Tcl_Obj *	ActorInfo(Actor *actorPtr);
static int		ActorInfoCmd(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);
static int		ActorObjCmd(ClientData clientData, Tcl_Interp *interp,
			    int objc, Tcl_Obj *const objv[]);
static int		ActorSubcommand(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[], int first);

static const CourierPortType noticePortType = {
    "actor-notice", CourierActorNoticeDeliver, CourierActorNoopNotify, NULL,
    NULL
};

/*
 *----------------------------------------------------------------------
 *
 * CourierActorRegistryInit --
 *
 *	Once per process (uv_once on courierActorRegistryOnce): creates the
 *	registry lock and initialises the wire format (mail.c).
 *
 *----------------------------------------------------------------------
 */

void
CourierActorRegistryInit(void)
{
    if (uv_mutex_init(&courierActorRegistryLock) != 0) {
	Tcl_Panic("courier: cannot create the actor registry lock");
    }
    CourierActorMailInit();
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorInit --
 *
 *	Creates courier::actor and courier::self in an interpreter (called
 *	by Courier_Init).
 *
 *----------------------------------------------------------------------
 */

void
CourierActorInit(
    Tcl_Interp *interp)
{
    uv_once(&courierActorRegistryOnce, CourierActorRegistryInit);
    Tcl_CreateNamespace(interp, "::courier::actor", NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::actor", ActorObjCmd, NULL,
	    NULL);
    Tcl_CreateObjCommand(interp, "::courier::self", CourierActorSelfObjCmd,
	    NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::notify",
	    CourierActorNotifyObjCmd, NULL, NULL);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorRef, CourierActorUnref --
 *
 *	References to an actor: the creator's, the actor thread's, one per
 *	handle command and one per lookup in progress. The last frees it and
 *	drops the producer reference to its mailbox.
 *
 *----------------------------------------------------------------------
 */

void
CourierActorRef(
    Actor *actorPtr)
{
    atomic_fetch_add(&actorPtr->refCount, 1);
}

void
CourierActorUnref(
    Actor *actorPtr)
{
    int i;

    if (atomic_fetch_sub(&actorPtr->refCount, 1) != 1) {
	return;
    }
    assert(actorPtr->threadPtr == NULL);
    assert(actorPtr->heldHead == NULL);
    if (actorPtr->mailbox != NULL) {
	CourierPortRelease(actorPtr->mailbox);
    }
    for (i = 0; i < CMD_CACHE_SIZE; i++) {
	assert(actorPtr->cmdCache[i] == NULL);
    }
    free(actorPtr->initScript);
    free(actorPtr->pkgScript);
    free(actorPtr->restartLog);
    uv_cond_destroy(&actorPtr->cond);
    uv_mutex_destroy(&actorPtr->lock);
    free(actorPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * RegistryFind, CourierActorRegistryAll, CourierActorRegistryRemove --
 *
 *	The process-wide list of actors by name. Find accepts a name or a
 *	handle and returns the actor with a reference added, or NULL. All
 *	returns every actor, oldest first, in a malloc'ed array (NULL when
 *	there is none) and its length in *countPtr, each with a reference
 *	added: the caller unrefs each and frees the array.
 *
 *----------------------------------------------------------------------
 */

static Actor *
RegistryFind(
    const char *name)
{
    Actor *actorPtr;

    if (strncmp(name, HANDLE_PREFIX, sizeof(HANDLE_PREFIX) - 1) == 0) {
	name += sizeof(HANDLE_PREFIX) - 1;
    }
    uv_once(&courierActorRegistryOnce, CourierActorRegistryInit);
    uv_mutex_lock(&courierActorRegistryLock);
    for (actorPtr = courierActorRegistry; actorPtr != NULL;
	    actorPtr = actorPtr->nextPtr) {
	if (strcmp(actorPtr->name, name) == 0) {
	    CourierActorRef(actorPtr);
	    break;
	}
    }
    uv_mutex_unlock(&courierActorRegistryLock);
    return actorPtr;
}

Actor **
CourierActorRegistryAll(
    size_t *countPtr)
{
    Actor *actorPtr, **actors = NULL;
    size_t count = 0, i;

    uv_once(&courierActorRegistryOnce, CourierActorRegistryInit);
    uv_mutex_lock(&courierActorRegistryLock);
    for (actorPtr = courierActorRegistry; actorPtr != NULL;
	    actorPtr = actorPtr->nextPtr) {
	count++;
    }
    if (count > 0) {
	actors = CourierAlloc(count * sizeof(*actors));
    }
    i = count;				/* The registry is newest first. */
    for (actorPtr = courierActorRegistry; actorPtr != NULL;
	    actorPtr = actorPtr->nextPtr) {
	CourierActorRef(actorPtr);
	actors[--i] = actorPtr;
    }
    uv_mutex_unlock(&courierActorRegistryLock);
    *countPtr = count;
    return actors;
}

void
CourierActorRegistryRemove(
    Actor *actorPtr)
{
    uv_mutex_lock(&courierActorRegistryLock);
    COURIER_LIST_UNLINK(courierActorRegistry, actorPtr);
    uv_mutex_unlock(&courierActorRegistryLock);
}

/*
 *----------------------------------------------------------------------
 *
 * ActorInfo --
 *
 *	A dict describing an actor (any thread).
 *
 *----------------------------------------------------------------------
 */

static Tcl_Obj *
ActorInfo(
    Actor *actorPtr)
{
    static const char *const policies[] = {"never", "on-error", "always"};
    Tcl_Obj *dictPtr = Tcl_NewDictObj();

#define PUT(key, valueObj) \
    Tcl_DictObjPut(NULL, dictPtr, Tcl_NewStringObj(key, -1), valueObj)
    PUT("name", Tcl_NewStringObj(actorPtr->name, -1));
    PUT("handle", Tcl_NewStringObj(actorPtr->handle, -1));
    PUT("thread", Tcl_NewStringObj(actorPtr->threadName, -1));
    PUT("state", Tcl_NewStringObj(
	    stateNames[atomic_load(&actorPtr->state)], -1));
    PUT("mailbox", Tcl_NewWideIntObj(
	    (Tcl_WideInt) atomic_load(&actorPtr->queued)));
    PUT("limit", Tcl_NewWideIntObj((Tcl_WideInt) actorPtr->mailboxMax));
    PUT("processed", Tcl_NewWideIntObj(
	    (Tcl_WideInt) atomic_load(&actorPtr->processed)));
    PUT("restarts", Tcl_NewIntObj(atomic_load(&actorPtr->restarts)));
    PUT("restart", Tcl_NewStringObj(policies[actorPtr->restartPolicy], -1));
#undef PUT
    return dictPtr;
}

static int
ActorInfoCmd(
    Tcl_Interp *interp,
    Actor *actorPtr,
    int objc,
    Tcl_Obj *const objv[])
{
    (void) objv;
    if (objc != 0) {
	return CourierError(interp, "USAGE", NULL,
		"wrong # args: should be \"info\"");
    }
    Tcl_SetObjResult(interp, ActorInfo(actorPtr));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * ActorSubcommand --
 *
 *	The subcommands shared by a handle ($a tell ...) and by
 *	courier::actor tell $a ...: objv[first] is the subcommand.
 *
 *----------------------------------------------------------------------
 */

static int
ActorSubcommand(
    Tcl_Interp *interp,
    Actor *actorPtr,
    int objc,
    Tcl_Obj *const objv[],
    int first)
{
    static const char *const subcommands[] = {
	"ask", "call", "info", "stop", "tell", NULL
    };
    enum { SC_ASK, SC_CALL, SC_INFO, SC_STOP, SC_TELL };
    int index;

    if (CourierGetSubcommand(interp, objc, objv, first, subcommands,
	    &index) != TCL_OK) {
	return TCL_ERROR;
    }
    objc -= first + 1;
    objv += first + 1;
    switch (index) {
    case SC_ASK:
	return CourierActorAsk(interp, actorPtr, objc, objv);
    case SC_CALL:
	return CourierActorCall(interp, actorPtr, objc, objv);
    case SC_INFO:
	return ActorInfoCmd(interp, actorPtr, objc, objv);
    case SC_STOP:
	return CourierActorStop(interp, actorPtr, objc, objv);
    default:
	return CourierActorTell(interp, actorPtr, objc, objv);
    }
}

int
CourierActorHandleObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return ActorSubcommand(interp, clientData, objc, objv, 1);
}

/*
 * CourierActorHandleDeleted --
 *	A handle command went away. The creator's handle, deleted by the
 *	user (rename $a {}), stops the actor at once like a close.
 */

void
CourierActorHandleDeleted(
    ClientData clientData)
{
    Actor *actorPtr = clientData;

    /*
     * Only the creator's handle has the token; the self handle lives in
     * the actor's thread and goes with its interpreter.
     */

    if (Tcl_GetCurrentThread() == actorPtr->ownerThread
	    && actorPtr->token != NULL && !actorPtr->closing) {
	actorPtr->token = NULL;
	if (Tcl_InterpDeleted(actorPtr->ownerInterp)) {
	    /*
	     * The creator is being deleted, and Tcl deletes its commands
	     * before its Courier state: stop all its actors now, so that
	     * they end together rather than one join after another.
	     */

	    CourierActorStopOwned(actorPtr->resource.ownerPtr);
	}
	CourierActorCloseResource(&actorPtr->resource);
    }
    CourierActorUnref(actorPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * ActorObjCmd --
 *
 *	courier::actor create ?name? ?options?
 *	courier::actor names
 *	courier::actor info|tell|ask|call|stop actor ?arg ...?
 *
 *	The last form works in any thread with a name or a handle; a handle
 *	command exists only in the interpreter that created the actor and
 *	(courier::self) in the actor itself.
 *
 *----------------------------------------------------------------------
 */

static int	ActorCreate(Tcl_Interp *interp, int objc,
		    Tcl_Obj *const objv[]);

static int
ActorObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const subcommands[] = {
	"ask", "call", "create", "info", "names", "stop", "tell", NULL
    };
    enum { SC_ASK, SC_CALL, SC_CREATE, SC_INFO, SC_NAMES, SC_STOP, SC_TELL };
    int index, code;
    Actor *actorPtr;

    (void) clientData;
    if (CourierGetSubcommand(interp, objc, objv, 1, subcommands,
	    &index) != TCL_OK) {
	return TCL_ERROR;
    }
    if (index == SC_CREATE) {
	return ActorCreate(interp, objc, objv);
    }
    if (index == SC_NAMES) {
	Tcl_Obj *listPtr;
	Actor **actors;
	size_t n, i;

	if (objc != 2) {
	    return CourierUsage(interp, 2, objv, NULL);
	}
	actors = CourierActorRegistryAll(&n);
	listPtr = Tcl_NewListObj(0, NULL);
	for (i = 0; i < n; i++) {
	    Tcl_ListObjAppendElement(NULL, listPtr,
		    Tcl_NewStringObj(actors[i]->handle, -1));
	    CourierActorUnref(actors[i]);
	}
	free(actors);
	Tcl_SetObjResult(interp, listPtr);
	return TCL_OK;
    }
    if (objc < 3) {
	return CourierUsage(interp, 2, objv, "actor ?arg ...?");
    }
    actorPtr = RegistryFind(Tcl_GetString(objv[2]));
    if (actorPtr == NULL) {
	return CourierError(interp, "HANDLE", Tcl_GetString(objv[2]),
		"no actor named \"%.100s\"", Tcl_GetString(objv[2]));
    }
    {
	/* Shape objv as "handle subcommand args" for ActorSubcommand. */
	Tcl_Obj *stackv[16], **v = stackv;
	int i;

	if (objc > 16) {
	    v = (Tcl_Obj **) ckalloc(sizeof(Tcl_Obj *) * objc);
	}
	v[0] = objv[2];
	v[1] = objv[1];
	for (i = 3; i < objc; i++) {
	    v[i - 1] = objv[i];
	}
	code = ActorSubcommand(interp, actorPtr, objc - 1, v, 1);
	if (v != stackv) {
	    ckfree(v);
	}
    }
    CourierActorUnref(actorPtr);
    return code;
}

/*
 *----------------------------------------------------------------------
 *
 * ActorCreate --
 *
 *	courier::actor create ?name? ?-init script? ?-mailbox N?
 *		?-restart never|on-error|always? ?-maxrestarts N?
 *		?-within ms? ?-onerror cmd? ?-onexit cmd?
 *
 *	Starts the actor's thread and waits until its mailbox is open (the
 *	-init script runs afterwards, in the actor; messages sent meanwhile
 *	wait for it).
 *
 * Results:
 *	The handle, a command in this interpreter.
 *
 *----------------------------------------------------------------------
 */

/* courier::actor create's options. */
typedef struct ActorOptions {
    Tcl_Obj *init;
    Tcl_WideInt mailbox;
    int maxRestarts;
    Tcl_WideInt within;
    int restart;		/* RESTART_*. */
    Tcl_Obj *onError, *onExit, *onNotice;
} ActorOptions;

static const char *const restartPolicies[] = {
    "never", "on-error", "always", NULL
};

#define ACTOR_FIELD(field) offsetof(ActorOptions, field)

static const CourierOptSpec actorOptionSpecs[] = {
    {.name = "-init", .type = COURIER_OPT_STRING,
	.offset = ACTOR_FIELD(init)},
    {.name = "-mailbox", .type = COURIER_OPT_WIDE,
	.offset = ACTOR_FIELD(mailbox), .min = 0,
	.max = (Tcl_WideInt) 1 << 40},
    {.name = "-maxrestarts", .type = COURIER_OPT_INT,
	.offset = ACTOR_FIELD(maxRestarts), .min = 0, .max = 1000000},
    {.name = "-onerror", .type = COURIER_OPT_PREFIX,
	.offset = ACTOR_FIELD(onError),
	.expected = "a command prefix (a list)"},
    {.name = "-onexit", .type = COURIER_OPT_PREFIX,
	.offset = ACTOR_FIELD(onExit),
	.expected = "a command prefix (a list)"},
    {.name = "-onnotice", .type = COURIER_OPT_PREFIX,
	.offset = ACTOR_FIELD(onNotice),
	.expected = "a command prefix (a list)"},
    {.name = "-restart", .type = COURIER_OPT_CHOICE,
	.offset = ACTOR_FIELD(restart), .choices = restartPolicies},
    {.name = "-within", .type = COURIER_OPT_WIDE,
	.offset = ACTOR_FIELD(within), .min = 1,
	.max = (Tcl_WideInt) 1 << 40},
    {.name = NULL}
};

static int
ActorCreate(
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char usage[] = "courier::actor create ?name? ?-init script? "
	    "?-mailbox N? ?-restart never|on-error|always? ?-maxrestarts N? "
	    "?-within ms? ?-onerror cmd? ?-onexit cmd? ?-onnotice cmd?";
    ActorOptions o = {NULL, 0, 3, 5000, RESTART_NEVER, NULL, NULL, NULL};
    CourierOptTable table = {actorOptionSpecs, &o};
    const char *name = NULL, *pkgScript = NULL;
    const char *version;
    int i = 2, duplicate = 0;
    Tcl_Obj *scriptPtr;
    CourierInterp *cinterpPtr;
    Actor *actorPtr, *otherPtr;
    char defaultName[32];

    if (objc > 2 && Tcl_GetString(objv[2])[0] != '-') {
	const char *p;

	name = Tcl_GetString(objv[2]);
	for (p = name; *p != '\0'; p++) {
	    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		    || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'
		    || *p == '-')) {
		break;
	    }
	}
	if (*p != '\0' || p == name || p - name > ACTOR_NAME_MAX) {
	    return CourierError(interp, "VALUE", "name",
		    "bad actor name \"%.100s\": expected 1 to %d letters, "
		    "digits, \"_\", \".\" or \"-\"", name, ACTOR_NAME_MAX);
	}
	i = 3;
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    if (CourierOptParse(interp, &table, 1, objc - i, objv + i, 0,
	    usage) != TCL_OK) {
	CourierOptRelease(actorOptionSpecs, &o);
	return TCL_ERROR;
    }
    CourierActorSetExitProc();

    /* How this interpreter loaded courier: the actor loads it the same. */
    version = Tcl_PkgPresent(interp, "courier", NULL, 0);
    if (version == NULL) {
	Tcl_ResetResult(interp);
	version = COURIER_VERSION;
    }
    scriptPtr = Tcl_ObjPrintf("package ifneeded courier %s", version);
    Tcl_IncrRefCount(scriptPtr);
    if (Tcl_EvalObjEx(interp, scriptPtr, TCL_EVAL_GLOBAL) == TCL_OK) {
	pkgScript = Tcl_GetString(Tcl_GetObjResult(interp));
    }
    Tcl_DecrRefCount(scriptPtr);

    actorPtr = CourierAllocZero(sizeof(Actor));
    atomic_init(&actorPtr->refCount, 2);	/* Creator, thread. */
    if (o.init != NULL) {
	actorPtr->initScript = CourierStrdup(Tcl_GetString(o.init));
    }
    if (pkgScript != NULL && *pkgScript != '\0') {
	actorPtr->pkgScript = CourierStrdup(pkgScript);
    }
    Tcl_ResetResult(interp);
    snprintf(actorPtr->pkgVersion, sizeof(actorPtr->pkgVersion), "%s",
	    version);
    actorPtr->mailboxMax = (size_t) o.mailbox;
    actorPtr->restartPolicy = o.restart;
    actorPtr->maxRestarts = o.maxRestarts;
    actorPtr->withinMs = o.within;
    actorPtr->restartLog = CourierAllocZero(((size_t) o.maxRestarts + 1)
	    * sizeof(Tcl_WideInt));
    uv_mutex_init(&actorPtr->lock);
    uv_cond_init(&actorPtr->cond);
    atomic_init(&actorPtr->state, STATE_STARTING);
    atomic_init(&actorPtr->stopping, STOP_NONE);
    atomic_init(&actorPtr->queued, 0);
    atomic_init(&actorPtr->spaceWaiters, 0);
    atomic_init(&actorPtr->processed, 0);
    atomic_init(&actorPtr->restarts, 0);

    /* Name it and enter it in the registry, unless the name is taken. */
    uv_mutex_lock(&courierActorRegistryLock);
    if (name == NULL) {
	snprintf(defaultName, sizeof(defaultName), "actor%lu",
		++actorCounter);
	name = defaultName;
    }
    for (otherPtr = courierActorRegistry; otherPtr != NULL;
	    otherPtr = otherPtr->nextPtr) {
	if (strcmp(otherPtr->name, name) == 0) {
	    duplicate = 1;
	    break;
	}
    }
    if (!duplicate) {
	snprintf(actorPtr->name, sizeof(actorPtr->name), "%s", name);
	COURIER_LIST_PUSH(courierActorRegistry, actorPtr);
    }
    uv_mutex_unlock(&courierActorRegistryLock);
    if (duplicate) {
	atomic_store(&actorPtr->refCount, 1);
	CourierActorUnref(actorPtr);
	CourierOptRelease(actorOptionSpecs, &o);
	return CourierError(interp, "ACTOR", "EXISTS",
		"an actor named \"%s\" already exists", name);
    }
    snprintf(actorPtr->handle, sizeof(actorPtr->handle), "%s%s",
	    HANDLE_PREFIX, actorPtr->name);
    snprintf(actorPtr->threadName, sizeof(actorPtr->threadName), "%.15s",
	    actorPtr->name);

    actorPtr->ownerInterp = interp;
    actorPtr->ownerThread = Tcl_GetCurrentThread();
    actorPtr->onError = o.onError;		/* Takes the references. */
    actorPtr->onExit = o.onExit;
    actorPtr->onNotice = o.onNotice;
    o.onError = o.onExit = o.onNotice = NULL;
    CourierOptRelease(actorOptionSpecs, &o);
    actorPtr->controlPort = CourierPortOpen(cinterpPtr->inboxPtr,
	    &noticePortType, interp, actorPtr, actorPtr, PORT_NO_LIMIT);
    CourierResourceAdd(cinterpPtr, &actorPtr->resource, courierActorKind,
	    CourierActorCloseResource);

    actorPtr->threadPtr = CourierThreadStart(actorPtr->threadName,
	    CourierActorThreadMain, actorPtr);
    if (actorPtr->threadPtr == NULL) {
	CourierPortRelease(actorPtr->controlPort);	/* The thread's. */
	CourierActorUnref(actorPtr);			/* The thread's. */
	CourierActorCloseResource(&actorPtr->resource);
	return CourierError(interp, "THREAD", "CREATE",
		"cannot start a thread for actor \"%s\"", name);
    }
    uv_mutex_lock(&actorPtr->lock);
    while (!actorPtr->started) {
	uv_cond_wait(&actorPtr->cond, &actorPtr->lock);
    }
    uv_mutex_unlock(&actorPtr->lock);

    CourierActorRef(actorPtr);				/* The handle's. */
    actorPtr->token = Tcl_CreateObjCommand(interp, actorPtr->handle,
	    CourierActorHandleObjCmd, actorPtr, CourierActorHandleDeleted);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(actorPtr->handle, -1));
    return TCL_OK;
}
