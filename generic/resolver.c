/*
 * resolver.c --
 *
 *	Name lookups (getaddrinfo) in Courier's own small pool of named
 *	threads, "courier-dns-0" ... A lookup can block for seconds in the
 *	system resolver; running it here keeps it off every event loop, and
 *	unlike libuv's worker pool (which libuv joins at process exit), a
 *	lookup still blocked at exit does not hold the exit up.
 *
 *	A request from an I/O thread carries its answer back to that thread
 *	as an I/O command; if the thread has stopped, the request is
 *	discarded and the caller's procedure sees UV_ECANCELED in whatever
 *	thread discards it. A request without an I/O thread (courier::resolve,
 *	resolve.c) gets its answer in the resolver thread itself.
 *
 *	Locks: resolverLock guards the queue and the thread set, and is
 *	never held while resolving or calling out.
 */

#include "courierInt.h"
#include "io.h"
#include "resolver.h"
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

#define RESOLVER_THREADS 4

struct CourierResolveReq {
    CourierIoCmd header;	/* The way back to the I/O thread. */
    CourierResolveReq *nextPtr;	/* In the queue. */
    CourierIoThread *ioPtr;
    char *host;
    char service[16];
    int family;
    int status;			/* 0 or a UV_EAI_* code. */
    struct addrinfo *result;
    CourierResolveProc *doneProc;
    void *clientData;
};

static uv_once_t resolverOnce = UV_ONCE_INIT;
static uv_mutex_t resolverLock;
static uv_cond_t resolverWork;
static CourierResolveReq *queueHead, *queueTail;	/* resolverLock */
static CourierThread *resolverThreads[RESOLVER_THREADS];	/* resolverLock */
static int resolverCount;				/* resolverLock */
static int resolverStop;				/* resolverLock */
static int resolverStarting;		/* Being created now, resolverLock. */
static int resolverBusy;		/* Threads inside getaddrinfo. */
static uv_cond_t resolverIdle;		/* Signalled when busy drops to 0. */

static void	ResolverInit(void);
static void	ResolverMain(void *arg);
static void	ResolverStartThreads(void);
static int	TranslateError(int eaiError);

static void
ResolverInit(void)
{
    uv_mutex_init(&resolverLock);
    uv_cond_init(&resolverWork);
    uv_cond_init(&resolverIdle);
}

/*
 * ReqFree --
 *	Frees a request and what it still holds.
 */

static void
ReqFree(
    CourierResolveReq *reqPtr)
{
    if (reqPtr->result != NULL) {
	freeaddrinfo(reqPtr->result);
    }
    free(reqPtr->host);
    free(reqPtr);
}

/*
 * DeliverRun, DeliverDiscard --
 *	The answer arrives in the I/O thread (or the thread has stopped).
 *	The procedure takes the result list; it frees it with
 *	CourierResolveFree.
 */

static void
DeliverRun(
    CourierIoThread *ioPtr,
    CourierIoCmd *cmdPtr)
{
    CourierResolveReq *reqPtr = (CourierResolveReq *) cmdPtr;
    struct addrinfo *result = reqPtr->result;

    (void) ioPtr;
    reqPtr->result = NULL;
    reqPtr->doneProc(reqPtr->clientData, reqPtr->status, result);
    ReqFree(reqPtr);
}

static void
DeliverDiscard(
    CourierIoCmd *cmdPtr)
{
    CourierResolveReq *reqPtr = (CourierResolveReq *) cmdPtr;

    reqPtr->doneProc(reqPtr->clientData, UV_ECANCELED, NULL);
    ReqFree(reqPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierResolve --
 *
 *	Starts a lookup of host/service for the calling I/O thread; doneProc
 *	runs in that thread with the status (0 or a UV_EAI_* code) and the
 *	addresses, which it must free with CourierResolveFree. With ioPtr
 *	NULL, doneProc runs in the resolver thread.
 *
 * Results:
 *	0, or a UV error if no resolver thread could be started.
 *
 *----------------------------------------------------------------------
 */

int
CourierResolve(
    CourierIoThread *ioPtr,
    const char *host,
    const char *service,
    int family,
    CourierResolveProc *doneProc,
    void *clientData)
{
    CourierResolveReq *reqPtr = CourierAllocZero(sizeof(CourierResolveReq));

    reqPtr->host = CourierStrdup(host);
    snprintf(reqPtr->service, sizeof(reqPtr->service), "%s", service);
    reqPtr->family = family;
    reqPtr->ioPtr = ioPtr;
    reqPtr->doneProc = doneProc;
    reqPtr->clientData = clientData;
    reqPtr->header.runProc = DeliverRun;
    reqPtr->header.discardProc = DeliverDiscard;

    uv_once(&resolverOnce, ResolverInit);
    ResolverStartThreads();
    uv_mutex_lock(&resolverLock);
    if (resolverCount == 0) {
	uv_mutex_unlock(&resolverLock);
	ReqFree(reqPtr);
	return UV_EAGAIN;
    }
    COURIER_QUEUE_APPEND(queueHead, queueTail, reqPtr, nextPtr);
    uv_cond_signal(&resolverWork);
    uv_mutex_unlock(&resolverLock);
    return 0;
}

/*
 * ResolverStartThreads --
 *	Starts the resolver threads not running yet. Threads are created
 *	with no lock held; the lock only guards the bookkeeping (the
 *	starting flag keeps two callers from starting the same slot).
 */

static void
ResolverStartThreads(void)
{
    for (;;) {
	CourierThread *threadPtr;
	char name[24];
	int slot;

	uv_mutex_lock(&resolverLock);
	if (resolverCount + resolverStarting >= RESOLVER_THREADS) {
	    uv_mutex_unlock(&resolverLock);
	    return;
	}
	resolverStop = 0;
	slot = resolverCount + resolverStarting++;
	uv_mutex_unlock(&resolverLock);

	snprintf(name, sizeof(name), "courier-dns-%d", slot);
	threadPtr = CourierThreadStart(name, ResolverMain, NULL);

	uv_mutex_lock(&resolverLock);
	resolverStarting--;
	if (threadPtr != NULL) {
	    resolverThreads[resolverCount++] = threadPtr;
	}
	uv_mutex_unlock(&resolverLock);
	if (threadPtr == NULL) {
	    return;
	}
    }
}

void
CourierResolveFree(
    struct addrinfo *result)
{
    if (result != NULL) {
	freeaddrinfo(result);
    }
}

/*
 * ResolverMain --
 *	A resolver thread: take a request, look it up, send the answer home.
 */

static void
ResolverMain(
    void *arg)
{
    (void) arg;
    for (;;) {
	CourierResolveReq *reqPtr;
	struct addrinfo hints;
	int rc;

	uv_mutex_lock(&resolverLock);
	while (queueHead == NULL && !resolverStop) {
	    uv_cond_wait(&resolverWork, &resolverLock);
	}
	if (queueHead == NULL) {
	    uv_mutex_unlock(&resolverLock);
	    return;
	}
	reqPtr = queueHead;
	queueHead = reqPtr->nextPtr;
	if (queueHead == NULL) {
	    queueTail = NULL;
	}
	resolverBusy++;
	uv_mutex_unlock(&resolverLock);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = reqPtr->family;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(reqPtr->host, reqPtr->service, &hints,
		&reqPtr->result);
	if (rc != 0) {
	    reqPtr->result = NULL;
	    reqPtr->status = TranslateError(rc);
	}
	if (reqPtr->ioPtr != NULL) {
	    CourierIoSubmit(reqPtr->ioPtr, &reqPtr->header);
	} else {
	    DeliverRun(NULL, &reqPtr->header);
	}
	uv_mutex_lock(&resolverLock);
	if (--resolverBusy == 0) {
	    uv_cond_broadcast(&resolverIdle);
	}
	uv_mutex_unlock(&resolverLock);
    }
}

/*
 * CourierResolverStop --
 *	Stops and joins the resolver threads once the lookups in progress
 *	are done. At exit (atExit) it waits for them 200 ms at most: a
 *	lookup stuck in the system resolver must not hold exit up, and then
 *	the threads are left to end with the process.
 */

void
CourierResolverStop(
    int atExit)
{
    CourierThread *threads[RESOLVER_THREADS];
    int i, n;

    uv_once(&resolverOnce, ResolverInit);
    uv_mutex_lock(&resolverLock);
    resolverStop = 1;
    uv_cond_broadcast(&resolverWork);
    if (atExit && resolverBusy > 0) {
	uv_cond_timedwait(&resolverIdle, &resolverLock, 200 * 1000 * 1000);
	if (resolverBusy > 0) {
	    uv_mutex_unlock(&resolverLock);
	    return;
	}
    }
    n = resolverCount;
    memcpy(threads, resolverThreads, sizeof(CourierThread *) * n);
    resolverCount = 0;
    uv_mutex_unlock(&resolverLock);
    for (i = 0; i < n; i++) {
	CourierThreadJoin(threads[i]);
    }
}

/*
 * TranslateError --
 *	getaddrinfo's EAI_* codes as libuv's UV_EAI_* (for uv_err_name).
 */

static int
TranslateError(
    int eaiError)
{
    switch (eaiError) {
    case EAI_AGAIN: return UV_EAI_AGAIN;
    case EAI_BADFLAGS: return UV_EAI_BADFLAGS;
    case EAI_FAIL: return UV_EAI_FAIL;
    case EAI_FAMILY: return UV_EAI_FAMILY;
    case EAI_MEMORY: return UV_EAI_MEMORY;
    case EAI_NONAME: return UV_EAI_NONAME;
    case EAI_SERVICE: return UV_EAI_SERVICE;
    case EAI_SOCKTYPE: return UV_EAI_SOCKTYPE;
#ifdef EAI_NODATA
    case EAI_NODATA: return UV_EAI_NODATA;
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: return UV_EAI_ADDRFAMILY;
#endif
    default: return UV_EAI_FAIL;
    }
}
