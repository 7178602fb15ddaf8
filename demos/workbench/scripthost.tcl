# scripthost.tcl --
#
#	The Workbench's script host: a plain tclsh (no Tk, no Courier) that
#	computes the replies of auto-responder rules with a script (see
#	rules.tcl). The Workbench starts it under "ulimit -v" and talks to
#	it over stdin and stdout, one request at a time, in 4-byte
#	big-endian length-prefixed UTF-8 Tcl lists:
#
#	    request  {seq script message captures peer connection}
#	    answer   {seq ok reply} | {seq error message} | {seq limit why}
#
#	Each distinct script runs in its own safe interpreter (interp
#	create -safe, without after, vwait, update and interp), as the body
#	of a procedure "respond message captures peer connection", under a
#	time limit and a command-count limit per message. An interpreter
#	that exceeds a limit is deleted and "limit" answered. Nothing read
#	is evaluated here except inside those interpreters.
#
#	Usage: tclsh scripthost.tcl MS COMMANDS REPLYBYTES

lassign $argv limitMs limitCommands limitReply
set interps {}			;# Dict: script -> its interpreter.

# Interp script --
#	The safe interpreter of a script, made on first use.

proc Interp {script} {
    global interps
    if {[dict exists $interps $script]} {
	return [dict get $interps $script]
    }
    set i [interp create -safe]
    foreach cmd {after vwait update interp} {
	interp hide $i $cmd
    }
    interp eval $i [list proc ::respond {message captures peer connection} \
	    $script]
    dict set interps $script $i
    return $i
}

# Run script message captures peer connection --
#	{ok reply}, {error message} or {limit why}.

proc Run {script message captures peer connection} {
    global interps limitMs limitCommands limitReply
    if {[catch {Interp $script} i]} {
	return [list error $i]
    }
    interp limit $i command -value {}
    interp limit $i time -seconds {}
    set count [interp eval $i {info cmdcount}]
    interp limit $i command -value [expr {$count + $limitCommands}]
    set deadline [expr {[clock milliseconds] + $limitMs}]
    interp limit $i time -seconds [expr {$deadline / 1000}] \
	    -milliseconds [expr {$deadline % 1000}] -granularity 1
    set code [catch {interp eval $i [list ::respond $message $captures \
	    $peer $connection]} result]
    if {$code == 1 && [string match "*limit exceeded" $result]} {
	interp delete $i
	dict unset interps $script
	return [list limit $result]
    }
    if {$code == 1} {
	return [list error $result]
    }
    if {[string length $result] > $limitReply} {
	return [list error "reply of [string length $result] characters is\
		longer than $limitReply"]
    }
    return [list ok $result]
}

fconfigure stdin -translation binary
fconfigure stdout -translation binary -buffering full
while 1 {
    set head [read stdin 4]
    if {[string length $head] < 4 || ![binary scan $head Iu length]} {
	exit 0
    }
    set data [encoding convertfrom utf-8 [read stdin $length]]
    lassign $data seq script message captures peer connection
    set answer [encoding convertto utf-8 [list $seq {*}[Run $script \
	    $message $captures $peer $connection]]]
    puts -nonewline stdout [binary format Iu [string length $answer]]$answer
    flush stdout
}
