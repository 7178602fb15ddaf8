# tkinter.tcl --
#
#	Courier in Python's tkinter (python/courier_tk.py) against the
#	recipes Python programmers use today: a reader thread + queue.Queue
#	+ root.after(10) poll, and an asyncio loop in a thread handing lines
#	over with root.after. The work is done by tkinter_bench.py (every
#	recipe in a child python3 of its own, against the same peer process);
#	sourced by run.tcl, this file only finds a python3 with tkinter and
#	runs it. Skipped, with a line saying why, without such a python3 or
#	without a display (make bench provides Xvfb). Writes
#	bench/results/tkinter.csv.

namespace eval ::bench::tkinter {
    variable dir [file dirname [file normalize [info script]]]
}

# bench::tkinter::FindPython --
#	$COURIER_PYTHON, Debian's /usr/bin/python3 or the python3 on PATH:
#	the first that imports tkinter and loads Courier into Tcl; or "".
proc ::bench::tkinter::FindPython {} {
    set candidates {}
    if {[info exists ::env(COURIER_PYTHON)]} {
	lappend candidates $::env(COURIER_PYTHON)
    }
    lappend candidates /usr/bin/python3 {*}[auto_execok python3]
    foreach py $candidates {
	if {[file executable $py] && ![catch {exec $py -c "import tkinter;\
		tkinter.Tcl().eval('package require courier')" 2>@1}]} {
	    return $py
	}
    }
    return ""
}

proc ::bench::tkinter::run {} {
    variable dir
    set py [FindPython]
    if {$py eq ""} {
	puts "tkinter: skipped: no python3 with tkinter that loads Courier\
		(set COURIER_PYTHON)"
	return
    }
    if {![info exists ::env(DISPLAY)] || $::env(DISPLAY) eq ""} {
	puts "tkinter: skipped: no display (make bench runs under Xvfb)"
	return
    }
    # Five rounds at most, one with -quick: a round takes 4 recipes x
    # about 4 s (mostly the paced and idle phases).
    set rounds [expr {$::bench::quick ? 1 : min($::bench::repeat, 5)}]
    set args [list -repeat $rounds -timeout $::bench::timeout]
    if {$::bench::quick} {
	lappend args -quick
    }
    exec $py [file join $dir tkinter_bench.py] {*}$args >@ stdout 2>@ stderr
}
