/*
 * handle.c --
 *
 *	Handles: the Tcl command, in its owner interpreter, that names one
 *	Courier object (a connection or process, a listener, a UDP socket).
 *	A CourierHandle embedded in the object does what every kind of
 *	handle must: it is a resource of the interpreter (closed when the
 *	interpreter or its thread goes), its command closes the object when
 *	deleted (rename to ""), it knows its current name after a rename
 *	(what callbacks receive), and it closes once, whichever of these
 *	comes first.
 *
 *	Runs in the owner interpreter's thread only.
 */

#include "courierInt.h"
#include <assert.h>

/*
 * HandleResourceClose, HandleCommandDeleted --
 *	The interpreter or its thread goes; the command was deleted.
 */

static void
HandleResourceClose(
    CourierResource *resPtr)
{
    CourierHandleClose((CourierHandle *) resPtr);
}

static void
HandleCommandDeleted(
    ClientData clientData)
{
    CourierHandle *handlePtr = clientData;

    handlePtr->token = NULL;		/* Gone already. */
    CourierHandleClose(handlePtr);
}

/*
 * HandleRenamed --
 *	A command trace: callbacks name the handle by its new, fully
 *	qualified name from now on. A rename to "" is a deletion, which
 *	HandleCommandDeleted sees instead.
 */

static void
HandleRenamed(
    ClientData clientData,
    Tcl_Interp *interp,
    const char *oldName,
    const char *newName,
    int flags)
{
    CourierHandle *handlePtr = clientData;
    Tcl_Obj *nameObj;

    (void) interp;
    (void) oldName;
    if (!(flags & TCL_TRACE_RENAME) || newName == NULL
	    || newName[0] == '\0' || handlePtr->closed) {
	return;
    }
    nameObj = Tcl_NewObj();
    Tcl_GetCommandFullName(handlePtr->interp, handlePtr->token, nameObj);
    Tcl_IncrRefCount(nameObj);
    Tcl_DecrRefCount(handlePtr->nameObj);
    handlePtr->nameObj = nameObj;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierHandleCreate --
 *
 *	Makes the handle of a new object: a resource of its interpreter
 *	named kind + a number, and the command ::courier::<that name>,
 *	whose client data is the handle (the object finds itself from it).
 *
 * Results:
 *	The command's name (the same value as handlePtr->nameObj).
 *
 * Side effects:
 *	closeProc is called once, when the handle is closed: by
 *	CourierHandleClose, the command's deletion or the interpreter's.
 *	It must release the object's Tcl half (its options, its port) and
 *	may free the object.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierHandleCreate(
    CourierHandle *handlePtr,
    CourierInterp *cinterpPtr,
    const char *kind,
    Tcl_ObjCmdProc *cmdProc,
    CourierHandleCloseProc *closeProc)
{
    char cmdName[64];

    handlePtr->interp = cinterpPtr->interp;
    handlePtr->closed = 0;
    handlePtr->closeProc = closeProc;
    CourierResourceAdd(cinterpPtr, &handlePtr->resource, kind,
	    HandleResourceClose);
    snprintf(cmdName, sizeof(cmdName), "::courier::%s",
	    handlePtr->resource.name);
    handlePtr->token = Tcl_CreateObjCommand(handlePtr->interp, cmdName,
	    cmdProc, handlePtr, HandleCommandDeleted);
    Tcl_TraceCommand(handlePtr->interp, cmdName, TCL_TRACE_RENAME,
	    HandleRenamed, handlePtr);
    handlePtr->nameObj = Tcl_NewStringObj(cmdName, -1);
    Tcl_IncrRefCount(handlePtr->nameObj);
    return handlePtr->nameObj;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierHandleClose --
 *
 *	Closes the handle, once: forgets the resource, deletes the command
 *	(unless it is being deleted), then calls the object's closeProc.
 *	Safe to call again, from the object's own commands or callbacks.
 *
 *----------------------------------------------------------------------
 */

void
CourierHandleClose(
    CourierHandle *handlePtr)
{
    Tcl_Command token = handlePtr->token;
    Tcl_Obj *nameObj = handlePtr->nameObj;

    if (handlePtr->closed) {
	return;
    }
    handlePtr->closed = 1;
    CourierResourceForget(&handlePtr->resource);
    handlePtr->token = NULL;
    if (token != NULL) {
	Tcl_DeleteCommandFromToken(handlePtr->interp, token);
    }
    handlePtr->nameObj = NULL;
    handlePtr->closeProc(handlePtr);	/* May free the handle. */
    Tcl_DecrRefCount(nameObj);
}
