/*
 * actorInt.h --
 *
 *	What the actor files share (actor.c, mail.c, actorsend.c,
 *	actorthread.c, actorstop.c, notice.c, self.c): the Actor structure,
 *	the kinds of messages, replies and notices, the registry, and the
 *	functions that cross files. Private to them; actor.h is the surface
 *	the rest of Courier sees. The overview is at the top of actor.c.
 */

#ifndef COURIER_ACTORINT_H
#define COURIER_ACTORINT_H

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

/* Ports here are never throttled: the mailbox bound counts messages. */
#define PORT_NO_LIMIT ((size_t) 1 << 60)

/* The registry (actor.c): every actor of the process, by name. */
MODULE_SCOPE const char courierActorKind[];
MODULE_SCOPE uv_once_t courierActorRegistryOnce;
MODULE_SCOPE uv_mutex_t courierActorRegistryLock;
MODULE_SCOPE Actor *courierActorRegistry;	/* Newest first. */

/* actor.c: references, registry, the handle command. */
MODULE_SCOPE void	CourierActorHandleDeleted(ClientData clientData);
MODULE_SCOPE int	CourierActorHandleObjCmd(ClientData clientData,
			    Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[]);
MODULE_SCOPE void	CourierActorRef(Actor *actorPtr);
MODULE_SCOPE Actor **	CourierActorRegistryAll(size_t *countPtr);
MODULE_SCOPE void	CourierActorRegistryInit(void);
MODULE_SCOPE void	CourierActorRegistryRemove(Actor *actorPtr);
MODULE_SCOPE void	CourierActorUnref(Actor *actorPtr);

/* actorsend.c: tell, ask, call. */
MODULE_SCOPE int	CourierActorAsk(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);
MODULE_SCOPE int	CourierActorCall(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);
MODULE_SCOPE int	CourierActorTell(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);

/* actorstop.c: stop, close, exit. */
MODULE_SCOPE void	CourierActorCloseResource(CourierResource *resPtr);
MODULE_SCOPE Tcl_Interp *	CourierActorCreateInterp(void);
MODULE_SCOPE void	CourierActorSetExitProc(void);
MODULE_SCOPE int	CourierActorStop(Tcl_Interp *interp, Actor *actorPtr,
			    int objc, Tcl_Obj *const objv[]);

/* actorthread.c: the actor thread. */
MODULE_SCOPE Actor *	CourierActorOfThread(void);
MODULE_SCOPE int	CourierActorOwnStopsNow(void);
MODULE_SCOPE void	CourierActorThreadMain(void *arg);

/* mail.c: words, replies, sync slots. */
MODULE_SCOPE void	CourierActorMailInit(void);
MODULE_SCOPE void	CourierActorMailboxDiscard(CourierMsg *msgPtr);
MODULE_SCOPE void	CourierActorChannelUnref(ReplyChannel *channelPtr);
MODULE_SCOPE const unsigned char *	CourierActorGetWord(
			    const unsigned char *p, const unsigned char *end,
			    int *tagPtr, const unsigned char **bytesPtr,
			    size_t *lenPtr);
MODULE_SCOPE void	CourierActorMailReject(CourierMsg *msgPtr,
			    const char *why, const char *code);
MODULE_SCOPE void	CourierActorMailboxTaken(Actor *actorPtr);
MODULE_SCOPE CourierMsg *	CourierActorMakeMail(int kind,
			    Actor *actorPtr, void *replyPtr, uint64_t id,
			    int objc, Tcl_Obj *const objv[]);
MODULE_SCOPE CourierMsg *	CourierActorMakeWords(int kind, uint64_t id,
			    int n, const unsigned char *const bytes[],
			    const size_t lengths[], const int tags[]);
MODULE_SCOPE void	CourierActorNoopNotify(void *producerData, int event);
MODULE_SCOPE int	CourierActorReadWords(CourierMsg *msgPtr,
			    uint64_t *idPtr, int max, Tcl_Obj *objv[]);
MODULE_SCOPE void	CourierActorReplySend(ReplyTo *toPtr,
			    CourierMsg *replyPtr);
MODULE_SCOPE void	CourierActorReplyWithError(ReplyTo *toPtr,
			    const char *message, const char *code);
MODULE_SCOPE void	CourierActorReplyWithResult(ReplyTo *toPtr,
			    Tcl_Interp *interp, int code);
MODULE_SCOPE SyncSlot *	CourierActorSlotNew(void);
MODULE_SCOPE void	CourierActorSlotUnref(SyncSlot *slotPtr);
MODULE_SCOPE Tcl_Obj *	CourierActorWordObj(int tag,
			    const unsigned char *bytes, size_t len);
MODULE_SCOPE const unsigned char *	CourierActorWordOf(Tcl_Obj *objPtr,
			    size_t *lenPtr, int *tagPtr);

/* notice.c: notices to the creator. */
MODULE_SCOPE void	CourierActorNoticeDeliver(void *ownerData,
			    CourierMsg *msgPtr);
MODULE_SCOPE int	CourierActorNotifyObjCmd(ClientData clientData,
			    Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[]);
MODULE_SCOPE void	CourierActorPostNotice(Actor *actorPtr, int kind,
			    int n, const char *const strings[]);

/* self.c: courier::self. */
MODULE_SCOPE void	CourierActorRejectDeferred(Actor *actorPtr,
			    const char *why, const char *code);
MODULE_SCOPE int	CourierActorSelfObjCmd(ClientData clientData,
			    Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[]);

#endif /* COURIER_ACTORINT_H */
