/*
 * inboxInt.h --
 *
 *	The inbox's private structures, shared by inbox.c (the inbox's life
 *	per thread, ports, posting from producer threads) and drain.c (the
 *	owner thread's side: the event source, drain slices, parking, the
 *	spin, the stats). Nothing outside those two files includes this;
 *	the public surface is inbox.h.
 *
 *	Locks: inboxPtr->lock guards the fields marked "lock" below. It is
 *	never held while calling anything outside inbox.c and drain.c
 *	except the allocator.
 */

#ifndef COURIER_INBOXINT_H
#define COURIER_INBOXINT_H

#include "courierInt.h"
#include <stdatomic.h>
#include <stdint.h>

/* Values of CourierInbox.wakeState. */
enum {
    INBOX_IDLE = 0,		/* Nothing incoming; next post alerts. */
    INBOX_AWAKE = 1		/* The owner has been alerted; posts append. */
};

struct CourierPort {
    CourierInbox *inboxPtr;
    const CourierPortType *typePtr;
    Tcl_Interp *interp;		/* Receiving interpreter, or NULL. */
    void *ownerData;
    void *producerData;
    size_t highWater;		/* Above: posts return FULL. */
    size_t lowWater;		/* At or below: the producer is resumed. */

    /* Guarded by the inbox lock. */
    size_t refCount;		/* Owner (until close) + producer (until
				 * release) + one per queued message. */
    size_t pendingBytes;	/* Posted, not yet delivered or dropped. */
    int throttled;		/* A post said FULL; no RESUME yet. */
    int closed;			/* Written under the lock by the owner
				 * thread only, so the owner reads it
				 * without the lock. */

    /* Owner thread only. */
    size_t consumedBytes;	/* Taken off the backlog, not yet
				 * subtracted from pendingBytes. */
    size_t consumedMsgs;
    CourierPort *nextTouched;	/* List of ports with consumption. */
    int touched;
    CourierPort *nextOpen;	/* The inbox's list of open ports. */
    CourierPort *prevOpen;
};

struct CourierInbox {
    uv_mutex_t lock;
    uv_cond_t quiet;		/* Signalled when postsInFlight drops to 0
				 * while the inbox is closing. */
    Tcl_ThreadId owner;

    /* Guarded by the lock. */
    CourierMsg *incomingHead;	/* Posted, not yet taken by the owner. */
    CourierMsg *incomingTail;
    size_t incomingCount;
    atomic_int wakeState;	/* INBOX_IDLE or INBOX_AWAKE. Written under
				 * the lock, read without it as a hint. */
    _Atomic uint64_t awakeAt;	/* When a post last found the inbox IDLE.
				 * Written under the lock before wakeState,
				 * read by the owner after it. */
    int closed;			/* No more posts are accepted. */
    int postsInFlight;		/* Producers alerting the owner now. */
    size_t refCount;		/* The owner thread + one per port. */
    struct InboxDrainEvent *wakeEvPtr;
				/* The next wake-up, ckalloc'ed by the owner;
				 * the post that finds the inbox IDLE takes
				 * it and queues it. NULL until the owner's
				 * event loop first runs, while one is in
				 * flight, and once the inbox is closed. */
    atomic_int wakeQueued;	/* 1 from the taking of wakeEvPtr until its
				 * proc runs. Written under the lock before
				 * wakeState, read by the owner as a hint. */
    atomic_int wakeInQueue;	/* Set by the producer once the wake-up it
				 * took is in Tcl's queue and the owner is
				 * alerted; reset with wakeQueued. For the
				 * spin. */
    uint64_t posted;
    uint64_t wakeups;
    uint64_t fullReplies;

    /* Owner thread only. */
    CourierMsg *backlogHead;	/* Taken from incoming, not delivered. */
    CourierMsg *backlogTail;
    size_t backlogCount;
    CourierPort *openPorts;
    CourierPort *touchedPorts;
    int eligible;		/* May the check proc queue a drain? */
    int eventQueued;		/* Is a drain event queued by the check
				 * proc in Tcl's queue? */
    int drainsSincePoll;	/* Drain slices since the check proc last
				 * ran, i.e. since the notifier was polled. */
    int wakeArmed;		/* InboxArmWake has run once. */
    int rearmPending;		/* Is InboxRearmIdleProc scheduled? */
    uint64_t parkedAt;		/* When eligible last went to 0. */
    int ownerClosed;		/* CourierInboxClose has run. */
    int spinArmed;		/* A drain ran since the last spin. */
    uint64_t drainEndAt;	/* When the last drain ended, until the
				 * next message is seen; else 0. */
    uint64_t gapNs;		/* Running average of the time from the
				 * end of a drain to the next post. */
    uint64_t idleSeenAt;	/* When the idle handlers last ran (as far
				 * as InboxRearmIdleProc knows). */
    uint64_t wakeEvents;	/* Wake-ups run from Tcl's event queue. */
    uint64_t spins;
    uint64_t spinHits;
    uint64_t delivered;
    uint64_t discarded;
    uint64_t drains;
    uint64_t budgetCuts;	/* Slices ended by the budget with work
				 * left. */
    uint64_t resumes;
    size_t largestBacklog;
    uint64_t longestDrainNs;
};

typedef struct InboxDrainEvent {
    Tcl_Event header;
    CourierInbox *inboxPtr;
    int wake;			/* 1: a producer's wake-up (wakeEvPtr);
				 * 0: queued by the check proc. */
} InboxDrainEvent;

/*
 * Shared between inbox.c and drain.c (owner thread unless stated).
 */

MODULE_SCOPE void	CourierInboxAccount(CourierInbox *inboxPtr,
			    CourierMsg *msgPtr);
MODULE_SCOPE void	CourierInboxFlushAccounting(CourierInbox *inboxPtr);
MODULE_SCOPE void	CourierInboxRelease(CourierInbox *inboxPtr);
MODULE_SCOPE void	CourierInboxTakeIncoming(CourierInbox *inboxPtr);
MODULE_SCOPE void	CourierInboxAttachSource(CourierInbox *inboxPtr);
MODULE_SCOPE void	CourierInboxDetachSource(CourierInbox *inboxPtr,
			    InboxDrainEvent *wakeEvPtr);

#endif /* COURIER_INBOXINT_H */
