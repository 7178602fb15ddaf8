/*
 * self.c --
 *
 *	courier::self inside an actor: its own handle, and deferring the
 *	answer to the current ask (defer, reply); answering every deferred
 *	ask with an error when the interpreter goes away.
 *
 *	Threads: the actor thread.
 */

#include "actorInt.h"

/*
 *----------------------------------------------------------------------
 *
 * CourierActorRejectDeferred --
 *
 *	Answers every deferred ask with an error (the interpreter that was
 *	to answer is going away).
 *
 *----------------------------------------------------------------------
 */

void
CourierActorRejectDeferred(
    Actor *actorPtr,
    const char *why,
    const char *code)
{
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;
    char message[128];

    snprintf(message, sizeof(message), "actor \"%s\" %s before it answered",
	    actorPtr->name, why);
    while ((hPtr = Tcl_FirstHashEntry(&actorPtr->deferred, &search))
	    != NULL) {
	ReplyTo *toPtr = Tcl_GetHashValue(hPtr);

	Tcl_DeleteHashEntry(hPtr);
	CourierActorReplyWithError(toPtr, message, code);
	ckfree(toPtr);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierActorSelfObjCmd --
 *
 *	courier::self			the handle of the actor running this
 *	courier::self defer		answer the current ask later: returns
 *					a token
 *	courier::self reply token ?-error? value ?errorcode?
 *					answer a deferred ask
 *
 *----------------------------------------------------------------------
 */

int
CourierActorSelfObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const subcommands[] = {"defer", "reply", NULL};
    enum { SC_DEFER, SC_REPLY };
    Actor *actorPtr = Tcl_GetAssocData(interp, SELF_KEY, NULL);
    Tcl_HashEntry *hPtr;
    ReplyTo *toPtr;
    int index, isNew;

    (void) clientData;
    if (actorPtr == NULL || CourierActorOfThread() != actorPtr) {
	return CourierError(interp, "ACTOR", "NOTACTOR",
		"courier::self works only inside an actor");
    }
    if (objc == 1) {
	Tcl_SetObjResult(interp, Tcl_NewStringObj(actorPtr->handle, -1));
	return TCL_OK;
    }
    if (CourierGetSubcommand(interp, objc, objv, 1, subcommands,
	    &index) != TCL_OK) {
	return TCL_ERROR;
    }
    if (index == SC_DEFER) {
	char token[32];

	if (objc != 2) {
	    return CourierUsage(interp, 2, objv, NULL);
	}
	if (actorPtr->current.kind == 0 || actorPtr->currentDeferred) {
	    return CourierError(interp, "ACTOR", "NOASK",
		    "courier::self defer: the running message is not an ask "
		    "or call waiting for an answer");
	}
	snprintf(token, sizeof(token), "reply%lu",
		++actorPtr->nextDeferred);
	toPtr = (ReplyTo *) ckalloc(sizeof(ReplyTo));
	*toPtr = actorPtr->current;
	actorPtr->currentDeferred = 1;
	hPtr = Tcl_CreateHashEntry(&actorPtr->deferred, token, &isNew);
	Tcl_SetHashValue(hPtr, toPtr);
	Tcl_SetObjResult(interp, Tcl_NewStringObj(token, -1));
	return TCL_OK;
    }

    /* reply token ?-error? value ?errorcode? */
    {
	int isError = 0, i = 3;

	if (objc > 3 && strcmp(Tcl_GetString(objv[3]), "-error") == 0) {
	    isError = 1;
	    i = 4;
	}
	if (objc < i + 1 || objc > i + 1 + isError) {
	    return CourierUsage(interp, 2, objv,
		    "token ?-error? value ?errorcode?");
	}
	hPtr = Tcl_FindHashEntry(&actorPtr->deferred, Tcl_GetString(objv[2]));
	if (hPtr == NULL) {
	    return CourierError(interp, "HANDLE", Tcl_GetString(objv[2]),
		    "no deferred ask \"%.50s\" (answered already, or never "
		    "made by courier::self defer)", Tcl_GetString(objv[2]));
	}
	toPtr = Tcl_GetHashValue(hPtr);
	Tcl_DeleteHashEntry(hPtr);
	{
	    const unsigned char *bytes[2];
	    size_t lens[2];
	    int tags[2], n = 1;

	    bytes[0] = CourierActorWordOf(objv[i], &lens[0], &tags[0]);
	    if (isError) {
		if (objc > i + 1) {
		    bytes[1] = CourierActorWordOf(objv[i + 1], &lens[1],
			    &tags[1]);
		} else {
		    bytes[1] = (const unsigned char *) "NONE";
		    lens[1] = 4;
		    tags[1] = WORD_STRING;
		}
		n = 2;
	    }
	    CourierActorReplySend(toPtr, CourierActorMakeWords(
		    isError ? REPLY_ERROR : REPLY_OK, toPtr->id, n, bytes,
		    lens, tags));
	}
	ckfree(toPtr);
	return TCL_OK;
    }
}
