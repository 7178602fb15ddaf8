/*
 * threads.c --
 *
 *	Every thread Courier starts goes through here: it gets an OS-visible
 *	name (what top -H, gdb and /proc/PID/task/TID/comm show) and an
 *	entry in a registry that "courier::threads" lists. Threads are
 *	joinable; whoever starts one joins it, or gives up waiting after a
 *	deadline (CourierThreadJoinUntil), and the thread then frees its own
 *	record when it ends.
 *
 *	The registry lock is private to this file and held only around list
 *	updates.
 */

#include "courierInt.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

/* Linux limits thread names to 15 bytes plus the terminating NUL. */
#define THREAD_NAME_MAX 16

struct CourierThread {
    uv_thread_t handle;
    char name[THREAD_NAME_MAX];
    void (*proc)(void *arg);
    void *arg;
    int done;			/* Guarded by registryLock: proc returned. */
    int detached;		/* Guarded by registryLock: nobody joins. */
    CourierThread *nextPtr;
    CourierThread *prevPtr;
};

static uv_once_t registryOnce = UV_ONCE_INIT;
static uv_mutex_t registryLock;
static uv_cond_t registryDone;		/* A thread's proc returned. */
static CourierThread *registry;

static void	RegistryInit(void);
static void	RegistryUnlink(CourierThread *threadPtr);
static void	ThreadTrampoline(void *arg);

static void
RegistryInit(void)
{
    if (uv_mutex_init(&registryLock) != 0
	    || uv_cond_init(&registryDone) != 0) {
	Tcl_Panic("courier: cannot create the thread registry lock");
    }
}

/* Removes a record from the registry; the caller holds registryLock. */
static void
RegistryUnlink(
    CourierThread *threadPtr)
{
    COURIER_LIST_UNLINK(registry, threadPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierThreadStart --
 *
 *	Starts a joinable thread that runs proc(arg) under the given name
 *	(cut to 15 bytes).
 *
 * Results:
 *	The thread's record, to pass to CourierThreadJoin; NULL if the OS
 *	refused to create a thread.
 *
 *----------------------------------------------------------------------
 */

CourierThread *
CourierThreadStart(
    const char *name,
    void (*proc)(void *arg),
    void *arg)
{
    CourierThread *threadPtr = CourierAllocZero(sizeof(CourierThread));

    uv_once(&registryOnce, RegistryInit);
    strncpy(threadPtr->name, name, THREAD_NAME_MAX - 1);
    threadPtr->proc = proc;
    threadPtr->arg = arg;

    uv_mutex_lock(&registryLock);
    COURIER_LIST_PUSH(registry, threadPtr);
    uv_mutex_unlock(&registryLock);

    if (uv_thread_create(&threadPtr->handle, ThreadTrampoline,
	    threadPtr) != 0) {
	uv_mutex_lock(&registryLock);
	RegistryUnlink(threadPtr);
	uv_mutex_unlock(&registryLock);
	free(threadPtr);
	return NULL;
    }

    /*
     * Name it from here too, so that the name is visible as soon as this
     * returns, whatever the new thread has done so far.
     */

#ifdef HAVE_PTHREAD_SETNAME_NP
    pthread_setname_np(threadPtr->handle, threadPtr->name);
#endif
    return threadPtr;
}

/*
 * ThreadTrampoline --
 *	The new thread: names itself, runs proc, then says it is done; a
 *	thread nobody will join (detached) frees its own record.
 */

static void
ThreadTrampoline(
    void *arg)
{
    CourierThread *threadPtr = arg;

#ifdef HAVE_PTHREAD_SETNAME_NP
    pthread_setname_np(pthread_self(), threadPtr->name);
#endif
    threadPtr->proc(threadPtr->arg);
    uv_mutex_lock(&registryLock);
    if (threadPtr->detached) {
	RegistryUnlink(threadPtr);
	uv_mutex_unlock(&registryLock);
	free(threadPtr);
	return;
    }
    threadPtr->done = 1;
    uv_cond_broadcast(&registryDone);
    uv_mutex_unlock(&registryLock);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierThreadJoin --
 *
 *	Waits for a thread started by CourierThreadStart to end, removes it
 *	from the registry and frees its record.
 *
 *----------------------------------------------------------------------
 */

void
CourierThreadJoin(
    CourierThread *threadPtr)
{
    int rc = uv_thread_join(&threadPtr->handle);

    assert(rc == 0);
    (void) rc;
    uv_mutex_lock(&registryLock);
    RegistryUnlink(threadPtr);
    uv_mutex_unlock(&registryLock);
    free(threadPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierThreadJoinUntil --
 *
 *	Like CourierThreadJoin, but waits only until deadline (uv_hrtime
 *	nanoseconds). A thread still running then is detached: it goes on
 *	(no longer waited for by anyone) and frees its own record when it
 *	ends.
 *
 * Results:
 *	1 if the thread was joined, 0 if it was detached.
 *
 * Side effects:
 *	The record is freed now (joined) or by the thread (detached); the
 *	caller must not use it again either way.
 *
 *----------------------------------------------------------------------
 */

int
CourierThreadJoinUntil(
    CourierThread *threadPtr,
    uint64_t deadline)
{
    int done;

    uv_mutex_lock(&registryLock);
    for (;;) {
	uint64_t now = uv_hrtime();

	done = threadPtr->done;
	if (done || now >= deadline) {
	    break;
	}
	uv_cond_timedwait(&registryDone, &registryLock, deadline - now);
    }
    if (!done) {
	/* The thread frees the record; a detached thread's resources go
	 * with it. */
	threadPtr->detached = 1;
	pthread_detach(threadPtr->handle);
    }
    uv_mutex_unlock(&registryLock);
    if (done) {
	CourierThreadJoin(threadPtr);	/* It has returned: no wait. */
    }
    return done;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierThreadNames --
 *
 *	Returns a list of the names of the threads Courier has started and
 *	not yet joined, oldest first.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierThreadNames(void)
{
    Tcl_Obj *listPtr = Tcl_NewListObj(0, NULL);
    CourierThread *threadPtr;
    char (*names)[THREAD_NAME_MAX] = NULL;
    size_t n = 0, cap = 0;

    /* Copy the names under the lock; make Tcl objects after it. */
    uv_once(&registryOnce, RegistryInit);
    uv_mutex_lock(&registryLock);
    for (threadPtr = registry; threadPtr != NULL;
	    threadPtr = threadPtr->nextPtr) {
	if (n == cap) {
	    cap = cap ? 2 * cap : 16;
	    names = CourierRealloc(names, cap * THREAD_NAME_MAX);
	}
	memcpy(names[n++], threadPtr->name, THREAD_NAME_MAX);
    }
    uv_mutex_unlock(&registryLock);

    /* The registry is newest first; list oldest first. */
    while (n > 0) {
	Tcl_ListObjAppendElement(NULL, listPtr,
		Tcl_NewStringObj(names[--n], -1));
    }
    free(names);
    return listPtr;
}
