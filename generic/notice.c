/*
 * notice.c --
 *
 *	Notices from an actor to the interpreter that created it: a crash
 *	(-onerror), the end (-onexit, after joining the thread) and
 *	courier::notify values (-onnotice), posted in order to the creator's
 *	control port.
 *
 *	Threads: CourierActorPostNotice and courier::notify run in the actor
 *	thread; CourierActorNoticeDeliver runs in the creator's thread.
 */

#include "actorInt.h"

/*
 *----------------------------------------------------------------------
 *
 * CourierActorNoticeDeliver --
 *
 *	News from an actor in its creator's thread: a crash runs -onerror
 *	(or goes to the background-error handler); the end joins the
 *	thread, closes the creator's side and runs -onexit.
 *
 *----------------------------------------------------------------------
 */

void
CourierActorNoticeDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Actor *actorPtr = ownerData;
    Tcl_Interp *interp = actorPtr->ownerInterp;
    Tcl_Obj *words[3], *handleObj, *args[3], *prefixPtr = NULL;
    uint64_t id;
    int n, i;

    n = CourierActorReadWords(msgPtr, &id, 3, words);
    for (i = 0; i < n; i++) {
	Tcl_IncrRefCount(words[i]);
    }

    /* The handle's current name: it may have been renamed. */
    handleObj = Tcl_NewObj();
    if (actorPtr->token != NULL) {
	Tcl_GetCommandFullName(interp, actorPtr->token, handleObj);
    } else {
	Tcl_AppendToObj(handleObj, actorPtr->handle, -1);
    }
    Tcl_IncrRefCount(handleObj);
    Tcl_Preserve(interp);
    if (msgPtr->kind == NOTE_ERROR) {
	assert(n == 3);
	if (actorPtr->onError != NULL) {
	    Tcl_Obj *optsPtr = Tcl_NewDictObj();

	    Tcl_DictObjPut(NULL, optsPtr, Tcl_NewStringObj("-errorcode", -1),
		    words[1]);
	    Tcl_DictObjPut(NULL, optsPtr, Tcl_NewStringObj("-errorinfo", -1),
		    words[2]);
	    prefixPtr = actorPtr->onError;
	    Tcl_IncrRefCount(prefixPtr);
	    args[0] = handleObj;
	    args[1] = words[0];
	    args[2] = optsPtr;
	} else {
	    Tcl_SetObjResult(interp, Tcl_ObjPrintf("actor \"%s\": %s",
		    actorPtr->name, Tcl_GetString(words[0])));
	    Tcl_SetObjErrorCode(interp, words[1]);
	    Tcl_AddErrorInfo(interp, "\n    (in actor \"");
	    Tcl_AddErrorInfo(interp, actorPtr->name);
	    Tcl_AddErrorInfo(interp, "\")\n");
	    Tcl_AddErrorInfo(interp, Tcl_GetString(words[2]));
	    Tcl_BackgroundException(interp, TCL_ERROR);
	    Tcl_ResetResult(interp);
	}
    } else if (msgPtr->kind == NOTE_NOTICE) {
	/* courier::notify value: {*}-onnotice handle value, or nothing. */
	assert(n == 1);
	if (actorPtr->onNotice != NULL) {
	    prefixPtr = actorPtr->onNotice;
	    Tcl_IncrRefCount(prefixPtr);
	    args[0] = handleObj;
	    args[1] = words[0];
	}
    } else {
	assert(msgPtr->kind == NOTE_EXIT && n == 1);
	if (actorPtr->onExit != NULL) {
	    prefixPtr = actorPtr->onExit;
	    Tcl_IncrRefCount(prefixPtr);
	    args[0] = handleObj;
	    args[1] = words[0];
	}
	/* Join, drop the handle and the name before -onexit runs. */
	CourierActorCloseResource(&actorPtr->resource);
    }
    if (prefixPtr != NULL) {
	CourierCallPrefix(interp, msgPtr->kind == NOTE_ERROR ? "-onerror"
		: "-onexit", handleObj, prefixPtr,
		msgPtr->kind == NOTE_ERROR ? 3 : 2, args);
	Tcl_ResetResult(interp);
	Tcl_DecrRefCount(prefixPtr);
    }
    Tcl_Release(interp);
    Tcl_DecrRefCount(handleObj);
    for (i = 0; i < n; i++) {
	Tcl_DecrRefCount(words[i]);
    }
}

/* Posts a notice of n strings to the creator (actor thread). */
void
CourierActorPostNotice(
    Actor *actorPtr,
    int kind,
    int n,
    const char *const strings[])
{
    const unsigned char *bytes[3];
    size_t lens[3];
    int i;

    assert(n <= 3);
    for (i = 0; i < n; i++) {
	bytes[i] = (const unsigned char *) strings[i];
	lens[i] = strlen(strings[i]);
    }
    CourierPortPost(actorPtr->controlPort,
	    CourierActorMakeWords(kind, 0, n, bytes, lens, NULL));
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorNotifyObjCmd --
 *
 *	courier::notify value, inside an actor: posts value (a copy) to the
 *	interpreter that created the actor, whose -onnotice runs as
 *	{*}cmd handle value, in order with the other notices. It never
 *	blocks: notices are not flow-controlled, so a loop should send them
 *	at the rate someone can watch (a progress bar), not per item.
 *
 * Results:
 *	An empty result; an error {COURIER ACTOR NOTACTOR} outside an actor.
 *
 *----------------------------------------------------------------------
 */

int
CourierActorNotifyObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    Actor *actorPtr = Tcl_GetAssocData(interp, SELF_KEY, NULL);
    const unsigned char *bytes[1];
    size_t lens[1];
    int tags[1];

    (void) clientData;
    if (actorPtr == NULL || CourierActorOfThread() != actorPtr) {
	return CourierError(interp, "ACTOR", "NOTACTOR",
		"courier::notify works only inside an actor");
    }
    if (objc != 2) {
	return CourierUsage(interp, 1, objv, "value");
    }
    bytes[0] = CourierActorWordOf(objv[1], &lens[0], &tags[0]);
    CourierPortPost(actorPtr->controlPort,
	    CourierActorMakeWords(NOTE_NOTICE, 0, 1, bytes, lens, tags));
    return TCL_OK;
}
