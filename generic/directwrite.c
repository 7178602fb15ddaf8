/*
 * directwrite.c --
 *
 *	A send written by the interpreter's thread itself, as uv_try_write
 *	does for a one-thread program: when a connection's output is empty
 *	(nothing sent is waiting for or being written by the I/O thread),
 *	a reply can go to the socket at once with one non-blocking send,
 *	which spares it the hand-off to the I/O thread and that thread's
 *	wake-up (not when the I/O thread is spinning for a command: the
 *	hand-off then costs no wake-up, and measured faster at the median
 *	than a write from here). What the socket does not take goes the usual way
 *	(ConnSend submits the rest as a write command), after everything
 *	written here, so the order of the bytes is kept.
 *
 *	The rules (doc/design.md, "A send out"):
 *	  - Only a plain TCP socket offers its descriptor, once open
 *	    (CourierConnDirectOffer, from tcp.c's IoOpened): never a child
 *	    process's pipe, never a TLS connection (whose bytes must go
 *	    through the TLS engine on the I/O thread).
 *	  - The I/O thread withdraws the offer before it closes the socket
 *	    (CourierConnDirectWithdraw, from stream.c's IoCloseNow) and
 *	    waits until no direct send is under way: the descriptor is never
 *	    written to after it is closed (or reused).
 *	  - The Tcl thread writes only when pendingOut is 0: every earlier
 *	    send has then been written by the I/O thread (it lowers
 *	    pendingOut once written), and since only the Tcl thread raises
 *	    it, nothing can come before this write. Nor after $c shutdown
 *	    write (outputShut), whose FIN must follow every byte sent.
 *	  - Only for a callback's reply, not a burst: not while the slice
 *	    that runs the callback has more messages to deliver (their
 *	    replies go out together, in one writev of the I/O thread), nor
 *	    within COURIER_DIRECT_GAP_NS of the last direct send on the
 *	    connection (a loop of sends in a script is batched as before).
 *
 *	Threads: CourierConnDirectOffer and CourierConnDirectWithdraw run in
 *	the connection's I/O thread, CourierConnDirectWrite in the owner
 *	interpreter's thread; they share two atomics (directFd, directBusy)
 *	and pendingOut.
 */

#include "connInt.h"
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sched.h>
#include <errno.h>
#include <string.h>
#include <assert.h>

/*
 * The shortest time between two direct sends on one connection: sends
 * closer together than this are a burst, better written in one go by the
 * I/O thread than one system call each.
 */

#define COURIER_DIRECT_GAP_NS (10 * 1000)

/*
 *----------------------------------------------------------------------
 *
 * CourierConnDirectOffer --
 *
 *	I/O thread: the TCP socket is open; the Tcl thread may write to it
 *	directly from now on (until CourierConnDirectWithdraw). Not for a
 *	child's pipe nor a TLS connection (see above).
 *
 *----------------------------------------------------------------------
 */

void
CourierConnDirectOffer(
    Conn *connPtr)
{
    uv_os_fd_t fd;

    if (connPtr->procPtr != NULL
	    || uv_fileno((uv_handle_t *) STREAM(connPtr), &fd) != 0) {
	return;
    }
    atomic_store(&connPtr->directFd, (int) fd + 1);
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnDirectWithdraw --
 *
 *	I/O thread, before the socket is closed: no more direct sends.
 *	Waits while one is under way (one non-blocking send, so briefly).
 *
 *----------------------------------------------------------------------
 */

void
CourierConnDirectWithdraw(
    Conn *connPtr)
{
    /*
     * Sequentially consistent, with the Tcl thread's raising of
     * directBusy before it reads directFd: either it sees the withdrawal
     * or this sees it busy and waits.
     */

    atomic_store(&connPtr->directFd, 0);
    while (atomic_load(&connPtr->directBusy)) {
	sched_yield();
    }
}

/*
 *----------------------------------------------------------------------
 *
 * CourierConnDirectWrite --
 *
 *	Tcl thread, from ConnSend: writes the send (iovcnt pieces, total
 *	bytes) to the socket at once if the rules above allow it.
 *
 * Results:
 *	How many bytes the socket took: 0 when the send must go through
 *	the I/O thread (rules, a full socket, any error, which the I/O
 *	thread will then meet and report), total when all went out, or
 *	less (the caller submits the rest).
 *
 * Side effects:
 *	Counts the bytes in bytesWritten.
 *
 *----------------------------------------------------------------------
 */

size_t
CourierConnDirectWrite(
    Conn *connPtr,
    struct iovec *iov,
    int iovcnt,
    size_t total)
{
    struct msghdr msg;
    uint64_t now;
    ssize_t n;
    int fd;

    if (connPtr->outputShut || connPtr->tclState != TCL_OPEN
	    || atomic_load_explicit(&connPtr->directFd,
		    memory_order_relaxed) == 0
	    || total > (size_t) connPtr->opts.sendBuffer
	    || atomic_load(&connPtr->pendingOut) != 0
	    || CourierPortBacklogged(connPtr->tclPort)
	    || CourierIoSpinning(connPtr->ioPtr)) {
	return 0;
    }
    now = uv_hrtime();
    if (now - connPtr->directAt < COURIER_DIRECT_GAP_NS) {
	return 0;
    }
    atomic_store(&connPtr->directBusy, 1);
    fd = atomic_load(&connPtr->directFd) - 1;
    if (fd < 0) {
	atomic_store(&connPtr->directBusy, 0);
	return 0;
    }
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t) iovcnt;
    do {
	n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    atomic_store(&connPtr->directBusy, 0);
    if (n <= 0) {
	return 0;
    }
    assert((size_t) n <= total);
    connPtr->directAt = now;
    CourierIoReplied(connPtr->ioPtr, now);
    atomic_fetch_add(&connPtr->bytesWritten, (uint64_t) n);
    return (size_t) n;
}
