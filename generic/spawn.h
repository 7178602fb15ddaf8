/*
 * spawn.h --
 *
 *	Child processes (courier::spawn), shared by spawn.c (the command)
 *	and process.c (the process handle; a process is a connection whose
 *	stream is a socket pair joined to the child's stdin and stdout, so
 *	reading, framing, writing and flow control are the connection's).
 *
 *	Who owns what: the spec (argv, envp, cwd) is written by the Tcl
 *	thread before the spawn command is submitted and read by the I/O
 *	thread while it spawns; the Tcl thread waits for the answer (pid or
 *	error) on a semaphore, so the two never touch it at the same time.
 *	The uv_process_t and the exit status belong to the I/O thread; the
 *	exit status reaches the Tcl half in a CONN_MSG_EXIT message.
 */

#ifndef COURIER_SPAWN_H
#define COURIER_SPAWN_H

#include "conn.h"

/*
 * A child whose handle is gone (or whose I/O thread stops) gets SIGTERM,
 * then SIGKILL if it still runs this long after; the I/O thread waits as
 * long again for the kernel to let it be reaped, then stops waiting.
 */

#define COURIER_KILL_GRACE_MS 1000

/* Where the child's stderr goes. */
typedef enum {
    COURIER_STDERR_INHERIT,	/* Ours. */
    COURIER_STDERR_MERGE,	/* Into the stream, with stdout. */
    COURIER_STDERR_DISCARD	/* /dev/null. */
} CourierStderrMode;

typedef struct CourierProcess {
    /* ---- The spec: Tcl thread, then I/O thread during the spawn ---- */
    char **argv;		/* NULL-terminated; one block with strings. */
    char **envp;		/* Likewise. */
    char *cwd;			/* NULL: ours. */
    CourierStderrMode stderrMode;
    uv_sem_t answered;		/* Posted once spawnError/pid are set. */
    int spawnError;		/* 0, or the libuv error of the spawn. */
    int pid;

    /* ---- I/O half: the I/O thread only ---- */
    uv_process_t handle;
    uv_close_cb closeProc;	/* Closes the handle when the child exits. */
    int handleOpen;
    uv_timer_t killTimer;	/* SIGTERM, then SIGKILL (AbortIo). */
    int killTimerOpen;
    int aborting;		/* SIGTERM sent: the handle is gone. */
    int killed;			/* SIGKILL sent. */
    int *handlesPtr;		/* The connection's count of open handles. */
    int exited;
    int64_t exitStatus;
    int termSignal;

    /* ---- Tcl half: the owner interpreter's thread only ---- */
    Tcl_Obj *onexit;		/* -onexit prefix, or NULL. */
    int stdinClosed;		/* $p close ran. */
    int exitSeen;		/* The EXIT message was delivered. */
    Tcl_WideInt tclExitCode;
    int tclSignal;
} CourierProcess;

/* process.c: the I/O thread. */
MODULE_SCOPE int	CourierProcessSpawnIo(CourierProcess *procPtr,
			    uv_loop_t *loop, uv_pipe_t *pipePtr, void *data,
			    uv_close_cb closeProc, int *handlesPtr);
MODULE_SCOPE void	CourierProcessKillIo(CourierProcess *procPtr,
			    int signum);
MODULE_SCOPE void	CourierProcessAbortIo(CourierProcess *procPtr);

/* process.c: any thread, once neither half uses it. */
MODULE_SCOPE void	CourierProcessFree(CourierProcess *procPtr);

/* spawn.c: signal names and numbers (Tcl thread). */
MODULE_SCOPE int	CourierGetSignalFromObj(Tcl_Interp *interp,
			    Tcl_Obj *objPtr, int *signumPtr);

/* process.c: the connection of a process (Tcl thread). */
MODULE_SCOPE Tcl_Obj *	CourierConnSpawn(Tcl_Interp *interp,
			    CourierInterp *cinterpPtr, ConnOptions *optsPtr,
			    CourierProcess *procPtr);

MODULE_SCOPE Tcl_ObjCmdProc CourierSpawnObjCmd;
MODULE_SCOPE void	CourierSpawnInit(Tcl_Interp *interp);

#endif /* COURIER_SPAWN_H */
