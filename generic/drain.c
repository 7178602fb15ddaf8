/*
 * drain.c --
 *
 *	The owner thread's side of the inbox (see inbox.c for the
 *	producers' side and the overall picture): the event source that
 *	queues drain slices (InboxSetupProc/InboxCheckProc), the wake-up
 *	event's proc (InboxDrainEventProc), the slices bounded by the time
 *	budget (InboxDrainSlice), parking until the idle handlers have run
 *	(InboxPark/InboxRearmIdleProc), the spin (InboxSpin), the stats and
 *	the budget and spin settings (courier::configure).
 *
 *	Thread: the inbox's owner thread only, except the budget and spin
 *	settings (atomics, any thread).
 */

#include "inboxInt.h"
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <assert.h>

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

static void		InboxCheckProc(ClientData clientData, int flags);
static int		InboxDrainEventProc(Tcl_Event *evPtr, int flags);
static int		InboxDrainEventFilter(Tcl_Event *evPtr,
			    ClientData clientData);
static void		InboxDrainSlice(CourierInbox *inboxPtr);
static int		InboxHasWork(CourierInbox *inboxPtr);
static int		InboxMayDrain(CourierInbox *inboxPtr,
			    uint64_t *waitNsPtr);
static InboxDrainEvent *InboxNewEvent(CourierInbox *inboxPtr, int wake);
static void		InboxArmWake(CourierInbox *inboxPtr);
static int		InboxWakeMayDrain(CourierInbox *inboxPtr);
static void		InboxRearmIdleProc(ClientData clientData);
static void		InboxSetupProc(ClientData clientData, int flags);
static void		InboxPark(CourierInbox *inboxPtr);
static void		InboxSawGap(CourierInbox *inboxPtr);
static int		InboxSpin(CourierInbox *inboxPtr, int flags);

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

/*
 *----------------------------------------------------------------------
 *
 * CourierInboxAttachSource, CourierInboxDetachSource --
 *
 *	Hook the inbox's drain machinery into the calling (owner) thread's
 *	notifier, and unhook it: the event source, the drain events still
 *	in Tcl's queue, the unused wake-up event (wakeEvPtr, taken out of
 *	the inbox by the caller, or NULL) and a pending re-arm idle call.
 *	Called by CourierInboxForThread and CourierInboxClose (inbox.c).
 *
 *----------------------------------------------------------------------
 */

void
CourierInboxAttachSource(
    CourierInbox *inboxPtr)
{
    Tcl_CreateEventSource(InboxSetupProc, InboxCheckProc, inboxPtr);
}

void
CourierInboxDetachSource(
    CourierInbox *inboxPtr,
    InboxDrainEvent *wakeEvPtr)
{
    Tcl_DeleteEventSource(InboxSetupProc, InboxCheckProc, inboxPtr);
    Tcl_DeleteEvents(InboxDrainEventFilter, inboxPtr);
    if (wakeEvPtr != NULL) {
	ckfree(wakeEvPtr);
    }
    if (inboxPtr->rearmPending) {
	Tcl_CancelIdleCall(InboxRearmIdleProc, inboxPtr);
    }
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
    CourierInboxRelease(inboxPtr);
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
    CourierInboxTakeIncoming(inboxPtr);
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
	CourierInboxAccount(inboxPtr, msgPtr);
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
		CourierInboxFlushAccounting(inboxPtr);
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
    CourierInboxFlushAccounting(inboxPtr);
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
