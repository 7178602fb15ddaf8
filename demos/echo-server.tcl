#!/usr/bin/env tclsh
# echo-server.tcl --
#
#	A TCP echo server on Courier: every message a client sends comes
#	back to it. With -batch 1 a read's worth of messages arrives in one
#	callback and goes back in one send, so one Tcl thread echoes
#	hundreds of thousands of lines a second. Prints its counters every
#	few seconds.
#
#	Usage: tclsh demos/echo-server.tcl ?--port 7000? ?--host 127.0.0.1?
#		?--framing line|raw? ?--quiet?
#	(TCLLIBPATH must name the directory holding the built package; "make"
#	builds it in the source tree.)

package require courier

namespace eval ::echo {
    variable clients 0
    variable served 0
}

# echo::OnData conn batch --
#	One call per read: lines go back joined by newlines (line framing
#	adds the last one), raw chunks go back as they came.

proc ::echo::OnData {framing conn batch} {
    variable served
    incr served [llength $batch]
    if {$framing eq "line"} {
	$conn send [join $batch \n]
    } else {
	$conn send [join $batch ""]
    }
}

proc ::echo::OnAccept {quiet server conn host port} {
    variable clients
    incr clients
    if {!$quiet} {
	puts "client $host:$port connected ($clients open)"
    }
    $conn configure -onclose [list ::echo::OnClose $quiet $host:$port]
}

proc ::echo::OnClose {quiet who conn reason} {
    variable clients
    incr clients -1
    $conn close
    if {!$quiet} {
	puts "client $who left: [lindex $reason 0] ($clients open)"
    }
}

proc ::echo::Report {} {
    variable served
    variable clients
    puts "[clock format [clock seconds] -format %T] $clients clients,\
	    $served messages echoed"
    after 5000 ::echo::Report
}

proc ::echo::Main {argv} {
    set opts [dict create --port 7000 --host 127.0.0.1 --framing line \
	    --quiet 0]
    while {[llength $argv]} {
	set argv [lassign $argv opt]
	switch -- $opt {
	    --quiet { dict set opts --quiet 1 }
	    --port - --host - --framing {
		set argv [lassign $argv value]
		dict set opts $opt $value
	    }
	    default {
		puts stderr "usage: echo-server.tcl ?--port N? ?--host ADDR?\
			?--framing line|raw? ?--quiet?"
		exit 2
	    }
	}
    }
    set framing [dict get $opts --framing]
    if {$framing ni {line raw}} {
	puts stderr "echo-server.tcl: --framing must be line or raw"
	exit 2
    }
    set quiet [dict get $opts --quiet]
    set server [courier::listen [dict get $opts --port] \
	    -host [dict get $opts --host] -framing $framing -batch 1 \
	    -ondata [list ::echo::OnData $framing] \
	    -onaccept [list ::echo::OnAccept $quiet]]
    # The port line is the first thing printed: scripts read it.
    puts "echo server on [dict get $opts --host] port [$server port]"
    flush stdout
    if {!$quiet} {
	after 5000 ::echo::Report
    }
    vwait forever
}

::echo::Main $argv
