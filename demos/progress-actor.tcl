#!/usr/bin/env wish
# progress-actor.tcl --
#
#	A progress bar fed by an actor. The job is Tcl code that runs in an
#	actor (a thread with its own interpreter, courier::actor create): one
#	long "work" message, which reports its progress with courier::notify
#	while it runs. Each notice calls -onnotice here, in the window's
#	thread, and moves the bar; the window stays responsive meanwhile: the
#	lag meter (an `after 10` ticker) shows how late the event loop runs,
#	and Cancel stops the actor at once ($actor stop -now).
#
#	Usage:	wish demos/progress-actor.tcl ?--steps N? ?--ms M? ?--start?
#			?--quit-when-done?
#	    --steps N		 steps of the job (default 200)
#	    --ms M		 CPU milliseconds per step (default 25)
#	    --start		 start the job at launch
#	    --quit-when-done	 exit when the job ends, printing a summary
#	(the last two are for scripted runs: screenshots, tests)

package require Tk 8.6
package require courier

namespace eval ::progressActor {
    variable steps 200
    variable msPerStep 25
    variable quitWhenDone 0
    variable job {}		;# The actor's handle while a job runs.
    variable view		;# Array behind the widgets.
    array set view {
	value 0 status "Ready." lag "lag: -" result ""
    }
    variable lag		;# Ticker state, in ms.
    array set lag {due 0 worst 0}
    variable notices 0		;# Notices received in this job.

    # The actor's code. work burns msPerStep of CPU per step (a stand-in
    # for real work: parsing, hashing, compressing) and notifies its
    # creator after each step; the result is a checksum of the steps.
    variable actorInit {
	proc work {steps ms} {
	    set sum 0
	    for {set i 1} {$i <= $steps} {incr i} {
		set until [expr {[clock milliseconds] + $ms}]
		while {[clock milliseconds] < $until} {
		    set sum [expr {($sum * 31 + $i) % 1000003}]
		}
		courier::notify [list progress $i $steps]
	    }
	    courier::notify [list done $sum]
	}
    }
}

proc ::progressActor::Build {} {
    wm title . "Courier: progress from an actor"
    ttk::frame .f -padding 12
    ttk::label .f.title -text "A job in an actor (a thread of Tcl)" \
	    -font TkHeadingFont
    ttk::progressbar .f.bar -length 360 -maximum 100 \
	    -variable ::progressActor::view(value)
    ttk::label .f.status -textvariable ::progressActor::view(status)
    ttk::label .f.lag -textvariable ::progressActor::view(lag) \
	    -foreground #555
    ttk::frame .f.buttons
    ttk::button .f.buttons.start -text Start \
	    -command ::progressActor::Start
    ttk::button .f.buttons.cancel -text Cancel \
	    -command ::progressActor::Cancel -state disabled
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

# progressActor::Start --
#	Creates the actor and tells it to work. The tell returns at once;
#	the notices come back through this thread's inbox.
proc ::progressActor::Start {} {
    variable job
    variable steps
    variable msPerStep
    variable view
    variable lag
    variable notices
    variable actorInit
    if {$job ne ""} {
	return
    }
    set lag(worst) 0
    set notices 0
    set view(value) 0
    set view(result) ""
    set view(status) "Starting..."
    set job [courier::actor create -init $actorInit \
	    -onnotice ::progressActor::OnNotice \
	    -onexit ::progressActor::OnExit \
	    -onerror ::progressActor::OnError]
    $job tell work $steps $msPerStep
    .f.buttons.start state disabled
    .f.buttons.cancel state !disabled
}

proc ::progressActor::Cancel {} {
    variable job
    variable view
    if {$job ne ""} {
	set view(status) "Cancelling..."
	$job stop -now
    }
}

# progressActor::OnNotice actor value --
#	One courier::notify of the actor: {progress i n} or {done result}.
proc ::progressActor::OnNotice {actor value} {
    variable view
    variable notices
    incr notices
    lassign $value word a b
    switch -- $word {
	progress {
	    set view(value) [expr {100.0 * $a / $b}]
	    set view(status) "Step $a of $b (actor [namespace tail $actor])"
	}
	done {
	    set view(result) $a
	    # The work is done: let the actor end (-onexit follows).
	    $actor stop
	}
    }
}

proc ::progressActor::OnError {actor message options} {
    variable view
    set view(status) "The job failed: $message"
}

proc ::progressActor::OnExit {actor reason} {
    variable job
    variable view
    variable lag
    variable notices
    variable quitWhenDone
    set job {}
    if {$view(result) ne ""} {
	set view(status) "Done: result $view(result)."
    } elseif {$reason eq "stopped"} {
	set view(status) "Cancelled."
    } else {
	set view(status) "The job ended: $reason."
    }
    .f.buttons.start state !disabled
    .f.buttons.cancel state disabled
    if {$quitWhenDone} {
	puts [list status $view(status) notices $notices \
		value $view(value) worstLagMs $lag(worst)]
	exit 0
    }
}

# progressActor::Tick --
#	The lag meter: an `after 10` ticker that notes how late it runs.
proc ::progressActor::Tick {} {
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
    after 10 ::progressActor::Tick
}

proc ::progressActor::Main {argv} {
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
		puts stderr "usage: progress-actor.tcl ?--steps N? ?--ms M?\
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
	after idle ::progressActor::Start
    }
}

::progressActor::Main $argv
