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
 *	Locks. Actor.lock guards the interpreter pointer (so that another
 *	thread may cancel a running script) and the mailbox-space condition;
 *	the registry lock guards the list of actors. Neither is held while
 *	calling Tcl, except Tcl_CancelEval, which is documented as callable
 *	from any thread and takes only Tcl's private cancel lock.
 */

#include "actor.h"
#include <stdatomic.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

/* Kinds of mailbox messages. */
enum { MAIL_TELL = 1, MAIL_ASK, MAIL_CALL, MAIL_STOP };

/* Kinds of reply messages (reply port, sync slot). */
enum { REPLY_OK = 1, REPLY_ERROR };

/* Kinds of notices (control port). */
enum { NOTE_ERROR = 1, NOTE_EXIT, NOTE_NOTICE };

/* Restart policies. */
enum { RESTART_NEVER = 0, RESTART_ON_ERROR, RESTART_ALWAYS };

/* Actor.state, as "info" shows it. */
enum { STATE_STARTING = 0, STATE_RUNNING, STATE_RESTARTING, STATE_STOPPING,
       STATE_STOPPED };
static const char *const stateNames[] = {
    "starting", "running", "restarting", "stopping", "stopped"
};

/* Actor.stopping. */
enum { STOP_NONE = 0, STOP_GRACEFUL, STOP_NOW };

/* Why one incarnation of the interpreter ends (actor thread only). */
enum { END_NONE = 0, END_STOP, END_EXIT, END_CRASH };

/* Tags of the words of a message. */
#define WORD_STRING 's'
#define WORD_BYTES 'b'

#define ACTOR_NAME_MAX 40
#define HANDLE_PREFIX "::courier::actor::"
#define SELF_KEY "courier-actor-self"
#define CLIENT_KEY "courier-actor-client"
#define CMD_CACHE_SIZE 8

/* How often a blocked call or tell looks whether its own actor stops. */
#define WAIT_SLICE_NS (50 * 1000 * 1000)

typedef struct Actor Actor;

/*
 * A caller's reply port, shared by every ask in flight from one
 * interpreter: each holds a reference, so the port outlives the caller's
 * interest (a late reply is refused by the closed port, never lost track
 * of).
 */

typedef struct ReplyChannel {
    atomic_size_t refCount;
    CourierPort *port;		/* On the caller thread's inbox. */
} ReplyChannel;

/* Where an ask's answer goes (actor thread). */
typedef struct ReplyTo {
    int kind;			/* MAIL_ASK, MAIL_CALL, or 0: no reply. */
    void *ptr;			/* ReplyChannel * or SyncSlot *. */
    uint64_t id;
} ReplyTo;

/* A call's rendezvous: the caller waits on it, the actor fills it. */
typedef struct SyncSlot {
    uv_mutex_t lock;
    uv_cond_t cond;
    atomic_int refCount;	/* Caller + the message. */
    int done;			/* Filled, or abandoned by the caller. */
    CourierMsg *reply;		/* The reply message, once filled. */
} SyncSlot;

/* The head of every mailbox message's payload; the words follow. */
typedef struct MailHeader {
    Actor *actorPtr;		/* For the discard procedure. */
    void *replyPtr;		/* ReplyChannel * or SyncSlot *. */
    uint64_t id;		/* The ask's id in its caller. */
    uint32_t argc;
} MailHeader;

struct Actor {
    CourierResource resource;	/* Must be first: the creator's. */
    atomic_size_t refCount;
    char name[ACTOR_NAME_MAX + 1];
    char handle[sizeof(HANDLE_PREFIX) + ACTOR_NAME_MAX];
    char threadName[16];

    /* Set at creation, read-only after. */
    char *initScript;		/* -init, or NULL. */
    char *pkgScript;		/* How the creator loaded courier. */
    char pkgVersion[32];
    size_t mailboxMax;		/* -mailbox; 0: unbounded. */
    int restartPolicy;
    int maxRestarts;
    Tcl_WideInt withinMs;

    /* Creator thread only. */
    Tcl_Interp *ownerInterp;
    Tcl_ThreadId ownerThread;
    Tcl_Obj *onError;
    Tcl_Obj *onExit;
    Tcl_Obj *onNotice;		/* -onnotice: courier::notify's values. */
    CourierPort *controlPort;	/* Notices from the actor thread. */
    CourierThread *threadPtr;	/* Until joined. */
    Tcl_Command token;		/* The handle command, or NULL. */
    int closing;

    /* Shared. */
    uv_mutex_t lock;
    uv_cond_t cond;		/* started; mailbox space. */
    int started;		/* Guarded by lock: the mailbox is open. */
    Tcl_Interp *interp;		/* Guarded by lock: for Tcl_CancelEval. */
    Tcl_ThreadId thread;	/* Set before started. */
    CourierPort *mailbox;	/* Set before started; producers: anyone. */
    atomic_int state;
    atomic_int stopping;
    atomic_size_t queued;	/* Tells and asks posted, not yet taken. */
    atomic_int spaceWaiters;
    atomic_uint_fast64_t processed;
    atomic_int restarts;
    Actor *nextPtr;		/* Registry; guarded by registryLock. */
    Actor *prevPtr;
    Actor *waitingFor;		/* Guarded by registryLock: the actor this
				 * one's thread is in a call to (which the
				 * caller holds a reference to), or NULL. */

    /* Actor thread only. */
    Tcl_Interp *runInterp;
    int ready;			/* The interpreter may run messages. */
    int depth;			/* A message is running. */
    int ending;			/* END_*: this incarnation ends. */
    CourierMsg *heldHead;	/* Copies of messages waiting their turn. */
    CourierMsg *heldTail;
    ReplyTo current;		/* The ask being run. */
    int currentDeferred;	/* ... and it will be answered later. */
    Tcl_HashTable deferred;	/* "replyN" -> ReplyTo *. */
    unsigned long nextDeferred;
    Tcl_WideInt *restartLog;	/* When the last restarts happened (ms). */
    int restartLogCount;
    Tcl_Obj *cmdCache[CMD_CACHE_SIZE];	/* Command words, reused. */
};

/* The per-interpreter state of a caller of ask. */
typedef struct ActorClient {
    CourierResource resource;	/* Must be first. */
    Tcl_Interp *interp;
    ReplyChannel *channel;
    Tcl_HashTable pending;	/* id -> Pending *. */
    uint64_t nextId;
} ActorClient;

typedef struct Pending {
    uint64_t id;
    Tcl_Obj *cmdPtr;		/* The -command prefix. */
    Tcl_TimerToken timer;	/* -timeout, or NULL. */
    ActorClient *clientPtr;
} Pending;

static const char actorKind[] = "actor";
static const char clientKind[] = "actorclient";

static uv_once_t registryOnce = UV_ONCE_INIT;
static uv_mutex_t registryLock;
static Actor *registry;		/* Newest first. */
static unsigned long actorCounter;	/* Default names; under the lock. */

static int		ActorAsk(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);
static int		ActorCall(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);
static void		ActorCloseResource(CourierResource *resPtr);
static void		ActorCrash(Actor *actorPtr, Tcl_Obj *messagePtr,
			    Tcl_Obj *optionsPtr);
static void		ActorDispatch(Actor *actorPtr, CourierMsg *msgPtr);
static int		ActorHandleObjCmd(ClientData clientData,
			    Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[]);
static void		ActorHandleDeleted(ClientData clientData);
static Tcl_Obj *	ActorInfo(Actor *actorPtr);
static int		ActorInfoCmd(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);
static int		ActorObjCmd(ClientData clientData, Tcl_Interp *interp,
			    int objc, Tcl_Obj *const objv[]);
static void		ActorRef(Actor *actorPtr);
static void		ActorRejectDeferred(Actor *actorPtr, const char *why,
			    const char *code);
static void		ActorRunIncarnation(Actor *actorPtr);
static void		ActorSetExitProc(void);
static int		ActorSend(Tcl_Interp *interp, Actor *actorPtr,
			    CourierMsg *msgPtr, Tcl_WideInt blockMs);
static int		ActorStop(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);
static void		ActorStopNow(Actor *actorPtr);
static int		ActorSubcommand(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[], int first);
static int		ActorTell(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);
static void		ActorThreadMain(void *arg);
static void		ActorUnref(Actor *actorPtr);
static void		ChannelUnref(ReplyChannel *channelPtr);
static void		ClientClose(CourierResource *resPtr);
static ActorClient *	ClientGet(Tcl_Interp *interp);
static int		IsGuiThread(Tcl_Interp *interp);
static void		MailboxDeliver(void *ownerData, CourierMsg *msgPtr);
static void		MailboxDiscard(CourierMsg *msgPtr);
static void		MailboxTaken(Actor *actorPtr);
static void		MailReject(CourierMsg *msgPtr, const char *why,
			    const char *code);
static CourierMsg *	MakeMail(int kind, Actor *actorPtr, void *replyPtr,
			    uint64_t id, int objc, Tcl_Obj *const objv[]);
static CourierMsg *	MakeWords(int kind, uint64_t id, int n,
			    const unsigned char *const bytes[],
			    const size_t lengths[], const int tags[]);
static void		NoopNotify(void *producerData, int event);
static void		NoticeDeliver(void *ownerData, CourierMsg *msgPtr);
static void		PendingTimeout(ClientData clientData);
static void		PostNotice(Actor *actorPtr, int kind, int n,
			    const char *const strings[]);
static void		ReplyDeliver(void *ownerData, CourierMsg *msgPtr);
static void		ReplySend(ReplyTo *toPtr, CourierMsg *replyPtr);
static void		ReplyWithError(ReplyTo *toPtr, const char *message,
			    const char *code);
static void		ReplyWithResult(ReplyTo *toPtr, Tcl_Interp *interp,
			    int code);
static int		NotifyObjCmd(ClientData clientData,
			    Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[]);
static int		SelfObjCmd(ClientData clientData, Tcl_Interp *interp,
			    int objc, Tcl_Obj *const objv[]);
static void		SlotUnref(SyncSlot *slotPtr);

static const CourierPortType mailboxPortType = {
    "actor-mailbox", MailboxDeliver, NoopNotify, NULL, MailboxDiscard
};
static const CourierPortType noticePortType = {
    "actor-notice", NoticeDeliver, NoopNotify, NULL, NULL
};
static const CourierPortType replyPortType = {
    "actor-reply", ReplyDeliver, NoopNotify, NULL, NULL
};

/* Ports here are never throttled: the mailbox bound counts messages. */
#define PORT_NO_LIMIT ((size_t) 1 << 60)

static const Tcl_ObjType *byteArrayType;

static void
RegistryInit(void)
{
    if (uv_mutex_init(&registryLock) != 0) {
	Tcl_Panic("courier: cannot create the actor registry lock");
    }
    byteArrayType = Tcl_GetObjType("bytearray");
}

static void
NoopNotify(
    void *producerData,
    int event)
{
    (void) producerData;
    (void) event;
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
    uv_once(&registryOnce, RegistryInit);
    Tcl_CreateNamespace(interp, "::courier::actor", NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::actor", ActorObjCmd, NULL,
	    NULL);
    Tcl_CreateObjCommand(interp, "::courier::self", SelfObjCmd, NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::notify", NotifyObjCmd, NULL,
	    NULL);
}

/*
 *----------------------------------------------------------------------
 *
 * ActorRef, ActorUnref --
 *
 *	References to an actor: the creator's, the actor thread's, one per
 *	handle command and one per lookup in progress. The last frees it and
 *	drops the producer reference to its mailbox.
 *
 *----------------------------------------------------------------------
 */

static void
ActorRef(
    Actor *actorPtr)
{
    atomic_fetch_add(&actorPtr->refCount, 1);
}

static void
ActorUnref(
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
 * RegistryFind, RegistryRemove --
 *
 *	The process-wide list of actors by name. Find accepts a name or a
 *	handle and returns the actor with a reference added, or NULL.
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
    uv_once(&registryOnce, RegistryInit);
    uv_mutex_lock(&registryLock);
    for (actorPtr = registry; actorPtr != NULL; actorPtr = actorPtr->nextPtr) {
	if (strcmp(actorPtr->name, name) == 0) {
	    ActorRef(actorPtr);
	    break;
	}
    }
    uv_mutex_unlock(&registryLock);
    return actorPtr;
}

static void
RegistryRemove(
    Actor *actorPtr)
{
    uv_mutex_lock(&registryLock);
    if (actorPtr->prevPtr != NULL) {
	actorPtr->prevPtr->nextPtr = actorPtr->nextPtr;
    } else if (registry == actorPtr) {
	registry = actorPtr->nextPtr;
    }
    if (actorPtr->nextPtr != NULL) {
	actorPtr->nextPtr->prevPtr = actorPtr->prevPtr;
    }
    actorPtr->nextPtr = actorPtr->prevPtr = NULL;
    uv_mutex_unlock(&registryLock);
}

/*
 *----------------------------------------------------------------------
 *
 * Words: the wire format --
 *
 *	A message's payload is a fixed header followed by words, each a tag
 *	byte ('s' string, 'b' byte array), a 4-byte length and the bytes.
 *	A string word carries Tcl's own UTF-8 form, so the receiver rebuilds
 *	the exact value; a pure byte array (one with no string form yet)
 *	crosses as raw bytes and is rebuilt as a byte array.
 *
 *----------------------------------------------------------------------
 */

static const unsigned char *
WordOf(
    Tcl_Obj *objPtr,
    size_t *lenPtr,
    int *tagPtr)
{
    int len;
    const unsigned char *bytes;

    if (objPtr->bytes == NULL && objPtr->typePtr == byteArrayType
	    && byteArrayType != NULL) {
	bytes = Tcl_GetByteArrayFromObj(objPtr, &len);
	*tagPtr = WORD_BYTES;
    } else {
	bytes = (const unsigned char *) Tcl_GetStringFromObj(objPtr, &len);
	*tagPtr = WORD_STRING;
    }
    *lenPtr = (size_t) len;
    return bytes;
}

static unsigned char *
PutWord(
    unsigned char *p,
    int tag,
    const unsigned char *bytes,
    size_t len)
{
    uint32_t n = (uint32_t) len;

    *p++ = (unsigned char) tag;
    memcpy(p, &n, sizeof(n));
    p += sizeof(n);
    if (len > 0) {
	memcpy(p, bytes, len);
    }
    return p + len;
}

/* Reads one word; returns NULL when the payload is malformed. */
static const unsigned char *
GetWord(
    const unsigned char *p,
    const unsigned char *end,
    int *tagPtr,
    const unsigned char **bytesPtr,
    size_t *lenPtr)
{
    uint32_t n;

    if (end - p < (ptrdiff_t) (1 + sizeof(n))) {
	return NULL;
    }
    *tagPtr = *p++;
    memcpy(&n, p, sizeof(n));
    p += sizeof(n);
    if ((size_t) (end - p) < n) {
	return NULL;
    }
    *bytesPtr = p;
    *lenPtr = n;
    return p + n;
}

static Tcl_Obj *
WordObj(
    int tag,
    const unsigned char *bytes,
    size_t len)
{
    if (tag == WORD_BYTES) {
	return Tcl_NewByteArrayObj(bytes, (int) len);
    }
    return Tcl_NewStringObj((const char *) bytes, (int) len);
}

/*
 *----------------------------------------------------------------------
 *
 * MakeMail --
 *
 *	Copies a command's words into one new mailbox message (sender's
 *	thread).
 *
 *----------------------------------------------------------------------
 */

static CourierMsg *
MakeMail(
    int kind,
    Actor *actorPtr,
    void *replyPtr,
    uint64_t id,
    int objc,
    Tcl_Obj *const objv[])
{
    const unsigned char *stackBytes[16], **bytes = stackBytes;
    size_t stackLens[16], *lens = stackLens;
    int stackTags[16], *tags = stackTags;
    size_t total = sizeof(MailHeader);
    MailHeader header;
    CourierMsg *msgPtr;
    unsigned char *p;
    int i;

    if (objc > 16) {
	bytes = (const unsigned char **) ckalloc(sizeof(*bytes) * objc);
	lens = (size_t *) ckalloc(sizeof(*lens) * objc);
	tags = (int *) ckalloc(sizeof(*tags) * objc);
    }
    for (i = 0; i < objc; i++) {
	bytes[i] = WordOf(objv[i], &lens[i], &tags[i]);
	total += 1 + sizeof(uint32_t) + lens[i];
    }
    msgPtr = CourierMsgAlloc(total);
    msgPtr->kind = kind;
    header.actorPtr = actorPtr;
    header.replyPtr = replyPtr;
    header.id = id;
    header.argc = (uint32_t) objc;
    memcpy(msgPtr->data, &header, sizeof(header));
    p = msgPtr->data + sizeof(header);
    for (i = 0; i < objc; i++) {
	p = PutWord(p, tags[i], bytes[i], lens[i]);
    }
    assert(p == msgPtr->data + total);
    if (bytes != stackBytes) {
	ckfree(bytes);
	ckfree(lens);
	ckfree(tags);
    }
    return msgPtr;
}

/*
 * MakeWords --
 *	A reply or notice: an 8-byte id, then n words.
 */

static CourierMsg *
MakeWords(
    int kind,
    uint64_t id,
    int n,
    const unsigned char *const bytes[],
    const size_t lengths[],
    const int tags[])
{
    size_t total = sizeof(id);
    CourierMsg *msgPtr;
    unsigned char *p;
    int i;

    for (i = 0; i < n; i++) {
	total += 1 + sizeof(uint32_t) + lengths[i];
    }
    msgPtr = CourierMsgAlloc(total);
    msgPtr->kind = kind;
    memcpy(msgPtr->data, &id, sizeof(id));
    p = msgPtr->data + sizeof(id);
    for (i = 0; i < n; i++) {
	p = PutWord(p, tags ? tags[i] : WORD_STRING, bytes[i], lengths[i]);
    }
    return msgPtr;
}

/*
 * ReadWords --
 *	Decodes a reply or notice into its id and up to max words as new
 *	Tcl objects (not yet referenced); returns how many were read.
 */

static int
ReadWords(
    CourierMsg *msgPtr,
    uint64_t *idPtr,
    int max,
    Tcl_Obj *objv[])
{
    const unsigned char *p = msgPtr->data, *end = p + msgPtr->size;
    int n = 0;

    assert(msgPtr->size >= sizeof(*idPtr));
    memcpy(idPtr, p, sizeof(*idPtr));
    p += sizeof(*idPtr);
    while (n < max && p < end) {
	const unsigned char *bytes;
	size_t len;
	int tag;

	p = GetWord(p, end, &tag, &bytes, &len);
	assert(p != NULL);
	objv[n++] = WordObj(tag, bytes, len);
    }
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * ReplyChannel and SyncSlot references --
 *
 *----------------------------------------------------------------------
 */

static void
ChannelUnref(
    ReplyChannel *channelPtr)
{
    if (atomic_fetch_sub(&channelPtr->refCount, 1) == 1) {
	CourierPortRelease(channelPtr->port);
	free(channelPtr);
    }
}

static SyncSlot *
SlotNew(void)
{
    SyncSlot *slotPtr = calloc(1, sizeof(SyncSlot));

    if (slotPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(SyncSlot));
    }
    uv_mutex_init(&slotPtr->lock);
    uv_cond_init(&slotPtr->cond);
    atomic_init(&slotPtr->refCount, 2);
    return slotPtr;
}

static void
SlotUnref(
    SyncSlot *slotPtr)
{
    if (atomic_fetch_sub(&slotPtr->refCount, 1) == 1) {
	if (slotPtr->reply != NULL) {
	    CourierMsgFree(slotPtr->reply);
	}
	uv_cond_destroy(&slotPtr->cond);
	uv_mutex_destroy(&slotPtr->lock);
	free(slotPtr);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ReplySend, ReplyWithResult, ReplyWithError --
 *
 *	Answers an ask or a call (actor thread, or a discarding thread):
 *	the reply message goes to the caller's reply port or into its sync
 *	slot, and the reference the ask held is dropped.
 *
 *----------------------------------------------------------------------
 */

static void
ReplySend(
    ReplyTo *toPtr,
    CourierMsg *replyPtr)
{
    if (toPtr->kind == MAIL_ASK) {
	ReplyChannel *channelPtr = toPtr->ptr;

	/* A closed port (the caller is gone) frees the reply. */
	CourierPortPost(channelPtr->port, replyPtr);
	ChannelUnref(channelPtr);
    } else {
	SyncSlot *slotPtr = toPtr->ptr;

	assert(toPtr->kind == MAIL_CALL);
	uv_mutex_lock(&slotPtr->lock);
	if (!slotPtr->done) {
	    slotPtr->done = 1;
	    slotPtr->reply = replyPtr;
	    replyPtr = NULL;
	    uv_cond_signal(&slotPtr->cond);
	}
	uv_mutex_unlock(&slotPtr->lock);
	if (replyPtr != NULL) {
	    CourierMsgFree(replyPtr);	/* The caller gave up waiting. */
	}
	SlotUnref(slotPtr);
    }
    toPtr->kind = 0;
}

static void
ReplyWithError(
    ReplyTo *toPtr,
    const char *message,
    const char *code)
{
    const unsigned char *bytes[2];
    size_t lens[2];

    bytes[0] = (const unsigned char *) message;
    lens[0] = strlen(message);
    bytes[1] = (const unsigned char *) code;
    lens[1] = strlen(code);
    ReplySend(toPtr, MakeWords(REPLY_ERROR, toPtr->id, 2, bytes, lens,
	    NULL));
}

static void
ReplyWithResult(
    ReplyTo *toPtr,
    Tcl_Interp *interp,
    int code)
{
    const unsigned char *bytes[2];
    size_t lens[2];
    int tags[2];
    Tcl_Obj *resultPtr = Tcl_GetObjResult(interp);

    Tcl_IncrRefCount(resultPtr);
    if (code == TCL_ERROR) {
	Tcl_Obj *optionsPtr = Tcl_GetReturnOptions(interp, code);
	Tcl_Obj *key = Tcl_NewStringObj("-errorcode", -1), *ecPtr = NULL;

	Tcl_IncrRefCount(optionsPtr);
	Tcl_IncrRefCount(key);
	Tcl_DictObjGet(NULL, optionsPtr, key, &ecPtr);
	if (ecPtr == NULL) {
	    ecPtr = Tcl_NewStringObj("NONE", -1);
	}
	Tcl_IncrRefCount(ecPtr);
	bytes[0] = WordOf(resultPtr, &lens[0], &tags[0]);
	bytes[1] = WordOf(ecPtr, &lens[1], &tags[1]);
	ReplySend(toPtr, MakeWords(REPLY_ERROR, toPtr->id, 2, bytes, lens,
		tags));
	Tcl_DecrRefCount(ecPtr);
	Tcl_DecrRefCount(key);
	Tcl_DecrRefCount(optionsPtr);
    } else {
	bytes[0] = WordOf(resultPtr, &lens[0], &tags[0]);
	ReplySend(toPtr, MakeWords(REPLY_OK, toPtr->id, 1, bytes, lens,
		tags));
    }
    Tcl_DecrRefCount(resultPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * MailReject --
 *
 *	A mailbox message that will never run (stop -now, the actor ended,
 *	a crash without restart): an ask or call gets an error reply; the
 *	message leaves the mailbox count. The message is not freed here.
 *
 *----------------------------------------------------------------------
 */

static void
MailReject(
    CourierMsg *msgPtr,
    const char *why,
    const char *code)
{
    MailHeader header;

    memcpy(&header, msgPtr->data, sizeof(header));
    if (msgPtr->kind == MAIL_ASK || msgPtr->kind == MAIL_CALL) {
	ReplyTo to;
	char message[128];

	to.kind = msgPtr->kind;
	to.ptr = header.replyPtr;
	to.id = header.id;
	snprintf(message, sizeof(message), "actor \"%s\" %s",
		header.actorPtr->name, why);
	ReplyWithError(&to, message, code);
    }
    if (msgPtr->kind != MAIL_STOP) {
	MailboxTaken(header.actorPtr);
    }
}

/* The inbox drops a message of a closed mailbox. */
static void
MailboxDiscard(
    CourierMsg *msgPtr)
{
    MailReject(msgPtr, "stopped before it ran this message",
	    "COURIER ACTOR STOPPED");
}

/*
 * MailboxTaken --
 *	One tell or ask left the mailbox: wake senders that wait for space.
 */

static void
MailboxTaken(
    Actor *actorPtr)
{
    size_t before = atomic_fetch_sub(&actorPtr->queued, 1);

    assert(before > 0);
    (void) before;
    if (atomic_load(&actorPtr->spaceWaiters) > 0) {
	uv_mutex_lock(&actorPtr->lock);
	uv_cond_broadcast(&actorPtr->cond);
	uv_mutex_unlock(&actorPtr->lock);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ActorOfThread --
 *
 *	The actor whose thread this is, or NULL (for waits that must give
 *	up when their own actor is stopped at once).
 *
 *----------------------------------------------------------------------
 */

typedef struct ActorThreadData {
    Actor *actorPtr;
} ActorThreadData;

static Tcl_ThreadDataKey actorThreadKey;

static Actor *
ActorOfThread(void)
{
    ActorThreadData *tdPtr =
	    Tcl_GetThreadData(&actorThreadKey, sizeof(ActorThreadData));

    return tdPtr->actorPtr;
}

static int
OwnActorStopsNow(void)
{
    Actor *selfPtr = ActorOfThread();

    return selfPtr != NULL && atomic_load(&selfPtr->stopping) == STOP_NOW;
}

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

	atomic_fetch_sub(&actorPtr->queued, 1);
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
		if (now >= deadline || OwnActorStopsNow()
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
 * ActorTell --
 *
 *	$a tell ?-block ms? ?--? cmd ?arg ...?
 *
 *----------------------------------------------------------------------
 */

static int
ActorTell(
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
    return ActorSend(interp, actorPtr, MakeMail(MAIL_TELL, actorPtr, NULL,
	    0, objc - i, objv + i), blockMs);
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
    channelPtr = calloc(1, sizeof(ReplyChannel));
    if (channelPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(ReplyChannel));
    }
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
    ChannelUnref(clientPtr->channel);
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
    n = ReadWords(msgPtr, &id, 2, words + 1);
    PendingFinish(pendingPtr, n + 1, words);
}

/*
 *----------------------------------------------------------------------
 *
 * ActorAsk --
 *
 *	$a ask ?-timeout ms? -command cb ?--? cmd ?arg ...?
 *	Posts the command and returns at once; cb runs later in this
 *	interpreter with "ok value", "error message errorcode" or "timeout".
 *
 *----------------------------------------------------------------------
 */

static int
ActorAsk(
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
    int i = 0, isNew, len;

    if (ParseSendOptions(interp, objc, objv, &i, options, values, usage)
	    != TCL_OK) {
	return TCL_ERROR;
    }
    if (values[0] == NULL) {
	return CourierError(interp, "USAGE", "-command",
		"missing -command: ask needs a command prefix to call with "
		"the reply (should be \"%s\")", usage);
    }
    if (Tcl_ListObjLength(NULL, values[0], &len) != TCL_OK || len == 0) {
	return CourierError(interp, "VALUE", "-command",
		"bad value for -command: expected a non-empty command "
		"prefix (a list)");
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
    msgPtr = MakeMail(MAIL_ASK, actorPtr, clientPtr->channel,
	    ++clientPtr->nextId, objc - i, objv + i);
    if (ActorSend(interp, actorPtr, msgPtr, 0) != TCL_OK) {
	ChannelUnref(clientPtr->channel);
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
    uv_mutex_lock(&registryLock);
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
    uv_mutex_unlock(&registryLock);
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
	uv_mutex_lock(&registryLock);
	selfPtr->waitingFor = NULL;
	uv_mutex_unlock(&registryLock);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ActorCall --
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

static int
ActorCall(
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
    if (ActorOfThread() == actorPtr) {
	return CourierError(interp, "ACTOR", "SELF",
		"actor \"%s\" cannot call itself: it would wait for its own "
		"mailbox (use tell or ask)", actorPtr->name);
    }
    if (IsGuiThread(interp)) {
	return CourierError(interp, "ACTOR", "GUI",
		"call would freeze the GUI: this thread owns a Tk main window "
		"(use ask -command instead)");
    }
    selfPtr = ActorOfThread();
    if (selfPtr != NULL && CallWouldDeadlock(interp, selfPtr, actorPtr)) {
	return TCL_ERROR;
    }

    slotPtr = SlotNew();
    if (ActorSend(interp, actorPtr, MakeMail(MAIL_CALL, actorPtr, slotPtr, 0,
	    objc - i, objv + i), 0) != TCL_OK) {
	SlotUnref(slotPtr);		/* The message's reference. */
	SlotUnref(slotPtr);
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
	if (OwnActorStopsNow()) {
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
    SlotUnref(slotPtr);
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
    n = ReadWords(replyPtr, &id, 2, words);
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

/*
 *----------------------------------------------------------------------
 *
 * ActorStop --
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
    CourierMsg *msgPtr = MakeMail(MAIL_STOP, actorPtr, NULL, 0, 0, NULL);

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

static int
ActorStop(
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
	if (ActorOfThread() == actorPtr) {
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

    if (objc <= first) {
	Tcl_WrongNumArgs(interp, first, objv, "subcommand ?arg ...?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (Tcl_GetIndexFromObj(interp, objv[first], subcommands, "subcommand",
	    0, &index) != TCL_OK) {
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    objc -= first + 1;
    objv += first + 1;
    switch (index) {
    case SC_ASK:
	return ActorAsk(interp, actorPtr, objc, objv);
    case SC_CALL:
	return ActorCall(interp, actorPtr, objc, objv);
    case SC_INFO:
	return ActorInfoCmd(interp, actorPtr, objc, objv);
    case SC_STOP:
	return ActorStop(interp, actorPtr, objc, objv);
    default:
	return ActorTell(interp, actorPtr, objc, objv);
    }
}

static int
ActorHandleObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return ActorSubcommand(interp, clientData, objc, objv, 1);
}

/*
 * ActorHandleDeleted --
 *	A handle command went away. The creator's handle, deleted by the
 *	user (rename $a {}), stops the actor at once like a close.
 */

static void
ActorHandleDeleted(
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
	ActorCloseResource(&actorPtr->resource);
    }
    ActorUnref(actorPtr);
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
    if (objc < 2) {
	Tcl_WrongNumArgs(interp, 1, objv, "subcommand ?arg ...?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (Tcl_GetIndexFromObj(interp, objv[1], subcommands, "subcommand", 0,
	    &index) != TCL_OK) {
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (index == SC_CREATE) {
	return ActorCreate(interp, objc, objv);
    }
    if (index == SC_NAMES) {
	Tcl_Obj *listPtr;
	char (*handles)[sizeof(actorPtr->handle)] = NULL;
	size_t n = 0, cap = 0;

	if (objc != 2) {
	    Tcl_WrongNumArgs(interp, 2, objv, NULL);
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}

	/* Copy under the lock, make Tcl objects after it. */
	uv_mutex_lock(&registryLock);
	for (actorPtr = registry; actorPtr != NULL;
		actorPtr = actorPtr->nextPtr) {
	    if (n == cap) {
		cap = cap ? 2 * cap : 16;
		handles = realloc(handles, cap * sizeof(*handles));
		if (handles == NULL) {
		    CourierPanicOutOfMemory(cap * sizeof(*handles));
		}
	    }
	    memcpy(handles[n++], actorPtr->handle, sizeof(*handles));
	}
	uv_mutex_unlock(&registryLock);
	listPtr = Tcl_NewListObj(0, NULL);
	while (n > 0) {			/* Oldest first. */
	    Tcl_ListObjAppendElement(NULL, listPtr,
		    Tcl_NewStringObj(handles[--n], -1));
	}
	free(handles);
	Tcl_SetObjResult(interp, listPtr);
	return TCL_OK;
    }
    if (objc < 3) {
	Tcl_WrongNumArgs(interp, 2, objv, "actor ?arg ...?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
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
    ActorUnref(actorPtr);
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
    if (CourierOptParse(interp, &table, 1, objc - i, objv + i, 0,
	    usage) != TCL_OK) {
	CourierOptRelease(actorOptionSpecs, &o);
	return TCL_ERROR;
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	CourierOptRelease(actorOptionSpecs, &o);
	return TCL_ERROR;
    }
    ActorSetExitProc();

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

    actorPtr = calloc(1, sizeof(Actor));
    if (actorPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(Actor));
    }
    atomic_init(&actorPtr->refCount, 2);	/* Creator, thread. */
    if (o.init != NULL) {
	actorPtr->initScript = strdup(Tcl_GetString(o.init));
    }
    if (pkgScript != NULL && *pkgScript != '\0') {
	actorPtr->pkgScript = strdup(pkgScript);
    }
    Tcl_ResetResult(interp);
    snprintf(actorPtr->pkgVersion, sizeof(actorPtr->pkgVersion), "%s",
	    version);
    actorPtr->mailboxMax = (size_t) o.mailbox;
    actorPtr->restartPolicy = o.restart;
    actorPtr->maxRestarts = o.maxRestarts;
    actorPtr->withinMs = o.within;
    actorPtr->restartLog = calloc((size_t) o.maxRestarts + 1,
	    sizeof(Tcl_WideInt));
    uv_mutex_init(&actorPtr->lock);
    uv_cond_init(&actorPtr->cond);
    atomic_init(&actorPtr->state, STATE_STARTING);
    atomic_init(&actorPtr->stopping, STOP_NONE);
    atomic_init(&actorPtr->queued, 0);
    atomic_init(&actorPtr->spaceWaiters, 0);
    atomic_init(&actorPtr->processed, 0);
    atomic_init(&actorPtr->restarts, 0);

    /* Name it and enter it in the registry, unless the name is taken. */
    uv_mutex_lock(&registryLock);
    if (name == NULL) {
	snprintf(defaultName, sizeof(defaultName), "actor%lu",
		++actorCounter);
	name = defaultName;
    }
    for (otherPtr = registry; otherPtr != NULL; otherPtr = otherPtr->nextPtr) {
	if (strcmp(otherPtr->name, name) == 0) {
	    duplicate = 1;
	    break;
	}
    }
    if (!duplicate) {
	snprintf(actorPtr->name, sizeof(actorPtr->name), "%s", name);
	actorPtr->nextPtr = registry;
	if (registry != NULL) {
	    registry->prevPtr = actorPtr;
	}
	registry = actorPtr;
    }
    uv_mutex_unlock(&registryLock);
    if (duplicate) {
	atomic_store(&actorPtr->refCount, 1);
	ActorUnref(actorPtr);
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
    CourierResourceAdd(cinterpPtr, &actorPtr->resource, actorKind,
	    ActorCloseResource);

    actorPtr->threadPtr = CourierThreadStart(actorPtr->threadName,
	    ActorThreadMain, actorPtr);
    if (actorPtr->threadPtr == NULL) {
	CourierPortRelease(actorPtr->controlPort);	/* The thread's. */
	ActorUnref(actorPtr);				/* The thread's. */
	ActorCloseResource(&actorPtr->resource);
	return CourierError(interp, "THREAD", "CREATE",
		"cannot start a thread for actor \"%s\"", name);
    }
    uv_mutex_lock(&actorPtr->lock);
    while (!actorPtr->started) {
	uv_cond_wait(&actorPtr->cond, &actorPtr->lock);
    }
    uv_mutex_unlock(&actorPtr->lock);

    ActorRef(actorPtr);				/* The handle's. */
    actorPtr->token = Tcl_CreateObjCommand(interp, actorPtr->handle,
	    ActorHandleObjCmd, actorPtr, ActorHandleDeleted);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(actorPtr->handle, -1));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * ActorCloseResource --
 *
 *	The creator is done with the actor (creator thread): its
 *	interpreter is deleted, its thread exits, the process exits, or the
 *	actor has ended on its own (ActorFinish). Stops the actor at once if
 *	it still runs, joins its thread, and drops the creator's side.
 *
 *----------------------------------------------------------------------
 */

static atomic_uint_fast64_t exitDeadline;	/* uv_hrtime; 0: not exiting. */

static void
ActorCloseResource(
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
    RegistryRemove(actorPtr);
    if (actorPtr->onError != NULL) {
	Tcl_DecrRefCount(actorPtr->onError);
	actorPtr->onError = NULL;
    }
    if (actorPtr->onExit != NULL) {
	Tcl_DecrRefCount(actorPtr->onExit);
	actorPtr->onExit = NULL;
    }
    if (actorPtr->onNotice != NULL) {
	Tcl_DecrRefCount(actorPtr->onNotice);
	actorPtr->onNotice = NULL;
    }
    if (token != NULL) {
	actorPtr->token = NULL;
	Tcl_DeleteCommandFromToken(actorPtr->ownerInterp, token);
    }
    ActorUnref(actorPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorStopOwned --
 *
 *	An interpreter is deleted or its thread exits (creator thread):
 *	stops every actor it created at once, before its resources are
 *	closed one by one (ActorCloseResource joins them), so that the
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
	if (resPtr->kind == actorKind
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
    Actor *actorPtr, **actors = NULL;
    size_t n = 0, cap = 0, i;

    uv_once(&registryOnce, RegistryInit);
    atomic_store(&exitDeadline,
	    uv_hrtime() + (uint64_t) COURIER_EXIT_WAIT_MS * 1000000);

    /* Take references under the lock; stop them after it. */
    uv_mutex_lock(&registryLock);
    for (actorPtr = registry; actorPtr != NULL; actorPtr = actorPtr->nextPtr) {
	if (n == cap) {
	    cap = cap ? 2 * cap : 16;
	    actors = realloc(actors, cap * sizeof(*actors));
	    if (actors == NULL) {
		CourierPanicOutOfMemory(cap * sizeof(*actors));
	    }
	}
	ActorRef(actorPtr);
	actors[n++] = actorPtr;
    }
    uv_mutex_unlock(&registryLock);
    for (i = 0; i < n; i++) {
	int started;

	actorPtr = actors[i];
	uv_mutex_lock(&actorPtr->lock);
	started = actorPtr->started;	/* Its mailbox exists. */
	uv_mutex_unlock(&actorPtr->lock);
	if (started) {
	    ActorStopNow(actorPtr);
	}
	ActorUnref(actorPtr);
    }
    free(actors);
}

/*
 *----------------------------------------------------------------------
 *
 * NoticeDeliver --
 *
 *	News from an actor in its creator's thread: a crash runs -onerror
 *	(or goes to the background-error handler); the end joins the
 *	thread, closes the creator's side and runs -onexit.
 *
 *----------------------------------------------------------------------
 */

static void
NoticeDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Actor *actorPtr = ownerData;
    Tcl_Interp *interp = actorPtr->ownerInterp;
    Tcl_Obj *words[3], *handleObj, *args[3], *prefixPtr = NULL;
    uint64_t id;
    int n, i;

    n = ReadWords(msgPtr, &id, 3, words);
    for (i = 0; i < n; i++) {
	Tcl_IncrRefCount(words[i]);
    }

    /* The handle's current name: it may have been renamed. */
    handleObj = Tcl_NewObj();
    if (actorPtr->token != NULL) {
	Tcl_GetCommandFullName(interp, actorPtr->token, handleObj);
    } else {
	Tcl_AppendToObj(handleObj, actorPtr->handle, -1);
    }
    Tcl_IncrRefCount(handleObj);
    Tcl_Preserve(interp);
    if (msgPtr->kind == NOTE_ERROR) {
	assert(n == 3);
	if (actorPtr->onError != NULL) {
	    Tcl_Obj *optsPtr = Tcl_NewDictObj();

	    Tcl_DictObjPut(NULL, optsPtr, Tcl_NewStringObj("-errorcode", -1),
		    words[1]);
	    Tcl_DictObjPut(NULL, optsPtr, Tcl_NewStringObj("-errorinfo", -1),
		    words[2]);
	    prefixPtr = actorPtr->onError;
	    Tcl_IncrRefCount(prefixPtr);
	    args[0] = handleObj;
	    args[1] = words[0];
	    args[2] = optsPtr;
	} else {
	    Tcl_SetObjResult(interp, Tcl_ObjPrintf("actor \"%s\": %s",
		    actorPtr->name, Tcl_GetString(words[0])));
	    Tcl_SetObjErrorCode(interp, words[1]);
	    Tcl_AddErrorInfo(interp, "\n    (in actor \"");
	    Tcl_AddErrorInfo(interp, actorPtr->name);
	    Tcl_AddErrorInfo(interp, "\")\n");
	    Tcl_AddErrorInfo(interp, Tcl_GetString(words[2]));
	    Tcl_BackgroundException(interp, TCL_ERROR);
	    Tcl_ResetResult(interp);
	}
    } else if (msgPtr->kind == NOTE_NOTICE) {
	/* courier::notify value: {*}-onnotice handle value, or nothing. */
	assert(n == 1);
	if (actorPtr->onNotice != NULL) {
	    prefixPtr = actorPtr->onNotice;
	    Tcl_IncrRefCount(prefixPtr);
	    args[0] = handleObj;
	    args[1] = words[0];
	}
    } else {
	assert(msgPtr->kind == NOTE_EXIT && n == 1);
	if (actorPtr->onExit != NULL) {
	    prefixPtr = actorPtr->onExit;
	    Tcl_IncrRefCount(prefixPtr);
	    args[0] = handleObj;
	    args[1] = words[0];
	}
	/* Join, drop the handle and the name before -onexit runs. */
	ActorCloseResource(&actorPtr->resource);
    }
    if (prefixPtr != NULL) {
	CourierCallPrefix(interp, msgPtr->kind == NOTE_ERROR ? "-onerror"
		: "-onexit", handleObj, prefixPtr,
		msgPtr->kind == NOTE_ERROR ? 3 : 2, args);
	Tcl_ResetResult(interp);
	Tcl_DecrRefCount(prefixPtr);
    }
    Tcl_Release(interp);
    Tcl_DecrRefCount(handleObj);
    for (i = 0; i < n; i++) {
	Tcl_DecrRefCount(words[i]);
    }
}

/* Posts a notice of n strings to the creator (actor thread). */
static void
PostNotice(
    Actor *actorPtr,
    int kind,
    int n,
    const char *const strings[])
{
    const unsigned char *bytes[3];
    size_t lens[3];
    int i;

    assert(n <= 3);
    for (i = 0; i < n; i++) {
	bytes[i] = (const unsigned char *) strings[i];
	lens[i] = strlen(strings[i]);
    }
    CourierPortPost(actorPtr->controlPort,
	    MakeWords(kind, 0, n, bytes, lens, NULL));
}

/*
 *----------------------------------------------------------------------
 *
 * NotifyObjCmd --
 *
 *	courier::notify value, inside an actor: posts value (a copy) to the
 *	interpreter that created the actor, whose -onnotice runs as
 *	{*}cmd handle value, in order with the other notices. It never
 *	blocks: notices are not flow-controlled, so a loop should send them
 *	at the rate someone can watch (a progress bar), not per item.
 *
 * Results:
 *	An empty result; an error {COURIER ACTOR NOTACTOR} outside an actor.
 *
 *----------------------------------------------------------------------
 */

static int
NotifyObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    Actor *actorPtr = Tcl_GetAssocData(interp, SELF_KEY, NULL);
    const unsigned char *bytes[1];
    size_t lens[1];
    int tags[1];

    (void) clientData;
    if (actorPtr == NULL || ActorOfThread() != actorPtr) {
	return CourierError(interp, "ACTOR", "NOTACTOR",
		"courier::notify works only inside an actor");
    }
    if (objc != 2) {
	Tcl_WrongNumArgs(interp, 1, objv, "value");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    bytes[0] = WordOf(objv[1], &lens[0], &tags[0]);
    CourierPortPost(actorPtr->controlPort,
	    MakeWords(NOTE_NOTICE, 0, 1, bytes, lens, tags));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * ActorThreadMain --
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

static void
ActorThreadMain(
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
	MailReject(msgPtr, "stopped before it ran this message",
		"COURIER ACTOR STOPPED");
	CourierMsgFree(msgPtr);
    }
    actorPtr->heldTail = NULL;
    Tcl_DeleteHashTable(&actorPtr->deferred);
    CourierPortClose(actorPtr->mailbox);
    CourierInboxClose();		/* Discards (answers) the rest. */

    atomic_store(&actorPtr->state, STATE_STOPPED);
    strings[0] = reason;
    PostNotice(actorPtr, NOTE_EXIT, 1, strings);
    CourierPortRelease(actorPtr->controlPort);
    tdPtr->actorPtr = NULL;
    Tcl_FinalizeThread();
    ActorUnref(actorPtr);
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
    ActorRef(actorPtr);
    Tcl_CreateObjCommand(interp, actorPtr->handle, ActorHandleObjCmd,
	    actorPtr, ActorHandleDeleted);
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
 * ActorCreateInterp, ActorExitProc, CourierActorUnload --
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
static int exitProcSet;		/* Guarded by registryLock. */

static Tcl_Interp *
ActorCreateInterp(void)
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

static void
ActorSetExitProc(void)
{
    uv_mutex_lock(&registryLock);
    if (!exitProcSet) {
	exitProcSet = 1;
	previousExitProc = Tcl_SetExitProc(ActorExitProc);
    }
    uv_mutex_unlock(&registryLock);
}

/*
 * CourierActorUnload --
 *	The library is about to be unmapped: give the exit procedure back.
 */

void
CourierActorUnload(void)
{
    uv_once(&registryOnce, RegistryInit);
    uv_mutex_lock(&registryLock);
    if (exitProcSet) {
	exitProcSet = 0;
	Tcl_SetExitProc(previousExitProc);
    }
    uv_mutex_unlock(&registryLock);
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
    Tcl_Interp *interp = ActorCreateInterp();
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
    ActorRejectDeferred(actorPtr,
	    actorPtr->ending == END_STOP ? "stopped" : "restarted",
	    actorPtr->ending == END_STOP ? "COURIER ACTOR STOPPED"
	    : "COURIER ACTOR RESTARTED");
    for (i = 0; i < CMD_CACHE_SIZE; i++) {
	if (actorPtr->cmdCache[i] != NULL) {
	    Tcl_DecrRefCount(actorPtr->cmdCache[i]);
	    actorPtr->cmdCache[i] = NULL;
	}
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
	    MailReject(msgPtr, "was stopped before it ran this message",
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
    if (actorPtr->heldTail != NULL) {
	actorPtr->heldTail->next = copyPtr;
    } else {
	actorPtr->heldHead = copyPtr;
    }
    actorPtr->heldTail = copyPtr;
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
	return WordObj(tag, bytes, len);
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
    objPtr = WordObj(tag, bytes, len);
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

	p = GetWord(p, end, &tag, &bytes, &len);
	assert(p != NULL);
	objv[i] = i == 0 ? CommandWord(actorPtr, tag, bytes, len)
		: WordObj(tag, bytes, len);
	Tcl_IncrRefCount(objv[i]);
    }

    saved = actorPtr->current;
    savedDeferred = actorPtr->currentDeferred;
    actorPtr->current.kind = msgPtr->kind == MAIL_TELL ? 0 : msgPtr->kind;
    actorPtr->current.ptr = header.replyPtr;
    actorPtr->current.id = header.id;
    actorPtr->currentDeferred = 0;

    MailboxTaken(actorPtr);
    actorPtr->depth++;
    code = Tcl_EvalObjv(interp, (int) header.argc, objv, TCL_EVAL_GLOBAL);
    actorPtr->depth--;
    atomic_fetch_add(&actorPtr->processed, 1);

    if (actorPtr->current.kind != 0) {
	if (!actorPtr->currentDeferred) {
	    if (actorPtr->ending == END_EXIT) {
		ReplyWithError(&actorPtr->current, "actor exited while "
			"running this message", "COURIER ACTOR EXITED");
	    } else if (atomic_load(&actorPtr->stopping) == STOP_NOW) {
		ReplyWithError(&actorPtr->current, "actor was stopped while "
			"running this message", "COURIER ACTOR STOPPED");
	    } else {
		ReplyWithResult(&actorPtr->current, interp,
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
    PostNotice(actorPtr, NOTE_ERROR, 3, strings);
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

/*
 *----------------------------------------------------------------------
 *
 * ActorRejectDeferred --
 *
 *	Answers every deferred ask with an error (the interpreter that was
 *	to answer is going away).
 *
 *----------------------------------------------------------------------
 */

static void
ActorRejectDeferred(
    Actor *actorPtr,
    const char *why,
    const char *code)
{
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;
    char message[128];

    snprintf(message, sizeof(message), "actor \"%s\" %s before it answered",
	    actorPtr->name, why);
    while ((hPtr = Tcl_FirstHashEntry(&actorPtr->deferred, &search))
	    != NULL) {
	ReplyTo *toPtr = Tcl_GetHashValue(hPtr);

	Tcl_DeleteHashEntry(hPtr);
	ReplyWithError(toPtr, message, code);
	ckfree(toPtr);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * SelfObjCmd --
 *
 *	courier::self			the handle of the actor running this
 *	courier::self defer		answer the current ask later: returns
 *					a token
 *	courier::self reply token ?-error? value ?errorcode?
 *					answer a deferred ask
 *
 *----------------------------------------------------------------------
 */

static int
SelfObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const subcommands[] = {"defer", "reply", NULL};
    enum { SC_DEFER, SC_REPLY };
    Actor *actorPtr = Tcl_GetAssocData(interp, SELF_KEY, NULL);
    Tcl_HashEntry *hPtr;
    ReplyTo *toPtr;
    int index, isNew;

    (void) clientData;
    if (actorPtr == NULL || ActorOfThread() != actorPtr) {
	return CourierError(interp, "ACTOR", "NOTACTOR",
		"courier::self works only inside an actor");
    }
    if (objc == 1) {
	Tcl_SetObjResult(interp, Tcl_NewStringObj(actorPtr->handle, -1));
	return TCL_OK;
    }
    if (Tcl_GetIndexFromObj(interp, objv[1], subcommands, "subcommand", 0,
	    &index) != TCL_OK) {
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (index == SC_DEFER) {
	char token[32];

	if (objc != 2) {
	    Tcl_WrongNumArgs(interp, 2, objv, NULL);
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	if (actorPtr->current.kind == 0 || actorPtr->currentDeferred) {
	    return CourierError(interp, "ACTOR", "NOASK",
		    "courier::self defer: the running message is not an ask "
		    "or call waiting for an answer");
	}
	snprintf(token, sizeof(token), "reply%lu",
		++actorPtr->nextDeferred);
	toPtr = (ReplyTo *) ckalloc(sizeof(ReplyTo));
	*toPtr = actorPtr->current;
	actorPtr->currentDeferred = 1;
	hPtr = Tcl_CreateHashEntry(&actorPtr->deferred, token, &isNew);
	Tcl_SetHashValue(hPtr, toPtr);
	Tcl_SetObjResult(interp, Tcl_NewStringObj(token, -1));
	return TCL_OK;
    }

    /* reply token ?-error? value ?errorcode? */
    {
	int isError = 0, i = 3;

	if (objc > 3 && strcmp(Tcl_GetString(objv[3]), "-error") == 0) {
	    isError = 1;
	    i = 4;
	}
	if (objc < i + 1 || objc > i + 1 + isError) {
	    Tcl_WrongNumArgs(interp, 2, objv,
		    "token ?-error? value ?errorcode?");
	    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	    return TCL_ERROR;
	}
	hPtr = Tcl_FindHashEntry(&actorPtr->deferred, Tcl_GetString(objv[2]));
	if (hPtr == NULL) {
	    return CourierError(interp, "HANDLE", Tcl_GetString(objv[2]),
		    "no deferred ask \"%.50s\" (answered already, or never "
		    "made by courier::self defer)", Tcl_GetString(objv[2]));
	}
	toPtr = Tcl_GetHashValue(hPtr);
	Tcl_DeleteHashEntry(hPtr);
	{
	    const unsigned char *bytes[2];
	    size_t lens[2];
	    int tags[2], n = 1;

	    bytes[0] = WordOf(objv[i], &lens[0], &tags[0]);
	    if (isError) {
		if (objc > i + 1) {
		    bytes[1] = WordOf(objv[i + 1], &lens[1], &tags[1]);
		} else {
		    bytes[1] = (const unsigned char *) "NONE";
		    lens[1] = 4;
		    tags[1] = WORD_STRING;
		}
		n = 2;
	    }
	    ReplySend(toPtr, MakeWords(isError ? REPLY_ERROR : REPLY_OK,
		    toPtr->id, n, bytes, lens, tags));
	}
	ckfree(toPtr);
	return TCL_OK;
    }
}
