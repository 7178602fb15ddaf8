#!/usr/bin/env wish
# workbench.tcl --
#
#	Placeholder for the Courier Workbench desktop app. The real
#	workbench (a Packet Sender-like TCP tool) comes later; this window
#	exists so that a new user can see Courier working: it shows the
#	inbox counters live, lets the user flood the inbox from C threads,
#	and measures how late the event loop runs while that happens.
#
#	Usage:	wish demos/workbench.tcl ?--flood N? ?--threads K? ?--size B?
#			?--quit-after ms?
#	(or "make demo", which sets TCLLIBPATH to the build directory).
#
#	--flood N	  start a flood of N messages per thread at launch
#	--threads K	  producer threads for that flood (1-8, default 4)
#	--size B	  message size in bytes (default 64)
#	--quit-after ms	  exit after ms and print a one-line summary on
#			  stdout, so scripted runs (screenshots, CI) end
#
#	Structure. One namespace, ::workbench, in three parts:
#	  model	 plain counters that the callbacks update (no widgets);
#	  view	 widgets, bound to the "view" array through -textvariable;
#	  glue	 Refresh, which every 250 ms copies the model into the view.
#	The split is the point of the demo: a message callback that touched
#	a widget would cost one widget operation per message, which at a
#	million messages a second would be the bottleneck, not Courier.

package require Tk 8.6
package require courier

namespace eval ::workbench {
    # --- Model: written by callbacks and the ticker, read by Refresh ---

    variable received 0		;# Messages delivered to OnMessage.
    variable flood		;# Array: the current or last flood.
    array set flood {
	name {} total 0 startUs 0 endUs 0 state idle threads 0 count 0
	size 0 note {}
    }
    variable lag		;# Array: event-loop lag, in ms.
    array set lag {
	dueUs 0 window 0 now 0 worst 0 floodWorst 0 floodSamples 0
	floodSum 0
    }
    variable samples {}		;# {us received} pairs for the rate.

    # --- View: everything the widgets display ---

    variable view		;# Array bound to -textvariable options.
    array set view {
	threads 4 count 1000000 size 64 progress 0
    }

    # Settings.
    variable tickMs 10		;# The responsiveness ticker's period.
    variable refreshMs 250	;# How often the view is updated.
    variable quitAfter {}	;# From --quit-after, for the summary.

    # The inbox counters, in display order, with plain-language labels.
    variable statRows {
	posted		"Posted by producers"		msgs
	delivered	"Delivered to Tcl"		msgs
	pending		"Waiting in the inbox"		msgs
	discarded	"Discarded (closed port)"	msgs
	largestBacklog	"Largest backlog"		msgs
	fullReplies	"Producers told to pause"	times
	wakeups		"Wake-ups of this thread"	events
	drains		"Drain slices"			slices
	longestDrainUs	"Longest drain slice"		µs
	budgetUs	"Drain budget per slice"	µs
	resumes		"Producers told to resume"	times
    }
}

# ======================================================================
# Model
# ======================================================================

# OnMessage --
#	Called by Courier once per flooded message. It only counts: any
#	more work here is paid a million times a second.

proc ::workbench::OnMessage {message} {
    variable received
    incr received
}

# OnDone --
#	-ondone of the flood: all producers have finished (or were
#	stopped) and everything they posted has been delivered.

proc ::workbench::OnDone {name} {
    variable flood
    if {$name ne $flood(name)} {
	return
    }
    set flood(endUs) [clock microseconds]
    if {$flood(state) eq "stopping"} {
	set flood(state) stopped
    } else {
	set flood(state) finished
    }
    set flood(name) {}
}

# StartFlood --
#	Starts courier::test::flood with the given shape. Returns an
#	error message, or "" on success, so that the view decides how to
#	show a failure.

proc ::workbench::StartFlood {threads count size} {
    variable flood
    variable received
    variable lag
    variable samples
    if {$flood(name) ne ""} {
	return "a flood is already running"
    }
    if {[catch {
	courier::test::flood -threads $threads -count $count -size $size \
	    -command ::workbench::OnMessage -ondone ::workbench::OnDone
    } name]} {
	return $name
    }
    set received 0
    set now [clock microseconds]
    set samples [list [list $now 0]]
    array set flood [list name $name total [expr {$threads * $count}] \
	startUs $now endUs 0 state running threads $threads count $count \
	size $size note {}]
    # The worst lag is kept per flood, so that it says how the GUI
    # fared under this load rather than during start-up.
    array set lag {worst 0 floodWorst 0 floodSamples 0 floodSum 0}
    return ""
}

# StopFlood --
#	Asks the producers to stop; OnDone still runs once what they
#	posted has been delivered.

proc ::workbench::StopFlood {} {
    variable flood
    if {$flood(name) eq "" || $flood(state) ne "running"} {
	return
    }
    courier::test::stopflood $flood(name)
    set flood(state) stopping
}

# Tick --
#	The responsiveness meter: an "after 10" timer that notes how late
#	it fires. A busy event loop (a callback or a drain that does not
#	yield) shows up here at once as lag.

proc ::workbench::Tick {} {
    variable lag
    variable flood
    variable tickMs
    set now [clock microseconds]
    if {$lag(dueUs) != 0} {
	set late [expr {max(0, $now - $lag(dueUs)) / 1000.0}]
	set lag(window) [expr {max($lag(window), $late)}]
	set lag(worst) [expr {max($lag(worst), $late)}]
	if {$flood(state) in {running stopping}} {
	    set lag(floodWorst) [expr {max($lag(floodWorst), $late)}]
	    incr lag(floodSamples)
	    set lag(floodSum) [expr {$lag(floodSum) + $late}]
	}
    }
    set lag(dueUs) [expr {$now + $tickMs * 1000}]
    after $tickMs ::workbench::Tick
}

# Rate --
#	Messages per second over the last second of samples: a 250 ms
#	window alone makes the readout jitter too much to read.

proc ::workbench::Rate {} {
    variable samples
    variable received
    set now [clock microseconds]
    lappend samples [list $now $received]
    while {[llength $samples] > 2
	    && $now - [lindex $samples 1 0] >= 1000000} {
	set samples [lrange $samples 1 end]
    }
    lassign [lindex $samples 0] t0 n0
    if {$now <= $t0} {
	return 0
    }
    return [expr {($received - $n0) * 1e6 / ($now - $t0)}]
}

# ======================================================================
# View
# ======================================================================

# Commas --
#	12345678 -> 12,345,678: counters reach the millions.

proc ::workbench::Commas {n} {
    set n [expr {round($n)}]
    set sign [expr {$n < 0 ? "-" : ""}]
    set s [string reverse [expr {abs($n)}]]
    regsub -all {(\d\d\d)(?=\d)} $s {\1,} s
    return $sign[string reverse $s]
}

proc ::workbench::BuildView {} {
    wm title . "Courier Workbench"
    BuildMenu
    ttk::frame .main -padding 8
    BuildStats .main.stats
    BuildThreads .main.threads
    BuildFlood .main.flood
    BuildStatusBar .status
    grid .main.stats   -row 0 -column 0 -sticky nsew -padx {0 4} -pady {0 4}
    grid .main.threads -row 0 -column 1 -sticky nsew -padx {4 0} -pady {0 4}
    grid .main.flood   -row 1 -column 0 -columnspan 2 -sticky nsew \
	-pady {4 0}
    grid columnconfigure .main 0 -weight 3
    grid columnconfigure .main 1 -weight 1
    grid rowconfigure .main 0 -weight 1
    pack .status -side bottom -fill x
    pack .main -side top -fill both -expand 1
    wm protocol . WM_DELETE_WINDOW ::workbench::Quit
    update idletasks
    wm minsize . [winfo reqwidth .] [winfo reqheight .]
}

proc ::workbench::BuildMenu {} {
    option add *Menu.tearOff 0
    menu .menubar
    menu .menubar.file
    .menubar.file add command -label "Quit" -underline 0 \
	-accelerator Ctrl+Q -command ::workbench::Quit
    menu .menubar.help
    .menubar.help add command -label "About Courier Workbench" \
	-underline 0 -command ::workbench::About
    .menubar add cascade -label File -underline 0 -menu .menubar.file
    .menubar add cascade -label Help -underline 0 -menu .menubar.help
    . configure -menu .menubar
    bind . <Control-q> ::workbench::Quit
}

# BuildStats --
#	The inbox counters as label/value rows in two columns, so that the
#	panel stays short. Values are right-aligned so digits line up.

proc ::workbench::BuildStats {w} {
    variable statRows
    ttk::labelframe $w -text "Inbox of this Tcl thread  (courier::stats)" \
	-padding {8 4}
    set half [expr {([llength $statRows] / 3 + 1) / 2}]
    set i 0
    foreach {key label unit} $statRows {
	set col [expr {$i < $half ? 0 : 4}]
	set row [expr {$i < $half ? $i : $i - $half}]
	ttk::label $w.l$key -text "$label:"
	ttk::label $w.v$key -textvariable ::workbench::view(stat,$key) \
	    -anchor e -width 11 -font TkFixedFont
	ttk::label $w.u$key -text $unit -foreground gray40
	grid $w.l$key -row $row -column $col -sticky w
	grid $w.v$key -row $row -column [expr {$col + 1}] -sticky e
	grid $w.u$key -row $row -column [expr {$col + 2}] -sticky w \
	    -padx {4 0}
	incr i
    }
    # The flood's producers each post an end marker, which the inbox
    # counts too; say so, or "posted" looks four too many.
    ttk::label $w.note -foreground gray40 -text "Posted and delivered\
	also count one end-of-flood marker per producer thread."
    grid $w.note -row $half -column 0 -columnspan 7 -sticky w -pady {6 0}
    # A spacer column between the two halves.
    grid columnconfigure $w 3 -minsize 24 -weight 1
}

proc ::workbench::BuildThreads {w} {
    ttk::labelframe $w -text "Courier threads  (courier::threads)" \
	-padding {8 4}
    # Tall enough for a full flood (8 producers); more than that (the
    # I/O threads of the full workbench) scroll.
    listbox $w.list -height 8 -width 20 -activestyle none \
	-selectmode browse -relief flat -highlightthickness 0 \
	-background [ttk::style lookup TFrame -background] \
	-font TkFixedFont \
	-yscrollcommand [list ::workbench::AutoScroll $w.scroll]
    ttk::scrollbar $w.scroll -orient vertical -command [list $w.list yview]
    ttk::label $w.count -textvariable ::workbench::view(threadCount) \
	-foreground gray40
    grid $w.list $w.scroll -sticky nsew
    grid $w.count -columnspan 2 -sticky w
    grid remove $w.scroll
    grid columnconfigure $w 0 -weight 1
    grid rowconfigure $w 0 -weight 1
}

# AutoScroll --
#	Shows the thread list's scroll bar only when the list overflows,
#	so that the common case is not cluttered.

proc ::workbench::AutoScroll {sb first last} {
    if {$first <= 0 && $last >= 1} {
	grid remove $sb
    } else {
	grid $sb
    }
    $sb set $first $last
}

# BuildFlood --
#	The flood controls: the shape of the flood on one row, the
#	buttons and the progress on the next, the readouts below.

proc ::workbench::BuildFlood {w} {
    ttk::labelframe $w -text "Flood test  (courier::test::flood)" \
	-padding {8 4}
    ttk::label $w.lthreads -text "Producer threads:"
    ttk::spinbox $w.threads -from 1 -to 8 -increment 1 -width 4 \
	-textvariable ::workbench::view(threads)
    ttk::label $w.lcount -text "Messages per thread:"
    ttk::spinbox $w.count -from 1 -to 1000000000 -increment 100000 \
	-width 12 -textvariable ::workbench::view(count)
    ttk::label $w.lsize -text "Message size (bytes):"
    ttk::spinbox $w.size -from 0 -to 1048576 -increment 64 -width 8 \
	-textvariable ::workbench::view(size)
    grid $w.lthreads $w.threads $w.lcount $w.count $w.lsize $w.size \
	-sticky w -padx {0 6} -pady 2

    ttk::frame $w.run
    ttk::button $w.run.start -text "Start" -command ::workbench::OnStart
    ttk::button $w.run.stop -text "Stop" -command ::workbench::StopFlood \
	-state disabled
    ttk::progressbar $w.run.bar -mode determinate -maximum 100 \
	-variable ::workbench::view(progress)
    ttk::label $w.run.pct -textvariable ::workbench::view(percent) \
	-width 5 -anchor e
    pack $w.run.start $w.run.stop -side left -padx {0 6}
    pack $w.run.pct -side right
    pack $w.run.bar -side left -fill x -expand 1 -padx {6 6}
    grid $w.run -columnspan 6 -sticky ew -pady 4

    ttk::frame $w.out
    foreach {key label} {
	received "Received:" rate "Rate:" elapsed "Elapsed:"
    } {
	ttk::label $w.out.l$key -text $label
	ttk::label $w.out.v$key -textvariable ::workbench::view($key) \
	    -font TkFixedFont
	pack $w.out.l$key $w.out.v$key -side left
	pack configure $w.out.v$key -padx {4 18}
    }
    grid $w.out -columnspan 6 -sticky w
    ttk::label $w.state -textvariable ::workbench::view(state)
    grid $w.state -columnspan 6 -sticky w -pady {2 0}
    grid columnconfigure $w 5 -weight 1
}

# BuildStatusBar --
#	The lag meter lives here, always visible: it is the proof that the
#	GUI keeps up while Courier delivers.

proc ::workbench::BuildStatusBar {w} {
    ttk::frame $w -relief sunken -padding {6 2}
    ttk::label $w.title -text "Event-loop lag (after 10 ticker):"
    # A plain label, not ttk, so that its colour can change per state.
    label $w.dot -text "\u25CF" -foreground gray60
    ttk::label $w.lag -textvariable ::workbench::view(lag) -font TkFixedFont
    ttk::label $w.versions -textvariable ::workbench::view(versions) \
	-foreground gray40
    pack $w.title $w.dot $w.lag -side left
    pack $w.versions -side right
}

proc ::workbench::About {} {
    tk_messageBox -parent . -title "About Courier Workbench" -icon info \
	-message "Courier Workbench (placeholder)" \
	-detail "Courier [package present courier]\nTcl [info patchlevel]\
	    \nTk [package present Tk]\n\nThis window shows Courier's inbox\
	    delivering messages from C threads into Tcl while the GUI stays\
	    responsive. The full workbench, a TCP tool, is still to come."
}

# ======================================================================
# Glue: user actions and the periodic copy of the model into the view
# ======================================================================

# OnStart --
#	Reads and checks the spin boxes, then starts the flood; problems
#	are shown in the flood panel rather than in a dialog, so that a
#	scripted run never blocks on one.

proc ::workbench::OnStart {} {
    variable view
    foreach {key lo hi} {threads 1 8 count 1 1000000000 size 0 1048576} {
	set v [string map {, "" _ ""} [string trim $view($key)]]
	if {![string is entier -strict $v] || $v < $lo || $v > $hi} {
	    Problem "$key must be a whole number from $lo to $hi,\
		not \"$view($key)\""
	    return
	}
	set value($key) $v
    }
    set err [StartFlood $value(threads) $value(count) $value(size)]
    if {$err ne ""} {
	Problem $err
    }
    Refresh
}

proc ::workbench::Problem {message} {
    variable flood
    set flood(note) $message
    Refresh
}

# Refresh --
#	Every 250 ms: copy the model into the view. This is the only place
#	widgets change while a flood runs.

proc ::workbench::Refresh {} {
    RefreshStats
    RefreshThreads
    RefreshFlood
    RefreshLag
}

proc ::workbench::RefreshStats {} {
    variable view
    variable statRows
    set stats [courier::stats]
    foreach {key label unit} $statRows {
	set view(stat,$key) [Commas [dict get $stats $key]]
    }
}

proc ::workbench::RefreshThreads {} {
    variable view
    set w .main.threads.list
    set names [lsort [courier::threads]]
    # Only touch the listbox when the set changes: no flicker, and the
    # user's selection survives.
    if {$names ne [$w get 0 end]} {
	$w delete 0 end
	if {[llength $names]} {
	    $w insert end {*}$names
	}
    }
    set n [llength $names]
    set view(threadCount) [expr {$n == 0 ? "none running (idle)"
	: $n == 1 ? "1 running" : "$n running"}]
}

proc ::workbench::RefreshFlood {} {
    variable view
    variable flood
    variable received
    set now [clock microseconds]
    set running [expr {$flood(state) in {running stopping}}]
    set end [expr {$running ? $now : $flood(endUs)}]
    if {$flood(state) eq "idle"} {
	set secs 0
    } else {
	set secs [expr {($end - $flood(startUs)) / 1e6}]
    }
    set rate [expr {$running ? [Rate]
	: $secs > 0 ? $received / $secs : 0}]
    if {$flood(state) eq "idle"} {
	# Nothing has run yet: dashes read better than "0 of 0".
	lassign {\u2014 \u2014 \u2014} view(received) view(rate) view(elapsed)
    } else {
	set view(received) "[Commas $received] of [Commas $flood(total)]"
	set view(rate) "[Commas $rate] msg/s"
	set view(elapsed) [format "%.1f s" $secs]
    }
    set pct [expr {$flood(total) ? 100.0 * $received / $flood(total) : 0}]
    set view(progress) $pct
    set view(percent) [format "%3.0f%%" $pct]
    set view(state) [FloodStateText $secs]
    set w .main.flood.run
    $w.start state [expr {$running ? "disabled" : "!disabled"}]
    $w.stop state [expr {$flood(state) eq "running" ? "!disabled" : "disabled"}]
    .main.flood.state configure \
	-foreground [expr {$flood(note) ne "" ? "red3" : ""}]
}

proc ::workbench::FloodStateText {secs} {
    variable flood
    variable received
    variable lag
    if {$flood(note) ne ""} {
	return "Cannot start: $flood(note)"
    }
    set shape "$flood(threads) threads × [Commas $flood(count)] messages\
	of $flood(size) bytes"
    switch $flood(state) {
	idle {
	    return "Idle. Press Start to have C threads post messages to\
		this thread's inbox."
	}
	running  { return "Running $flood(name): $shape." }
	stopping { return "Stopping $flood(name): delivering what was\
		posted..." }
	stopped -
	finished {
	    set avg [expr {$secs > 0 ? $received / $secs : 0}]
	    return "[string totitle $flood(state)]: [Commas $received]\
		messages in [format %.2f $secs] s\
		([Commas $avg] msg/s on average); worst lag\
		[format %.0f $lag(floodWorst)] ms."
	}
    }
}

# RefreshLag --
#	Shows the worst lag seen in the last refresh period as "now"
#	(a single tick's lag is too noisy to read) and the worst since the
#	last flood started.

proc ::workbench::RefreshLag {} {
    variable lag
    variable view
    set lag(now) $lag(window)
    set lag(window) 0
    set view(lag) [format "%3.0f ms now, %3.0f ms worst" \
	$lag(now) $lag(worst)]
    set colour [expr {$lag(now) < 25 ? "green3"
	: $lag(now) < 100 ? "orange" : "red3"}]
    .status.dot configure -foreground $colour
}

proc ::workbench::RefreshLoop {} {
    variable refreshMs
    Refresh
    after $refreshMs ::workbench::RefreshLoop
}

# Quit --
#	Exit; for scripted runs, first print what the run measured. Exiting
#	during a flood is safe: Courier stops and joins its threads when
#	the main thread exits.

proc ::workbench::Quit {} {
    variable quitAfter
    variable flood
    variable received
    variable lag
    # A closed stdout (say, piped into head) must not keep us alive.
    if {$quitAfter ne "" && [catch {
	set avg [expr {$lag(floodSamples)
	    ? $lag(floodSum) / $lag(floodSamples) : 0}]
	set end [expr {$flood(endUs) ? $flood(endUs) : [clock microseconds]}]
	set secs [expr {$flood(startUs) ? ($end - $flood(startUs)) / 1e6 : 0}]
	puts [format "workbench: flood %s, received %d of %d in %.2f s,\
	    lag during flood: worst %.1f ms, mean %.2f ms over %d ticks" \
	    $flood(state) $received $flood(total) $secs \
	    $lag(floodWorst) $avg $lag(floodSamples)]
	puts "workbench: stats [courier::stats]"
	flush stdout
    }]} {
	catch {close stdout}
    }
    exit 0
}

# ParseArgs --
#	--flood N, --threads K, --size B, --quit-after ms. Returns a dict
#	of what was given.

proc ::workbench::ParseArgs {argv} {
    set opts {}
    foreach {opt value} $argv {
	switch -- $opt {
	    --flood - --threads - --size - --quit-after {
		if {![string is entier -strict $value] || $value < 0} {
		    Usage "$opt needs a whole number, not \"$value\""
		}
		dict set opts $opt $value
	    }
	    -h - --help { Usage "" }
	    default { Usage "unknown option \"$opt\"" }
	}
    }
    return $opts
}

proc ::workbench::Usage {message} {
    set text "usage: workbench.tcl ?--flood N? ?--threads K? ?--size B?\
	?--quit-after ms?"
    if {$message eq ""} {
	puts $text
	exit 0
    }
    puts stderr "workbench.tcl: $message\n$text"
    exit 2
}

proc ::workbench::Main {argv} {
    variable view
    variable quitAfter
    set opts [ParseArgs $argv]
    set view(versions) "Courier [package present courier] · Tcl\
	[info patchlevel] · Tk [package present Tk]"
    BuildView
    Tick
    RefreshLoop
    if {[dict exists $opts --threads]} {
	set view(threads) [dict get $opts --threads]
    }
    if {[dict exists $opts --size]} {
	set view(size) [dict get $opts --size]
    }
    if {[dict exists $opts --flood]} {
	set view(count) [dict get $opts --flood]
	# Start once the window is up, so the flood is seen from its start.
	after idle [list after 0 ::workbench::OnStart]
    }
    if {[dict exists $opts --quit-after]} {
	set quitAfter [dict get $opts --quit-after]
	after $quitAfter ::workbench::Quit
    }
}

::workbench::Main $argv
