/*
 * flood.c --
 *
 *	courier::test::flood: a test producer. It starts K named C threads
 *	("courier-flood00", "courier-flood01", ...) that each post N messages of B bytes to one port
 *	of the calling thread's inbox, delivered as {*}cmd $message. It lets
 *	the test suite and the benchmarks drive the inbox without a network.
 *
 *	Each message reads "<thread>:<sequence>" padded with dots to B bytes
 *	(cut to B bytes when B is smaller), so a receiver can check order
 *	and completeness. Producers post chains of messages allocated in one
 *	block, as a socket reader does with the frames of one read, and obey
 *	flow control: on COURIER_POST_FULL a thread waits until the inbox
 *	resumes the port.
 *
 *	Threads touch only the Flood's lock-guarded and atomic fields and
 *	the port; everything else belongs to the owner thread.
 */

#include "courierInt.h"
#include "option.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

enum { FLOOD_DATA = 0, FLOOD_END = 1 };

typedef struct Flood Flood;

typedef struct FloodWorker {
    Flood *floodPtr;
    int index;
    CourierThread *threadPtr;
} FloodWorker;

struct Flood {
    CourierResource resource;	/* Must be first. */
    Tcl_Interp *interp;
    Tcl_Obj *cmdPtr;		/* Private copy of the -command prefix. */
    Tcl_Obj *doneCmdPtr;	/* -ondone prefix, or NULL. */
    int nThreads;
    Tcl_WideInt count;		/* Per thread; 0 means until stopped. */
    size_t size;
    size_t chainLen;		/* Messages posted per chain (one block). */
    CourierPort *portPtr;
    int endsSeen;		/* Owner: END messages delivered. */
    FloodWorker *workers;

    /* Shared with the workers. */
    uv_mutex_t lock;
    uv_cond_t resumed;		/* Signalled on RESUME, CLOSED, stop. */
    int closed;			/* Guarded by lock. */
    atomic_ulong generation;	/* Bumped by every RESUME. */
    atomic_int stop;		/* Set by stopflood and by close. */
};

static void	FloodClose(CourierResource *resPtr);
static void	FloodDeliver(void *ownerData, CourierMsg *msgPtr);
static void	FloodFill(CourierMsg *msgPtr, int thread, Tcl_WideInt seq);
static void	FloodFinish(Flood *floodPtr);
static void	FloodFree(Flood *floodPtr);
static void	FloodNotify(void *producerData, int event);
static void	FloodWorkerMain(void *arg);

static const CourierPortType floodPortType = {
    "flood", FloodDeliver, FloodNotify, NULL, NULL
};

static const char floodKind[] = "flood";

/* courier::test::flood's options. */
typedef struct FloodOptions {
    Tcl_Obj *command;
    Tcl_WideInt count;
    Tcl_WideInt maxPending;
    Tcl_Obj *ondone;		/* NULL: none. */
    Tcl_WideInt size;
    Tcl_WideInt threads;
} FloodOptions;

#define FLOOD_FIELD(field) offsetof(FloodOptions, field)

static const CourierOptSpec floodOptionSpecs[] = {
    {.name = "-command", .type = COURIER_OPT_COMMAND,
	.offset = FLOOD_FIELD(command),
	.required = "courier::test::flood needs a command prefix to deliver "
	    "messages to"},
    {.name = "-count", .type = COURIER_OPT_WIDE,
	.offset = FLOOD_FIELD(count), .min = 0, .max = (Tcl_WideInt) 1 << 62},
    {.name = "-maxpending", .type = COURIER_OPT_WIDE,
	.offset = FLOOD_FIELD(maxPending), .min = 1,
	.max = (Tcl_WideInt) 1 << 40},
    {.name = "-ondone", .type = COURIER_OPT_COMMAND,
	.offset = FLOOD_FIELD(ondone)},
    {.name = "-size", .type = COURIER_OPT_WIDE,
	.offset = FLOOD_FIELD(size), .min = 0, .max = 16 << 20},
    {.name = "-threads", .type = COURIER_OPT_WIDE,
	.offset = FLOOD_FIELD(threads), .min = 1, .max = 64},
    {.name = NULL}
};

/*
 *----------------------------------------------------------------------
 *
 * CourierFloodObjCmd --
 *
 *	courier::test::flood ?-threads K? ?-count N? ?-size B?
 *		?-maxpending bytes? ?-ondone cmd? -command cmd
 *
 * Results:
 *	The flood's name (flood1, ...), for courier::test::stopflood and as
 *	the argument of -ondone.
 *
 *----------------------------------------------------------------------
 */

int
CourierFloodObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    FloodOptions own = {NULL, 1000, 1 << 20, NULL, 64, 1};
    CourierOptTable table = {floodOptionSpecs, &own};
    CourierInterp *cinterpPtr;
    Flood *floodPtr;
    int i;

    (void) clientData;
    if (objc % 2 == 0) {
	return CourierError(interp, "USAGE", NULL,
		"wrong # args: should be \"courier::test::flood ?-threads K? "
		"?-count N? ?-size B? ?-maxpending bytes? ?-ondone cmd? "
		"-command cmd\"");
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    if (CourierOptParse(interp, &table, 1, objc - 1, objv + 1, 0,
	    NULL) != TCL_OK) {
	CourierOptRelease(floodOptionSpecs, &own);
	return TCL_ERROR;
    }

    floodPtr = (Flood *) ckalloc(sizeof(Flood));
    memset(floodPtr, 0, sizeof(Flood));
    floodPtr->interp = interp;
    floodPtr->cmdPtr = own.command;		/* Takes the references. */
    floodPtr->doneCmdPtr = own.ondone;
    own.command = own.ondone = NULL;
    floodPtr->nThreads = (int) own.threads;
    floodPtr->count = own.count;
    floodPtr->size = (size_t) own.size;

    /*
     * Post in chains of up to 64 messages, but keep a chain well below
     * -maxpending so that flow control stays fine-grained.
     */

    floodPtr->chainLen = (size_t) own.maxPending / 4
	    / (sizeof(CourierMsg) + own.size);
    if (floodPtr->chainLen > 64) {
	floodPtr->chainLen = 64;
    } else if (floodPtr->chainLen == 0) {
	floodPtr->chainLen = 1;
    }
    uv_mutex_init(&floodPtr->lock);
    uv_cond_init(&floodPtr->resumed);
    atomic_init(&floodPtr->generation, 0);
    atomic_init(&floodPtr->stop, 0);
    floodPtr->portPtr = CourierPortOpen(cinterpPtr->inboxPtr, &floodPortType,
	    interp, floodPtr, floodPtr, (size_t) own.maxPending);
    CourierResourceAdd(cinterpPtr, &floodPtr->resource, floodKind,
	    FloodClose);

    floodPtr->workers = (FloodWorker *)
	    ckalloc(sizeof(FloodWorker) * floodPtr->nThreads);
    for (i = 0; i < floodPtr->nThreads; i++) {
	FloodWorker *workerPtr = &floodPtr->workers[i];
	char name[32];

	workerPtr->floodPtr = floodPtr;
	workerPtr->index = i;
	snprintf(name, sizeof(name), "courier-flood%02d", i);
	workerPtr->threadPtr = CourierThreadStart(name, FloodWorkerMain,
		workerPtr);
	if (workerPtr->threadPtr == NULL) {
	    floodPtr->nThreads = i;
	    FloodClose(&floodPtr->resource);
	    return CourierError(interp, "THREAD", "CREATE",
		    "cannot start a flood thread");
	}
    }
    Tcl_SetObjResult(interp, Tcl_NewStringObj(floodPtr->resource.name, -1));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierStopFloodObjCmd --
 *
 *	courier::test::stopflood name
 *	Asks the flood's threads to stop after the message they are
 *	posting; what they posted is still delivered, then -ondone runs.
 *
 *----------------------------------------------------------------------
 */

int
CourierStopFloodObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    CourierInterp *cinterpPtr;
    CourierResource *resPtr;
    Flood *floodPtr;

    (void) clientData;
    if (objc != 2) {
	return CourierUsage(interp, 1, objv, "name");
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }
    resPtr = CourierResourceFind(cinterpPtr, floodKind,
	    Tcl_GetString(objv[1]));
    if (resPtr == NULL) {
	return CourierError(interp, "HANDLE", Tcl_GetString(objv[1]),
		"no flood named \"%.100s\" in this interpreter",
		Tcl_GetString(objv[1]));
    }
    floodPtr = (Flood *) resPtr;
    uv_mutex_lock(&floodPtr->lock);
    atomic_store(&floodPtr->stop, 1);
    uv_cond_broadcast(&floodPtr->resumed);
    uv_mutex_unlock(&floodPtr->lock);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * FloodWorkerMain --
 *
 *	A flood thread: post count messages (or until stopped), waiting
 *	whenever the port says FULL, then an END marker.
 *
 *----------------------------------------------------------------------
 */

static void
FloodWorkerMain(
    void *arg)
{
    FloodWorker *workerPtr = arg;
    Flood *floodPtr = workerPtr->floodPtr;
    Tcl_WideInt seq = 0;
    size_t chainLen = floodPtr->chainLen;
    CourierMsg *msgPtr;

    while (floodPtr->count == 0 || seq < floodPtr->count) {
	CourierMsg *headPtr;
	unsigned long generation;
	size_t n = chainLen;
	int result;

	if (atomic_load_explicit(&floodPtr->stop, memory_order_relaxed)) {
	    break;
	}
	if (floodPtr->count != 0 && (Tcl_WideInt) n > floodPtr->count - seq) {
	    n = (size_t) (floodPtr->count - seq);
	}
	headPtr = CourierMsgAllocChain(n, NULL, floodPtr->size);
	for (msgPtr = headPtr; msgPtr != NULL; msgPtr = msgPtr->next) {
	    FloodFill(msgPtr, workerPtr->index, seq++);
	}

	/*
	 * Read the generation before posting: a RESUME that comes between
	 * the post and the wait below changes it, so it is not missed.
	 */

	generation = atomic_load(&floodPtr->generation);
	result = CourierPortPostChain(floodPtr->portPtr, headPtr);
	if (result == COURIER_POST_CLOSED) {
	    return;
	}
	if (result == COURIER_POST_FULL) {
	    uv_mutex_lock(&floodPtr->lock);
	    while (atomic_load(&floodPtr->generation) == generation
		    && !floodPtr->closed && !atomic_load(&floodPtr->stop)) {
		uv_cond_wait(&floodPtr->resumed, &floodPtr->lock);
	    }
	    uv_mutex_unlock(&floodPtr->lock);
	}
    }
    msgPtr = CourierMsgAlloc(0);
    msgPtr->kind = FLOOD_END;
    CourierPortPost(floodPtr->portPtr, msgPtr);
}

/*
 * FloodFill --
 *	Writes "<thread>:<seq>" padded with dots (or cut) to the message's
 *	size. Formats by hand: snprintf would cost the producer more than
 *	the whole delivery costs the consumer.
 */

/* Writes v (>= 0) in decimal at buf[len]; returns the new length. */
static size_t
AppendDecimal(
    char *buf,
    size_t len,
    Tcl_WideInt v)
{
    char digits[24];
    size_t n = 0;

    do {
	digits[n++] = (char) ('0' + v % 10);
	v /= 10;
    } while (v > 0);
    while (n > 0) {
	buf[len++] = digits[--n];
    }
    return len;
}

static void
FloodFill(
    CourierMsg *msgPtr,
    int thread,
    Tcl_WideInt seq)
{
    char header[48];
    size_t len;

    len = AppendDecimal(header, 0, thread);
    header[len++] = ':';
    len = AppendDecimal(header, len, seq);
    msgPtr->kind = FLOOD_DATA;
    if (len >= msgPtr->size) {
	memcpy(msgPtr->data, header, msgPtr->size);
    } else {
	memcpy(msgPtr->data, header, len);
	memset(msgPtr->data + len, '.', msgPtr->size - len);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * FloodNotify --
 *
 *	The inbox's news for the workers (owner thread): wake them.
 *
 *----------------------------------------------------------------------
 */

static void
FloodNotify(
    void *producerData,
    int event)
{
    Flood *floodPtr = producerData;

    uv_mutex_lock(&floodPtr->lock);
    if (event == COURIER_NOTIFY_CLOSED) {
	floodPtr->closed = 1;
    } else {
	atomic_fetch_add(&floodPtr->generation, 1);
    }
    uv_cond_broadcast(&floodPtr->resumed);
    uv_mutex_unlock(&floodPtr->lock);
}

/*
 *----------------------------------------------------------------------
 *
 * FloodDeliver --
 *
 *	Owner thread: a data message becomes {*}cmd $message at global
 *	level (errors go to the background-error handler); the last END
 *	marker finishes the flood.
 *
 *----------------------------------------------------------------------
 */

static void
FloodDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Flood *floodPtr = ownerData;
    Tcl_Obj *arg;

    if (msgPtr->kind == FLOOD_END) {
	if (++floodPtr->endsSeen == floodPtr->nThreads) {
	    FloodFinish(floodPtr);
	}
	return;
    }
    arg = Tcl_NewByteArrayObj(msgPtr->data, (int) msgPtr->size);
    CourierCallPrefix(floodPtr->interp, "-command", NULL,
	    floodPtr->cmdPtr, 1, &arg);
}

/*
 *----------------------------------------------------------------------
 *
 * FloodFinish --
 *
 *	Every worker has posted its END: join them, release the flood and
 *	run -ondone with the flood's name.
 *
 *----------------------------------------------------------------------
 */

static void
FloodFinish(
    Flood *floodPtr)
{
    Tcl_Interp *interp = floodPtr->interp;
    Tcl_Obj *doneCmdPtr = floodPtr->doneCmdPtr;
    Tcl_Obj *nameObj = Tcl_NewStringObj(floodPtr->resource.name, -1);

    floodPtr->doneCmdPtr = NULL;
    Tcl_IncrRefCount(nameObj);
    FloodClose(&floodPtr->resource);
    if (doneCmdPtr != NULL) {
	CourierCallPrefix(interp, "-ondone", nameObj, doneCmdPtr, 1,
		&nameObj);
	Tcl_ResetResult(interp);
	Tcl_DecrRefCount(doneCmdPtr);
    }
    Tcl_DecrRefCount(nameObj);
}

/*
 *----------------------------------------------------------------------
 *
 * FloodClose --
 *
 *	Shuts a flood down (owner thread): stop and join the workers, close
 *	and release the port, forget and free the flood. Messages still
 *	queued are dropped by the inbox.
 *
 *----------------------------------------------------------------------
 */

static void
FloodClose(
    CourierResource *resPtr)
{
    Flood *floodPtr = (Flood *) resPtr;
    int i;

    uv_mutex_lock(&floodPtr->lock);
    atomic_store(&floodPtr->stop, 1);
    uv_cond_broadcast(&floodPtr->resumed);
    uv_mutex_unlock(&floodPtr->lock);
    CourierPortClose(floodPtr->portPtr);
    for (i = 0; i < floodPtr->nThreads; i++) {
	CourierThreadJoin(floodPtr->workers[i].threadPtr);
    }
    CourierPortRelease(floodPtr->portPtr);
    CourierResourceForget(resPtr);
    FloodFree(floodPtr);
}

static void
FloodFree(
    Flood *floodPtr)
{
    Tcl_DecrRefCount(floodPtr->cmdPtr);
    CourierObjClear(&floodPtr->doneCmdPtr);
    uv_cond_destroy(&floodPtr->resumed);
    uv_mutex_destroy(&floodPtr->lock);
    ckfree(floodPtr->workers);
    ckfree(floodPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierEvalLoopObjCmd --
 *
 *	courier::test::evalloop count size cmd
 *	The floor of delivery, for benchmarks: calls {*}cmd $message count
 *	times from a C loop with Tcl_EvalObjv at global level, each time
 *	with a new byte array copied from one message of size bytes (the
 *	flood's first, "0:0..."): what delivering a message to cmd costs
 *	with no queue, no thread and no event loop in between. The message
 *	is filled once: a producer fills its messages in its own thread.
 *
 * Results:
 *	TCL_OK with an empty result, or the first error of cmd (the loop
 *	stops there), or a usage error {COURIER USAGE} or a bad value
 *	{COURIER VALUE count|size}.
 *
 *----------------------------------------------------------------------
 */

int
CourierEvalLoopObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    Tcl_WideInt count, size, i;
    Tcl_Obj **prefix, **words, *prefixPtr;
    int prefixLen, n, k, code = TCL_OK;
    CourierMsg *msgPtr;

    (void) clientData;
    if (objc != 4) {
	return CourierUsage(interp, 1, objv, "count size cmd");
    }
    if (CourierGetPositiveWide(interp, objv[1], "count", 0,
	    (Tcl_WideInt) 1 << 40, &count) != TCL_OK
	    || CourierGetPositiveWide(interp, objv[2], "size", 0,
	    1 << 20, &size) != TCL_OK) {
	return TCL_ERROR;
    }
    /* A private copy: cmd may shimmer or redefine its own value. */
    prefixPtr = Tcl_DuplicateObj(objv[3]);
    Tcl_IncrRefCount(prefixPtr);
    if (Tcl_ListObjGetElements(interp, prefixPtr, &prefixLen, &prefix)
	    != TCL_OK) {
	Tcl_DecrRefCount(prefixPtr);
	return TCL_ERROR;
    }
    n = prefixLen + 1;
    words = (Tcl_Obj **) ckalloc(sizeof(Tcl_Obj *) * n);
    for (k = 0; k < prefixLen; k++) {
	words[k] = prefix[k];
	Tcl_IncrRefCount(words[k]);
    }
    msgPtr = (CourierMsg *) ckalloc(sizeof(CourierMsg) + (size_t) size);
    msgPtr->size = (size_t) size;
    FloodFill(msgPtr, 0, 0);
    for (i = 0; i < count && code == TCL_OK; i++) {
	words[prefixLen] = Tcl_NewByteArrayObj(msgPtr->data, (int) size);
	Tcl_IncrRefCount(words[prefixLen]);
	code = Tcl_EvalObjv(interp, n, words, TCL_EVAL_GLOBAL);
	Tcl_DecrRefCount(words[prefixLen]);
    }
    for (k = 0; k < prefixLen; k++) {
	Tcl_DecrRefCount(words[k]);
    }
    ckfree(words);
    ckfree(msgPtr);
    Tcl_DecrRefCount(prefixPtr);
    if (code == TCL_OK) {
	Tcl_ResetResult(interp);
    }
    return code;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierFloodInit --
 *
 *	Creates courier::test::flood, stopflood and evalloop in an
 *	interpreter (called by Courier_Init).
 *
 *----------------------------------------------------------------------
 */

void
CourierFloodInit(
    Tcl_Interp *interp)
{
    Tcl_CreateObjCommand(interp, "::courier::test::flood",
	    CourierFloodObjCmd, NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::test::stopflood",
	    CourierStopFloodObjCmd, NULL, NULL);
    Tcl_CreateObjCommand(interp, "::courier::test::evalloop",
	    CourierEvalLoopObjCmd, NULL, NULL);
}
