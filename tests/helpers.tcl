# helpers.tcl --
#
#	Shared by every *.test file: loads tcltest and courier, defines the
#	constraints and a few helpers. Source it at the top of a test file:
#	    source [file join [file dirname [info script]] helpers.tcl]

package require tcltest 2.5
namespace import -force ::tcltest::*
package require courier

namespace eval ::courierTest {
    variable dir [file dirname [file normalize [info script]]]
    # Under valgrind everything runs ~30x slower: big loads are scaled down.
    variable sanitizer [expr {[info exists ::env(COURIER_SANITIZER)]
	    ? $::env(COURIER_SANITIZER) : ""}]
}

# Under a sanitizer this process was started with its runtime preloaded.
# Children must not inherit that (/bin/sh crashes under TSan's): the ones
# that should have it get it back through courierTest::tclsh.
unset -nocomplain ::env(LD_PRELOAD)

# Constraints.
testConstraint thread [expr {![catch {package require Thread}]}]
testConstraint display [expr {[info exists ::env(DISPLAY)]
	&& $::env(DISPLAY) ne ""}]
# The host has ::1 (a listener can bind it).
testConstraint ipv6 [expr {![catch {
    set ::courierTest::probe [socket -server list -myaddr ::1 0]
    close $::courierTest::probe
}]}]
# Tools that peers no one here wrote run on (tls.test, udp.test).
testConstraint python3 [expr {[auto_execok python3] ne ""}]
testConstraint openssl [expr {![catch {exec openssl version}]}]
# The tls package (Debian's tcl-tls) in a child tclsh.
testConstraint tlsPackage [expr {![catch {
    exec [info nameofexecutable] << {puts [package require tls]}
}]}]
# Timing and memory figures mean nothing under valgrind or a sanitizer
# (ASan's quarantine alone holds 256 MiB of freed memory). Tests still run
# there: only such assertions are skipped, with "!$courierTest::timed ||"
# (in a child started by courierTest::runChild: "!$::timed ||").
testConstraint notInstrumented [expr {$::courierTest::sanitizer eq ""}]
set ::courierTest::timed [testConstraint notInstrumented]

# courierTest::scale n --
#	A load size for this run: n normally, less under valgrind and the
#	sanitizers, where everything is many times slower.
proc ::courierTest::scale {n} {
    variable sanitizer
    switch -- $sanitizer {
	valgrind { return [expr {max(1, $n / 50)}] }
	asan - tsan { return [expr {max(1, $n / 5)}] }
	default { return $n }
    }
}

# courierTest::wait varName ?ms? --
#	vwait on a global variable with a timeout guard. Returns 1 when the
#	variable was set, 0 on timeout.
proc ::courierTest::wait {varName {ms 10000}} {
    set guard [after $ms [list set ::courierTest::timedOut($varName) 1]]
    set ::courierTest::timedOut($varName) 0
    trace add variable ::$varName write [list ::courierTest::Woken $varName]
    vwait ::courierTest::timedOut($varName)
    trace remove variable ::$varName write \
	    [list ::courierTest::Woken $varName]
    after cancel $guard
    return [expr {$::courierTest::timedOut($varName) == 2}]
}
proc ::courierTest::Woken {varName args} {
    set ::courierTest::timedOut($varName) 2
}

# courierTest::waitUntil condition ?ms? --
#	Runs the event loop until the expression condition (evaluated at
#	global level every few ms) is true. Returns 1 when it became true, 0
#	on timeout. For conditions that no variable write announces.
proc ::courierTest::waitUntil {condition {ms 10000}} {
    set deadline [expr {[clock milliseconds] + $ms}]
    while {![uplevel #0 [list expr $condition]]} {
	if {[clock milliseconds] > $deadline} {
	    return 0
	}
	after 5 [list set ::courierTest::poll 1]
	vwait ::courierTest::poll
    }
    return 1
}

# courierTest::runWaitUs --
#	The time, in microseconds, that this process's main thread has spent
#	runnable but waiting for a CPU while other processes ran (the kernel's
#	count: /proc/self/schedstat, second field, ns); 0 where unknown. On a
#	shared machine a timer can be late for that reason alone: timing
#	tests subtract it (courierTest::stamp, courierTest::largestGapMs).
proc ::courierTest::runWaitUs {} {
    if {[catch {open /proc/self/schedstat} f]} {
	return 0
    }
    set wait [lindex [read $f] 1]
    close $f
    return [expr {$wait / 1000}]
}

# courierTest::processRunWaitUs --
#	Like courierTest::runWaitUs, for all this process's threads together.
proc ::courierTest::processRunWaitUs {} {
    set wait 0
    foreach task [glob -nocomplain /proc/self/task/*/schedstat] {
	if {![catch {open $task} f]} {
	    incr wait [lindex [read $f] 1]
	    close $f
	}
    }
    return [expr {$wait / 1000}]
}

# courierTest::stamp --
#	{now waited mainWaited}: the clock, courierTest::processRunWaitUs and
#	courierTest::runWaitUs, in microseconds. For a gap all the threads
#	count: a producer thread kept off the CPU while it holds a lock holds
#	this thread up too, without this thread waiting for a CPU itself. For
#	a rate, the time this thread could run (courierTest::ranMs).
proc ::courierTest::stamp {} {
    return [list [clock microseconds] [processRunWaitUs] [runWaitUs]]
}

# courierTest::ranMs stamps --
#	The ms from the first to the last of a list of stamps during which
#	this thread could run: the time less its wait for a CPU.
proc ::courierTest::ranMs {stamps} {
    lassign [lindex $stamps 0] t0 - w0
    lassign [lindex $stamps end] t1 - w1
    return [expr {(($t1 - $t0) - ($w1 - $w0)) / 1000.0}]
}

# courierTest::largestGapMs stamps --
#	The largest time between two neighbours of a list of stamps
#	(courierTest::stamp), in ms, less the time this thread waited for a
#	CPU in between (all its threads): the lateness that this process
#	itself caused.
proc ::courierTest::largestGapMs {stamps} {
    set gap 0
    foreach a [lrange $stamps 0 end-1] b [lrange $stamps 1 end] {
	lassign $a ta wa
	lassign $b tb wb
	set gap [expr {max($gap, ($tb - $ta) - ($wb - $wa))}]
    }
    return [expr {$gap / 1000.0}]
}

# courierTest::osThreadNames --
#	The OS names of this process's threads, read from /proc, sorted.
proc ::courierTest::osThreadNames {} {
    set names {}
    foreach task [glob -nocomplain /proc/[pid]/task/*/comm] {
	if {![catch {open $task} f]} {
	    lappend names [string trim [read $f]]
	    close $f
	}
    }
    return [lsort $names]
}

# courierTest::tclsh --
#	The command prefix that starts a child tclsh: the same tclsh, under
#	COURIER_WRAP when the suite runs under valgrind, with COURIER_PRELOAD
#	under a sanitizer (tests/sanitizers/run-tclsh).
proc ::courierTest::tclsh {} {
    variable dir
    if {([info exists ::env(COURIER_WRAP)] && $::env(COURIER_WRAP) ne "")
	    || ([info exists ::env(COURIER_PRELOAD)]
	    && $::env(COURIER_PRELOAD) ne "")} {
	return [list [file join $dir sanitizers run-tclsh]]
    }
    return [list [info nameofexecutable]]
}

# courierTest::runChild script ?ms? --
#	Runs script in a child tclsh (courier is on its auto_path through
#	TCLLIBPATH; ::timed set as courierTest::timed) and returns
#	{exitcode stdout stderr}. exitcode is the exit status, "signal NAME" when the child was killed by a signal, or
#	"timeout" when it was still running after ms (it is then killed).
proc ::courierTest::runChild {script {ms 60000}} {
    variable childCount
    set n [incr childCount]
    # ::timed in the child: 1 when its timing figures are asserted.
    set file [makeFile "set ::timed $::courierTest::timed;$script" \
	    child$n.tcl]
    set err [makeFile {} child$n.err]
    set chan [open |[list {*}[tclsh] $file 2> $err] r]
    fconfigure $chan -blocking 0
    set ::courierTest::childOut($n) ""
    set ::courierTest::childEnd($n) ""
    fileevent $chan readable [list ::courierTest::ChildReadable $chan $n]
    set guard [after $ms [list set ::courierTest::childEnd($n) timeout]]
    vwait ::courierTest::childEnd($n)
    after cancel $guard
    set code 0
    if {$::courierTest::childEnd($n) eq "timeout"} {
	catch {exec kill -9 {*}[pid $chan]}
	set code timeout
    }
    fconfigure $chan -blocking 1
    if {[catch {close $chan} msg opts] && $code ne "timeout"} {
	set ec [dict get $opts -errorcode]
	switch -- [lindex $ec 0] {
	    CHILDSTATUS { set code [lindex $ec 2] }
	    CHILDKILLED { set code [list signal [lindex $ec 2]] }
	    default { set code [list error $msg] }
	}
    }
    set result [list $code $::courierTest::childOut($n) [viewFile $err]]
    unset ::courierTest::childOut($n) ::courierTest::childEnd($n)
    removeFile $file
    removeFile $err
    return $result
}
proc ::courierTest::ChildReadable {chan n} {
    append ::courierTest::childOut($n) [read $chan]
    if {[eof $chan]} {
	fileevent $chan readable {}
	set ::courierTest::childEnd($n) eof
    }
}

# courierTest::childPreamble --
#	The lines a child script starts with to load courier the way the
#	suite does.
proc ::courierTest::childPreamble {} {
    return {package require courier}
}
