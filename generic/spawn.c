/*
 * spawn.c --
 *
 *	courier::spawn: child processes as workers. The command checks its
 *	arguments and builds the spec (argv, environment, directory) in the
 *	Tcl thread; conn.c creates the connection whose stream is the child's
 *	stdin and stdout, and the I/O thread spawns the child (this file's
 *	I/O functions), reaps it and reports its exit. See spawn.h.
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
 *======================================================================
 * The I/O half: runs in the connection's I/O thread.
 *======================================================================
 */

#define HANDLE_TO_PROCESS(h) \
    ((CourierProcess *) ((char *) (h) - offsetof(CourierProcess, handle)))

#define TIMER_TO_PROCESS(h) \
    ((CourierProcess *) ((char *) (h) - offsetof(CourierProcess, killTimer)))

/*
 * CloseKillTimer --
 *	Closes the escalation timer, if any (its close callback counts it
 *	out of the connection's handles).
 */

static void
CloseKillTimer(
    CourierProcess *procPtr)
{
    if (procPtr->killTimerOpen) {
	procPtr->killTimerOpen = 0;
	uv_timer_stop(&procPtr->killTimer);
	uv_close((uv_handle_t *) &procPtr->killTimer, procPtr->closeProc);
    }
}

/*
 * SpawnOnExit --
 *	libuv reaped the child: keep the status for the EXIT message and
 *	close the handle (its close callback may finish the connection).
 */

static void
SpawnOnExit(
    uv_process_t *handle,
    int64_t exitStatus,
    int termSignal)
{
    CourierProcess *procPtr = HANDLE_TO_PROCESS(handle);

    assert(procPtr->handleOpen);
    procPtr->exited = 1;
    procPtr->exitStatus = exitStatus;
    procPtr->termSignal = termSignal;
    procPtr->handleOpen = 0;
    uv_close((uv_handle_t *) handle, procPtr->closeProc);
    CloseKillTimer(procPtr);
}

/*
 * KillTimerFired --
 *	The grace period after SIGTERM is over and the child still runs:
 *	SIGKILL. After as long again it still has not been reaped (stuck in
 *	the kernel): stop watching it, so that the I/O thread can stop.
 */

static void
KillTimerFired(
    uv_timer_t *timer)
{
    CourierProcess *procPtr = TIMER_TO_PROCESS(timer);

    assert(procPtr->handleOpen);
    if (!procPtr->killed) {
	procPtr->killed = 1;
	uv_process_kill(&procPtr->handle, SIGKILL);
	uv_timer_start(timer, KillTimerFired, COURIER_KILL_GRACE_MS, 0);
	return;
    }
    procPtr->handleOpen = 0;
    uv_close((uv_handle_t *) &procPtr->handle, procPtr->closeProc);
    CloseKillTimer(procPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierProcessSpawnIo --
 *
 *	Starts the child with a socket pair for its stdin and stdout (and
 *	stderr with -stderr merge). Our end is opened on *pipePtr, which the
 *	caller has initialised on loop.
 *
 * Results:
 *	0, or a libuv error code.
 *
 * Side effects:
 *	On success the process handle is open (procPtr->handleOpen), with
 *	data as its data; it is closed with closeProc when the child exits.
 *	On failure after uv_spawn was called, the handle is closing with
 *	closeProc all the same (libuv initialises it either way). Either
 *	way *handlesPtr counts the handle. procPtr->pid is set.
 *
 *----------------------------------------------------------------------
 */

int
CourierProcessSpawnIo(
    CourierProcess *procPtr,
    uv_loop_t *loop,
    uv_pipe_t *pipePtr,
    void *data,
    uv_close_cb closeProc,
    int *handlesPtr)
{
    uv_process_options_t options;
    uv_stdio_container_t stdio[3];
    uv_os_sock_t fds[2];
    int rc;

    assert(!procPtr->handleOpen && !procPtr->exited);
    procPtr->closeProc = closeProc;	/* For SpawnOnExit. */
    procPtr->handlesPtr = handlesPtr;	/* For AbortIo's timer. */

    /* Ours non-blocking for libuv; the child's blocking, as programs
     * expect of their standard streams. Both close on exec. */
    rc = uv_socketpair(SOCK_STREAM, 0, fds, UV_NONBLOCK_PIPE, 0);
    if (rc < 0) {
	return rc;
    }
    rc = uv_pipe_open(pipePtr, fds[0]);
    if (rc < 0) {
	close(fds[0]);
	close(fds[1]);
	return rc;
    }

    memset(&options, 0, sizeof(options));
    options.file = procPtr->argv[0];
    options.args = procPtr->argv;
    options.env = procPtr->envp;
    options.cwd = procPtr->cwd;
    options.exit_cb = SpawnOnExit;
    options.stdio_count = 3;
    options.stdio = stdio;
    stdio[0].flags = UV_INHERIT_FD;
    stdio[0].data.fd = fds[1];
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fds[1];
    switch (procPtr->stderrMode) {
    case COURIER_STDERR_MERGE:
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[1];
	break;
    case COURIER_STDERR_DISCARD:
	stdio[2].flags = UV_IGNORE;
	break;
    default:
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	break;
    }
    procPtr->handle.data = data;
    rc = uv_spawn(loop, &procPtr->handle, &options);
    close(fds[1]);			/* The child has its copies. */
    (*handlesPtr)++;
    if (rc < 0) {
	uv_close((uv_handle_t *) &procPtr->handle, closeProc);
	return rc;
    }
    procPtr->handleOpen = 1;
    procPtr->pid = procPtr->handle.pid;
    return 0;
}

/*
 * CourierProcessKillIo --
 *	Sends a signal to the child if it has not been reaped yet (after
 *	that its pid may belong to another process).
 */

void
CourierProcessKillIo(
    CourierProcess *procPtr,
    int signum)
{
    if (procPtr->handleOpen) {
	uv_process_kill(&procPtr->handle, signum);
    }
}

/*
 * CourierProcessAbortIo --
 *	The handle is gone, or the I/O thread stops: a child still running
 *	gets SIGTERM, and SIGKILL COURIER_KILL_GRACE_MS later if it still
 *	runs. The process handle stays open until libuv has reaped the
 *	child (so that no zombie is left behind), which keeps a stopping
 *	I/O thread's loop running until then. Once per process.
 */

void
CourierProcessAbortIo(
    CourierProcess *procPtr)
{
    if (!procPtr->handleOpen || procPtr->aborting) {
	return;
    }
    procPtr->aborting = 1;
    uv_process_kill(&procPtr->handle, SIGTERM);
    uv_timer_init(procPtr->handle.loop, &procPtr->killTimer);
    procPtr->killTimer.data = procPtr->handle.data;
    procPtr->killTimerOpen = 1;
    (*procPtr->handlesPtr)++;
    uv_timer_start(&procPtr->killTimer, KillTimerFired,
	    COURIER_KILL_GRACE_MS, 0);
}

/*
 * CourierProcessFree --
 *	Frees the spec and the struct (the last reference of the connection
 *	is gone, so neither half uses it).
 */

void
CourierProcessFree(
    CourierProcess *procPtr)
{
    assert(!procPtr->handleOpen && !procPtr->killTimerOpen);
    assert(procPtr->onexit == NULL);
    uv_sem_destroy(&procPtr->answered);
    free(procPtr->argv);
    free(procPtr->envp);
    free(procPtr->cwd);
    free(procPtr);
}

/*
 *======================================================================
 * The Tcl half: courier::spawn.
 *======================================================================
 */

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
    array = malloc(size);
    if (array == NULL) {
	CourierPanicOutOfMemory(size);
    }
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

int
CourierSpawnObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const spawnOnly[] = {
	"-cwd", "-env", "-onexit", "-stderr", NULL
    };
    enum { SP_CWD, SP_ENV, SP_ONEXIT, SP_STDERR };
    static const char *const socketOnly[] = {
	"-keepalive", "-nodelay", "-onconnect", NULL
    };
    static const char *const stderrModes[] = {
	"inherit", "merge", "discard", NULL
    };
    CourierInterp *cinterpPtr;
    CourierProcess *procPtr;
    ConnOptions opts;
    Tcl_Obj **words, *envDict = NULL, *onexit = NULL, *cwdObj = NULL;
    Tcl_DString *strings;
    int nwords, i, index, mode = COURIER_STDERR_INHERIT;
    Tcl_Obj *nameObj;

    (void) clientData;
    if (objc < 2 || objc % 2 != 0) {
	Tcl_WrongNumArgs(interp, 1, objv, "cmdlist ?-option value ...?");
	Tcl_SetErrorCode(interp, "COURIER", "USAGE", NULL);
	return TCL_ERROR;
    }
    if (Tcl_ListObjGetElements(NULL, objv[1], &nwords, &words) != TCL_OK
	    || nwords == 0 || Tcl_GetCharLength(words[0]) == 0) {
	return CourierError(interp, "VALUE", "cmdlist",
		"bad cmdlist \"%.100s\": expected a list of a program and "
		"its arguments", Tcl_GetString(objv[1]));
    }
    for (i = 0; i < nwords; i++) {
	if (HasNul(words[i])) {
	    return CourierError(interp, "VALUE", "cmdlist",
		    "bad cmdlist: word %d (\"%.100s\") holds a NUL character, "
		    "which a program's name or arguments cannot hold", i,
		    Tcl_GetString(words[i]));
	}
    }
    for (i = 2; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(NULL, objv[i], socketOnly, "option", 0,
		&index) == TCL_OK) {
	    return CourierError(interp, "OPTION", Tcl_GetString(objv[i]),
		    "option \"%s\" applies to sockets, not to processes",
		    Tcl_GetString(objv[i]));
	}
    }
    cinterpPtr = CourierGetInterp(interp);
    if (cinterpPtr == NULL) {
	return TCL_ERROR;
    }

    CourierConnOptionsInit(&opts);
    opts.framing = COURIER_FRAMING_LINE;
    i = 2;
    while ((index = CourierConnOptionsNext(interp, &opts, objc, objv, &i,
	    spawnOnly, "-cwd, -env, -onexit, -stderr")) != -1) {
	int len;

	if (index == -2) {
	    goto error;
	}
	switch (index) {
	case SP_CWD: {
	    Tcl_StatBuf *statPtr;
	    int isDir;

	    if (HasNul(objv[i + 1])) {
		CourierError(interp, "VALUE", "-cwd",
			"bad -cwd \"%.200s\": it holds a NUL character, "
			"which a path cannot hold", Tcl_GetString(objv[i + 1]));
		goto error;
	    }
	    statPtr = Tcl_AllocStatBuf();
	    isDir = Tcl_FSStat(objv[i + 1], statPtr) == 0
		    && S_ISDIR(Tcl_GetModeFromStat(statPtr));

	    ckfree(statPtr);
	    if (!isDir) {
		CourierError(interp, "VALUE", "-cwd",
			"bad -cwd \"%.200s\": expected an existing directory",
			Tcl_GetString(objv[i + 1]));
		goto error;
	    }
	    cwdObj = objv[i + 1];
	    break;
	}
	case SP_ENV:
	    if (Tcl_DictObjSize(NULL, objv[i + 1], &len) != TCL_OK) {
		CourierError(interp, "VALUE", "-env",
			"bad value for -env: expected a dict of variable "
			"names and values");
		goto error;
	    }
	    envDict = objv[i + 1];
	    break;
	case SP_ONEXIT:
	    if (Tcl_ListObjLength(NULL, objv[i + 1], &len) != TCL_OK) {
		CourierError(interp, "VALUE", "-onexit",
			"bad value for -onexit: expected a command prefix (a "
			"list), or {} for none");
		goto error;
	    }
	    onexit = len > 0 ? objv[i + 1] : NULL;
	    break;
	case SP_STDERR:
	    if (Tcl_GetIndexFromObj(interp, objv[i + 1], stderrModes,
		    "-stderr value", 0, &mode) != TCL_OK) {
		Tcl_SetErrorCode(interp, "COURIER", "VALUE", "-stderr", NULL);
		goto error;
	    }
	    break;
	}
	i += 2;
    }

    procPtr = calloc(1, sizeof(CourierProcess));
    if (procPtr == NULL) {
	CourierPanicOutOfMemory(sizeof(CourierProcess));
    }
    uv_sem_init(&procPtr->answered, 0);
    procPtr->stderrMode = (CourierStderrMode) mode;
    if (BuildEnvironment(interp, envDict, &procPtr->envp) != TCL_OK) {
	CourierProcessFree(procPtr);
	goto error;
    }
    if (cwdObj != NULL) {
	Tcl_DString ds;

	Tcl_UtfToExternalDString(NULL, Tcl_GetString(Tcl_FSGetNormalizedPath(
		NULL, cwdObj)), -1, &ds);
	procPtr->cwd = strdup(Tcl_DStringValue(&ds));
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
    if (onexit != NULL) {
	procPtr->onexit = Tcl_DuplicateObj(onexit);
	Tcl_IncrRefCount(procPtr->onexit);
    }
    nameObj = CourierConnSpawn(interp, cinterpPtr, &opts, procPtr);
    if (nameObj == NULL) {
	return TCL_ERROR;		/* The options are freed. */
    }
    Tcl_SetObjResult(interp, nameObj);
    return TCL_OK;

  error:
    CourierConnOptionsFree(&opts);
    return TCL_ERROR;
}
