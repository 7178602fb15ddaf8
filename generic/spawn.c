/*
 * spawn.c --
 *
 *	courier::spawn: child processes as workers. Everything here runs in
 *	the interpreter's thread: the command checks its arguments and
 *	builds the spec (argv, environment, directory, a program found on
 *	PATH), and signal names for $p kill. process.c creates the
 *	connection whose stream is the child's stdin and stdout, and its I/O
 *	thread spawns the child, reaps it and reports its exit. See spawn.h.
 */

#include "spawn.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <assert.h>

extern char **environ;

/* Signals `$p kill` knows by name (any number is accepted too). */
static const struct {
    const char *name;
    int signum;
} signalNames[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {NULL, 0}
};

/*
 * CourierGetSignalFromObj --
 *	Reads a signal: a name (TERM or SIGTERM, any case) or a number from
 *	1 to 64. Error code {COURIER VALUE signal}.
 */

int
CourierGetSignalFromObj(
    Tcl_Interp *interp,
    Tcl_Obj *objPtr,
    int *signumPtr)
{
    const char *name = Tcl_GetString(objPtr);
    int i, n;

    if (Tcl_GetIntFromObj(NULL, objPtr, &n) == TCL_OK) {
	if (n >= 1 && n <= 64) {
	    *signumPtr = n;
	    return TCL_OK;
	}
    } else {
	if (strncasecmp(name, "SIG", 3) == 0) {
	    name += 3;
	}
	for (i = 0; signalNames[i].name != NULL; i++) {
	    if (strcasecmp(name, signalNames[i].name) == 0) {
		*signumPtr = signalNames[i].signum;
		return TCL_OK;
	    }
	}
    }
    return CourierError(interp, "VALUE", "signal",
	    "bad signal \"%.50s\": expected a number from 1 to 64 or one of "
	    "HUP, INT, QUIT, KILL, USR1, USR2, PIPE, ALRM, TERM, CONT, STOP, "
	    "TSTP", Tcl_GetString(objPtr));
}

/*
 * PackStrings --
 *	One malloc'ed block: a NULL-terminated array of n pointers followed
 *	by the n strings (each from a Tcl_DString) they point to.
 */

static char **
PackStrings(
    Tcl_DString *strings,
    int n)
{
    size_t size = sizeof(char *) * (size_t) (n + 1);
    char **array, *p;
    int i;

    for (i = 0; i < n; i++) {
	size += (size_t) Tcl_DStringLength(&strings[i]) + 1;
    }
    array = CourierAlloc(size);
    p = (char *) (array + n + 1);
    for (i = 0; i < n; i++) {
	size_t len = (size_t) Tcl_DStringLength(&strings[i]);

	memcpy(p, Tcl_DStringValue(&strings[i]), len + 1);
	array[i] = p;
	p += len + 1;
    }
    array[n] = NULL;
    return array;
}

/*
 * HasNul --
 *	Does a string hold a NUL character? The system calls take C strings,
 *	which would silently end at it. Tcl keeps U+0000 as the bytes C0 80
 *	in its string form.
 */

static int
HasNul(
    Tcl_Obj *objPtr)
{
    int len;
    const char *s = Tcl_GetStringFromObj(objPtr, &len);
    const char *p = s, *end = s + len;

    if (memchr(s, '\0', (size_t) len) != NULL) {
	return 1;
    }
    while ((p = memchr(p, '\xC0', (size_t) (end - p))) != NULL) {
	if (p + 1 < end && (unsigned char) p[1] == 0x80) {
	    return 1;
	}
	p++;
    }
    return 0;
}

/*
 * BuildEnvironment --
 *	The child's environment: ours, with the -env dict's variables added
 *	or replaced. Error code {COURIER VALUE -env}.
 */

static int
BuildEnvironment(
    Tcl_Interp *interp,
    Tcl_Obj *envDict,
    char ***envpPtr)
{
    Tcl_DString *strings;
    Tcl_DictSearch search;
    Tcl_Obj *key, *value;
    int n = 0, extra = 0, i, done;
    char **ep;

    if (envDict != NULL && Tcl_DictObjSize(NULL, envDict, &extra) != TCL_OK) {
	return CourierError(interp, "VALUE", "-env",
		"bad value for -env: expected a dict of variable names and "
		"values");
    }
    for (ep = environ; *ep != NULL; ep++) {
	n++;
    }
    strings = (Tcl_DString *) ckalloc(sizeof(Tcl_DString) * (size_t)
	    (n + extra + 1));
    n = 0;
    if (envDict != NULL) {
	Tcl_DictObjFirst(NULL, envDict, &search, &key, &value, &done);
	for (; !done; Tcl_DictObjNext(&search, &key, &value, &done)) {
	    const char *name = Tcl_GetString(key);

	    if (name[0] == '\0' || strchr(name, '=') != NULL || HasNul(key)
		    || HasNul(value)) {
		Tcl_DictObjDone(&search);
		for (i = 0; i < n; i++) {
		    Tcl_DStringFree(&strings[i]);
		}
		ckfree(strings);
		if (name[0] != '\0' && strchr(name, '=') == NULL
			&& !HasNul(key)) {
		    return CourierError(interp, "VALUE", "-env",
			    "bad value for variable \"%.100s\" in -env: it "
			    "holds a NUL character, which an environment "
			    "variable cannot hold", name);
		}
		return CourierError(interp, "VALUE", "-env",
			"bad variable name \"%.100s\" in -env: expected a "
			"non-empty name without \"=\" or NUL", name);
	    }
	    Tcl_UtfToExternalDString(NULL, name, -1, &strings[n]);
	    Tcl_DStringAppend(&strings[n], "=", 1);
	    {
		Tcl_DString v;

		Tcl_UtfToExternalDString(NULL, Tcl_GetString(value), -1, &v);
		Tcl_DStringAppend(&strings[n], Tcl_DStringValue(&v),
			Tcl_DStringLength(&v));
		Tcl_DStringFree(&v);
	    }
	    n++;
	}
    }
    for (ep = environ; *ep != NULL; ep++) {
	const char *eq = strchr(*ep, '=');
	size_t nameLen = eq ? (size_t) (eq - *ep) : strlen(*ep);

	/* Skip the ones -env replaces. */
	for (i = 0; i < extra; i++) {
	    if ((size_t) Tcl_DStringLength(&strings[i]) > nameLen
		    && strncmp(Tcl_DStringValue(&strings[i]), *ep,
			    nameLen + 1) == 0) {
		break;
	    }
	}
	if (i == extra) {
	    Tcl_DStringInit(&strings[n]);
	    Tcl_DStringAppend(&strings[n], *ep, -1);
	    n++;
	}
    }
    *envpPtr = PackStrings(strings, n);
    for (i = 0; i < n; i++) {
	Tcl_DStringFree(&strings[i]);
    }
    ckfree(strings);
    return TCL_OK;
}

/*
 * IsExecutable --
 *	A regular file we may execute?
 */

static int
IsExecutable(
    const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode)
	    && access(path, X_OK) == 0;
}

/*
 * FindProgram --
 *	Is there a program by that name, as execvp would look for it (a
 *	name with a slash is a path; others are searched on the child's
 *	PATH)? Relative paths are taken from cwd when given.
 */

static int
FindProgram(
    const char *program,
    char **envp,
    const char *cwd)
{
    const char *path = NULL, *p, *end;
    char **ep;
    Tcl_DString buf;
    int found = 0;

    Tcl_DStringInit(&buf);
    if (strchr(program, '/') != NULL) {
	if (program[0] != '/' && cwd != NULL) {
	    Tcl_DStringAppend(&buf, cwd, -1);
	    Tcl_DStringAppend(&buf, "/", 1);
	}
	Tcl_DStringAppend(&buf, program, -1);
	found = IsExecutable(Tcl_DStringValue(&buf));
	Tcl_DStringFree(&buf);
	return found;
    }
    for (ep = envp; *ep != NULL; ep++) {
	if (strncmp(*ep, "PATH=", 5) == 0) {
	    path = *ep + 5;
	    break;
	}
    }
    if (path == NULL) {
	path = "/usr/local/bin:/usr/bin:/bin";	/* execvp's default. */
    }
    for (p = path; !found; p = end + 1) {
	end = strchr(p, ':');
	if (end == NULL) {
	    end = p + strlen(p);
	}
	Tcl_DStringSetLength(&buf, 0);
	if (end > p) {
	    Tcl_DStringAppend(&buf, p, (int) (end - p));
	} else {
	    Tcl_DStringAppend(&buf, ".", 1);	/* An empty entry. */
	}
	Tcl_DStringAppend(&buf, "/", 1);
	Tcl_DStringAppend(&buf, program, -1);
	found = IsExecutable(Tcl_DStringValue(&buf));
	if (*end == '\0') {
	    break;
	}
    }
    Tcl_DStringFree(&buf);
    return found;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierSpawnObjCmd --
 *
 *	courier::spawn cmdlist ?-option value ...?
 *	Runs a program (no shell) with its stdin and stdout joined to a new
 *	handle. Options: the connection options that apply to a stream
 *	(framing, encoding, limits, -ondata, -onclose, -onerror, -ondrain,
 *	-batch; -framing defaults to line) and -cwd dir, -env dict,
 *	-onexit cmd, -stderr inherit|merge|discard.
 *
 * Results:
 *	The handle, once the child has started; an error {COURIER SPAWN
 *	errno-name} when it cannot be started.
 *
 *----------------------------------------------------------------------
 */

/* courier::spawn's options of its own. */
typedef struct SpawnOptions {
    Tcl_Obj *cwd;		/* NULL: ours. */
    Tcl_Obj *env;		/* A dict, or NULL. */
    Tcl_Obj *onexit;
    int stderrMode;		/* A CourierStderrMode. */
} SpawnOptions;

/*
 * -cwd: an existing directory. -env: a dict.
 */

static int
ParseCwd(
    Tcl_Interp *interp,
    const CourierOptSpec *specPtr,
    Tcl_Obj *valueObj,
    void *fieldPtr)
{
    Tcl_StatBuf *statPtr;
    int isDir;

    (void) specPtr;
    if (HasNul(valueObj)) {
	return CourierError(interp, "VALUE", "-cwd",
		"bad -cwd \"%.200s\": it holds a NUL character, which a path "
		"cannot hold", Tcl_GetString(valueObj));
    }
    statPtr = Tcl_AllocStatBuf();
    isDir = Tcl_FSStat(valueObj, statPtr) == 0
	    && S_ISDIR(Tcl_GetModeFromStat(statPtr));
    ckfree(statPtr);
    if (!isDir) {
	return CourierError(interp, "VALUE", "-cwd",
		"bad -cwd \"%.200s\": expected an existing directory",
		Tcl_GetString(valueObj));
    }
    CourierOptStoreObj(fieldPtr, valueObj);
    return TCL_OK;
}

static int
ParseEnv(
    Tcl_Interp *interp,
    const CourierOptSpec *specPtr,
    Tcl_Obj *valueObj,
    void *fieldPtr)
{
    int size;

    (void) specPtr;
    if (Tcl_DictObjSize(NULL, valueObj, &size) != TCL_OK) {
	return CourierError(interp, "VALUE", "-env",
		"bad value for -env: expected a dict of variable names and "
		"values");
    }
    CourierOptStoreObj(fieldPtr, valueObj);
    return TCL_OK;
}

static const char *const stderrModes[] = {
    "inherit", "merge", "discard", NULL
};

static const CourierOptSpec spawnOptionSpecs[] = {
    {.name = "-cwd", .type = COURIER_OPT_CUSTOM,
	.offset = offsetof(SpawnOptions, cwd), .parseProc = ParseCwd,
	.freeProc = CourierOptFreeObj},
    {.name = "-env", .type = COURIER_OPT_CUSTOM,
	.offset = offsetof(SpawnOptions, env), .parseProc = ParseEnv,
	.freeProc = CourierOptFreeObj},
    {.name = "-onexit", .type = COURIER_OPT_PREFIX,
	.offset = offsetof(SpawnOptions, onexit)},
    {.name = "-stderr", .type = COURIER_OPT_CHOICE,
	.offset = offsetof(SpawnOptions, stderrMode), .choices = stderrModes,
	.noun = "-stderr value"},
    {.name = NULL}
};

int
CourierSpawnObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const socketOnly[] = {
	"-keepalive", "-nodelay", "-onconnect", NULL
    };
    CourierInterp *cinterpPtr;
    CourierProcess *procPtr;
    ConnOptions opts;
    SpawnOptions own = {NULL, NULL, NULL, COURIER_STDERR_INHERIT};
    CourierOptTable tables[2] = {
	{courierConnOptionSpecs, &opts}, {spawnOptionSpecs, &own}
    };
    Tcl_Obj **words;
    Tcl_DString *strings;
    int nwords, i, index;
    Tcl_Obj *nameObj;

    (void) clientData;
    if (objc < 2 || objc % 2 != 0) {
	return CourierUsage(interp, 1, objv, "cmdlist ?-option value ...?");
    }
    if (Tcl_ListObjGetElements(NULL, objv[1], &nwords, &words) != TCL_OK
	    || nwords == 0 || Tcl_GetCharLength(words[0]) == 0) {
	return CourierError(interp, "VALUE", "cmdlist",
		"bad cmdlist \"%.100s\": expected a list of a program and "
		"its arguments", Tcl_GetString(objv[1]));
    }
    for (i = 2; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(NULL, objv[i], socketOnly, "option", 0,
		&index) == TCL_OK) {
	    return CourierError(interp, "OPTION", Tcl_GetString(objv[i]),
		    "option \"%s\" applies to sockets, not to processes",
		    Tcl_GetString(objv[i]));
	}
    }
    for (i = 0; i < nwords; i++) {
	if (HasNul(words[i])) {
	    return CourierError(interp, "VALUE", "cmdlist",
		    "bad cmdlist: word %d (\"%.100s\") holds a NUL character, "
		    "which a program's name or arguments cannot hold", i,
		    Tcl_GetString(words[i]));
	}
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }

    CourierConnOptionsInit(&opts);
    opts.framing = COURIER_FRAMING_LINE;
    if (CourierConnOptionsParse(interp, tables, 2, objc - 2, objv + 2,
	    COURIER_OPT_SOCKET_ONLY) != TCL_OK) {
	return TCL_ERROR;
    }

    procPtr = CourierAllocZero(sizeof(CourierProcess));
    uv_sem_init(&procPtr->answered, 0);
    procPtr->stderrMode = (CourierStderrMode) own.stderrMode;
    if (BuildEnvironment(interp, own.env, &procPtr->envp) != TCL_OK) {
	CourierProcessFree(procPtr);
	goto error;
    }
    if (own.cwd != NULL) {
	Tcl_DString ds;

	Tcl_UtfToExternalDString(NULL, Tcl_GetString(Tcl_FSGetNormalizedPath(
		NULL, own.cwd)), -1, &ds);
	procPtr->cwd = CourierStrdup(Tcl_DStringValue(&ds));
	Tcl_DStringFree(&ds);
    }
    strings = (Tcl_DString *) ckalloc(sizeof(Tcl_DString) * (size_t) nwords);
    for (i = 0; i < nwords; i++) {
	Tcl_UtfToExternalDString(NULL, Tcl_GetString(words[i]), -1,
		&strings[i]);
    }
    procPtr->argv = PackStrings(strings, nwords);
    for (i = 0; i < nwords; i++) {
	Tcl_DStringFree(&strings[i]);
    }
    ckfree(strings);

    /* The common mistake gets a synchronous, precise error. */
    if (!FindProgram(procPtr->argv[0], procPtr->envp, procPtr->cwd)) {
	CourierError(interp, "SPAWN", "ENOENT",
		"cannot run \"%.200s\": no such program (or not executable)",
		Tcl_GetString(words[0]));
	CourierProcessFree(procPtr);
	goto error;
    }
    procPtr->onexit = own.onexit;		/* Takes the reference. */
    own.onexit = NULL;
    CourierOptRelease(spawnOptionSpecs, &own);
    nameObj = CourierConnSpawn(interp, cinterpPtr, &opts, procPtr);
    if (nameObj == NULL) {
	return TCL_ERROR;		/* The options are freed. */
    }
    Tcl_SetObjResult(interp, nameObj);
    return TCL_OK;

  error:
    CourierConnOptionsFree(&opts);
    CourierOptRelease(spawnOptionSpecs, &own);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * CourierSpawnInit --
 *
 *	Creates courier::spawn in an interpreter (called by Courier_Init).
 *
 *----------------------------------------------------------------------
 */

void
CourierSpawnInit(
    Tcl_Interp *interp)
{
    Tcl_CreateObjCommand(interp, "::courier::spawn", CourierSpawnObjCmd,
	    NULL, NULL);
}
