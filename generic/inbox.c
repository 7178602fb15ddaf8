/*
 * inbox.c --
 *
 *	Delivery of messages from any C thread into one Tcl thread. See
 *	inbox.h for the contract and doc/design.md for why.
 *
 *	How a message travels:
 *
 *	  producer thread                      owner (Tcl) thread
 *	  ---------------                      ------------------
 *	  CourierPortPost: lock, append to     InboxDrainEventProc (the wake-
 *	  "incoming", count the port's         up, run from Tcl's event queue):
 *	  backlog; if the inbox was IDLE,      allocate the next wake-up event,
 *	  mark it AWAKE and take the wake-     splice "incoming" onto the
 *	  up event the owner allocated         backlog in O(1), deliver until
 *	  beforehand; after unlock,            the budget is spent. If work
 *	  Tcl_ThreadQueueEvent it to the       remains, drainage becomes
 *	  owner and Tcl_ThreadAlert the        ineligible until an idle handler
 *	  owner. Later posts only append.      (InboxRearmIdleProc) runs.
 *
 *	                                       InboxSetupProc/InboxCheckProc
 *	                                       (an event source): while there
 *	                                       is work, no wake-up in flight
 *	                                       and draining is "eligible",
 *	                                       queue a drain event after the
 *	                                       notifier poll: the next slices
 *	                                       of a long burst, the messages of
 *	                                       a nested event loop.
 *
 *	So a burst costs one queued event and one alert, whatever its size,
 *	and producers never call Tcl's allocator: the owner allocates the
 *	wake-up event before it is needed, the producer only hands it over.
 *	(A parked inbox drains anyway after INBOX_PARK_MAX_NS, for event
 *	loops that never run idle handlers.)
 *
 *	Parking after a slice that ran out of budget is what keeps Tk alive
 *	under a flood: Tcl_DoOneEvent runs idle handlers (where Tk repaints)
 *	only when no event is ready, so a drain that simply re-queued itself
 *	would starve them, and a drain event queued before the notifier is
 *	polled would starve timers and window events. Between two drain
 *	slices, every event that was ready and every idle handler get their
 *	turn. A wake-up is served before the notifier is polled, so it drains
 *	at once only if at most one slice ran since the last poll
 *	(InboxWakeMayDrain); else it leaves the drain to the event source.
 *
 *	Conversations. A thread that has just delivered messages often gets
 *	the next one within microseconds: the reply to an ask its callback
 *	sent, the next ask to an actor that has just replied. Sleeping in
 *	the notifier and being woken costs each side a thread wake-up, which
 *	on a virtual machine is most of a round trip. So after a drain the
 *	setup proc watches the inbox for up to -inboxspin microseconds
 *	before the thread sleeps (InboxSpin), as long as the next message
 *	has usually come within half that time: a thread whose messages
 *	come later does not spin at all. A spin that keeps catching messages would keep the idle
 *	handlers from running, so every INBOX_SPIN_IDLE_NS the thread parks
 *	the inbox instead, as after a slice that ran out of budget.
 *
 *	Locks: inboxPtr->lock guards the fields marked "lock" below. It is
 *	never held while calling anything outside this file except the
 *	allocator.
 */

#include "courierInt.h"
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <assert.h>

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

typedef struct InboxThreadData {
    CourierInbox *inboxPtr;
} InboxThreadData;

static Tcl_ThreadDataKey inboxKey;

/* Drain budget in microseconds, shared by all threads. */
static atomic_long drainBudgetUs = 4000;

/*
 * How many messages are delivered between two looks at the clock while
 * callbacks are quick. A slice also looks whenever the coarse clock
 * (InboxCoarseTick) has moved, and after every message once callbacks
 * are slow: a mean of more than budget / INBOX_CLOCK_STRIDE per message
 * since the last look. So a slice runs past its budget by at most one
 * callback, or one coarse clock tick (a few milliseconds) when callbacks
 * are shorter than that.
 */
#define INBOX_CLOCK_STRIDE 16

/*
 * The longest a parked drain waits for the idle handlers before it runs
 * anyway: an event loop that never runs idle handlers (a caller of
 * Tcl_DoOneEvent without TCL_IDLE_EVENTS, or an endless stream of other
 * events) must not stall delivery.
 */
#define INBOX_PARK_MAX_NS (50 * 1000 * 1000)

/* courier::configure -inboxspin, in microseconds, for every inbox. */
static atomic_uint inboxSpinUs = 50;

/*
 * The thread spins only while the next message usually comes within half
 * the spin: gapNs, a running average (weight 1/INBOX_GAP_WEIGHT) of the
 * time from the end of a drain to the post that found the inbox idle,
 * stays under that. Each gap counts as at most twice the spin, so that a
 * pause (a user thinking) is forgotten after a few quick messages.
 */
#define INBOX_GAP_WEIGHT 8

/*
 * Spins that keep catching messages would keep every turn of the event
 * loop busy, and idle handlers (Tk's repaints) run only in a turn that
 * finds nothing to do. So a thread whose idle handlers have not run for
 * this long parks its inbox instead of spinning, as a drain slice that
 * runs out of budget does: the idle handlers go first.
 */
#define INBOX_SPIN_IDLE_NS (5 * 1000 * 1000)

static void		InboxAccount(CourierInbox *inboxPtr,
			    CourierMsg *msgPtr);
static void		InboxCheckProc(ClientData clientData, int flags);
static int		InboxDrainEventProc(Tcl_Event *evPtr, int flags);
static int		InboxDrainEventFilter(Tcl_Event *evPtr,
			    ClientData clientData);
static void		InboxDrainSlice(CourierInbox *inboxPtr);
static void		InboxFlushAccounting(CourierInbox *inboxPtr);
static int		InboxHasWork(CourierInbox *inboxPtr);
static int		InboxMayDrain(CourierInbox *inboxPtr,
			    uint64_t *waitNsPtr);
static InboxDrainEvent *InboxNewEvent(CourierInbox *inboxPtr, int wake);
static void		InboxArmWake(CourierInbox *inboxPtr);
static int		InboxWakeMayDrain(CourierInbox *inboxPtr);
static void		InboxRearmIdleProc(ClientData clientData);
static void		InboxRelease(CourierInbox *inboxPtr);
static void		InboxSetupProc(ClientData clientData, int flags);
static void		InboxPark(CourierInbox *inboxPtr);
static void		InboxSawGap(CourierInbox *inboxPtr);
static int		InboxSpin(CourierInbox *inboxPtr, int flags);
static void		PortFree(CourierPort *portPtr);
static void		PortUnref(CourierPort *portPtr, size_t count);

/*
 * InboxCoarseTick --
 *	A clock that is cheap to read (a few nanoseconds, no TSC read) and
 *	moves only every few milliseconds: a slice reads it after every
 *	callback to see whether the precise clock is worth reading. Where
 *	there is no such clock, the precise one (read after every callback).
 */

static inline uint64_t
InboxCoarseTick(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
#else
    return uv_hrtime();
#endif
}

/* What a message costs against its port's high-water mark. */
static inline size_t
MsgCost(
    const CourierMsg *msgPtr)
{
    return sizeof(CourierMsg) + msgPtr->size;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierInboxForThread --
 *
 *	Returns the calling thread's inbox, creating it (and registering its
 *	event source) on first use.
 *
 * Results:
 *	The inbox, or NULL once CourierInboxClose has run in this thread.
 *
 *----------------------------------------------------------------------
 */

CourierInbox *
CourierInboxForThread(void)
{
    InboxThreadData *tsdPtr =
	    Tcl_GetThreadData(&inboxKey, sizeof(InboxThreadData));
    CourierInbox *inboxPtr = tsdPtr->inboxPtr;

    if (inboxPtr == NULL) {
	inboxPtr = calloc(1, sizeof(CourierInbox));
	if (inboxPtr == NULL) {
	    CourierPanicOutOfMemory(sizeof(CourierInbox));
	}
	uv_mutex_init(&inboxPtr->lock);
	uv_cond_init(&inboxPtr->quiet);
	inboxPtr->owner = Tcl_GetCurrentThread();
	atomic_init(&inboxPtr->wakeState, INBOX_IDLE);
	atomic_init(&inboxPtr->awakeAt, 0);
	atomic_init(&inboxPtr->wakeQueued, 0);
	atomic_init(&inboxPtr->wakeInQueue, 0);
	inboxPtr->refCount = 1;
	inboxPtr->eligible = 1;
	Tcl_CreateEventSource(InboxSetupProc, InboxCheckProc, inboxPtr);
	tsdPtr->inboxPtr = inboxPtr;
    }
    return inboxPtr;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierInboxClose --
 *
 *	Shuts the calling thread's inbox down: called from the thread exit
 *	handler after every owner has closed its ports. Later posts are
 *	refused; pending messages are freed; ports still open are closed
 *	(their producers told); the drain machinery is unhooked from the
 *	notifier.
 *
 * Side effects:
 *	Waits (briefly) for producers that are alerting this thread right
 *	now, so that none touches the notifier after this returns.
 *
 *----------------------------------------------------------------------
 */

void
CourierInboxClose(void)
{
    InboxThreadData *tsdPtr =
	    Tcl_GetThreadData(&inboxKey, sizeof(InboxThreadData));
    CourierInbox *inboxPtr = tsdPtr->inboxPtr;
    CourierMsg *msgPtr;
    InboxDrainEvent *wakeEvPtr;

    if (inboxPtr == NULL) {
	return;
    }
    uv_mutex_lock(&inboxPtr->lock);
    inboxPtr->closed = 1;
    while (inboxPtr->postsInFlight > 0) {
	uv_cond_wait(&inboxPtr->quiet, &inboxPtr->lock);
    }

    /*
     * No producer queues a wake-up from now on: the one in hand (if not
     * taken) is freed here, a taken one is in Tcl's queue and deleted
     * below with the drain events.
     */

    wakeEvPtr = inboxPtr->wakeEvPtr;
    inboxPtr->wakeEvPtr = NULL;
    if (inboxPtr->incomingHead != NULL) {
	if (inboxPtr->backlogTail != NULL) {
	    inboxPtr->backlogTail->next = inboxPtr->incomingHead;
	} else {
	    inboxPtr->backlogHead = inboxPtr->incomingHead;
	}
	inboxPtr->backlogTail = inboxPtr->incomingTail;
	inboxPtr->backlogCount += inboxPtr->incomingCount;
	inboxPtr->incomingHead = inboxPtr->incomingTail = NULL;
	inboxPtr->incomingCount = 0;
    }
    uv_mutex_unlock(&inboxPtr->lock);

    while (inboxPtr->openPorts != NULL) {
	CourierPortClose(inboxPtr->openPorts);
    }
    while ((msgPtr = inboxPtr->backlogHead) != NULL) {
	inboxPtr->backlogHead = msgPtr->next;
	inboxPtr->discarded++;
	if (msgPtr->port->typePtr->discardProc != NULL) {
	    msgPtr->port->typePtr->discardProc(msgPtr);
	}
	InboxAccount(inboxPtr, msgPtr);
	CourierMsgFree(msgPtr);
    }
    inboxPtr->backlogTail = NULL;
    inboxPtr->backlogCount = 0;
    InboxFlushAccounting(inboxPtr);

    Tcl_DeleteEventSource(InboxSetupProc, InboxCheckProc, inboxPtr);
    Tcl_DeleteEvents(InboxDrainEventFilter, inboxPtr);
    if (wakeEvPtr != NULL) {
	ckfree(wakeEvPtr);
    }
    if (inboxPtr->rearmPending) {
	Tcl_CancelIdleCall(InboxRearmIdleProc, inboxPtr);
    }
    inboxPtr->ownerClosed = 1;
    tsdPtr->inboxPtr = NULL;
    InboxRelease(inboxPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * InboxRelease --
 *
 *	Drops one reference to an inbox, freeing it with the last.
 *
 *----------------------------------------------------------------------
 */

static void
InboxRelease(
    CourierInbox *inboxPtr)
{
    size_t left;

    uv_mutex_lock(&inboxPtr->lock);
    assert(inboxPtr->refCount > 0);
    left = --inboxPtr->refCount;
    uv_mutex_unlock(&inboxPtr->lock);
    if (left == 0) {
	assert(inboxPtr->incomingHead == NULL);
	assert(inboxPtr->wakeEvPtr == NULL);
	uv_cond_destroy(&inboxPtr->quiet);
	uv_mutex_destroy(&inboxPtr->lock);
	free(inboxPtr);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierPortOpen --
 *
 *	Opens a port on an inbox (owner thread). The port starts with two
 *	references: the owner's, dropped by CourierPortClose, and the
 *	producer's, dropped by CourierPortRelease.
 *
 * Results:
 *	The new port.
 *
 *----------------------------------------------------------------------
 */

CourierPort *
CourierPortOpen(
    CourierInbox *inboxPtr,
    const CourierPortType *typePtr,
    Tcl_Interp *interp,		/* Interpreter the messages go to, or NULL;
				 * nothing is delivered once it is deleted. */
    void *ownerData,		/* Passed to deliverProc. */
    void *producerData,		/* Passed to notifyProc; must stay valid
				 * until the port is freed. */
    size_t highWater)		/* Backlog bytes above which posts say
				 * FULL. */
{
    CourierPort *portPtr = calloc(1, sizeof(CourierPort));

    assert(inboxPtr->owner == Tcl_GetCurrentThread());
    assert(highWater > 0);
    if (portPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(CourierPort));
    }
    portPtr->inboxPtr = inboxPtr;
    portPtr->typePtr = typePtr;
    portPtr->interp = interp;
    portPtr->ownerData = ownerData;
    portPtr->producerData = producerData;
    portPtr->highWater = highWater;
    portPtr->lowWater = highWater / 2;
    portPtr->refCount = 2;

    portPtr->nextOpen = inboxPtr->openPorts;
    if (inboxPtr->openPorts != NULL) {
	inboxPtr->openPorts->prevOpen = portPtr;
    }
    inboxPtr->openPorts = portPtr;

    uv_mutex_lock(&inboxPtr->lock);
    inboxPtr->refCount++;
    uv_mutex_unlock(&inboxPtr->lock);
    return portPtr;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierPortClose --
 *
 *	The owner is done with a port: nothing more is delivered through
 *	it, later posts are refused, messages still queued are dropped as
 *	the drain meets them, and the producer is told COURIER_NOTIFY_CLOSED.
 *
 * Side effects:
 *	Drops the owner's reference. The owner may free its ownerData as
 *	soon as this returns.
 *
 *----------------------------------------------------------------------
 */

void
CourierPortClose(
    CourierPort *portPtr)
{
    CourierInbox *inboxPtr = portPtr->inboxPtr;

    assert(inboxPtr->owner == Tcl_GetCurrentThread());
    assert(!portPtr->closed);

    uv_mutex_lock(&inboxPtr->lock);
    portPtr->closed = 1;
    portPtr->throttled = 0;
    uv_mutex_unlock(&inboxPtr->lock);

    if (portPtr->prevOpen != NULL) {
	portPtr->prevOpen->nextOpen = portPtr->nextOpen;
    } else {
	inboxPtr->openPorts = portPtr->nextOpen;
    }
    if (portPtr->nextOpen != NULL) {
	portPtr->nextOpen->prevOpen = portPtr->prevOpen;
    }
    portPtr->nextOpen = portPtr->prevOpen = NULL;
    portPtr->ownerData = NULL;

    portPtr->typePtr->notifyProc(portPtr->producerData,
	    COURIER_NOTIFY_CLOSED);
    PortUnref(portPtr, 1);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierPortRelease --
 *
 *	The producer is done with a port (any thread). It must not post
 *	to it again. Frees the port if this was the last reference.
 *
 *----------------------------------------------------------------------
 */

void
CourierPortRelease(
    CourierPort *portPtr)
{
    PortUnref(portPtr, 1);
}

/*
 *----------------------------------------------------------------------
 *
 * PortUnref, PortFree --
 *
 *	Drop count references to a port; the last one frees it and drops
 *	the port's reference to its inbox.
 *
 *----------------------------------------------------------------------
 */

static void
PortUnref(
    CourierPort *portPtr,
    size_t count)
{
    CourierInbox *inboxPtr = portPtr->inboxPtr;
    size_t left;

    uv_mutex_lock(&inboxPtr->lock);
    assert(portPtr->refCount >= count);
    portPtr->refCount -= count;
    left = portPtr->refCount;
    uv_mutex_unlock(&inboxPtr->lock);
    if (left == 0) {
	PortFree(portPtr);
    }
}

static void
PortFree(
    CourierPort *portPtr)
{
    CourierInbox *inboxPtr = portPtr->inboxPtr;

    assert(portPtr->refCount == 0);
    assert(portPtr->pendingBytes == 0);
    assert(portPtr->closed);
    if (portPtr->typePtr->releaseProc != NULL) {
	portPtr->typePtr->releaseProc(portPtr->producerData);
    }
    free(portPtr);
    InboxRelease(inboxPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierPortPending, CourierPortSetHighWater --
 *
 *	The port's backlog in bytes (posted, not yet delivered), and a new
 *	high-water mark (owner thread; the low-water mark is half of it).
 *
 *----------------------------------------------------------------------
 */

size_t
CourierPortPending(
    CourierPort *portPtr)
{
    size_t pending;

    uv_mutex_lock(&portPtr->inboxPtr->lock);
    pending = portPtr->pendingBytes;
    uv_mutex_unlock(&portPtr->inboxPtr->lock);
    return pending - portPtr->consumedBytes;
}

/*
 * CourierPortBacklog --
 *	For the producer (any thread): roughly how many bytes it has posted
 *	that are not delivered yet (delivery is counted in steps of a few
 *	messages).
 */

size_t
CourierPortBacklog(
    CourierPort *portPtr)
{
    size_t pending;

    uv_mutex_lock(&portPtr->inboxPtr->lock);
    pending = portPtr->pendingBytes;
    uv_mutex_unlock(&portPtr->inboxPtr->lock);
    return pending;
}

void
CourierPortSetHighWater(
    CourierPort *portPtr,
    size_t highWater)
{
    assert(highWater > 0);
    uv_mutex_lock(&portPtr->inboxPtr->lock);
    portPtr->highWater = highWater;
    portPtr->lowWater = highWater / 2;
    uv_mutex_unlock(&portPtr->inboxPtr->lock);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierPortPost, CourierPortPostChain --
 *
 *	Append one message, or a chain of messages linked through their
 *	next fields, to a port's stream (any thread). The inbox takes the
 *	messages in every case. A chain costs one lock.
 *
 * Results:
 *	COURIER_POST_OK; COURIER_POST_FULL when the port's backlog is above
 *	its high-water mark (the messages are kept: the producer should wait
 *	for COURIER_NOTIFY_RESUME before posting more); COURIER_POST_CLOSED
 *	when the receiver is gone (the messages are freed).
 *
 * Side effects:
 *	The first message of a burst alerts the owner thread.
 *
 *----------------------------------------------------------------------
 */

int
CourierPortPost(
    CourierPort *portPtr,
    CourierMsg *msgPtr)
{
    msgPtr->next = NULL;
    return CourierPortPostChain(portPtr, msgPtr);
}

int
CourierPortPostChain(
    CourierPort *portPtr,
    CourierMsg *headPtr)
{
    CourierInbox *inboxPtr = portPtr->inboxPtr;
    CourierMsg *tailPtr = headPtr, *msgPtr;
    size_t count = 0, cost = 0;
    int result = COURIER_POST_OK;
    int alert = 0;
    InboxDrainEvent *wakeEvPtr = NULL;

    assert(headPtr != NULL);
    for (msgPtr = headPtr; msgPtr != NULL; msgPtr = msgPtr->next) {
	msgPtr->port = portPtr;
	cost += MsgCost(msgPtr);
	count++;
	tailPtr = msgPtr;
    }

    uv_mutex_lock(&inboxPtr->lock);
    if (portPtr->closed || inboxPtr->closed) {
	uv_mutex_unlock(&inboxPtr->lock);
	CourierMsgFreeChain(headPtr);
	return COURIER_POST_CLOSED;
    }
    if (inboxPtr->incomingTail != NULL) {
	inboxPtr->incomingTail->next = headPtr;
    } else {
	inboxPtr->incomingHead = headPtr;
    }
    inboxPtr->incomingTail = tailPtr;
    inboxPtr->incomingCount += count;
    inboxPtr->posted += count;
    portPtr->refCount += count;
    portPtr->pendingBytes += cost;
    if (portPtr->pendingBytes > portPtr->highWater) {
	portPtr->throttled = 1;
	inboxPtr->fullReplies++;
	result = COURIER_POST_FULL;
    }
    if (atomic_load_explicit(&inboxPtr->wakeState, memory_order_relaxed)
	    == INBOX_IDLE) {
	/*
	 * The first message of a burst. Take the owner's ready-made wake-up
	 * event, unless the last one is still queued (a drain of the check
	 * proc got to its messages first): then that one, or the event
	 * source once it has run, drains this message.
	 */

	wakeEvPtr = inboxPtr->wakeEvPtr;
	if (wakeEvPtr != NULL) {
	    inboxPtr->wakeEvPtr = NULL;
	    atomic_store_explicit(&inboxPtr->wakeQueued, 1,
		    memory_order_relaxed);
	}
	atomic_store_explicit(&inboxPtr->awakeAt, uv_hrtime(),
		memory_order_relaxed);
	atomic_store_explicit(&inboxPtr->wakeState, INBOX_AWAKE,
		memory_order_release);
	inboxPtr->wakeups++;
	inboxPtr->postsInFlight++;
	alert = 1;
    }
    uv_mutex_unlock(&inboxPtr->lock);

    if (alert) {
	/*
	 * The owner's thread is alive: CourierInboxClose, in its exit
	 * handler, waits for postsInFlight to drop to 0 and refuses later
	 * posts. Tcl_ThreadQueueEvent takes the event over (no allocation
	 * here); the alert wakes the owner if it sleeps in the notifier.
	 */

	if (wakeEvPtr != NULL) {
	    Tcl_ThreadQueueEvent(inboxPtr->owner, &wakeEvPtr->header,
		    TCL_QUEUE_TAIL);
	}
	Tcl_ThreadAlert(inboxPtr->owner);
	if (wakeEvPtr != NULL) {
	    atomic_store_explicit(&inboxPtr->wakeInQueue, 1,
		    memory_order_release);
	}
	uv_mutex_lock(&inboxPtr->lock);
	if (--inboxPtr->postsInFlight == 0 && inboxPtr->closed) {
	    uv_cond_broadcast(&inboxPtr->quiet);
	}
	uv_mutex_unlock(&inboxPtr->lock);
    }
    return result;
}

/*
 *----------------------------------------------------------------------
 *
 * InboxHasWork --
 *
 *	Is there anything to deliver? Owner thread; reads the producers'
 *	side without the lock, as a hint: a producer that appends after
 *	this looked also alerts the thread, so nothing is missed.
 *
 *----------------------------------------------------------------------
 */

static int
InboxHasWork(
    CourierInbox *inboxPtr)
{
    return inboxPtr->backlogHead != NULL
	    || atomic_load_explicit(&inboxPtr->wakeState,
		    memory_order_acquire) == INBOX_AWAKE;
}

/*
 *----------------------------------------------------------------------
 *
 * InboxSetupProc, InboxCheckProc --
 *
 *	The inbox's event source. Setup keeps the notifier from blocking
 *	while a drain is due; check queues the drain event. Both ignore
 *	calls that do not include file events, so "update idletasks" (idle
 *	events only) never delivers network messages, and both leave the
 *	work to a producer's wake-up event while one is in flight (it is in
 *	Tcl's queue, or about to be, and its producer alerts the thread).
 *
 *----------------------------------------------------------------------
 */

static void
InboxSetupProc(
    ClientData clientData,
    int flags)
{
    CourierInbox *inboxPtr = clientData;
    uint64_t waitNs;

    if (!inboxPtr->wakeArmed) {
	/*
	 * The thread runs its event loop, so Tcl's notifier knows it now:
	 * producers may queue events to it from here on. (A thread may open
	 * its inbox before it creates an interpreter, as an actor's does;
	 * an event queued to it then would be lost.) Until now posts only
	 * alerted, and this event source drains what they brought. The
	 * call to Tcl_DeleteEvents (which finds nothing) makes sure that
	 * this thread, not a producer, creates the mutex of its event
	 * queue, which Tcl allocates on first use.
	 */

	inboxPtr->wakeArmed = 1;
	Tcl_DeleteEvents(InboxDrainEventFilter, inboxPtr);
	InboxArmWake(inboxPtr);
    }
    if (!(flags & TCL_FILE_EVENTS) || inboxPtr->eventQueued
	    || atomic_load_explicit(&inboxPtr->wakeQueued,
		    memory_order_relaxed)) {
	return;
    }
    if (!InboxHasWork(inboxPtr)) {
	if (!(flags & TCL_DONT_WAIT) && InboxSpin(inboxPtr, flags)) {
	    /*
	     * A message came while spinning, and its producer alerted the
	     * notifier, so the wait returns at once. Not a zero wait: Tcl's
	     * threaded select notifier answers a poll by a round trip
	     * through its notifier thread, two more wake-ups.
	     */

	    static const Tcl_Time alertedWait = {0, 1};

	    Tcl_SetMaxBlockTime(&alertedWait);
	}
	return;
    }
    if (InboxMayDrain(inboxPtr, &waitNs)) {
	static const Tcl_Time noWait = {0, 0};

	Tcl_SetMaxBlockTime(&noWait);
    } else {
	Tcl_Time blockTime;

	blockTime.sec = (long) (waitNs / 1000000000);
	blockTime.usec = (long) (waitNs % 1000000000) / 1000;
	Tcl_SetMaxBlockTime(&blockTime);
    }
}

static void
InboxCheckProc(
    ClientData clientData,
    int flags)
{
    CourierInbox *inboxPtr = clientData;
    uint64_t waitNs;

    if (!(flags & TCL_FILE_EVENTS)) {
	return;
    }
    inboxPtr->drainsSincePoll = 0;
    if (inboxPtr->eventQueued
	    || atomic_load_explicit(&inboxPtr->wakeQueued,
		    memory_order_relaxed)
	    || !InboxHasWork(inboxPtr)) {
	return;
    }
    if (inboxPtr->drainEndAt != 0) {
	InboxSawGap(inboxPtr);
    }
    if (!InboxMayDrain(inboxPtr, &waitNs)) {
	return;
    }
    inboxPtr->eventQueued = 1;
    Tcl_QueueEvent(&InboxNewEvent(inboxPtr, 0)->header, TCL_QUEUE_TAIL);
}

/*
 * InboxNewEvent --
 *	Allocates a drain event (owner thread: Tcl's allocator): a wake-up
 *	for producers to queue, or one the check proc queues.
 */

static InboxDrainEvent *
InboxNewEvent(
    CourierInbox *inboxPtr,
    int wake)
{
    InboxDrainEvent *evPtr = (InboxDrainEvent *)
	    ckalloc(sizeof(InboxDrainEvent));

    evPtr->header.proc = InboxDrainEventProc;
    evPtr->header.nextPtr = NULL;
    evPtr->inboxPtr = inboxPtr;
    evPtr->wake = wake;
    return evPtr;
}

/*
 *----------------------------------------------------------------------
 *
 * InboxSpin --
 *
 *	Called by the setup proc when the thread is about to sleep with
 *	nothing to deliver. Right after a drain, if the next message has
 *	usually come within half of -inboxspin, watches the inbox for up to
 *	-inboxspin microseconds, yielding the CPU between looks. Once per
 *	drain: an idle thread never spins.
 *
 * Results:
 *	1 if a message arrived during the spin, else 0.
 *
 * Side effects:
 *	When the event loop runs idle handlers and they have not run for
 *	INBOX_SPIN_IDLE_NS, parks the inbox instead.
 *
 *----------------------------------------------------------------------
 */

static int
InboxSpin(
    CourierInbox *inboxPtr,
    int flags)
{
    uint64_t spinNs = (uint64_t) atomic_load(&inboxSpinUs) * 1000;
    uint64_t start;

    if (!inboxPtr->spinArmed || spinNs == 0) {
	return 0;
    }
    inboxPtr->spinArmed = 0;
    if (inboxPtr->drainEndAt == 0 || inboxPtr->gapNs > spinNs / 2) {
	/* The next message was seen already, or messages come late. */
	return 0;
    }
    start = uv_hrtime();
    if ((flags & TCL_IDLE_EVENTS)
	    && start - inboxPtr->idleSeenAt > INBOX_SPIN_IDLE_NS) {
	InboxPark(inboxPtr);
	return 0;
    }
    inboxPtr->spins++;
    do {
	/*
	 * A hit once a message is posted and, if its producer took the
	 * wake-up event, that event is in Tcl's queue and the alert made:
	 * the thread then finds it without sleeping in the notifier.
	 */

	if (atomic_load_explicit(&inboxPtr->wakeState, memory_order_acquire)
		== INBOX_AWAKE
		&& (!atomic_load_explicit(&inboxPtr->wakeQueued,
			memory_order_relaxed)
		    || atomic_load_explicit(&inboxPtr->wakeInQueue,
			memory_order_acquire))) {
	    inboxPtr->spinHits++;
	    InboxSawGap(inboxPtr);
	    return 1;
	}
	sched_yield();
    } while (uv_hrtime() - start < spinNs);
    return 0;
}

/*
 * InboxSawGap --
 *	A message is here: fold the time from the end of the last drain to
 *	its post into the running average. A post made before the drain
 *	ended (the inbox never went idle) counts as no gap.
 */

static void
InboxSawGap(
    CourierInbox *inboxPtr)
{
    uint64_t postedAt = atomic_load_explicit(&inboxPtr->awakeAt,
	    memory_order_relaxed);
    uint64_t capNs = 2 * (uint64_t) atomic_load(&inboxSpinUs) * 1000;
    uint64_t gap = 0;

    assert(inboxPtr->drainEndAt != 0);
    if (postedAt > inboxPtr->drainEndAt) {
	gap = postedAt - inboxPtr->drainEndAt;
    }
    if (gap > capNs) {
	gap = capNs;
    }
    inboxPtr->gapNs = inboxPtr->gapNs - inboxPtr->gapNs / INBOX_GAP_WEIGHT
	    + gap / INBOX_GAP_WEIGHT;
    inboxPtr->drainEndAt = 0;
}

/*
 * May a drain be queued now? Yes unless the last slice parked the inbox
 * and neither the idle handlers have run since nor INBOX_PARK_MAX_NS has
 * passed; then *waitNsPtr is set to the time left.
 */

static int
InboxMayDrain(
    CourierInbox *inboxPtr,
    uint64_t *waitNsPtr)
{
    uint64_t parkedFor;

    if (inboxPtr->eligible) {
	return 1;
    }
    parkedFor = uv_hrtime() - inboxPtr->parkedAt;
    if (parkedFor >= INBOX_PARK_MAX_NS) {
	inboxPtr->eligible = 1;
	return 1;
    }
    *waitNsPtr = INBOX_PARK_MAX_NS - parkedFor;
    return 0;
}

static int
InboxDrainEventFilter(
    Tcl_Event *evPtr,
    ClientData clientData)
{
    return evPtr->proc == InboxDrainEventProc
	    && ((InboxDrainEvent *) evPtr)->inboxPtr == clientData;
}

/*
 *----------------------------------------------------------------------
 *
 * InboxDrainEventProc --
 *
 *	Runs one drain slice. When work remains afterwards, the next slice
 *	waits until the idle handlers have run (InboxRearmIdleProc): every
 *	window event, timer and repaint pending now goes first.
 *
 *	A producer's wake-up first allocates the next wake-up event (so
 *	that a nested event loop in a callback of this slice is woken by
 *	the next burst too), then drains only if InboxWakeMayDrain allows;
 *	otherwise the event source queues the drain in its turn.
 *
 * Results:
 *	0 when the flags exclude file events (the event stays queued),
 *	else 1.
 *
 *----------------------------------------------------------------------
 */

static int
InboxDrainEventProc(
    Tcl_Event *evPtr,
    int flags)
{
    InboxDrainEvent *drainPtr = (InboxDrainEvent *) evPtr;
    CourierInbox *inboxPtr = drainPtr->inboxPtr;

    if (!(flags & TCL_FILE_EVENTS)) {
	return 0;
    }
    if (drainPtr->wake) {
	inboxPtr->wakeEvents++;
	InboxArmWake(inboxPtr);
	if (!InboxWakeMayDrain(inboxPtr)) {
	    return 1;
	}
    } else {
	inboxPtr->eventQueued = 0;
    }

    /*
     * A callback may close the inbox (the thread exit handlers run when a
     * callback calls exit): hold a reference so that the inbox outlives
     * the slice, and do nothing more once it is closed.
     */

    uv_mutex_lock(&inboxPtr->lock);
    inboxPtr->refCount++;
    uv_mutex_unlock(&inboxPtr->lock);

    InboxDrainSlice(inboxPtr);
    inboxPtr->drainsSincePoll++;
    inboxPtr->spinArmed = 1;
    inboxPtr->drainEndAt = uv_hrtime();
    if (!inboxPtr->ownerClosed && InboxHasWork(inboxPtr)) {
	InboxPark(inboxPtr);
    }
    InboxRelease(inboxPtr);
    return 1;
}

/*
 * InboxArmWake --
 *	Hands the producers the next wake-up event, allocated here in the
 *	owner thread. Called when the event loop first runs and each time a
 *	wake-up runs.
 */

static void
InboxArmWake(
    CourierInbox *inboxPtr)
{
    InboxDrainEvent *evPtr = InboxNewEvent(inboxPtr, 1);

    uv_mutex_lock(&inboxPtr->lock);
    assert(inboxPtr->wakeEvPtr == NULL && !inboxPtr->closed);
    inboxPtr->wakeEvPtr = evPtr;
    atomic_store_explicit(&inboxPtr->wakeQueued, 0, memory_order_relaxed);
    atomic_store_explicit(&inboxPtr->wakeInQueue, 0, memory_order_relaxed);
    uv_mutex_unlock(&inboxPtr->lock);
}

/*
 * InboxWakeMayDrain --
 *	May a producer's wake-up drain now? Not when there is nothing left
 *	(a drain of the check proc took its messages), when the inbox is
 *	parked, or when two slices have run since the notifier was last
 *	polled: a wake-up is queued at any time and served before the poll
 *	of the next Tcl_DoOneEvent, so without this, bursts that each come
 *	just after the last drain would keep timers, window events and
 *	sockets of the thread's own waiting.
 */

static int
InboxWakeMayDrain(
    CourierInbox *inboxPtr)
{
    uint64_t waitNs;

    if (!InboxHasWork(inboxPtr) || inboxPtr->drainsSincePoll >= 2
	    || !InboxMayDrain(inboxPtr, &waitNs)) {
	return 0;
    }
    if (inboxPtr->drainEndAt != 0) {
	InboxSawGap(inboxPtr);
    }
    return 1;
}

/*
 * InboxPark --
 *	No drain until the idle handlers have run (InboxRearmIdleProc) or
 *	INBOX_PARK_MAX_NS has passed.
 */

static void
InboxPark(
    CourierInbox *inboxPtr)
{
    inboxPtr->eligible = 0;
    inboxPtr->parkedAt = uv_hrtime();
    if (!inboxPtr->rearmPending) {
	inboxPtr->rearmPending = 1;
	Tcl_DoWhenIdle(InboxRearmIdleProc, inboxPtr);
    }
}

static void
InboxRearmIdleProc(
    ClientData clientData)
{
    CourierInbox *inboxPtr = clientData;

    inboxPtr->rearmPending = 0;
    inboxPtr->eligible = 1;
    inboxPtr->idleSeenAt = uv_hrtime();
}

/*
 * Returns the calling thread's inbox if it has one, without creating it.
 */

CourierInbox *
CourierInboxForThreadIfOpen(void)
{
    InboxThreadData *tsdPtr =
	    Tcl_GetThreadData(&inboxKey, sizeof(InboxThreadData));

    return tsdPtr->inboxPtr;
}

/*
 *----------------------------------------------------------------------
 *
 * InboxDrainSlice --
 *
 *	Takes everything posted so far and delivers messages in order until
 *	the backlog is empty or the time budget is spent (at least one
 *	message is delivered; slow callbacks are timed one by one, see
 *	INBOX_CLOCK_STRIDE). Callbacks may re-enter the event loop; a
 *	nested drain continues from the same backlog.
 *
 *----------------------------------------------------------------------
 */

static void
InboxDrainSlice(
    CourierInbox *inboxPtr)
{
    uint64_t start = uv_hrtime();
    uint64_t budgetNs = (uint64_t) atomic_load(&drainBudgetUs) * 1000;
    uint64_t elapsed;
    Tcl_Interp *preserved = NULL;
    CourierMsg *msgPtr;
    unsigned n = 0;
    CourierMsgBlock *freeBlock = NULL;	/* Messages delivered, freed in */
    size_t freeCount = 0;		/* runs that share a block. */
    uint64_t tick = InboxCoarseTick();	/* The coarse clock at the last
					 * look at the precise one. */
    uint64_t lookedAt = start;		/* The last look, */
    unsigned lookedAtN = 0;		/* after that many messages. */
    int checkEach = 0;			/* Callbacks are slow: look after
					 * each. */

    uv_mutex_lock(&inboxPtr->lock);
    if (inboxPtr->incomingHead != NULL) {
	if (inboxPtr->backlogTail != NULL) {
	    inboxPtr->backlogTail->next = inboxPtr->incomingHead;
	} else {
	    inboxPtr->backlogHead = inboxPtr->incomingHead;
	}
	inboxPtr->backlogTail = inboxPtr->incomingTail;
	inboxPtr->backlogCount += inboxPtr->incomingCount;
	inboxPtr->incomingHead = inboxPtr->incomingTail = NULL;
	inboxPtr->incomingCount = 0;
    }
    if (inboxPtr->backlogHead == NULL) {
	atomic_store_explicit(&inboxPtr->wakeState, INBOX_IDLE,
		memory_order_relaxed);
    }
    uv_mutex_unlock(&inboxPtr->lock);

    if (inboxPtr->backlogCount > inboxPtr->largestBacklog) {
	inboxPtr->largestBacklog = inboxPtr->backlogCount;
    }
    inboxPtr->drains++;

    while ((msgPtr = inboxPtr->backlogHead) != NULL) {
	CourierPort *portPtr = msgPtr->port;

	inboxPtr->backlogHead = msgPtr->next;
	if (inboxPtr->backlogHead == NULL) {
	    inboxPtr->backlogTail = NULL;
	}
	inboxPtr->backlogCount--;

	if (portPtr->interp != preserved) {
	    if (preserved != NULL) {
		Tcl_Release(preserved);
	    }
	    preserved = portPtr->interp;
	    if (preserved != NULL) {
		Tcl_Preserve(preserved);
	    }
	}
	if (portPtr->closed
		|| (preserved != NULL && Tcl_InterpDeleted(preserved))) {
	    inboxPtr->discarded++;
	    if (portPtr->typePtr->discardProc != NULL) {
		portPtr->typePtr->discardProc(msgPtr);
	    }
	} else {
	    portPtr->typePtr->deliverProc(portPtr->ownerData, msgPtr);
	    inboxPtr->delivered++;
	}
	InboxAccount(inboxPtr, msgPtr);
	if (msgPtr->block != freeBlock) {
	    if (freeBlock != NULL) {
		CourierMsgBlockRelease(freeBlock, freeCount);
	    }
	    freeBlock = msgPtr->block;
	    freeCount = 0;
	}
	freeCount++;
	if (inboxPtr->ownerClosed) {
	    /* The thread is exiting under us: the close freed the rest. */
	    break;
	}

	n++;
	if (n % INBOX_CLOCK_STRIDE == 0 || checkEach
		|| InboxCoarseTick() != tick) {
	    uint64_t now = uv_hrtime();

	    if (n % INBOX_CLOCK_STRIDE == 0) {
		InboxFlushAccounting(inboxPtr);
	    }
	    if (now - start >= budgetNs) {
		if (inboxPtr->backlogHead != NULL) {
		    inboxPtr->budgetCuts++;
		}
		break;
	    }
	    checkEach = (now - lookedAt) * INBOX_CLOCK_STRIDE
		    > budgetNs * (n - lookedAtN);
	    lookedAt = now;
	    lookedAtN = n;
	    tick = InboxCoarseTick();
	}
    }
    if (freeBlock != NULL) {
	CourierMsgBlockRelease(freeBlock, freeCount);
    }
    InboxFlushAccounting(inboxPtr);
    if (preserved != NULL) {
	Tcl_Release(preserved);
    }

    if (inboxPtr->backlogHead == NULL && !inboxPtr->ownerClosed) {
	/*
	 * Everything taken is delivered: go back to IDLE unless producers
	 * appended meanwhile, so that the next post alerts us again.
	 */

	uv_mutex_lock(&inboxPtr->lock);
	if (inboxPtr->incomingHead == NULL) {
	    atomic_store_explicit(&inboxPtr->wakeState, INBOX_IDLE,
		    memory_order_relaxed);
	}
	uv_mutex_unlock(&inboxPtr->lock);
    }
    elapsed = uv_hrtime() - start;
    if (elapsed > inboxPtr->longestDrainNs) {
	inboxPtr->longestDrainNs = elapsed;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * InboxAccount, InboxFlushAccounting --
 *
 *	A delivered or dropped message is first counted against its port
 *	in owner-only fields; the flush moves those counts under the lock
 *	in one go, resumes producers whose backlog fell to the low-water
 *	mark and frees ports whose last reference went. One lock per flush
 *	instead of one per message.
 *
 *----------------------------------------------------------------------
 */

static void
InboxAccount(
    CourierInbox *inboxPtr,
    CourierMsg *msgPtr)
{
    CourierPort *portPtr = msgPtr->port;

    portPtr->consumedBytes += MsgCost(msgPtr);
    portPtr->consumedMsgs++;
    if (!portPtr->touched) {
	portPtr->touched = 1;
	portPtr->nextTouched = inboxPtr->touchedPorts;
	inboxPtr->touchedPorts = portPtr;
    }
}

static void
InboxFlushAccounting(
    CourierInbox *inboxPtr)
{
    CourierPort *portPtr, *resumeList = NULL, *freeList = NULL, *nextPtr;

    if (inboxPtr->touchedPorts == NULL) {
	return;
    }
    uv_mutex_lock(&inboxPtr->lock);
    for (portPtr = inboxPtr->touchedPorts; portPtr != NULL;
	    portPtr = nextPtr) {
	nextPtr = portPtr->nextTouched;
	portPtr->touched = 0;
	assert(portPtr->pendingBytes >= portPtr->consumedBytes);
	assert(portPtr->refCount >= portPtr->consumedMsgs);
	portPtr->pendingBytes -= portPtr->consumedBytes;
	portPtr->refCount -= portPtr->consumedMsgs;
	portPtr->consumedBytes = portPtr->consumedMsgs = 0;
	if (portPtr->throttled && portPtr->pendingBytes <= portPtr->lowWater) {
	    /* Hold a reference across the notify, made outside the lock. */
	    portPtr->throttled = 0;
	    portPtr->refCount++;
	    portPtr->nextTouched = resumeList;
	    resumeList = portPtr;
	} else if (portPtr->refCount == 0) {
	    portPtr->nextTouched = freeList;
	    freeList = portPtr;
	}
    }
    inboxPtr->touchedPorts = NULL;
    uv_mutex_unlock(&inboxPtr->lock);

    for (portPtr = freeList; portPtr != NULL; portPtr = nextPtr) {
	nextPtr = portPtr->nextTouched;
	PortFree(portPtr);
    }
    for (portPtr = resumeList; portPtr != NULL; portPtr = nextPtr) {
	nextPtr = portPtr->nextTouched;
	inboxPtr->resumes++;
	portPtr->typePtr->notifyProc(portPtr->producerData,
		COURIER_NOTIFY_RESUME);
	PortUnref(portPtr, 1);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierInboxStats --
 *
 *	Returns the inbox's counters as a dict (owner thread), optionally
 *	resetting them.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierInboxStats(
    CourierInbox *inboxPtr,
    int reset)
{
    Tcl_Obj *dictPtr = Tcl_NewDictObj();
    uint64_t posted, wakeups, fullReplies;
    size_t incoming;

#define PUT(key, value) \
    Tcl_DictObjPut(NULL, dictPtr, Tcl_NewStringObj(key, -1), \
	    Tcl_NewWideIntObj((Tcl_WideInt) (value)))

    uv_mutex_lock(&inboxPtr->lock);
    posted = inboxPtr->posted;
    wakeups = inboxPtr->wakeups;
    fullReplies = inboxPtr->fullReplies;
    incoming = inboxPtr->incomingCount;
    if (reset) {
	inboxPtr->posted = inboxPtr->wakeups = inboxPtr->fullReplies = 0;
    }
    uv_mutex_unlock(&inboxPtr->lock);

    PUT("posted", posted);
    PUT("delivered", inboxPtr->delivered);
    PUT("discarded", inboxPtr->discarded);
    PUT("pending", incoming + inboxPtr->backlogCount);
    PUT("wakeups", wakeups);
    PUT("wakeEvents", inboxPtr->wakeEvents);
    PUT("drains", inboxPtr->drains);
    PUT("budgetCuts", inboxPtr->budgetCuts);
    PUT("largestBacklog", inboxPtr->largestBacklog);
    PUT("longestDrainUs", inboxPtr->longestDrainNs / 1000);
    PUT("fullReplies", fullReplies);
    PUT("resumes", inboxPtr->resumes);
    PUT("spins", inboxPtr->spins);
    PUT("spinHits", inboxPtr->spinHits);
    PUT("budgetUs", atomic_load(&drainBudgetUs));
#undef PUT

    if (reset) {
	inboxPtr->delivered = inboxPtr->discarded = inboxPtr->drains = 0;
	inboxPtr->budgetCuts = 0;
	inboxPtr->resumes = inboxPtr->longestDrainNs = 0;
	inboxPtr->largestBacklog = 0;
	inboxPtr->spins = inboxPtr->spinHits = inboxPtr->wakeEvents = 0;
    }
    return dictPtr;
}

/*
 * The drain budget, in microseconds, for every inbox.
 */

void
CourierInboxSetBudget(
    long microseconds)
{
    assert(microseconds > 0);
    atomic_store(&drainBudgetUs, microseconds);
}

long
CourierInboxGetBudget(void)
{
    return atomic_load(&drainBudgetUs);
}

/*
 * CourierInboxSetSpin, CourierInboxGetSpin --
 *	courier::configure -inboxspin: the longest spin of a Tcl thread
 *	waiting for its next message, in microseconds (0: never spin).
 */

void
CourierInboxSetSpin(
    unsigned microseconds)
{
    atomic_store(&inboxSpinUs, microseconds);
}

unsigned
CourierInboxGetSpin(void)
{
    return atomic_load(&inboxSpinUs);
}
