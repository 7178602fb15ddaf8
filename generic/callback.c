/*
 * callback.c --
 *
 *	Where a callback is called: CourierCallPrefix runs every script
 *	callback of Courier ({*}prefix ?arg ...? at global level, errors to
 *	the background-error handler), and times it when courier::configure
 *	-slowcallback is set; ReportSlowCallback counts a slow one and
 *	reports it through -onslow or on stderr. Runs in the thread of the
 *	interpreter that owns the callback; the -slowcallback setting is
 *	shared by all threads (an atomic), the counts are per thread.
 */

#include "courierInt.h"
#include <stdatomic.h>
#include <string.h>
#include <assert.h>

typedef struct SlowStats {
    uint64_t slowCallbacks;	/* Callbacks longer than -slowcallback. */
    uint64_t slowestCallbackNs;	/* The longest of them. */
} SlowStats;

static Tcl_ThreadDataKey slowStatsKey;

static void	ReleaseArgs(int objc, Tcl_Obj *const args[]);
static void	ReportSlowCallback(Tcl_Interp *interp, const char *kind,
		    Tcl_Obj *handleObj, Tcl_Obj *prefixPtr, uint64_t ns);

/*
 * ReleaseArgs --
 *	Frees the arguments made for a callback that is not called, unless
 *	something else holds them.
 */

static void
ReleaseArgs(
    int objc,
    Tcl_Obj *const args[])
{
    int i;

    for (i = 0; i < objc; i++) {
	Tcl_IncrRefCount(args[i]);
	Tcl_DecrRefCount(args[i]);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierCallPrefix --
 *
 *	Calls a callback: {*}prefix ?arg ...? at global level. Every word
 *	is held for the duration of the call, because the callback may
 *	reconfigure, unset or shimmer its own prefix (through cget or
 *	configure) while it runs, which would free the words of the running
 *	command, a lambda's body included. All callbacks go through here.
 *
 *	With courier::configure -slowcallback ms set (> 0), the call is
 *	timed (two reads of the clock; none when it is 0), and one that runs
 *	longer is counted and reported (ReportSlowCallback) after it
 *	returns, named by kind (the option the prefix came from, "-ondata")
 *	and handleObj (the handle, or NULL for none).
 *
 *	A NULL prefix (an unset callback option) calls nothing: the args
 *	are only released.
 *
 * Results:
 *	The Tcl result code of the call (TCL_OK for a NULL prefix).
 *
 * Side effects:
 *	Whatever the callback does. An error (or break, continue, return)
 *	goes to the interpreter's background-error handler. The args are
 *	freed if nothing else holds them.
 *
 *----------------------------------------------------------------------
 */

int
CourierCallPrefix(
    Tcl_Interp *interp,
    const char *kind,
    Tcl_Obj *handleObj,
    Tcl_Obj *prefixPtr,
    int objc,
    Tcl_Obj *const args[])
{
    Tcl_Obj **prefix, *stackObjv[16], **objv = stackObjv;
    int prefixLen, n, i, code;
    long slowMs = CourierSetting(COURIER_SETTING_SLOWCALLBACK);
    uint64_t start = 0;

    if (prefixPtr == NULL) {
	ReleaseArgs(objc, args);
	return TCL_OK;
    }
    if (Tcl_ListObjGetElements(interp, prefixPtr, &prefixLen, &prefix)
	    != TCL_OK) {
	/* Callback options are checked to be lists: not expected. */
	ReleaseArgs(objc, args);
	Tcl_BackgroundException(interp, TCL_ERROR);
	return TCL_ERROR;
    }
    n = prefixLen + objc;
    if (n > (int) (sizeof(stackObjv) / sizeof(Tcl_Obj *))) {
	objv = (Tcl_Obj **) ckalloc(sizeof(Tcl_Obj *) * n);
    }
    for (i = 0; i < prefixLen; i++) {
	objv[i] = prefix[i];
	Tcl_IncrRefCount(objv[i]);
    }
    for (i = 0; i < objc; i++) {
	objv[prefixLen + i] = args[i];
	Tcl_IncrRefCount(args[i]);
    }
    if (slowMs > 0) {
	/* The report names them after the call, which may free them. */
	Tcl_IncrRefCount(prefixPtr);
	if (handleObj != NULL) {
	    Tcl_IncrRefCount(handleObj);
	}
	start = uv_hrtime();
    }
    code = n > 0 ? Tcl_EvalObjv(interp, n, objv, TCL_EVAL_GLOBAL) : TCL_OK;
    if (code != TCL_OK) {
	Tcl_BackgroundException(interp, code);
    }
    if (slowMs > 0) {
	uint64_t ns = uv_hrtime() - start;

	if (ns > (uint64_t) slowMs * 1000000) {
	    ReportSlowCallback(interp, kind, handleObj, prefixPtr, ns);
	}
	Tcl_DecrRefCount(prefixPtr);
	if (handleObj != NULL) {
	    Tcl_DecrRefCount(handleObj);
	}
    }
    for (i = 0; i < n; i++) {
	Tcl_DecrRefCount(objv[i]);
    }
    if (objv != stackObjv) {
	ckfree(objv);
    }
    return code;
}

/*
 *----------------------------------------------------------------------
 *
 * ReportSlowCallback --
 *
 *	A callback ran for ns nanoseconds, longer than -slowcallback: count
 *	it in the thread's stats and report it once, by calling the
 *	interpreter's -onslow prefix as {*}cmd handle kind ms command
 *	(handle empty when the callback has none; ms whole milliseconds;
 *	command the callback's prefix, without the arguments it was given)
 *	at global level, or, with no -onslow, by writing a line to stderr.
 *
 * Side effects:
 *	Whatever -onslow does; its errors go to the background-error
 *	handler. The interpreter's result is kept.
 *
 *----------------------------------------------------------------------
 */

static void
ReportSlowCallback(
    Tcl_Interp *interp,
    const char *kind,
    Tcl_Obj *handleObj,
    Tcl_Obj *prefixPtr,
    uint64_t ns)
{
    SlowStats *tsPtr = Tcl_GetThreadData(&slowStatsKey, sizeof(SlowStats));
    CourierInterp *cinterpPtr;
    Tcl_WideInt ms = (Tcl_WideInt) (ns / 1000000);

    tsPtr->slowCallbacks++;
    if (ns > tsPtr->slowestCallbackNs) {
	tsPtr->slowestCallbackNs = ns;
    }
    if (Tcl_InterpDeleted(interp)) {
	return;
    }
    cinterpPtr = Tcl_GetAssocData(interp, COURIER_ASSOC_KEY, NULL);
    if (cinterpPtr != NULL && cinterpPtr->onSlow != NULL) {
	Tcl_Obj *cmdPtr = Tcl_DuplicateObj(cinterpPtr->onSlow);
	Tcl_InterpState state = Tcl_SaveInterpState(interp, TCL_OK);
	int code;

	Tcl_IncrRefCount(cmdPtr);
	if (Tcl_ListObjAppendElement(NULL, cmdPtr,
		handleObj != NULL ? handleObj : Tcl_NewObj()) != TCL_OK) {
	    assert(0 && "-onslow is checked to be a list");
	}
	Tcl_ListObjAppendElement(NULL, cmdPtr, Tcl_NewStringObj(kind, -1));
	Tcl_ListObjAppendElement(NULL, cmdPtr, Tcl_NewWideIntObj(ms));
	Tcl_ListObjAppendElement(NULL, cmdPtr, prefixPtr);
	code = Tcl_EvalObjEx(interp, cmdPtr, TCL_EVAL_GLOBAL);
	if (code != TCL_OK) {
	    Tcl_BackgroundException(interp, code);
	}
	Tcl_DecrRefCount(cmdPtr);
	Tcl_RestoreInterpState(interp, state);
    } else {
	Tcl_Channel errChan = Tcl_GetStdChannel(TCL_STDERR);

	if (errChan != NULL) {
	    Tcl_Obj *lineObj = Tcl_ObjPrintf(
		    "courier: slow callback: %" TCL_LL_MODIFIER "d ms in %s%s%s: %s\n",
		    ms, kind, handleObj != NULL ? " of " : "",
		    handleObj != NULL ? Tcl_GetString(handleObj) : "",
		    Tcl_GetString(prefixPtr));

	    Tcl_IncrRefCount(lineObj);
	    Tcl_WriteObj(errChan, lineObj);
	    Tcl_Flush(errChan);
	    Tcl_DecrRefCount(lineObj);
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierSlowCallbackStats --
 *
 *	Adds the calling thread's slow-callback counts to a courier::stats
 *	dict (slowCallbacks, slowestCallbackUs), and resets them if asked.
 *
 *----------------------------------------------------------------------
 */

void
CourierSlowCallbackStats(
    Tcl_Obj *dictPtr,
    int reset)
{
    SlowStats *tsPtr = Tcl_GetThreadData(&slowStatsKey, sizeof(SlowStats));

    Tcl_DictObjPut(NULL, dictPtr, Tcl_NewStringObj("slowCallbacks", -1),
	    Tcl_NewWideIntObj((Tcl_WideInt) tsPtr->slowCallbacks));
    Tcl_DictObjPut(NULL, dictPtr, Tcl_NewStringObj("slowestCallbackUs", -1),
	    Tcl_NewWideIntObj((Tcl_WideInt) (tsPtr->slowestCallbackNs / 1000)));
    if (reset) {
	tsPtr->slowCallbacks = tsPtr->slowestCallbackNs = 0;
    }
}
