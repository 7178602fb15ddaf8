#!/usr/bin/env wish
# progress.tcl --
#
#	A progress bar driven by a long-running child process. The job runs
#	in demos/progress-worker.tcl, started with courier::spawn; its
#	"progress i n" lines arrive as messages through the inbox and move
#	the bar, while the window stays responsive: the lag meter (an
#	`after 10` ticker) shows how late the event loop runs, and Cancel
#	kills the child at any time.
#
#	Usage:	wish demos/progress.tcl ?--steps N? ?--ms M? ?--start?
#			?--quit-when-done?
#	    --steps N		 steps of the job (default 200)
#	    --ms M		 CPU milliseconds per step (default 25)
#	    --start		 start the job at launch
#	    --quit-when-done	 exit when the job ends, printing a summary
#	(the last two are for scripted runs: screenshots, tests)

package require Tk 8.6
package require courier

namespace eval ::progress {
    variable dir [file dirname [file normalize [info script]]]
    variable steps 200
    variable msPerStep 25
    variable quitWhenDone 0
    variable job {}		;# The process handle while a job runs.
    variable view		;# Array behind the widgets.
    array set view {
	value 0 status "Ready." lag "lag: -" result ""
    }
    variable lag		;# Ticker state, in ms.
    array set lag {due 0 worst 0}
}

# progress::Tclsh --
#	A tclsh to run the worker with: wish's own executable is no tclsh.
proc ::progress::Tclsh {} {
    if {[info exists ::env(COURIER_TCLSH)]} {
	return $::env(COURIER_TCLSH)
    }
    foreach name {tclsh8.6 tclsh} {
	set path [auto_execok $name]
	if {$path ne ""} {
	    return [lindex $path 0]
	}
    }
    error "no tclsh found on PATH to run the worker"
}

proc ::progress::Build {} {
    variable view
    wm title . "Courier: progress from a child process"
    ttk::frame .f -padding 12
    ttk::label .f.title -text "A job in a child process" \
	    -font TkHeadingFont
    ttk::progressbar .f.bar -length 360 -maximum 100 \
	    -variable ::progress::view(value)
    ttk::label .f.status -textvariable ::progress::view(status)
    ttk::label .f.lag -textvariable ::progress::view(lag) \
	    -foreground #555
    ttk::frame .f.buttons
    ttk::button .f.buttons.start -text Start -command ::progress::Start
    ttk::button .f.buttons.cancel -text Cancel -command ::progress::Cancel \
	    -state disabled
    ttk::button .f.buttons.quit -text Quit -command exit
    pack .f.buttons.start .f.buttons.cancel .f.buttons.quit -side left \
	    -padx {0 6}
    grid .f.title -sticky w -pady {0 8}
    grid .f.bar -sticky ew
    grid .f.status -sticky w -pady {6 0}
    grid .f.lag -sticky w
    grid .f.buttons -sticky w -pady {10 0}
    grid columnconfigure .f 0 -weight 1
    pack .f -fill both -expand 1
}

# progress::Start --
#	Starts the worker. Its output is line-framed by Courier in the I/O
#	thread; each line is one call of OnLine here.
proc ::progress::Start {} {
    variable job
    variable steps
    variable msPerStep
    variable dir
    variable view
    variable lag
    if {$job ne ""} {
	return
    }
    set lag(worst) 0
    set view(value) 0
    set view(status) "Starting..."
    set job [courier::spawn [list [Tclsh] \
	    [file join $dir progress-worker.tcl] $steps $msPerStep] \
	    -ondata ::progress::OnLine -onexit ::progress::OnExit]
    .f.buttons.start state disabled
    .f.buttons.cancel state !disabled
}

proc ::progress::Cancel {} {
    variable job
    if {$job ne ""} {
	$job kill
    }
}

# progress::OnLine p line --
#	One line of the worker's output. It is data, parsed as a list of
#	words and never evaluated.
proc ::progress::OnLine {p line} {
    variable view
    if {[catch {lassign $line word a b}]} {
	return
    }
    switch -- $word {
	progress {
	    if {[string is integer -strict $a] && [string is integer -strict $b]
		    && $b > 0} {
		set view(value) [expr {100.0 * $a / $b}]
		set view(status) "Step $a of $b (pid [$p pid])"
	    }
	}
	done {
	    set view(result) $a
	}
    }
}

proc ::progress::OnExit {p code signal} {
    variable job
    variable view
    variable lag
    variable quitWhenDone
    set job {}
    if {$signal ne ""} {
	set view(status) "Cancelled ($signal)."
    } elseif {$code != 0} {
	set view(status) "The job failed (exit code $code)."
    } else {
	set view(status) "Done: result $view(result)."
    }
    .f.buttons.start state !disabled
    .f.buttons.cancel state disabled
    if {$quitWhenDone} {
	puts [list status $view(status) worstLagMs $lag(worst)]
	exit 0
    }
}

# progress::Tick --
#	The lag meter: an `after 10` ticker that notes how late it runs.
proc ::progress::Tick {} {
    variable lag
    variable view
    set now [clock milliseconds]
    if {$lag(due) != 0} {
	set late [expr {max(0, $now - $lag(due))}]
	if {$late > $lag(worst)} {
	    set lag(worst) $late
	}
	set view(lag) "event loop lag: $late ms now, worst $lag(worst) ms"
    }
    set lag(due) [expr {$now + 10}]
    after 10 ::progress::Tick
}

proc ::progress::Main {argv} {
    variable steps
    variable msPerStep
    variable quitWhenDone
    set start 0
    while {[llength $argv]} {
	set argv [lassign $argv opt]
	switch -- $opt {
	    --steps { set argv [lassign $argv steps] }
	    --ms { set argv [lassign $argv msPerStep] }
	    --start { set start 1 }
	    --quit-when-done { set quitWhenDone 1 }
	    default {
		puts stderr "usage: progress.tcl ?--steps N? ?--ms M?\
			?--start? ?--quit-when-done?"
		exit 2
	    }
	}
    }
    foreach {name value} [list --steps $steps --ms $msPerStep] {
	if {![string is integer -strict $value] || $value < 1} {
	    puts stderr "bad $name \"$value\": expected a positive integer"
	    exit 2
	}
    }
    Build
    Tick
    if {$start} {
	after idle ::progress::Start
    }
}

::progress::Main $argv
