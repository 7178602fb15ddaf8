/*
 * leaky.c --
 *
 *	A Tcl extension that leaks on purpose, for a test of the suite
 *	itself (tests/valgrind.test): "leaky::leak n" allocates n bytes and
 *	drops the only pointer to them, a definite leak that valgrind must
 *	report however the command was reached (directly, or from a Tk
 *	binding under "event generate", with Tk's frames on the stack).
 *
 *	Built by "make check-valgrind" (Makefile.in) as
 *	$(BUILD)/leaky$(SHLIB_SUFFIX); loaded with "load path Leaky".
 */

#include <tcl.h>
#include <stdlib.h>
#include <string.h>

/*
 * LeakObjCmd --
 *	leaky::leak n: allocates n bytes (at least 1) with malloc, writes
 *	them and forgets them. Result: empty; error on a bad count.
 */

static int
LeakObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    int n;
    char *volatile block;

    (void) clientData;
    if (objc != 2) {
	Tcl_WrongNumArgs(interp, 1, objv, "n");
	return TCL_ERROR;
    }
    if (Tcl_GetIntFromObj(interp, objv[1], &n) != TCL_OK) {
	return TCL_ERROR;
    }
    block = malloc(n > 0 ? (size_t) n : 1);
    if (block != NULL) {
	memset(block, 'x', n > 0 ? (size_t) n : 1);
    }
    block = NULL;
    return TCL_OK;
}

/*
 * Leaky_Init --
 *	Creates leaky::leak in interp.
 */

int
Leaky_Init(
    Tcl_Interp *interp)
{
    if (Tcl_InitStubs(interp, "8.6", 0) == NULL) {
	return TCL_ERROR;
    }
    Tcl_CreateObjCommand(interp, "leaky::leak", LeakObjCmd, NULL, NULL);
    return Tcl_PkgProvide(interp, "leaky", "1.0");
}
