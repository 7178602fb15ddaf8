/*
 * resolve.c --
 *
 *	courier::resolve host ?-family any|inet|inet6? -command cmd
 *
 *	Looks a name up in a resolver thread (resolver.c) and calls
 *	{*}cmd ok {address ...} or {*}cmd error message in the calling
 *	thread, through its inbox. The Tcl thread never waits for the
 *	resolver.
 *
 *	A lookup is a resource of its interpreter: deleting the interpreter
 *	closes its port, and the answer, when it comes, is dropped.
 */

#include "conn.h"
#include "resolver.h"
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LOOKUP_OK = 1, LOOKUP_ERROR = 2 };

typedef struct Lookup {
    CourierResource resource;	/* Must be first. */
    Tcl_Interp *interp;
    Tcl_Obj *cmdPtr;
    CourierPort *portPtr;	/* Owner side; the resolver thread posts to
				 * it once, then releases its side. */
} Lookup;

static void	LookupClose(CourierResource *resPtr);
static void	LookupDeliver(void *ownerData, CourierMsg *msgPtr);
static void	LookupDone(void *clientData, int status,
		    struct addrinfo *result);
static void	LookupNotify(void *producerData, int event);

static const CourierPortType lookupPortType = {
    "lookup", LookupDeliver, LookupNotify, NULL, NULL
};

static const char lookupKind[] = "lookup";

/* courier::resolve's options. */
typedef struct ResolveOptions {
    Tcl_Obj *command;
    int family;			/* AF_UNSPEC, AF_INET or AF_INET6. */
} ResolveOptions;

static const CourierOptSpec resolveOptionSpecs[] = {
    {.name = "-command", .type = COURIER_OPT_COMMAND,
	.offset = offsetof(ResolveOptions, command),
	.required = "courier::resolve delivers its answer to a command "
	    "prefix"},
    {.name = "-family", .type = COURIER_OPT_CUSTOM,
	.offset = offsetof(ResolveOptions, family),
	.parseProc = CourierOptParseFamily},
    {.name = NULL}
};

/*
 *----------------------------------------------------------------------
 *
 * CourierResolveObjCmd --
 *
 *	The command. Returns an empty result at once.
 *
 *----------------------------------------------------------------------
 */

int
CourierResolveObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    ResolveOptions own = {NULL, AF_UNSPEC};
    CourierOptTable table = {resolveOptionSpecs, &own};
    CourierInterp *cinterpPtr;
    Lookup *lookupPtr;
    CourierPort *portPtr;

    (void) clientData;
    if (objc < 2 || objc % 2 != 0) {
	return CourierUsage(interp, 1, objv,
		"host ?-family any|inet|inet6? -command cmd");
    }
    if (CourierCheckHost(interp, Tcl_GetString(objv[1])) != TCL_OK
	    || (cinterpPtr = CourierGetInterp(interp)) == NULL) {
	return TCL_ERROR;
    }
    if (CourierOptParse(interp, &table, 1, objc - 2, objv + 2, 0,
	    NULL) != TCL_OK) {
	CourierOptRelease(resolveOptionSpecs, &own);
	return TCL_ERROR;
    }

    lookupPtr = (Lookup *) ckalloc(sizeof(Lookup));
    memset(lookupPtr, 0, sizeof(Lookup));
    lookupPtr->interp = interp;
    lookupPtr->cmdPtr = own.command;		/* Takes the reference. */
    portPtr = CourierPortOpen(cinterpPtr->inboxPtr, &lookupPortType, interp,
	    lookupPtr, NULL, 1 << 20);
    lookupPtr->portPtr = portPtr;
    CourierResourceAdd(cinterpPtr, &lookupPtr->resource, lookupKind,
	    LookupClose);
    if (CourierResolve(NULL, Tcl_GetString(objv[1]), "0", own.family,
	    LookupDone, portPtr) != 0) {
	CourierPortRelease(portPtr);
	LookupClose(&lookupPtr->resource);
	return CourierError(interp, "THREAD", "CREATE",
		"cannot start a resolver thread");
    }
    return TCL_OK;
}

/*
 * LookupDone --
 *	In the resolver thread: turn the answer into one message (the
 *	addresses, numeric and without duplicates, separated by spaces; or
 *	the error text), post it, and let go of the port.
 */

static void
LookupDone(
    void *clientData,
    int status,
    struct addrinfo *result)
{
    CourierPort *portPtr = clientData;
    char text[4096], seen[32][64];
    size_t used = 0;
    int nSeen = 0, kind = LOOKUP_OK;
    struct addrinfo *ai;
    CourierMsg *msgPtr;

    text[0] = '\0';
    if (status < 0) {
	kind = LOOKUP_ERROR;
	used = (size_t) snprintf(text, sizeof(text), "%s",
		uv_strerror(status));
    }
    for (ai = result; ai != NULL && nSeen < 32; ai = ai->ai_next) {
	int port, n, k;

	CourierSockaddrName(ai->ai_addr, seen[nSeen], sizeof(seen[0]), &port);
	if (seen[nSeen][0] == '\0') {
	    continue;
	}
	for (k = 0; k < nSeen; k++) {
	    if (strcmp(seen[k], seen[nSeen]) == 0) {
		break;			/* Listed already (another protocol). */
	    }
	}
	if (k < nSeen) {
	    continue;
	}
	n = snprintf(text + used, sizeof(text) - used, "%s%s",
		used ? " " : "", seen[nSeen]);
	if (n < 0 || (size_t) n >= sizeof(text) - used) {
	    break;
	}
	used += (size_t) n;
	nSeen++;
    }
    CourierResolveFree(result);
    msgPtr = CourierMsgAlloc(used);
    msgPtr->kind = kind;
    memcpy(msgPtr->data, text, used);
    CourierPortPost(portPtr, msgPtr);
    CourierPortRelease(portPtr);
}

static void
LookupNotify(
    void *producerData,
    int event)
{
    /* One message, posted once: nothing to pause or stop. */
    (void) producerData;
    (void) event;
}

/*
 * LookupDeliver --
 *	In the interpreter's thread: close the lookup, then call the command
 *	with the answer.
 */

static void
LookupDeliver(
    void *ownerData,
    CourierMsg *msgPtr)
{
    Lookup *lookupPtr = ownerData;
    Tcl_Interp *interp = lookupPtr->interp;
    Tcl_Obj *cmdPtr = lookupPtr->cmdPtr, *args[2];

    Tcl_IncrRefCount(cmdPtr);
    LookupClose(&lookupPtr->resource);
    args[0] = Tcl_NewStringObj(msgPtr->kind == LOOKUP_OK ? "ok" : "error",
	    -1);

    /* Space-separated numeric addresses read as a proper list. */
    args[1] = Tcl_NewStringObj((const char *) msgPtr->data,
	    (int) msgPtr->size);
    CourierCallPrefix(interp, "-command", NULL, cmdPtr, 2, args);
    Tcl_DecrRefCount(cmdPtr);
}

/*
 * LookupClose --
 *	Forget the lookup (delivered, or its interpreter is going): close
 *	the owner side of the port and free what the thread owns.
 */

static void
LookupClose(
    CourierResource *resPtr)
{
    Lookup *lookupPtr = (Lookup *) resPtr;

    CourierPortClose(lookupPtr->portPtr);
    CourierResourceForget(resPtr);
    Tcl_DecrRefCount(lookupPtr->cmdPtr);
    ckfree(lookupPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierResolveInit --
 *
 *	Creates courier::resolve in an interpreter (called by Courier_Init).
 *
 *----------------------------------------------------------------------
 */

void
CourierResolveInit(
    Tcl_Interp *interp)
{
    Tcl_CreateObjCommand(interp, "::courier::resolve", CourierResolveObjCmd,
	    NULL, NULL);
}
