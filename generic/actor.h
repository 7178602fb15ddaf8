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

#endif /* COURIER_ACTOR_H */
