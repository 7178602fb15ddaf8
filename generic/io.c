/*
 * io.c --
 *
 *	The I/O threads (see io.h). They start on first use, one libuv loop
 *	each, and stop when the last interpreter using Courier goes, at exit
 *	and at unload. Commands are taken from the queue in bursts: one
 *	uv_async_send wakes the loop for every command queued until it runs
 *	(libuv 1.44 spins in its async path, so the number of async handles
 *	and sends is kept small).
 *
 *	Locks: ioLock guards the set of threads; each thread's queueLock
 *	guards its queue. Neither is held while running a command, calling
 *	libuv or creating a thread (one caller at a time starts a thread,
 *	with ioLock released; the others wait on ioStarted).
 */

#include "courierInt.h"
#include "io.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <sched.h>

#define IO_READ_BUFFER (64 * 1024)
#define IO_MAX_THREADS 16

struct CourierIoThread {
    int index;
    uv_loop_t loop;
    uv_async_t wakeup;
    uv_prepare_t beforePoll;	/* Where the loop may spin (IoBeforePoll). */
    atomic_int queued;		/* The queue is not empty (a hint). */
    atomic_int spinning;	/* In IoBeforePoll's spin: no async needed. */
    int posted;			/* I/O thread: delivered to a Tcl thread in
				 * this turn of the loop. */
    int spinCredit;		/* I/O thread: spins left before giving up. */
    uint64_t postedAt;		/* I/O thread: uv_hrtime of the last post. */
    CourierThread *threadPtr;
    uv_mutex_t queueLock;
    CourierIoCmd *queueHead;	/* Guarded by queueLock. */
    CourierIoCmd *queueTail;
    int stopped;		/* Guarded by queueLock: no more commands. */
    int stopping;		/* I/O thread only. */
    CourierIoCmd *afterHead;	/* I/O thread only: run after the batch. */
    CourierIoCmd *afterTail;
    uv_sem_t started;
    CourierIoThread *nextRetired;
    unsigned char readBuffer[IO_READ_BUFFER];
    unsigned char *datagramBuffer;	/* I/O thread: CourierIoDatagramBuffer's,
				 * made on first use, freed at the end. */
};

static uv_once_t ioOnce = UV_ONCE_INIT;
static uv_mutex_t ioLock;
static uv_cond_t ioStarted;		/* Signalled when ioStarting clears. */
static int ioStarting;			/* A thread is being started, outside
					 * the lock: others wait. ioLock. */
static CourierIoThread *ioThreads[IO_MAX_THREADS];	/* Guarded by ioLock. */
static int ioCount;			/* Running threads, ioLock. */
static int ioWanted = 1;		/* courier::configure -iothreads. */

/* A spin that catches a reply earns this many more tries. */
#define IO_SPIN_CREDIT 16

/*
 * Stopped threads. Their structs are kept, because objects closed late
 * (a message discarded at thread exit, say) may still submit commands to
 * them, which are then discarded; freed by CourierIoFreeRetired when the
 * library is unloaded. Guarded by ioLock.
 */

static CourierIoThread *ioRetired;
static atomic_uint ioNext;		/* Round robin. */

static void	IoInit(void);
static void	IoThreadMain(void *arg);
static CourierIoThread *IoThreadCreate(int index);
static void	IoWakeup(uv_async_t *handle);
static int	IoRunQueue(CourierIoThread *ioPtr);
static void	IoBeforePoll(uv_prepare_t *handle);
static void	IoCloseWalk(uv_handle_t *handle, void *arg);

static void
IoInit(void)
{
    if (uv_mutex_init(&ioLock) != 0 || uv_cond_init(&ioStarted) != 0) {
	Tcl_Panic("courier: cannot create the I/O lock");
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierIoPick --
 *
 *	Returns an I/O thread for a new object, starting the threads on
 *	first use; objects are spread round robin. Called in an
 *	interpreter's thread, for a command run in interp.
 *
 * Results:
 *	An I/O thread, or NULL if none could be started: then interp holds
 *	the error (COURIER THREAD CREATE).
 *
 *----------------------------------------------------------------------
 */

CourierIoThread *
CourierIoPick(
    Tcl_Interp *interp)
{
    CourierIoThread *ioPtr;
    int index;

    uv_once(&ioOnce, IoInit);
    uv_mutex_lock(&ioLock);
    for (;;) {
	while (ioStarting) {
	    uv_cond_wait(&ioStarted, &ioLock);
	}
	if (ioCount >= ioWanted) {
	    break;
	}

	/* Start one more, with the lock released (it creates a thread). */
	index = ioCount;
	ioStarting = 1;
	uv_mutex_unlock(&ioLock);
	ioPtr = IoThreadCreate(index);
	uv_mutex_lock(&ioLock);
	ioStarting = 0;
	uv_cond_broadcast(&ioStarted);
	if (ioPtr == NULL) {
	    break;
	}
	assert(ioCount == index);
	ioThreads[index] = ioPtr;
	ioCount = index + 1;
    }
    ioPtr = (ioCount == 0) ? NULL
	    : ioThreads[atomic_fetch_add(&ioNext, 1) % (unsigned) ioCount];
    uv_mutex_unlock(&ioLock);
    if (ioPtr == NULL) {
	CourierError(interp, "THREAD", "CREATE",
		"cannot start an I/O thread");
    }
    return ioPtr;
}

/*
 * IoThreadCreate --
 *	A new I/O thread "courier-io-<index>", running; NULL if the thread
 *	cannot be created. Called with no lock held.
 */

static CourierIoThread *
IoThreadCreate(
    int index)
{
    CourierIoThread *ioPtr = CourierAllocZero(sizeof(CourierIoThread));
    char name[24];

    ioPtr->index = index;
    uv_loop_init(&ioPtr->loop);
    uv_async_init(&ioPtr->loop, &ioPtr->wakeup, IoWakeup);
    ioPtr->wakeup.data = ioPtr;
    uv_prepare_init(&ioPtr->loop, &ioPtr->beforePoll);
    ioPtr->beforePoll.data = ioPtr;
    uv_prepare_start(&ioPtr->beforePoll, IoBeforePoll);
    uv_unref((uv_handle_t *) &ioPtr->beforePoll);
    uv_mutex_init(&ioPtr->queueLock);
    uv_sem_init(&ioPtr->started, 0);
    snprintf(name, sizeof(name), "courier-io-%d", index);
    ioPtr->threadPtr = CourierThreadStart(name, IoThreadMain, ioPtr);
    if (ioPtr->threadPtr == NULL) {
	uv_close((uv_handle_t *) &ioPtr->wakeup, NULL);
	uv_close((uv_handle_t *) &ioPtr->beforePoll, NULL);
	uv_run(&ioPtr->loop, UV_RUN_DEFAULT);
	uv_loop_close(&ioPtr->loop);
	uv_mutex_destroy(&ioPtr->queueLock);
	uv_sem_destroy(&ioPtr->started);
	free(ioPtr);
	return NULL;
    }
    uv_sem_wait(&ioPtr->started);
    return ioPtr;
}

static void
IoThreadMain(
    void *arg)
{
    CourierIoThread *ioPtr = arg;

    uv_sem_post(&ioPtr->started);
    uv_run(&ioPtr->loop, UV_RUN_DEFAULT);
    free(ioPtr->datagramBuffer);
    ioPtr->datagramBuffer = NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierIoCmdNew --
 *
 *	Allocates a zeroed command of size bytes (any thread), a struct whose
 *	first member is a CourierIoCmd, with its run and discard procs set.
 *
 * Results:
 *	The command; out of memory panics.
 *
 * Side effects:
 *	None: the caller fills in the rest, takes its references and submits.
 *
 *----------------------------------------------------------------------
 */

void *
CourierIoCmdNew(
    size_t size,
    CourierIoRunProc *runProc,
    CourierIoDiscardProc *discardProc)
{
    CourierIoCmd *cmdPtr;

    assert(size >= sizeof(CourierIoCmd));
    cmdPtr = CourierAllocZero(size);
    cmdPtr->runProc = runProc;
    cmdPtr->discardProc = discardProc;
    return cmdPtr;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierIoSubmit --
 *
 *	Queues a command for an I/O thread (any thread). The first command
 *	of a burst wakes the loop. A thread that has stopped discards it.
 *
 *----------------------------------------------------------------------
 */

void
CourierIoSubmit(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    int wake;

    cmdPtr->next = NULL;
    uv_mutex_lock(&ioPtr->queueLock);
    if (ioPtr->stopped) {
	uv_mutex_unlock(&ioPtr->queueLock);
	cmdPtr->discardProc(cmdPtr);
	return;
    }
    wake = (ioPtr->queueHead == NULL);
    COURIER_QUEUE_APPEND(ioPtr->queueHead, ioPtr->queueTail, cmdPtr, next);
    atomic_store(&ioPtr->queued, 1);
    uv_mutex_unlock(&ioPtr->queueLock);

    /*
     * A loop spinning in IoBeforePoll sees the command without a wake-up.
     * The fence pairs with the one there: either it sees the command, or
     * this sees that it stopped spinning.
     */

    atomic_thread_fence(memory_order_seq_cst);
    if (wake && !atomic_load(&ioPtr->spinning)) {
	uv_async_send(&ioPtr->wakeup);
    }
}

/*
 * IoWakeup --
 *	The async callback: take the whole queue at once and run it.
 */

static void
IoWakeup(
    uv_async_t *handle)
{
    CourierIoThread *ioPtr = handle->data;
    uint64_t sincePost = uv_hrtime() - ioPtr->postedAt;

    /*
     * A reply that came soon after a post would have been caught by a
     * spin: request and response traffic, so spinning pays again.
     */

    if (IoRunQueue(ioPtr) && ioPtr->spinCredit == 0 && ioPtr->postedAt != 0
	    && sincePost
		< (uint64_t) CourierSetting(COURIER_SETTING_IOSPIN) * 1000) {
	ioPtr->spinCredit = IO_SPIN_CREDIT;
    }
}

/*
 * IoRunQueue --
 *	Takes the whole queue at once and runs it, then what the commands
 *	deferred to the end of the batch. Returns 1 if a reply was among
 *	them (see CourierIoCmd).
 */

static int
IoRunQueue(
    CourierIoThread *ioPtr)
{
    CourierIoCmd *cmdPtr, *nextPtr;
    int sawReply = 0;

    uv_mutex_lock(&ioPtr->queueLock);
    cmdPtr = ioPtr->queueHead;
    ioPtr->queueHead = ioPtr->queueTail = NULL;
    atomic_store(&ioPtr->queued, 0);
    uv_mutex_unlock(&ioPtr->queueLock);

    for (; cmdPtr != NULL; cmdPtr = nextPtr) {
	nextPtr = cmdPtr->next;
	sawReply |= cmdPtr->reply;
	cmdPtr->runProc(ioPtr, cmdPtr);
    }
    while ((cmdPtr = ioPtr->afterHead) != NULL) {
	ioPtr->afterHead = cmdPtr->next;
	if (ioPtr->afterHead == NULL) {
	    ioPtr->afterTail = NULL;
	}
	cmdPtr->runProc(ioPtr, cmdPtr);
    }
    if (ioPtr->stopping) {
	uv_walk(&ioPtr->loop, IoCloseWalk, ioPtr);
    }
    return sawReply;
}

/*
 * IoCloseWalk --
 *	Stopping: abort every object that still has a handle open, through
 *	its own close path; close the wake-up handle last of all.
 */

static void
IoCloseWalk(
    uv_handle_t *handle,
    void *arg)
{
    CourierIoThread *ioPtr = arg;

    if (uv_is_closing(handle)) {
	return;
    }
    if (handle == (uv_handle_t *) &ioPtr->wakeup
	    || handle == (uv_handle_t *) &ioPtr->beforePoll) {
	uv_close(handle, NULL);
    } else {
	CourierIoObject *objPtr = handle->data;

	objPtr->abortProc(objPtr);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * IoBeforePoll --
 *
 *	Runs before the loop blocks for I/O. If this turn delivered
 *	messages to a Tcl thread, a reply often follows within microseconds
 *	(a callback that answers a request): spin for a while (-iospin)
 *	watching the queue, and run it at once if a command comes, which
 *	spares the reply a thread wake-up each way. Spins that catch
 *	nothing use up a credit; with none left the loop stops spinning
 *	until a command comes soon after a post again (IoWakeup).
 *
 *----------------------------------------------------------------------
 */

static void
IoBeforePoll(
    uv_prepare_t *handle)
{
    CourierIoThread *ioPtr = handle->data;
    uint64_t spinNs =
	    (uint64_t) CourierSetting(COURIER_SETTING_IOSPIN) * 1000;
    uint64_t start;
    int caught = 0;

    if (!ioPtr->posted) {
	return;
    }
    ioPtr->posted = 0;
    if (spinNs == 0 || ioPtr->spinCredit == 0 || ioPtr->stopping) {
	return;
    }
    atomic_store(&ioPtr->spinning, 1);
    start = uv_hrtime();
    do {
	if (atomic_load_explicit(&ioPtr->queued, memory_order_relaxed)) {
	    caught = 1;
	    break;
	}
	/*
	 * Yield rather than burn: on a busy machine the thread that will
	 * send the reply may be waiting for this very CPU.
	 */

	sched_yield();
    } while (uv_hrtime() - start < spinNs);
    atomic_store(&ioPtr->spinning, 0);
    atomic_thread_fence(memory_order_seq_cst);
    if ((caught || atomic_load(&ioPtr->queued)) && IoRunQueue(ioPtr)) {
	ioPtr->spinCredit = IO_SPIN_CREDIT;
    } else {
	ioPtr->spinCredit--;		/* Nothing, or no reply. */
    }
}

/*
 * CourierIoPosted --
 *	I/O thread: the caller has just delivered messages to a Tcl thread
 *	(so IoBeforePoll may wait for a reply).
 */

void
CourierIoPosted(
    CourierIoThread *ioPtr)
{
    ioPtr->posted = 1;
    ioPtr->postedAt = uv_hrtime();
}

/*
 * CourierIoAfterBatch --
 *	I/O thread only, from a command: run cmdPtr once every command of
 *	the current batch has run (so that, say, all the writes a burst
 *	queued for one socket go out in one system call).
 */

void
CourierIoAfterBatch(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    cmdPtr->next = NULL;
    COURIER_QUEUE_APPEND(ioPtr->afterHead, ioPtr->afterTail, cmdPtr, next);
}

uv_loop_t *
CourierIoLoop(
    CourierIoThread *ioPtr)
{
    return &ioPtr->loop;
}

/*
 * CourierIoReadBuffer --
 *	The thread's read buffer: every read callback of the thread uses it
 *	and is done with it before returning.
 */

unsigned char *
CourierIoReadBuffer(
    CourierIoThread *ioPtr,
    size_t *sizePtr)
{
    *sizePtr = sizeof(ioPtr->readBuffer);
    return ioPtr->readBuffer;
}

/*
 * CourierIoDatagramBuffer --
 *	The thread's buffer for libuv's recvmmsg reads (UV_UDP_RECVMMSG):
 *	COURIER_IO_DATAGRAM_CHUNKS chunks of 64 KiB, one per datagram of a
 *	read, made on first use (only the pages the kernel writes are ever
 *	touched) and freed when the thread ends. Like the read buffer, every
 *	user is done with it before its callback returns.
 */

unsigned char *
CourierIoDatagramBuffer(
    CourierIoThread *ioPtr,
    size_t *sizePtr)
{
    size_t size = COURIER_IO_DATAGRAM_CHUNKS * (size_t) 65536;

    if (ioPtr->datagramBuffer == NULL) {
	ioPtr->datagramBuffer = CourierAlloc(size);
    }
    *sizePtr = size;
    return ioPtr->datagramBuffer;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierIoStopAll --
 *
 *	Stops and joins every I/O thread: the commands queued so far run,
 *	then every object still open is aborted and the loop ends. The
 *	structs are kept (retired): commands submitted later are discarded.
 *
 *----------------------------------------------------------------------
 */

static void
IoStopRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    ioPtr->stopping = 1;
    free(cmdPtr);
}

static void
IoStopDiscard(
    CourierIoCmd *cmdPtr)
{
    free(cmdPtr);
}

void
CourierIoStopAll(void)
{
    int i, n;
    CourierIoThread *stopping[IO_MAX_THREADS];

    uv_once(&ioOnce, IoInit);
    uv_mutex_lock(&ioLock);
    while (ioStarting) {
	uv_cond_wait(&ioStarted, &ioLock);
    }
    n = ioCount;
    memcpy(stopping, ioThreads, sizeof(CourierIoThread *) * n);
    ioCount = 0;
    uv_mutex_unlock(&ioLock);

    for (i = 0; i < n; i++) {
	CourierIoThread *ioPtr = stopping[i];
	CourierIoCmd *cmdPtr = CourierIoCmdNew(sizeof(CourierIoCmd),
		IoStopRun, IoStopDiscard);

	/* The stop command is the last one the thread will ever take. */
	uv_mutex_lock(&ioPtr->queueLock);
	COURIER_QUEUE_APPEND(ioPtr->queueHead, ioPtr->queueTail, cmdPtr,
		next);
	ioPtr->stopped = 1;
	uv_mutex_unlock(&ioPtr->queueLock);
	uv_async_send(&ioPtr->wakeup);
    }
    for (i = 0; i < n; i++) {
	CourierIoThread *ioPtr = stopping[i];
	int rc;

	/* Nothing in the loop blocks (lookups run in resolver.c). */
	CourierThreadJoin(ioPtr->threadPtr);
	rc = uv_loop_close(&ioPtr->loop);
	assert(rc == 0);
	(void) rc;
	uv_mutex_lock(&ioLock);
	ioPtr->nextRetired = ioRetired;
	ioRetired = ioPtr;
	uv_mutex_unlock(&ioLock);
    }
}

/*
 * CourierIoFreeRetired --
 *	Frees the structs of stopped I/O threads (unload: no object can
 *	refer to them any more).
 */

void
CourierIoFreeRetired(void)
{
    CourierIoThread *ioPtr;

    uv_once(&ioOnce, IoInit);
    uv_mutex_lock(&ioLock);
    ioPtr = ioRetired;
    ioRetired = NULL;
    uv_mutex_unlock(&ioLock);
    while (ioPtr != NULL) {
	CourierIoThread *nextPtr = ioPtr->nextRetired;

	uv_mutex_destroy(&ioPtr->queueLock);
	uv_sem_destroy(&ioPtr->started);
	free(ioPtr);
	ioPtr = nextPtr;
    }
}

/*
 * The number of I/O threads new objects are spread over. Takes effect
 * for threads not yet started; returns the old value.
 */

int
CourierIoSetThreadCount(
    int count)
{
    int old;

    assert(count >= 1 && count <= IO_MAX_THREADS);
    uv_once(&ioOnce, IoInit);
    uv_mutex_lock(&ioLock);
    old = ioWanted;
    ioWanted = count;
    uv_mutex_unlock(&ioLock);
    return old;
}

int
CourierIoGetThreadCount(void)
{
    int n;

    uv_once(&ioOnce, IoInit);
    uv_mutex_lock(&ioLock);
    n = ioWanted;
    uv_mutex_unlock(&ioLock);
    return n;
}
