# all.tcl --
#
#	Runs the whole Courier test suite: every *.test file in this
#	directory, each in its own tclsh (tcltest's default). Honours the
#	environment that the Makefile sets:
#	  TCLLIBPATH       where the built package is (make test sets it)
#	  COURIER_WRAP     a command prefix every test tclsh runs under
#	                   (valgrind)
#	  COURIER_PRELOAD  a sanitizer runtime every test tclsh preloads
#	Exits 1 when any test fails or any test file dies; prints a closing
#	line "N passed, N failed, N skipped".

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
    uplevel 1 [list ::tcltest::CleanupTestsOriginal $calledFromAllFile]
}

set failed [runAllTests]
file delete -force $tmpDir
puts "\nall.tcl: $totals(Passed) passed, $totals(Failed) failed,\
	$totals(Skipped) skipped"
exit [expr {$failed || $totals(Failed) > 0 || $totals(Total) == 0}]
