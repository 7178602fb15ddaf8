# run.tcl --
#
#	The benchmark driver: sources every benchmark script in bench/
#	(each defines ::bench::<name>::run) and runs them in turn. Every
#	measurement runs in a child tclsh of its own, so that one scenario's
#	heap, threads and peak RSS never leak into the next one's figures.
#
#	Usage: tclsh bench/run.tcl ?-quick? ?-repeat R? ?-timeout seconds?
#		?-only name,...?
#	    -quick	smaller counts (a smoke run of a few seconds)
#	    -repeat R	run every scenario R times (default 7) and keep
#			the median run
#	    -timeout s	kill a child that has not finished after s seconds
#	    -only names	run only these benchmarks (comma-separated file
#			names without .tcl, e.g. -only tcp)
#
#	`make bench` runs this with TCLLIBPATH set to the build directory.

namespace eval ::bench {
    variable dir [file dirname [file normalize [info script]]]
    variable quick 0
    variable repeat 7
    variable timeout 120
    variable only {}
    variable seq 0
}

# bench::ParseArgs --
#	Reads the command line into the namespace's settings; an unknown
#	option is an error rather than a silently ignored typo.
proc ::bench::ParseArgs {argv} {
    variable quick
    variable repeat
    variable timeout
    variable only
    while {[llength $argv]} {
	set argv [lassign $argv opt]
	switch -- $opt {
	    -quick { set quick 1 }
	    -repeat { set argv [lassign $argv repeat] }
	    -timeout { set argv [lassign $argv timeout] }
	    -only {
		set argv [lassign $argv names]
		set only [split $names ,]
	    }
	    default {
		return -code error "unknown option \"$opt\": expected\
			-quick, -repeat R, -timeout seconds or -only names"
	    }
	}
    }
    if {![string is integer -strict $repeat] || $repeat < 1} {
	return -code error "bad -repeat \"$repeat\": expected a count >= 1"
    }
}

# bench::child script args --
#	Runs `tclsh script args` and returns the dict the child printed on
#	a line "result <dict>". A child that fails, prints no result or
#	outlives the timeout is an error carrying its output, so one broken
#	scenario cannot hang or silently spoil the whole run.
proc ::bench::child {script args} {
    variable timeout
    variable out
    variable state
    set key [incr ::bench::seq]
    set out($key) ""
    set state($key) running
    set cmd [list [info nameofexecutable] $script {*}$args 2>@1]
    set chan [open |$cmd r]
    fconfigure $chan -blocking 0
    fileevent $chan readable [list ::bench::Collect $chan $key]
    set timer [after [expr {$timeout * 1000}] \
	    [list ::bench::Expire $chan $key]]
    vwait ::bench::state($key)
    after cancel $timer
    set output $out($key)
    set status $state($key)
    unset out($key) state($key)
    return [ChildResult $status $output $args]
}

# bench::Collect --
#	Readable handler: accumulates the child's output; at end of file
#	closes the pipe (which reaps the child and reports its exit status).
proc ::bench::Collect {chan key} {
    variable out
    variable state
    append out($key) [read $chan]
    if {![eof $chan]} {
	return
    }
    fconfigure $chan -blocking 1
    if {[catch {close $chan} msg]} {
	append out($key) \n$msg
	set state($key) failed
    } else {
	set state($key) done
    }
}

# bench::Expire --
#	Timeout: kill the child we started (by its pid only), then reap it.
proc ::bench::Expire {chan key} {
    variable state
    catch {exec kill -KILL {*}[pid $chan]}
    fileevent $chan readable {}
    catch {close $chan}
    set state($key) timeout
}

# bench::ChildResult --
#	Picks the result line out of a finished child's output.
proc ::bench::ChildResult {status output what} {
    variable timeout
    if {$status eq "timeout"} {
	return -code error "$what: killed after $timeout s\n$output"
    }
    foreach line [split $output \n] {
	if {[string match "result *" $line]} {
	    return [lindex $line 1]
	}
    }
    return -code error "$what: $status without a result\n$output"
}

# bench::median runs key --
#	The run (a result dict) whose value of key is the median of the
#	runs: one unlucky scheduling hiccup on a small or shared machine
#	must not decide whether a target is met.
proc ::bench::median {runs key} {
    set sorted [lsort -command [list ::bench::ByKey $key] $runs]
    return [lindex $sorted [expr {([llength $sorted] - 1) / 2}]]
}
proc ::bench::ByKey {key a b} {
    set x [dict get $a $key]
    set y [dict get $b $key]
    expr {$x < $y ? -1 : $x > $y ? 1 : 0}
}

# bench::table header rows --
#	Prints rows (lists) under a header as left-aligned first column and
#	right-aligned figures, the way numbers are easiest to compare.
proc ::bench::table {header rows} {
    set widths {}
    foreach cell $header {
	lappend widths [string length $cell]
    }
    foreach row $rows {
	set i 0
	foreach cell $row {
	    lset widths $i [expr {max([lindex $widths $i],
		    [string length $cell])}]
	    incr i
	}
    }
    foreach row [list $header {} {*}$rows] {
	if {![llength $row]} {
	    puts [string repeat - [expr {[tcl::mathop::+ {*}$widths]
		    + 2 * ([llength $widths] - 1)}]]
	    continue
	}
	set cells {}
	foreach cell $row width $widths {
	    set align [expr {[llength $cells] ? "" : "-"}]
	    lappend cells [format "%${align}${width}s" $cell]
	}
	puts [join $cells "  "]
    }
}

# bench::loadAverage --
#	The 1-minute load average, or "?": printed beside the figures of a
#	benchmark, which a busy machine moves.
proc ::bench::loadAverage {} {
    if {[catch {
	set f [open /proc/loadavg]
	set load [lindex [read $f] 0]
	close $f
    }]} {
	return ?
    }
    return $load
}

# bench::saveResults name header rows complete --
#	The end of a benchmark: writes bench/results/name (bench::csv) when
#	every scenario ran (complete true), else leaves the last run's file
#	as it was and says so. Returns the file's path, or "" if not written.
proc ::bench::saveResults {name header rows complete} {
    if {!$complete} {
	puts "\nsome scenarios failed: bench/results/$name left as it was"
	return ""
    }
    set path [csv $name $header $rows]
    puts "\nwritten: bench/results/[file tail $path]"
    return $path
}

# bench::failIfAny failures --
#	Raises an error in the caller when failures (key message ...) is not
#	empty, so that make bench exits non-zero.
proc ::bench::failIfAny {failures} {
    if {[llength $failures]} {
	return -code error "[expr {[llength $failures] / 2}] scenario\
		run(s) failed"
    }
}

# bench::csv file header rows --
#	Writes a CSV file (RFC 4180 quoting) into bench/results/.
proc ::bench::csv {name header rows} {
    variable dir
    file mkdir [file join $dir results]
    set path [file join $dir results $name]
    set f [open $path.tmp w]
    foreach row [list $header {*}$rows] {
	set cells {}
	foreach cell $row {
	    if {[regexp {[",\n]} $cell]} {
		set cell "\"[string map {\" \"\"} $cell]\""
	    }
	    lappend cells $cell
	}
	puts $f [join $cells ,]
    }
    close $f
    # Rename last, so an interrupted run never leaves half a file.
    file rename -force $path.tmp $path
    return $path
}

# bench::Machine --
#	One line on what ran the benchmark; figures mean little without it.
proc ::bench::Machine {} {
    set cpu unknown
    catch {
	set f [open /proc/cpuinfo]
	regexp -line {^model name\s*:\s*(.*)$} [read $f] -> cpu
	close $f
    }
    set cores [expr {[catch {exec nproc} n] ? "?" : $n}]
    return "$cpu, $cores cores, Tcl [info patchlevel]"
}

proc ::bench::main {argv} {
    variable dir
    variable quick
    variable repeat
    variable only
    if {[catch {ParseArgs $argv} msg]} {
	puts stderr $msg
	exit 2
    }
    # Started by hand rather than by make: find the package in the
    # source tree, where the default build puts the library.
    if {![info exists ::env(TCLLIBPATH)]} {
	set ::env(TCLLIBPATH) [list [file dirname $dir]]
    }
    puts "courier benchmarks on [Machine]"
    puts "mode: [expr {$quick ? "quick" : "full"}], repeat $repeat\
	    (median run kept)"
    set failed 0
    # soak.tcl runs on its own (make soak), for minutes: not a benchmark.
    set scripts [lsearch -all -inline -not [lsort [glob -directory $dir \
	    *.tcl]] */soak.tcl]
    foreach name $only {
	if {[file join $dir $name.tcl] ni $scripts || $name eq "run"} {
	    puts stderr "-only: no benchmark \"$name\" in bench/"
	    exit 2
	}
    }
    foreach script $scripts {
	set name [file rootname [file tail $script]]
	if {$name eq "run"
		|| ([llength $only] && $name ni $only)} {
	    continue
	}
	source $script
	puts "\n== $name =="
	if {[catch {::bench::${name}::run} msg]} {
	    puts "$name: benchmark failed: $msg"
	    set failed 1
	}
    }
    exit $failed
}

::bench::main $argv
