/*
 * inbox.c --
 *
 *	Delivery of messages from any C thread into one Tcl thread: the
 *	inbox itself, its ports and the producers' side. See
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
 *	Files: this one owns the inbox's life per thread, the ports and
 *	posting from producer threads (any thread), and the accounting that
 *	resumes throttled producers; drain.c owns the owner thread's side
 *	(the event source, the wake-up's proc, drain slices, parking, the
 *	spin, the stats); inboxInt.h holds the structures both share.
 *
 *	Locks: inboxPtr->lock guards the fields marked "lock" below. It is
 *	never held while calling anything outside this file except the
 *	allocator.
 */

#include "inboxInt.h"
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <assert.h>

typedef struct InboxThreadData {
    CourierInbox *inboxPtr;
} InboxThreadData;

static Tcl_ThreadDataKey inboxKey;
static void		PortFree(CourierPort *portPtr);
static void		PortUnref(CourierPort *portPtr, size_t count);

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
	inboxPtr = CourierAllocZero(sizeof(CourierInbox));
	uv_mutex_init(&inboxPtr->lock);
	uv_cond_init(&inboxPtr->quiet);
	inboxPtr->owner = Tcl_GetCurrentThread();
	atomic_init(&inboxPtr->wakeState, INBOX_IDLE);
	atomic_init(&inboxPtr->awakeAt, 0);
	atomic_init(&inboxPtr->wakeQueued, 0);
	atomic_init(&inboxPtr->wakeInQueue, 0);
	inboxPtr->refCount = 1;
	inboxPtr->eligible = 1;
	CourierInboxAttachSource(inboxPtr);
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
    CourierInboxTakeIncoming(inboxPtr);
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
	CourierInboxAccount(inboxPtr, msgPtr);
	CourierMsgFree(msgPtr);
    }
    inboxPtr->backlogTail = NULL;
    inboxPtr->backlogCount = 0;
    CourierInboxFlushAccounting(inboxPtr);

    CourierInboxDetachSource(inboxPtr, wakeEvPtr);
    inboxPtr->ownerClosed = 1;
    tsdPtr->inboxPtr = NULL;
    CourierInboxRelease(inboxPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierInboxTakeIncoming --
 *
 *	Moves what producers have posted (the incoming list) to the end of
 *	the owner's backlog. Called with the inbox's lock held (owner thread;
 *	shared with drain.c).
 *
 *----------------------------------------------------------------------
 */

void
CourierInboxTakeIncoming(
    CourierInbox *inboxPtr)
{
    if (inboxPtr->incomingHead != NULL) {
	COURIER_QUEUE_APPEND_CHAIN(inboxPtr->backlogHead,
		inboxPtr->backlogTail, inboxPtr->incomingHead,
		inboxPtr->incomingTail, next);
	inboxPtr->backlogCount += inboxPtr->incomingCount;
	inboxPtr->incomingHead = inboxPtr->incomingTail = NULL;
	inboxPtr->incomingCount = 0;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierInboxRelease --
 *
 *	Drops one reference to an inbox, freeing it with the last (any
 *	thread; shared with drain.c).
 *
 *----------------------------------------------------------------------
 */

void
CourierInboxRelease(
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
    CourierPort *portPtr = CourierAllocZero(sizeof(CourierPort));

    assert(inboxPtr->owner == Tcl_GetCurrentThread());
    assert(highWater > 0);
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
    CourierInboxRelease(inboxPtr);
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
    return CourierPortBacklog(portPtr) - portPtr->consumedBytes;
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
    COURIER_QUEUE_APPEND_CHAIN(inboxPtr->incomingHead,
	    inboxPtr->incomingTail, headPtr, tailPtr, next);
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
 * CourierInboxAccount, CourierInboxFlushAccounting --
 *
 *	A delivered or dropped message is first counted against its port
 *	in owner-only fields; the flush moves those counts under the lock
 *	in one go, resumes producers whose backlog fell to the low-water
 *	mark and frees ports whose last reference went. One lock per flush
 *	instead of one per message. Owner thread; used by drain.c and by
 *	CourierInboxClose.
 *
 *----------------------------------------------------------------------
 */

void
CourierInboxAccount(
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

void
CourierInboxFlushAccounting(
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
