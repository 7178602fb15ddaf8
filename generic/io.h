/*
 * io.h --
 *
 *	Courier's I/O threads. Each runs one libuv loop ("courier-io-N") and
 *	owns every socket handle created on it. Other threads reach it only
 *	through commands: a command is a malloc'ed struct whose first member
 *	is a CourierIoCmd; CourierIoSubmit appends it to the thread's queue
 *	and wakes the loop with one uv_async_send per burst.
 */

#ifndef COURIER_IO_H
#define COURIER_IO_H

#include <tcl.h>
#include <uv.h>

#ifndef MODULE_SCOPE
#define MODULE_SCOPE extern __attribute__((__visibility__("hidden")))
#endif

typedef struct CourierIoThread CourierIoThread;
typedef struct CourierIoCmd CourierIoCmd;

/*
 * A command's run procedure runs in the I/O thread and owns the command
 * from then on (frees it, or keeps it as a libuv request and frees it
 * later). Its discard procedure is called instead, in any thread, for a
 * command that will never run because its I/O thread has stopped, and
 * must free it.
 */
typedef void (CourierIoRunProc)(CourierIoThread *ioPtr, CourierIoCmd *cmdPtr);
typedef void (CourierIoDiscardProc)(CourierIoCmd *cmdPtr);

struct CourierIoCmd {
    CourierIoCmd *next;
    CourierIoRunProc *runProc;
    CourierIoDiscardProc *discardProc;
    /*
     * Data a Tcl callback sends, often in answer to what the I/O thread
     * just delivered: what the I/O thread's spin waits for.
     */
    int reply;
};

/*
 * Every libuv handle an I/O thread holds has, as its data, an object that
 * starts with this header, so that a stopping thread can abort whatever
 * is still open through its own close path (which releases it).
 */

typedef struct CourierIoObject {
    void (*abortProc)(struct CourierIoObject *objPtr);
} CourierIoObject;

MODULE_SCOPE CourierIoThread *CourierIoPick(Tcl_Interp *interp);
MODULE_SCOPE void *	CourierIoCmdNew(size_t size,
			    CourierIoRunProc *runProc,
			    CourierIoDiscardProc *discardProc);
MODULE_SCOPE void	CourierIoSubmit(CourierIoThread *ioPtr,
			    CourierIoCmd *cmdPtr);
MODULE_SCOPE void	CourierIoAfterBatch(CourierIoThread *ioPtr,
			    CourierIoCmd *cmdPtr);
MODULE_SCOPE uv_loop_t *CourierIoLoop(CourierIoThread *ioPtr);
MODULE_SCOPE unsigned char *CourierIoReadBuffer(CourierIoThread *ioPtr,
			    size_t *sizePtr);
/* Datagrams one recvmmsg call can take: libuv's own limit (20). */
#define COURIER_IO_DATAGRAM_CHUNKS 20
MODULE_SCOPE unsigned char *CourierIoDatagramBuffer(CourierIoThread *ioPtr,
			    size_t *sizePtr);
MODULE_SCOPE void	CourierIoStopAll(void);
MODULE_SCOPE void	CourierIoFreeRetired(void);
MODULE_SCOPE int	CourierIoSetThreadCount(int count);
MODULE_SCOPE int	CourierIoGetThreadCount(void);
MODULE_SCOPE void	CourierIoPosted(CourierIoThread *ioPtr);

#endif /* COURIER_IO_H */
