# worker.tcl --
#
#	A child process for spawn.test, a worker in the shape courier::spawn
#	expects: it talks on stdin and stdout.
#	    worker.tcl upper		echo each line upper-cased, exit 0 on EOF
#	    worker.tcl count n code	write lines 1..n, then exit with code
#	    worker.tcl env name		write $env(name) and [pwd], and "err"
#					to stderr
#	    worker.tcl wait		wait for EOF on stdin, then exit 0

fconfigure stdout -translation lf -buffering full
lassign $argv mode a b
switch -- $mode {
    upper {
	while {[gets stdin line] >= 0} {
	    puts [string toupper $line]
	    flush stdout
	}
	exit 0
    }
    count {
	for {set i 1} {$i <= $a} {incr i} {
	    puts $i
	}
	flush stdout
	exit $b
    }
    env {
	puts [expr {[info exists env($a)] ? $env($a) : "(unset)"}]
	puts [pwd]
	flush stdout
	puts stderr err
	exit 0
    }
    wait {
	read stdin
	exit 0
    }
}
exit 2
