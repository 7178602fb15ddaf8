/*
 * process.c --
 *
 *	A child process as a connection whose byte stream (stream.c) is the
 *	child's stdin and stdout; courier::spawn (spawn.c) builds the spec.
 *	In the owner interpreter's thread: creating the connection and
 *	waiting for the spawn (CourierConnSpawn), kill, the exit status as
 *	-onexit and $p info see it, and a child killed with its handle. In
 *	the connection's I/O thread: spawning, signalling, reaping, and the
 *	process handle's close. CourierProcessFree runs in any thread.
 */

#include "connInt.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <assert.h>

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
 *----------------------------------------------------------------------
 *
 * Child processes (spawn.h): the stream is a socket pair joined to the
 * child's stdin and stdout.
 *
 *----------------------------------------------------------------------
 */

/*
 * CourierConnIoSpawn --
 *	Starts the child, then answers the Tcl thread waiting in
 *	CourierConnSpawn (pid or error) through the semaphore.
 */

void
CourierConnIoSpawn(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    CourierProcess *procPtr = connPtr->procPtr;
    uv_loop_t *loop = CourierIoLoop(connPtr->ioPtr);
    int rc;

    assert(procPtr != NULL && connPtr->ioState == IO_NEW);
    CourierStreamIoConfig(connPtr, &ccPtr->config);
    connPtr->ioPort = ccPtr->portPtr;
    ccPtr->portPtr = NULL;
    uv_pipe_init(loop, &connPtr->stream.pipe, 0);
    connPtr->stream.pipe.data = connPtr;
    connPtr->streamInit = 1;
    connPtr->handlesOpen++;
    rc = CourierProcessSpawnIo(procPtr, loop, &connPtr->stream.pipe,
	    connPtr, CourierStreamOnHandleClosed, &connPtr->handlesOpen);
    connPtr->ioState = IO_OPEN;
    if (rc == 0) {
	CourierStreamStartReading(connPtr);
    } else {
	connPtr->failed = 1;		/* The error is the command's. */
	CourierStreamCloseHandles(connPtr, 0);
    }
    procPtr->spawnError = rc;
    uv_sem_post(&procPtr->answered);	/* The Tcl thread goes on. */
}

/* The I/O thread has stopped: the spawn fails. */
void
CourierConnIoSpawnDiscard(
    CourierIoCmd *cmdPtr)
{
    CourierProcess *procPtr = ((ConnCmd *) cmdPtr)->connPtr->procPtr;

    procPtr->spawnError = UV_ECANCELED;
    uv_sem_post(&procPtr->answered);
    CourierConnCmdDiscard(cmdPtr);
}

/*
 * $p kill (flag: the signal), and a child whose handle goes (flag 0:
 * SIGTERM, then SIGKILL after the grace period).
 */
void
CourierConnIoKill(
    Conn *connPtr,
    ConnCmd *ccPtr)
{
    if (ccPtr->flag == 0) {
	CourierProcessAbortIo(connPtr->procPtr);
    } else {
	CourierProcessKillIo(connPtr->procPtr, ccPtr->flag);
    }
}

/*
 *======================================================================
 * The Tcl half of a process: runs in the owner interpreter's thread.
 *======================================================================
 */

/*
 * CourierProcessSubmitKill --
 *	Asks the I/O thread to signal a child process.
 */

void
CourierProcessSubmitKill(
    Conn *connPtr,
    int signum)
{
    ConnCmd *ccPtr = CourierConnCmdNew(connPtr, CourierConnIoKill);

    ccPtr->flag = signum;
    CourierIoSubmit(connPtr->ioPtr, &ccPtr->header);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnSpawn --
 *
 *	The connection of courier::spawn (spawn.c has checked the arguments
 *	and built the spec): the I/O thread starts the child while this
 *	thread waits for the answer, a fork and exec's time.
 *
 * Results:
 *	The handle, or NULL with an error {COURIER SPAWN errno-name} in
 *	interp. Takes the options and the process either way.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
CourierConnSpawn(
    Tcl_Interp *interp,
    CourierInterp *cinterpPtr,
    ConnOptions *optsPtr,
    CourierProcess *procPtr)
{
    CourierIoThread *ioPtr = CourierIoPick(interp);
    Conn *connPtr;
    ConnCmd *ccPtr;
    Tcl_Obj *nameObj;

    if (ioPtr == NULL) {
	CourierConnOptionsFree(optsPtr);
	CourierObjClear(&procPtr->onexit);
	CourierProcessFree(procPtr);
	return NULL;
    }
    connPtr = CourierConnAlloc(ioPtr);
    connPtr->procPtr = procPtr;
    nameObj = CourierConnTclHalfCreate(cinterpPtr, connPtr, optsPtr, TCL_OPEN);
    ccPtr = CourierConnCmdNew(connPtr, CourierConnIoSpawn);
    ccPtr->header.discardProc = CourierConnIoSpawnDiscard;
    CourierConnOptionsToIo(&connPtr->opts, &ccPtr->config);
    ccPtr->portPtr = connPtr->tclPort;
    connPtr->portGiven = 1;
    CourierIoSubmit(ioPtr, &ccPtr->header);
    uv_sem_wait(&procPtr->answered);
    if (procPtr->spawnError != 0) {
	int err = procPtr->spawnError;

	CourierError(interp, "SPAWN", uv_err_name(err),
		"cannot run \"%.200s\": %s", procPtr->argv[0],
		uv_strerror(err));
	procPtr->exitSeen = 1;		/* Nothing to kill. */
	CourierConnTclHalfClose(connPtr, 1);
	return NULL;
    }
    return nameObj;
}

/*
 * CourierProcessExited --
 *      The EXIT message (deliver.c): the child has exited and its output
 *      is all delivered. Keeps the status for $p info, calls -onexit, then
 *      the handle goes.
 */

void
CourierProcessExited(
    Conn *connPtr,
    CourierMsg *msgPtr)
{
    CourierProcess *procPtr = connPtr->procPtr;
    char buf[64];
    long long status = 0;
    int signum = 0;
    Tcl_Obj *exitArgs[3];

    assert(procPtr != NULL);
    memcpy(buf, msgPtr->data, msgPtr->size < sizeof(buf) - 1
	? msgPtr->size : sizeof(buf) - 1);
    buf[msgPtr->size < sizeof(buf) - 1 ? msgPtr->size
	: sizeof(buf) - 1] = '\0';
    sscanf(buf, "%lld %d", &status, &signum);
    procPtr->exitSeen = 1;
    procPtr->tclSignal = signum;
    procPtr->tclExitCode = signum ? -1 : (Tcl_WideInt) status;
    connPtr->tclState = TCL_CLOSED;
    exitArgs[0] = CourierConnHandleName(connPtr);
    exitArgs[1] = Tcl_NewWideIntObj(procPtr->tclExitCode);
    exitArgs[2] = Tcl_NewStringObj(signum ? Tcl_SignalId(signum) : "",
	-1);
    CourierConnCallBack(connPtr, "-onexit", procPtr->onexit, 3, exitArgs);
    if (!connPtr->handle.closed) {
	CourierConnTclHalfClose(connPtr, 0);
    }
}

/*
 * CourierProcessHandleClosed --
 *      The handle goes (CourierConnTclHalfClose): a child does not outlive
 *      it (SIGTERM, then SIGKILL), and -onexit is dropped.
 */

void
CourierProcessHandleClosed(
    Conn *connPtr)
{
    if (!connPtr->procPtr->exitSeen) {
	/* SIGTERM, then SIGKILL after COURIER_KILL_GRACE_MS. */
	CourierProcessSubmitKill(connPtr, 0);
    }
    CourierObjClear(&connPtr->procPtr->onexit);
}

/*
 * CourierProcessInfo --
 *      Adds what $p info tells of the process to the dictionary d.
 */

void
CourierProcessInfo(
    Conn *connPtr,
    Tcl_Obj *d)
{
    CourierProcess *procPtr = connPtr->procPtr;

#define PUT(k, v) Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(k, -1), (v))
    PUT("pid", Tcl_NewIntObj(procPtr->pid));
    PUT("stdinClosed", Tcl_NewBooleanObj(procPtr->stdinClosed));
    PUT("exited", Tcl_NewBooleanObj(procPtr->exitSeen));
    PUT("exitCode", procPtr->exitSeen
	? Tcl_NewWideIntObj(procPtr->tclExitCode) : Tcl_NewObj());
    PUT("signal", Tcl_NewStringObj(procPtr->tclSignal
	? Tcl_SignalId(procPtr->tclSignal) : "", -1));
#undef PUT
}

/*
 * CourierProcessKill --
 *      $p kill ?signal?: SIGTERM by default.
 *
 * Results:
 *      TCL_OK, or TCL_ERROR for a bad signal, bad arguments or a child that
 *      has exited already.
 */

int
CourierProcessKill(
    Conn *connPtr,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    int signum = SIGTERM;

    if (objc > 3) {
	return CourierUsage(interp, 2, objv, "?signal?");
    }
    if (objc == 3 && CourierGetSignalFromObj(interp, objv[2],
	&signum) != TCL_OK) {
	return TCL_ERROR;
    }
    if (connPtr->procPtr->exitSeen) {
	return CourierError(interp, "CLOSED", NULL,
	    "cannot kill \"%s\": the process has exited",
	    Tcl_GetString(objv[0]));
    }
    CourierProcessSubmitKill(connPtr, signum);
    return TCL_OK;
}
