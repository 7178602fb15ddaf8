/*
 * option.h --
 *
 *	The option engine: one table-driven parser for every "-option value"
 *	list Courier takes (courier::connect, courier::listen, courier::spawn,
 *	courier::udp, courier::resolve, courier::actor create,
 *	courier::configure, courier::test::flood, and configure/cget of every
 *	handle; the flags of tell, ask and call, which end at the first word
 *	of the command they send, are read by ParseSendOptions in
 *	actorsend.c). A command describes its options once, as an array of
 *	CourierOptSpec ending with a spec whose name is NULL; the engine
 *	parses values into a C struct (the "record") at the offsets the specs
 *	give, reads them back for cget, lists them all for configure with no
 *	argument, and writes every error message, so that messages and error
 *	codes are the same everywhere:
 *
 *	  bad option "-x": must be -a, -b, or -c          {COURIER OPTION -x}
 *	  value for "-a" missing                          {COURIER USAGE}
 *	  bad value "v" for -a: expected <what the spec says>
 *	                                                  {COURIER VALUE -a}
 *
 *	A command that takes options of two kinds (a connection's and its
 *	own) passes two tables: the engine treats them as one list.
 *
 *	Runs in the calling interpreter's thread only; keeps no state.
 */

#ifndef COURIER_OPTION_H
#define COURIER_OPTION_H

#include <stddef.h>
#include <tcl.h>

#ifndef MODULE_SCOPE
#define MODULE_SCOPE extern __attribute__((__visibility__("hidden")))
#endif

typedef enum {
    COURIER_OPT_BOOLEAN,	/* int: 0 or 1. */
    COURIER_OPT_INT,		/* int in [min, max]. */
    COURIER_OPT_WIDE,		/* Tcl_WideInt in [min, max]. */
    COURIER_OPT_CHOICE,		/* int: an index into choices. */
    COURIER_OPT_PREFIX,		/* Tcl_Obj *: a command prefix; NULL for
				 * none (an empty list). Held with a
				 * reference, as a private copy. */
    COURIER_OPT_COMMAND,	/* Tcl_Obj *: a command prefix that must
				 * not be empty (the command something
				 * delivers to). Held with a reference, as
				 * a private copy; NULL until set. */
    COURIER_OPT_STRING,		/* Tcl_Obj *: any value, held with a
				 * reference; NULL until set. */
    COURIER_OPT_ENCODING,	/* Tcl_Encoding, held; NULL for binary. */
    COURIER_OPT_CUSTOM		/* Parsed and read by the spec's procs. */
} CourierOptType;

typedef struct CourierOptSpec CourierOptSpec;

/*
 * Custom options. parseProc checks valueObj and stores it at fieldPtr (it
 * frees what was there), or leaves an error in interp; getProc returns
 * the value as cget shows it; freeProc (optional) releases the field and
 * retainProc (optional) takes a reference of its own to what a copied
 * field points to.
 */
typedef int	(CourierOptParseProc)(Tcl_Interp *interp,
		    const CourierOptSpec *specPtr, Tcl_Obj *valueObj,
		    void *fieldPtr);
typedef Tcl_Obj *(CourierOptGetProc)(const CourierOptSpec *specPtr,
		    const void *fieldPtr);
typedef void	(CourierOptFreeProc)(void *fieldPtr);
typedef void	(CourierOptRetainProc)(void *fieldPtr);

/*
 * Flags of a spec. A call names the flags whose options it does not take
 * (its "hide" mask): configure and cget of a live object hide
 * COURIER_OPT_CREATE_ONLY; a module may define more bits from 2 up.
 */
enum {
    COURIER_OPT_CREATE_ONLY = 1,	/* Given when the object is made; not
				 * changeable, not read by configure/cget. */
    COURIER_OPT_FIXED = 1 << 8	/* Given when the object is made; read by
				 * configure/cget, but a call that hides
				 * COURIER_OPT_CREATE_ONLY (configure of a
				 * live object) refuses to change it:
				 * "cannot change -x after ..." with
				 * {COURIER OPTION -x FIXED}. */
};

struct CourierOptSpec {
    const char *name;		/* "-maxmessage"; NULL ends the table. */
    CourierOptType type;
    size_t offset;		/* Where the value lives in the record. */
    int flags;			/* COURIER_OPT_* flags. */
    Tcl_WideInt min, max;	/* INT and WIDE: the range allowed. */
    const char *const *choices;	/* CHOICE: the names, NULL-terminated. */
    const char *noun;		/* CHOICE: with a noun, the error reads as
				 * Tcl's: bad <noun> "v": must be a, b, or
				 * c; without, bad value "v" for -opt:
				 * expected a, b or c. */
    const char *expected;	/* PREFIX, CUSTOM: what the error says was
				 * expected; NULL for the default. */
    CourierOptParseProc *parseProc;	/* CUSTOM only. */
    CourierOptGetProc *getProc;		/* CUSTOM only. */
    CourierOptFreeProc *freeProc;	/* CUSTOM, optional. */
    CourierOptRetainProc *retainProc;	/* CUSTOM, optional. */
};

/* One table of specs and the record its values go into. */
typedef struct CourierOptTable {
    const CourierOptSpec *specs;
    void *record;
} CourierOptTable;

MODULE_SCOPE int	CourierOptParse(Tcl_Interp *interp,
			    const CourierOptTable *tables, int ntables,
			    int objc, Tcl_Obj *const objv[], int hide,
			    const char *usage);
MODULE_SCOPE int	CourierOptFind(Tcl_Interp *interp,
			    const CourierOptTable *tables, int ntables,
			    Tcl_Obj *nameObj, int hide,
			    const CourierOptSpec **specPtrPtr,
			    void **recordPtr);
MODULE_SCOPE Tcl_Obj *	CourierOptGetAll(const CourierOptTable *tables,
			    int ntables, int hide);
MODULE_SCOPE Tcl_Obj *	CourierOptGetValue(const CourierOptSpec *specPtr,
			    const void *record);
MODULE_SCOPE void	CourierOptRetain(const CourierOptSpec *specs,
			    void *record);
MODULE_SCOPE void	CourierOptRelease(const CourierOptSpec *specs,
			    void *record);
MODULE_SCOPE void	CourierOptStoreObj(void *fieldPtr, Tcl_Obj *valueObj);
MODULE_SCOPE CourierOptFreeProc CourierOptFreeObj;
MODULE_SCOPE int	CourierOptRead(Tcl_Interp *interp,
			    const CourierOptTable *tables, int ntables,
			    int objc, Tcl_Obj *const objv[], int hide);

#endif /* COURIER_OPTION_H */
