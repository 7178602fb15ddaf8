/*
 * option.c --
 *
 *	The option engine (see option.h): finds an option by name in one or
 *	more spec tables, parses its value into the record, reads it back,
 *	lists every option, and copies or releases the values a record holds.
 *	Every "-option value" error message of Courier is written here.
 *
 *	Runs in the calling interpreter's thread only; keeps no state.
 */

#include "courierInt.h"
#include "option.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(recordPtr, specPtr) \
    ((void *) ((char *) (recordPtr) + (specPtr)->offset))

/*
 *----------------------------------------------------------------------
 *
 * Visible --
 *
 *	Is the option known in this call, whose hide mask is "hide"?
 *
 *----------------------------------------------------------------------
 */

static int
Visible(
    const CourierOptSpec *specPtr,
    int hide)
{
    return (specPtr->flags & hide) == 0;
}

/*
 *----------------------------------------------------------------------
 *
 * AppendChoices --
 *
 *	Appends "a, b, or c" (Tcl's style, sep ", or ") or "a, b or c"
 *	(sep " or ") to objPtr.
 *
 *----------------------------------------------------------------------
 */

static void
AppendChoices(
    Tcl_Obj *objPtr,
    const char *const *names,
    int count,
    const char *lastSep)
{
    int i;

    for (i = 0; i < count; i++) {
	if (i > 0) {
	    Tcl_AppendToObj(objPtr, i == count - 1 ? lastSep : ", ", -1);
	}
	Tcl_AppendToObj(objPtr, names[i], -1);
    }
}

/* qsort's comparison of two option names. */
static int
CompareNames(
    const void *a,
    const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierOptFind --
 *
 *	Looks an option name up in the tables: the exact name, or else an
 *	abbreviation that names one option only (as Tcl_GetIndexFromObj).
 *
 * Results:
 *	TCL_OK with the spec and its record, or TCL_ERROR with
 *	"bad option "x": must be ..." listing every option known in this
 *	call in alphabetical order, and {COURIER OPTION x}.
 *
 *----------------------------------------------------------------------
 */

int
CourierOptFind(
    Tcl_Interp *interp,
    const CourierOptTable *tables,
    int ntables,
    Tcl_Obj *nameObj,
    int hide,
    const CourierOptSpec **specPtrPtr,
    void **recordPtr)
{
    const char *name = Tcl_GetString(nameObj);
    size_t nameLen = strlen(name);
    const char *stackNames[64], **names = stackNames;
    const CourierOptSpec *specPtr, *prefixSpec = NULL;
    void *prefixRecord = NULL;
    int t, count = 0, capacity = 64, prefixes = 0;
    Tcl_Obj *msgObj;

    /* An exact name, else a unique abbreviation (as Tcl_GetIndexFromObj). */
    for (t = 0; t < ntables; t++) {
	for (specPtr = tables[t].specs; specPtr->name != NULL; specPtr++) {
	    if (!Visible(specPtr, hide)) {
		continue;
	    }
	    if (strcmp(specPtr->name, name) == 0) {
		*specPtrPtr = specPtr;
		*recordPtr = tables[t].record;
		return TCL_OK;
	    }
	    if (nameLen > 1 && strncmp(specPtr->name, name, nameLen) == 0) {
		prefixes++;
		prefixSpec = specPtr;
		prefixRecord = tables[t].record;
	    }
	}
    }
    if (prefixes == 1) {
	*specPtrPtr = prefixSpec;
	*recordPtr = prefixRecord;
	return TCL_OK;
    }
    if (interp == NULL) {
	return TCL_ERROR;
    }
    for (t = 0; t < ntables; t++) {
	for (specPtr = tables[t].specs; specPtr->name != NULL; specPtr++) {
	    if (!Visible(specPtr, hide)) {
		continue;
	    }
	    if (count == capacity) {
		const char **bigger = (const char **) ckalloc(
			sizeof(char *) * (size_t) capacity * 2);

		memcpy(bigger, names, sizeof(char *) * (size_t) count);
		if (names != stackNames) {
		    ckfree(names);
		}
		names = bigger;
		capacity *= 2;
	    }
	    names[count++] = specPtr->name;
	}
    }
    qsort(names, (size_t) count, sizeof(char *), CompareNames);
    msgObj = Tcl_ObjPrintf("%s option \"%s\": must be ",
	    prefixes > 1 ? "ambiguous" : "bad", name);
    AppendChoices(msgObj, names, count, count > 2 ? ", or " : " or ");
    if (names != stackNames) {
	ckfree(names);
    }
    Tcl_SetObjResult(interp, msgObj);
    Tcl_SetErrorCode(interp, "COURIER", "OPTION", name, NULL);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * ValueError --
 *
 *	The error for a value of the wrong form:
 *	bad value "v" for -opt: expected <expected>.
 *
 *----------------------------------------------------------------------
 */

static int
ValueError(
    Tcl_Interp *interp,
    const CourierOptSpec *specPtr,
    Tcl_Obj *valueObj,
    const char *expected)
{
    Tcl_SetObjResult(interp, Tcl_ObjPrintf(
	    "bad value \"%.100s\" for %s: expected %s",
	    Tcl_GetString(valueObj), specPtr->name, expected));
    Tcl_SetErrorCode(interp, "COURIER", "VALUE", specPtr->name, NULL);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * ParseValue --
 *
 *	Checks one value and stores it in its field, releasing what the
 *	field held.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message and {COURIER VALUE -opt}; the
 *	field is unchanged then.
 *
 *----------------------------------------------------------------------
 */

static int
ParseValue(
    Tcl_Interp *interp,
    const CourierOptSpec *specPtr,
    Tcl_Obj *valueObj,
    void *fieldPtr)
{
    switch (specPtr->type) {
    case COURIER_OPT_BOOLEAN: {
	int b;

	if (Tcl_GetBooleanFromObj(NULL, valueObj, &b) != TCL_OK) {
	    return ValueError(interp, specPtr, valueObj, "a boolean");
	}
	*(int *) fieldPtr = b;
	return TCL_OK;
    }
    case COURIER_OPT_INT:
    case COURIER_OPT_WIDE: {
	Tcl_WideInt w;

	if (CourierGetPositiveWide(interp, valueObj, specPtr->name,
		specPtr->min, specPtr->max, &w) != TCL_OK) {
	    return TCL_ERROR;
	}
	if (specPtr->type == COURIER_OPT_INT) {
	    assert(specPtr->max <= INT_MAX && specPtr->min >= INT_MIN);
	    *(int *) fieldPtr = (int) w;
	} else {
	    *(Tcl_WideInt *) fieldPtr = w;
	}
	return TCL_OK;
    }
    case COURIER_OPT_CHOICE: {
	const char *const *choices = specPtr->choices;
	const char *value = Tcl_GetString(valueObj);
	int count, match = -1;
	Tcl_Obj *msgObj;

	for (count = 0; choices[count] != NULL; count++) {
	    if (strcmp(choices[count], value) == 0) {
		*(int *) fieldPtr = count;
		return TCL_OK;
	    }
	    if (*value != '\0'
		    && strncmp(choices[count], value, strlen(value)) == 0) {
		match = (match == -1) ? count : -2;
	    }
	}
	if (match >= 0) {
	    *(int *) fieldPtr = match;
	    return TCL_OK;
	}
	if (specPtr->noun != NULL) {
	    msgObj = Tcl_ObjPrintf("%s %s \"%.100s\": must be ",
		    match == -2 ? "ambiguous" : "bad", specPtr->noun, value);
	    AppendChoices(msgObj, choices, count,
		    count > 2 ? ", or " : " or ");
	} else {
	    msgObj = Tcl_ObjPrintf("bad value \"%.100s\" for %s: expected ",
		    value, specPtr->name);
	    AppendChoices(msgObj, choices, count, " or ");
	}
	Tcl_SetObjResult(interp, msgObj);
	Tcl_SetErrorCode(interp, "COURIER", "VALUE", specPtr->name, NULL);
	return TCL_ERROR;
    }
    case COURIER_OPT_PREFIX: {
	int len;

	if (Tcl_ListObjLength(NULL, valueObj, &len) != TCL_OK) {
	    Tcl_SetObjResult(interp, Tcl_ObjPrintf(
		    "bad value for %s: expected %s", specPtr->name,
		    specPtr->expected != NULL ? specPtr->expected
		    : "a command prefix (a list), or {} for none"));
	    Tcl_SetErrorCode(interp, "COURIER", "VALUE", specPtr->name,
		    NULL);
	    return TCL_ERROR;
	}
	/* A copy of its own: the caller's value may be shared. */
	CourierOptStoreObj(fieldPtr, len > 0 ? Tcl_DuplicateObj(valueObj)
		: NULL);
	return TCL_OK;
    }
    case COURIER_OPT_COMMAND:
	if (CourierCheckCommandPrefix(interp, specPtr->name,
		valueObj) != TCL_OK) {
	    return TCL_ERROR;
	}
	CourierOptStoreObj(fieldPtr, Tcl_DuplicateObj(valueObj));
	return TCL_OK;
    case COURIER_OPT_STRING:
	CourierOptStoreObj(fieldPtr, valueObj);
	return TCL_OK;
    case COURIER_OPT_ENCODING: {
	Tcl_Encoding *encodingPtr = fieldPtr, e = NULL;
	const char *name = Tcl_GetString(valueObj);

	if (strcmp(name, "binary") != 0) {
	    e = Tcl_GetEncoding(NULL, name);
	    if (e == NULL) {
		return CourierError(interp, "VALUE", specPtr->name,
			"unknown encoding \"%.100s\" for %s: expected "
			"binary or a name from encoding names", name,
			specPtr->name);
	    }
	}
	if (*encodingPtr != NULL) {
	    Tcl_FreeEncoding(*encodingPtr);
	}
	*encodingPtr = e;
	return TCL_OK;
    }
    case COURIER_OPT_CUSTOM:
	return specPtr->parseProc(interp, specPtr, valueObj, fieldPtr);
    }
    assert(0 && "unknown option type");
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierOptParse --
 *
 *	Applies "-option value ..." to the tables' records, in order.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message and error code: an unknown
 *	option, a missing value (with ": should be "usage"" appended when
 *	usage is given), a bad value, or a COURIER_OPT_FIXED option given
 *	to configure.
 *
 * Side effects:
 *	On error the records may hold some of the new values: callers
 *	that must not change anything on error parse into copies
 *	(CourierOptRetain).
 *
 *----------------------------------------------------------------------
 */

int
CourierOptParse(
    Tcl_Interp *interp,
    const CourierOptTable *tables,
    int ntables,
    int objc,
    Tcl_Obj *const objv[],
    int hide,
    const char *usage)
{
    int i;

    for (i = 0; i < objc; i += 2) {
	const CourierOptSpec *specPtr;
	void *record;

	if (CourierOptFind(interp, tables, ntables, objv[i], hide, &specPtr,
		&record) != TCL_OK) {
	    return TCL_ERROR;
	}
	if (i + 1 >= objc) {
	    if (usage != NULL) {
		return CourierError(interp, "USAGE", NULL,
			"value for \"%s\" missing: should be \"%s\"",
			specPtr->name, usage);
	    }
	    return CourierError(interp, "USAGE", NULL,
		    "value for \"%s\" missing", specPtr->name);
	}
	if ((specPtr->flags & COURIER_OPT_FIXED)
		&& (hide & COURIER_OPT_CREATE_ONLY)) {
	    Tcl_SetObjResult(interp, Tcl_ObjPrintf("cannot change %s after "
		    "the object is made: it is fixed at creation (cget "
		    "reads it)", specPtr->name));
	    Tcl_SetErrorCode(interp, "COURIER", "OPTION", specPtr->name,
		    "FIXED", NULL);
	    return TCL_ERROR;
	}
	if (ParseValue(interp, specPtr, objv[i + 1],
		FIELD(record, specPtr)) != TCL_OK) {
	    return TCL_ERROR;
	}
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierOptGetValue --
 *
 *	One option's value as cget shows it.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierOptGetValue(
    const CourierOptSpec *specPtr,
    const void *record)
{
    const void *fieldPtr = (const char *) record + specPtr->offset;

    switch (specPtr->type) {
    case COURIER_OPT_BOOLEAN:
	return Tcl_NewBooleanObj(*(const int *) fieldPtr);
    case COURIER_OPT_INT:
	return Tcl_NewIntObj(*(const int *) fieldPtr);
    case COURIER_OPT_WIDE:
	return Tcl_NewWideIntObj(*(const Tcl_WideInt *) fieldPtr);
    case COURIER_OPT_CHOICE:
	return Tcl_NewStringObj(specPtr->choices[*(const int *) fieldPtr],
		-1);
    case COURIER_OPT_PREFIX:
    case COURIER_OPT_COMMAND:
    case COURIER_OPT_STRING: {
	Tcl_Obj *objPtr = *(Tcl_Obj *const *) fieldPtr;

	return objPtr != NULL ? objPtr : Tcl_NewObj();
    }
    case COURIER_OPT_ENCODING: {
	Tcl_Encoding e = *(const Tcl_Encoding *) fieldPtr;

	return Tcl_NewStringObj(e == NULL ? "binary"
		: Tcl_GetEncodingName(e), -1);
    }
    case COURIER_OPT_CUSTOM:
	return specPtr->getProc(specPtr, fieldPtr);
    }
    assert(0 && "unknown option type");
    return Tcl_NewObj();
}

/*
 *----------------------------------------------------------------------
 *
 * CourierOptGetAll --
 *
 *	Every option known in this call and its value, as a dict in table
 *	order (configure with no argument).
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierOptGetAll(
    const CourierOptTable *tables,
    int ntables,
    int hide)
{
    Tcl_Obj *dictObj = Tcl_NewDictObj();
    const CourierOptSpec *specPtr;
    int t;

    for (t = 0; t < ntables; t++) {
	for (specPtr = tables[t].specs; specPtr->name != NULL; specPtr++) {
	    if (Visible(specPtr, hide)) {
		Tcl_DictObjPut(NULL, dictObj,
			Tcl_NewStringObj(specPtr->name, -1),
			CourierOptGetValue(specPtr, tables[t].record));
	    }
	}
    }
    return dictObj;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierOptRead --
 *
 *	The reading forms of a live object's configure: with no argument
 *	every option as a dict, with one that option's value (also cget).
 *	Callers pass COURIER_OPT_CREATE_ONLY (at least) in hide.
 *
 * Results:
 *	TCL_OK with the value as the result, or TCL_ERROR for an unknown
 *	option.
 *
 *----------------------------------------------------------------------
 */

int
CourierOptRead(
    Tcl_Interp *interp,
    const CourierOptTable *tables,
    int ntables,
    int objc,
    Tcl_Obj *const objv[],
    int hide)
{
    const CourierOptSpec *specPtr;
    void *record;

    assert(objc == 0 || objc == 1);
    if (objc == 0) {
	Tcl_SetObjResult(interp, CourierOptGetAll(tables, ntables, hide));
	return TCL_OK;
    }
    if (CourierOptFind(interp, tables, ntables, objv[0], hide, &specPtr,
	    &record) != TCL_OK) {
	return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, CourierOptGetValue(specPtr, record));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierOptRetain, CourierOptRelease --
 *
 *	Retain: after a record was copied byte for byte, takes references
 *	of its own to what its fields point to, so that the copy and the
 *	original can be released separately. Release: drops them and
 *	clears the fields.
 *
 *----------------------------------------------------------------------
 */

/* What HoldValues does to each held value. */
enum { HOLD_RETAIN, HOLD_RELEASE };

static void
HoldValues(
    const CourierOptSpec *specs,
    void *record,
    int what)
{
    const CourierOptSpec *specPtr;

    for (specPtr = specs; specPtr->name != NULL; specPtr++) {
	void *fieldPtr = FIELD(record, specPtr);

	if (specPtr->type == COURIER_OPT_PREFIX
		|| specPtr->type == COURIER_OPT_COMMAND
		|| specPtr->type == COURIER_OPT_STRING) {
	    if (what == HOLD_RETAIN) {
		if (*(Tcl_Obj **) fieldPtr != NULL) {
		    Tcl_IncrRefCount(*(Tcl_Obj **) fieldPtr);
		}
	    } else {
		CourierOptStoreObj(fieldPtr, NULL);
	    }
	} else if (specPtr->type == COURIER_OPT_ENCODING) {
	    Tcl_Encoding *encodingPtr = fieldPtr;

	    if (*encodingPtr == NULL) {
		continue;
	    }
	    if (what == HOLD_RETAIN) {
		*encodingPtr = Tcl_GetEncoding(NULL,
			Tcl_GetEncodingName(*encodingPtr));
	    } else {
		Tcl_FreeEncoding(*encodingPtr);
		*encodingPtr = NULL;
	    }
	} else if (specPtr->type == COURIER_OPT_CUSTOM) {
	    if (what == HOLD_RETAIN && specPtr->retainProc != NULL) {
		specPtr->retainProc(fieldPtr);
	    } else if (what == HOLD_RELEASE && specPtr->freeProc != NULL) {
		specPtr->freeProc(fieldPtr);
	    }
	}
    }
}

void
CourierOptRetain(
    const CourierOptSpec *specs,
    void *record)
{
    HoldValues(specs, record, HOLD_RETAIN);
}

void
CourierOptRelease(
    const CourierOptSpec *specs,
    void *record)
{
    HoldValues(specs, record, HOLD_RELEASE);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierOptStoreObj, CourierOptFreeObj --
 *
 *	For Tcl_Obj fields (and custom options that keep one): store a
 *	value (or NULL) with a reference, dropping the one held before;
 *	CourierOptFreeObj is the same with NULL, as a CourierOptFreeProc.
 *
 *----------------------------------------------------------------------
 */

void
CourierOptStoreObj(
    void *fieldPtr,
    Tcl_Obj *valueObj)
{
    Tcl_Obj **slotPtr = fieldPtr;

    if (valueObj != NULL) {
	Tcl_IncrRefCount(valueObj);
    }
    if (*slotPtr != NULL) {
	Tcl_DecrRefCount(*slotPtr);
    }
    *slotPtr = valueObj;
}

void
CourierOptFreeObj(
    void *fieldPtr)
{
    CourierOptStoreObj(fieldPtr, NULL);
}
