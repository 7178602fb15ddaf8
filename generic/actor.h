/*
 * actor.h --
 *
 *	Actors: a named thread with its own interpreter and a mailbox (a
 *	port into that thread's inbox). See actor.c.
 */

#ifndef COURIER_ACTOR_H
#define COURIER_ACTOR_H

#include "courierInt.h"

MODULE_SCOPE void	CourierActorInit(Tcl_Interp *interp);
MODULE_SCOPE void	CourierActorUnload(void);
MODULE_SCOPE void	CourierActorStopOwned(CourierInterp *cinterpPtr);
MODULE_SCOPE void	CourierActorExiting(void);

/* How long exit waits, in all, for actor threads to end. */
#define COURIER_EXIT_WAIT_MS 3000

#endif /* COURIER_ACTOR_H */
