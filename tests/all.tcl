# all.tcl --
#
#	Runs the whole Courier test suite: every *.test file in this
#	directory, each in its own tclsh (tcltest's default). Honours the
#	environment that the Makefile sets:
#	  TCLLIBPATH       where the built package is (make test sets it)
#	  COURIER_WRAP     a command prefix every test tclsh runs under
#	                   (valgrind)
#	  COURIER_PRELOAD  a sanitizer runtime every test tclsh preloads
#	  COURIER_REQUIRE_CONSTRAINTS
#	                   constraints (display socat ...) that must skip
#	                   nothing: CI provides their tools, so a test they
#	                   skip is a test that silently did not run
#	Exits 1 when any test fails or any test file dies, or a required
#	constraint skipped a test; prints a line naming each constraint that
#	skipped tests, then the closing line
#	"all.tcl: N passed, N failed, N skipped" alone on its line.

package require tcltest 2.5
namespace import ::tcltest::*

set testDir [file dirname [file normalize [info script]]]
# Scratch files go to a private directory, not into the source tree.
set tmpDir [file join [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR)
	: "/tmp"}] courier-tests-[pid]]
file mkdir $tmpDir
configure -testdir $testDir -tmpdir $tmpDir -singleproc 0 {*}$argv

if {([info exists ::env(COURIER_WRAP)] && $::env(COURIER_WRAP) ne "")
	|| ([info exists ::env(COURIER_PRELOAD)] && $::env(COURIER_PRELOAD) ne "")} {
    # tcltest runs each file as "| $interpreter $file": give it a one-word
    # wrapper that applies COURIER_WRAP and COURIER_PRELOAD.
    interpreter [file join $testDir sanitizers run-tclsh]
    set ::env(COURIER_TCLSH) [info nameofexecutable]
}

# cleanupTests zeroes the totals after printing them: keep a copy.
rename ::tcltest::cleanupTests ::tcltest::CleanupTestsOriginal
proc ::tcltest::cleanupTests {{calledFromAllFile 0}} {
    array set ::totals [array get ::tcltest::numTests]
    array set ::skippedBy [array get ::tcltest::skippedBecause]
    uplevel 1 [list ::tcltest::CleanupTestsOriginal $calledFromAllFile]
}

array set skippedBy {}
set failed [runAllTests]
file delete -force $tmpDir
# The constraints that skipped tests (a test with several unmet
# constraints counts for each), and any of them that was required.
set byConstraint {}
set missed {}
set required [expr {[info exists ::env(COURIER_REQUIRE_CONSTRAINTS)]
	? $::env(COURIER_REQUIRE_CONSTRAINTS) : ""}]
foreach constraint [lsort [array names skippedBy]] {
    if {$constraint in {userSpecifiedSkip userSpecifiedNonMatch}} {
	continue
    }
    lappend byConstraint "$constraint $skippedBy($constraint)"
    if {$constraint in $required} {
	lappend missed "$constraint $skippedBy($constraint)"
    }
}
puts "\nall.tcl: skipped by constraint:\
	[expr {[llength $byConstraint] ? [join $byConstraint ", "] : "none"}]"
if {[llength $missed]} {
    puts "all.tcl: required constraints (COURIER_REQUIRE_CONSTRAINTS)\
	    skipped tests: [join $missed ", "]"
}
puts "all.tcl: $totals(Passed) passed, $totals(Failed) failed,\
	$totals(Skipped) skipped"
exit [expr {$failed || $totals(Failed) > 0 || $totals(Total) == 0
	|| [llength $missed] > 0}]
