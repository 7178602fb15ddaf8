/*
 * inbox.h --
 *
 *	The inbox carries messages from any C thread into one Tcl thread.
 *
 *	Every Tcl thread that uses Courier has one inbox. Code that lives in
 *	that thread opens *ports* on it: a port is one stream of messages with
 *	one producer (a socket, a child process, an actor, a test flood)
 *	and one receiver (a Tcl object in the owner thread). The producer posts
 *	messages to the port from its own thread; the owner thread delivers
 *	them, in order, through the port's deliver procedure.
 *
 *	Rules that make this safe (doc/design.md tells why):
 *	- A message is plain malloc'ed C data, never a Tcl_Obj.
 *	- Producers wake the owner once per burst, not once per message:
 *	  the first message posted to an idle inbox queues the owner's
 *	  wake-up event (allocated beforehand by the owner thread, so that
 *	  producers never call Tcl's allocator) with Tcl_ThreadQueueEvent
 *	  and alerts the thread; later ones only append.
 *	- The owner drains for at most a time budget, then lets every pending
 *	  window event, timer and idle handler run before it drains again.
 *	- Each port counts the bytes posted but not yet delivered. Above its
 *	  high-water mark a post returns COURIER_POST_FULL: the producer
 *	  should stop until its notify procedure is called with
 *	  COURIER_NOTIFY_RESUME (at or below half the mark). Nothing posted
 *	  is ever dropped for being over the mark; the mark is the signal.
 *	- The inbox lock is private to inbox.c and drain.c and never held
 *	  while calling out (deliver and notify procedures run with no lock held).
 */

#ifndef COURIER_INBOX_H
#define COURIER_INBOX_H

#include <stddef.h>
#include <stdint.h>
#include <tcl.h>
#include "message.h"

#ifndef MODULE_SCOPE
#define MODULE_SCOPE extern __attribute__((__visibility__("hidden")))
#endif

typedef struct CourierInbox CourierInbox;

/* Results of CourierPortPost. */
enum {
    COURIER_POST_OK = 0,	/* Accepted. */
    COURIER_POST_FULL = 1,	/* Accepted; stop posting until RESUME. */
    COURIER_POST_CLOSED = 2	/* Refused and freed: the port is closed. */
};

/* Events passed to a port's notify procedure. */
enum {
    COURIER_NOTIFY_RESUME = 1,	/* The backlog fell to the low-water mark. */
    COURIER_NOTIFY_CLOSED = 2	/* The receiver is gone: stop posting. */
};

typedef struct CourierPortType {
    const char *name;
    /*
     * Delivers one message in the owner thread. The message still belongs
     * to the inbox and is freed when this returns.
     */
    void (*deliverProc)(void *ownerData, CourierMsg *msgPtr);
    /*
     * Tells the producer something (COURIER_NOTIFY_*). Runs in the owner
     * thread with no lock held, so it must only hand the news over to the
     * producer's thread (signal a condition, queue a command).
     */
    void (*notifyProc)(void *producerData, int event);
    /*
     * Optional. Called once the port is freed (in whichever thread drops
     * the last reference): producerData is no longer needed.
     */
    void (*releaseProc)(void *producerData);
    /*
     * Optional. Called in the owner thread for each queued message that is
     * dropped undelivered (port closed, interpreter or thread gone), for
     * messages that carry something that must be released.
     */
    void (*discardProc)(CourierMsg *msgPtr);
} CourierPortType;

/* Owner-thread side. */
MODULE_SCOPE CourierInbox *CourierInboxForThread(void);
MODULE_SCOPE CourierPort *CourierPortOpen(CourierInbox *inboxPtr,
			    const CourierPortType *typePtr, Tcl_Interp *interp,
			    void *ownerData, void *producerData,
			    size_t highWater);
MODULE_SCOPE void	CourierPortClose(CourierPort *portPtr);
MODULE_SCOPE size_t	CourierPortPending(CourierPort *portPtr);
MODULE_SCOPE void	CourierPortSetHighWater(CourierPort *portPtr,
			    size_t highWater);
MODULE_SCOPE Tcl_Obj *	CourierInboxStats(CourierInbox *inboxPtr, int reset);
MODULE_SCOPE void	CourierInboxSetBudget(long microseconds);
MODULE_SCOPE long	CourierInboxGetBudget(void);
MODULE_SCOPE void	CourierInboxSetSpin(unsigned microseconds);
MODULE_SCOPE unsigned	CourierInboxGetSpin(void);

/* Producer side: any thread. */
MODULE_SCOPE int	CourierPortPost(CourierPort *portPtr, CourierMsg *msgPtr);
MODULE_SCOPE int	CourierPortPostChain(CourierPort *portPtr,
			    CourierMsg *headPtr);
MODULE_SCOPE void	CourierPortRelease(CourierPort *portPtr);
MODULE_SCOPE size_t	CourierPortBacklog(CourierPort *portPtr);

#endif /* COURIER_INBOX_H */
