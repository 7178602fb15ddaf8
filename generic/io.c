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
 *	guards its queue. Neither is held while running a command or calling
 *	libuv (uv_async_send is the one call made under no lock after a
 *	successful enqueue).
 */

#include "courierInt.h"
#include "io.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

#define IO_READ_BUFFER (64 * 1024)
#define IO_MAX_THREADS 16

struct CourierIoThread {
    int index;
    uv_loop_t loop;
    uv_async_t wakeup;
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
};

static uv_once_t ioOnce = UV_ONCE_INIT;
static uv_mutex_t ioLock;
static CourierIoThread *ioThreads[IO_MAX_THREADS];	/* Guarded by ioLock. */
static int ioCount;			/* Running threads, ioLock. */
static int ioWanted = 1;		/* courier::configure -iothreads. */

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
static void	IoWakeup(uv_async_t *handle);
static void	IoCloseWalk(uv_handle_t *handle, void *arg);

static void
IoInit(void)
{
    if (uv_mutex_init(&ioLock) != 0) {
	Tcl_Panic("courier: cannot create the I/O lock");
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierIoPick --
 *
 *	Returns an I/O thread for a new object, starting the threads on
 *	first use; objects are spread round robin.
 *
 * Results:
 *	An I/O thread, or NULL if none could be started.
 *
 *----------------------------------------------------------------------
 */

CourierIoThread *
CourierIoPick(void)
{
    CourierIoThread *ioPtr;
    int i;

    uv_once(&ioOnce, IoInit);
    uv_mutex_lock(&ioLock);
    for (i = ioCount; i < ioWanted; i++) {
	char name[24];

	ioPtr = calloc(1, sizeof(CourierIoThread));
	if (ioPtr == NULL) {
	    CourierPanicOutOfMemory(sizeof(CourierIoThread));
	}
	ioPtr->index = i;
	uv_loop_init(&ioPtr->loop);
	uv_async_init(&ioPtr->loop, &ioPtr->wakeup, IoWakeup);
	ioPtr->wakeup.data = ioPtr;
	uv_mutex_init(&ioPtr->queueLock);
	uv_sem_init(&ioPtr->started, 0);
	snprintf(name, sizeof(name), "courier-io-%d", i);
	ioPtr->threadPtr = CourierThreadStart(name, IoThreadMain, ioPtr);
	if (ioPtr->threadPtr == NULL) {
	    uv_close((uv_handle_t *) &ioPtr->wakeup, NULL);
	    uv_run(&ioPtr->loop, UV_RUN_DEFAULT);
	    uv_loop_close(&ioPtr->loop);
	    uv_mutex_destroy(&ioPtr->queueLock);
	    uv_sem_destroy(&ioPtr->started);
	    free(ioPtr);
	    break;
	}
	uv_sem_wait(&ioPtr->started);
	ioThreads[i] = ioPtr;
	ioCount = i + 1;
    }
    ioPtr = (ioCount == 0) ? NULL
	    : ioThreads[atomic_fetch_add(&ioNext, 1) % (unsigned) ioCount];
    uv_mutex_unlock(&ioLock);
    return ioPtr;
}

static void
IoThreadMain(
    void *arg)
{
    CourierIoThread *ioPtr = arg;

    uv_sem_post(&ioPtr->started);
    uv_run(&ioPtr->loop, UV_RUN_DEFAULT);
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
    if (ioPtr->queueTail != NULL) {
	ioPtr->queueTail->next = cmdPtr;
    } else {
	ioPtr->queueHead = cmdPtr;
    }
    ioPtr->queueTail = cmdPtr;
    uv_mutex_unlock(&ioPtr->queueLock);
    if (wake) {
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
    CourierIoCmd *cmdPtr, *nextPtr;

    uv_mutex_lock(&ioPtr->queueLock);
    cmdPtr = ioPtr->queueHead;
    ioPtr->queueHead = ioPtr->queueTail = NULL;
    uv_mutex_unlock(&ioPtr->queueLock);

    for (; cmdPtr != NULL; cmdPtr = nextPtr) {
	nextPtr = cmdPtr->next;
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
    if (handle == (uv_handle_t *) &ioPtr->wakeup) {
	uv_close(handle, NULL);
    } else {
	CourierIoObject *objPtr = handle->data;

	objPtr->abortProc(objPtr);
    }
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
    if (ioPtr->afterTail != NULL) {
	ioPtr->afterTail->next = cmdPtr;
    } else {
	ioPtr->afterHead = cmdPtr;
    }
    ioPtr->afterTail = cmdPtr;
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
    n = ioCount;
    memcpy(stopping, ioThreads, sizeof(CourierIoThread *) * n);
    ioCount = 0;
    uv_mutex_unlock(&ioLock);

    for (i = 0; i < n; i++) {
	CourierIoThread *ioPtr = stopping[i];
	CourierIoCmd *cmdPtr = malloc(sizeof(CourierIoCmd));

	if (cmdPtr == NULL) {
	    CourierPanicOutOfMemory(sizeof(CourierIoCmd));
	}
	cmdPtr->runProc = IoStopRun;
	cmdPtr->discardProc = IoStopDiscard;
	cmdPtr->next = NULL;

	/* The stop command is the last one the thread will ever take. */
	uv_mutex_lock(&ioPtr->queueLock);
	if (ioPtr->queueTail != NULL) {
	    ioPtr->queueTail->next = cmdPtr;
	} else {
	    ioPtr->queueHead = cmdPtr;
	}
	ioPtr->queueTail = cmdPtr;
	ioPtr->stopped = 1;
	uv_mutex_unlock(&ioPtr->queueLock);
	uv_async_send(&ioPtr->wakeup);
    }
    for (i = 0; i < n; i++) {
	CourierIoThread *ioPtr = stopping[i];
	int rc;

	/* Nothing in the loop blocks (lookups run in resolve.c). */
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
