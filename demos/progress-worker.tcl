# progress-worker.tcl --
#
#	The long-running job of demos/progress.tcl, a child process: it does
#	its work in steps and reports on stdout, one line per step:
#	    progress STEP TOTAL
#	and last
#	    done RESULT
#	It reads nothing; it stops when its parent kills it.
#
#	Usage:	tclsh progress-worker.tcl ?steps? ?ms-per-step?

lassign $argv steps msPerStep
if {$steps eq ""} { set steps 200 }
if {$msPerStep eq ""} { set msPerStep 25 }
fconfigure stdout -buffering line

# Each step burns CPU for a while, as a real job would (a parse, a
# checksum): the point is that this process is busy, not the GUI.
set sum 0
for {set i 1} {$i <= $steps} {incr i} {
    set until [expr {[clock milliseconds] + $msPerStep}]
    while {[clock milliseconds] < $until} {
	set sum [expr {($sum * 31 + $i) % 1000000007}]
    }
    puts "progress $i $steps"
}
puts "done $sum"
