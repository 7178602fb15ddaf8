# courier.tcl --
#
#	The Tcl half of the courier package, sourced after the C library is
#	loaded. The C commands live in ::courier; Tcl-level helpers that sit
#	on top of them go here.

namespace eval ::courier {
    variable version [package present courier]
    namespace export configure stats threads
}
