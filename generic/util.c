/*
 * util.c --
 *
 *	The small helpers every part of Courier uses, in the thread of the
 *	interpreter they are given (the allocators and the out-of-memory
 *	panic: any thread): errors with an -errorcode, memory that is never
 *	NULL, reading a bounded integer, received bytes as a Tcl value, and
 *	the list of resources an interpreter owns (the CourierInterp itself
 *	is courier.c's; CourierCallPrefix, which keeps the per-thread counts
 *	of slow callbacks, is callback.c's).
 */

#include "courierInt.h"
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <assert.h>

/*
 *----------------------------------------------------------------------
 *
 * CourierResourceAdd, CourierResourceForget, CourierResourceFind --
 *
 *	The list of resources an interpreter owns, each named after its
 *	kind ("flood3"). closeProc must release everything and call
 *	CourierResourceForget (courier.c's CloseResources calls it when the
 *	interpreter or its thread goes). A linear search is fine for the handful of
 *	resources that have no command of their own.
 *
 *----------------------------------------------------------------------
 */

void
CourierResourceAdd(
    CourierInterp *cinterpPtr,
    CourierResource *resPtr,
    const char *kind,
    void (*closeProc)(CourierResource *))
{
    resPtr->kind = kind;
    snprintf(resPtr->name, sizeof(resPtr->name), "%s%lu", kind,
	    ++cinterpPtr->nextId);
    resPtr->ownerPtr = cinterpPtr;
    resPtr->closeProc = closeProc;
    COURIER_LIST_PUSH(cinterpPtr->resources, resPtr);
}

void
CourierResourceForget(
    CourierResource *resPtr)
{
    CourierInterp *cinterpPtr = resPtr->ownerPtr;

    assert(resPtr->prevPtr != NULL || cinterpPtr->resources == resPtr);
    COURIER_LIST_UNLINK(cinterpPtr->resources, resPtr);
}

CourierResource *
CourierResourceFind(
    CourierInterp *cinterpPtr,
    const char *kind,
    const char *name)
{
    CourierResource *resPtr;

    for (resPtr = cinterpPtr->resources; resPtr != NULL;
	    resPtr = resPtr->nextPtr) {
	if (resPtr->kind == kind && strcmp(resPtr->name, name) == 0) {
	    return resPtr;
	}
    }
    return NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierError --
 *
 *	Sets a formatted error message and the error code
 *	{COURIER kind detail} (detail may be NULL).
 *
 * Results:
 *	TCL_ERROR, for "return CourierError(...)".
 *
 *----------------------------------------------------------------------
 */

int
CourierError(
    Tcl_Interp *interp,
    const char *kind,
    const char *detail,
    const char *fmt,
    ...)
{
    va_list ap;
    char buf[512];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(buf, -1));
    if (detail != NULL) {
	Tcl_SetErrorCode(interp, "COURIER", kind, detail, NULL);
    } else {
	Tcl_SetErrorCode(interp, "COURIER", kind, NULL);
    }
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierUsage --
 *
 *	Sets Tcl's "wrong # args" message for the first count words of objv
 *	and message (see Tcl_WrongNumArgs), with the error code
 *	{COURIER USAGE}.
 *
 * Results:
 *	TCL_ERROR, for "return CourierUsage(...)".
 *
 *----------------------------------------------------------------------
 */

int
CourierUsage(
    Tcl_Interp *interp,
    int count,
    Tcl_Obj *const objv[],
    const char *message)
{
    Tcl_WrongNumArgs(interp, count, objv, message);
    Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierGetSubcommand --
 *
 *	The start of a command with subcommands: objv[first] (the word after
 *	the command's first words) looked up in the NULL-terminated table
 *	(unique abbreviations allowed). No subcommand is a "wrong # args"
 *	error, an unknown one Tcl's "bad subcommand" message; both with the
 *	error code {COURIER USAGE}.
 *
 * Results:
 *	TCL_OK with *indexPtr set, or TCL_ERROR.
 *
 *----------------------------------------------------------------------
 */

int
CourierGetSubcommand(
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[],
    int first,
    const char *const *table,
    int *indexPtr)
{
    if (objc <= first) {
	return CourierUsage(interp, first, objv, "subcommand ?arg ...?");
    }
    if (Tcl_GetIndexFromObj(interp, objv[first], table, "subcommand", 0,
	    indexPtr) != TCL_OK) {
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierObjClear --
 *
 *	Drops the reference that *objPtrPtr holds, if any, and sets it to
 *	NULL: the release of an optional Tcl_Obj field (a callback, a cached
 *	value).
 *
 *----------------------------------------------------------------------
 */

void
CourierObjClear(
    Tcl_Obj **objPtrPtr)
{
    if (*objPtrPtr != NULL) {
	Tcl_DecrRefCount(*objPtrPtr);
	*objPtrPtr = NULL;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierCheckHost --
 *
 *	Refuses an empty host name (connect, resolve, a UDP send), with the
 *	error code {COURIER VALUE host}; what a name resolves to is the
 *	resolver's business.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with the message in interp.
 *
 *----------------------------------------------------------------------
 */

int
CourierCheckHost(
    Tcl_Interp *interp,
    const char *host)
{
    if (host[0] == '\0') {
	return CourierError(interp, "VALUE", "host",
		"bad host \"\": expected a host name or address");
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierCheckCommandPrefix --
 *
 *	Checks the value of an option that names the command to call
 *	(-command of resolve, ask and the test flood, -ondone): a list of
 *	at least one word.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with the message in interp and the error code
 *	{COURIER VALUE option}.
 *
 *----------------------------------------------------------------------
 */

int
CourierCheckCommandPrefix(
    Tcl_Interp *interp,
    const char *option,
    Tcl_Obj *valueObj)
{
    int len;

    if (Tcl_ListObjLength(NULL, valueObj, &len) != TCL_OK || len == 0) {
	return CourierError(interp, "VALUE", option,
		"bad value for %s: expected a non-empty command prefix "
		"(a list)", option);
    }
    return TCL_OK;
}

void
CourierPanicOutOfMemory(
    size_t size)
{
    Tcl_Panic("courier: out of memory allocating %lu bytes",
	    (unsigned long) size);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierAlloc, CourierAllocZero, CourierStrdup, CourierRealloc --
 *
 *	malloc, calloc (one zeroed block), strdup and realloc for Courier's
 *	own C data, which any thread may allocate and free (worker threads
 *	never use Tcl's allocator). Out of memory is a panic, as with ckalloc
 *	(CourierPanicOutOfMemory), so the result is never NULL.
 *
 *----------------------------------------------------------------------
 */

void *
CourierAlloc(
    size_t size)
{
    void *p = malloc(size);

    if (p == NULL) {
	CourierPanicOutOfMemory(size);
    }
    return p;
}

void *
CourierAllocZero(
    size_t size)
{
    void *p = calloc(1, size);

    if (p == NULL) {
	CourierPanicOutOfMemory(size);
    }
    return p;
}

char *
CourierStrdup(
    const char *s)
{
    char *copy = strdup(s);

    if (copy == NULL) {
	CourierPanicOutOfMemory(strlen(s) + 1);
    }
    return copy;
}

void *
CourierRealloc(
    void *ptr,
    size_t size)
{
    void *p = realloc(ptr, size);

    if (p == NULL) {
	CourierPanicOutOfMemory(size);
    }
    return p;
}

/*
 * CourierBytesAppend --
 *	Appends length bytes to a growing buffer (*bufPtr, *lenPtr used of
 *	*capPtr), doubling its capacity from firstCap when it is full. Any
 *	thread: it touches only the buffer it is given.
 */

void
CourierBytesAppend(
    unsigned char **bufPtr,
    size_t *lenPtr,
    size_t *capPtr,
    size_t firstCap,
    const void *bytes,
    size_t length)
{
    size_t need = *lenPtr + length;

    assert(need >= *lenPtr);		/* No wrap-around. */
    if (need > *capPtr) {
	size_t cap = *capPtr ? *capPtr : firstCap;

	while (cap < need) {
	    cap *= 2;
	}
	*bufPtr = CourierRealloc(*bufPtr, cap);
	*capPtr = cap;
    }
    memcpy(*bufPtr + *lenPtr, bytes, length);
    *lenPtr = need;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierGetPositiveWide --
 *
 *	Reads an integer option value in [min, max].
 *
 * Results:
 *	TCL_OK with *valuePtr set, or TCL_ERROR with a message naming the
 *	option and error code {COURIER VALUE option}.
 *
 *----------------------------------------------------------------------
 */

int
CourierGetPositiveWide(
    Tcl_Interp *interp,
    Tcl_Obj *objPtr,
    const char *option,
    Tcl_WideInt min,
    Tcl_WideInt max,
    Tcl_WideInt *valuePtr)
{
    Tcl_WideInt value;

    if (Tcl_GetWideIntFromObj(NULL, objPtr, &value) != TCL_OK
	    || value < min || value > max) {
	return CourierError(interp, "VALUE", option,
		"bad value \"%.100s\" for %s: expected an integer from "
		"%" TCL_LL_MODIFIER "d to %" TCL_LL_MODIFIER "d",
		Tcl_GetString(objPtr), option, min, max);
    }
    *valuePtr = value;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierDecodeBytes --
 *
 *	Received bytes (a message, a datagram) as a Tcl value: a string
 *	decoded through encoding, or a byte array when encoding is NULL
 *	(binary). length fits an int (the callers bound their messages).
 *
 * Results:
 *	A new Tcl_Obj with no reference.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierDecodeBytes(
    Tcl_Encoding encoding,
    const unsigned char *bytes,
    size_t length)
{
    Tcl_DString ds;
    Tcl_Obj *objPtr;

    if (encoding == NULL) {
	return Tcl_NewByteArrayObj(bytes, (int) length);
    }
    Tcl_ExternalToUtfDString(encoding, (const char *) bytes, (int) length,
	    &ds);
    objPtr = Tcl_NewStringObj(Tcl_DStringValue(&ds), Tcl_DStringLength(&ds));
    Tcl_DStringFree(&ds);
    return objPtr;
}
