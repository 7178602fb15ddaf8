#!/usr/bin/env wish
# workbench.tcl --
#
#	The Courier Workbench: a desktop tool for TCP and UDP work (connections,
#	listeners, traffic views, a send panel, auto-responders, a load
#	generator, live graphs, logging) whose window keeps responding
#	whatever the traffic. "make demo" starts it.
#
#	Usage: wish demos/workbench.tcl ?option ...?   (see Usage below)
#
#	The model (demos/workbench/{connections,traffic,payload,rules,
#	statistics,logfile,workspace,loadgen,udp,tls}.tcl) is plain Tcl without Tk
#	(scripthost.tcl runs in a tclsh of its own for scripted replies); the views
#	(demos/workbench/view_*.tcl) are Tk. They meet through
#	workbench::observe (the model's notifications) and the model's
#	commands (itemGet, itemSend, itemClose, ...), which the views call.

package require Tk 8.6
package require courier

namespace eval ::workbench {
    variable home [file join [file dirname [file normalize [info script]]] \
	    workbench]
    foreach file {payload connections traffic rules statistics logfile workspace
	    loadgen udp tls view_dialogs view_main view_traffic view_send view_graph
	    view_loadgen view_rules view_tls} {
	source [file join $home $file.tcl]
    }
    unset file
    variable options		;# Dict of the command-line options.
    variable startFailures 0	;# Command-line listens and connects that failed.
    variable startClients {}	;# Dict: --connect item id -> HOST:PORT, until open.
}

proc ::workbench::Usage {{message {}}} {
    set text [join {
	"usage: workbench.tcl ?option ...?"
	"  --listen PORT         listen on PORT (0: a free one); repeatable"
	"  --host ADDR           address for --listen (default 127.0.0.1)"
	"  --echo                the --listen listeners echo every message"
	"  --connect HOST:PORT   open a connection ([::1]:7000 for IPv6); repeatable"
	"  --framing MODE        raw, line (default) or length, for the above"
	"  --load HOST:PORT      start the load generator against HOST:PORT"
	"  --load-conns N        its connections (default 4)"
	"  --load-rate M         messages/s per connection, 0 = as fast as possible (default 1000)"
	"  --load-size B         bytes per line (default 64)"
	"  --log FILE            log all traffic to FILE (rotating)"
	"  --log-size MB         rotate the log at MB megabytes (default 64)"
	"  --window ROWS         rows kept in the traffic view (default 5000)"
	"  --workspace FILE      workspace file to restore and save"
	"                        (default ~/.config/courier-workbench/workspace.tcl)"
	"  --no-workspace        neither restore nor save a workspace"
	"  --geometry WxH+X+Y    window geometry"
	"  --quit-after MS       quit after MS and print a summary line (scripts)"
    } \n]
    if {$message eq ""} {
	puts $text
	exit 0
    }
    puts stderr "workbench.tcl: $message\n$text"
    exit 2
}

# workbench::ParseArgs argv --
#	Returns a dict of the options; repeatable ones hold lists.

proc ::workbench::ParseArgs {argv} {
    set o [dict create listen {} connect {} host 127.0.0.1 echo 0 \
	    framing line load {} load-conns 4 load-rate 1000 load-size 64 \
	    log {} log-size 64 window 5000 workspace {} no-workspace 0 \
	    geometry {} quit-after {}]
    while {[llength $argv]} {
	set argv [lassign $argv opt]
	switch -- $opt {
	    --echo { dict set o echo 1 }
	    --no-workspace {
		# The last of --workspace and --no-workspace counts.
		dict set o no-workspace 1
		dict set o workspace {}
	    }
	    -h - --help { Usage }
	    --listen - --connect - --host - --framing - --load - --load-conns -
	    --load-rate - --load-size - --log - --log-size - --window -
	    --workspace - --geometry - --quit-after {
		if {![llength $argv]} {
		    Usage "$opt needs a value"
		}
		set argv [lassign $argv value]
		set key [string range $opt 2 end]
		if {$key in {listen connect}} {
		    dict lappend o $key $value
		} elseif {$key eq "workspace"} {
		    dict set o workspace $value
		    dict set o no-workspace 0
		} else {
		    dict set o $key $value
		}
	    }
	    default { Usage "unknown option \"$opt\"" }
	}
    }
    foreach key {load-conns load-rate load-size log-size window} {
	if {![string is entier -strict [dict get $o $key]]} {
	    Usage "--$key needs a whole number, not \"[dict get $o $key]\""
	}
    }
    if {[dict get $o framing] ni {raw line length}} {
	Usage "--framing must be raw, line or length, not\
		\"[dict get $o framing]\""
    }
    if {[dict get $o quit-after] ne ""
	    && ![string is entier -strict [dict get $o quit-after]]} {
	Usage "--quit-after needs a whole number of ms"
    }
    return $o
}

# workbench::SplitHostPort text --
#	host:port or [v6addr]:port -> {host port}.

proc ::workbench::SplitHostPort {text} {
    if {[regexp {^\[([^\]]+)\]:(\d+)$} $text -> host port]
	    || [regexp {^([^:]+):(\d+)$} $text -> host port]} {
	return [list $host $port]
    }
    Usage "expected HOST:PORT or \[ADDR\]:PORT, not \"$text\""
}

proc ::workbench::Main {argv} {
    variable options
    variable ui
    variable settings
    set options [ParseArgs $argv]
    set o $options
    set ui(workspace) [expr {[dict get $o no-workspace] ? ""
	    : [dict get $o workspace] ne "" ? [dict get $o workspace]
	    : [defaultWorkspace]}]
    buildMainWindow
    startLagMeter 10
    startSlowMeter 25
    # Building and mapping the window is not the event loop lagging:
    # the worst lag counts from when the window is up.
    after idle [list after 200 ::workbench::resetLag]
    if {$ui(workspace) ne "" && [file exists $ui(workspace)]} {
	restoreWorkspace $ui(workspace)
    }
    if {[catch {CheckSettings [list window [dict get $o window] \
	    logMaxMB [dict get $o log-size]]} msg]} {
	Usage $msg
    }
    set settings(window) [dict get $o window]
    set settings(logMaxMB) [dict get $o log-size]
    if {[dict get $o geometry] ne ""} {
	wm geometry . [dict get $o geometry]
    } elseif {[wm geometry .] eq "1x1+0+0"} {
	wm geometry . 1180x780
    }
    set opts [list framing [dict get $o framing]]
    if {[dict get $o log] ne ""} {
	startLog [dict get $o log] [expr {$settings(logMaxMB) << 20}]
    } elseif {$settings(autolog)} {
	startLog [file join [configDir] logs workbench-[clock format \
		[clock seconds] -format %Y%m%d-%H%M%S].log] \
		[expr {$settings(logMaxMB) << 20}]
    }
    # A listener or connection restored from the workspace with the same
    # address is reused, not added again. A failure goes to stderr too
    # (and makes a --quit-after run exit 1).
    observe ::workbench::WatchStart
    foreach port [dict get $o listen] {
	if {[catch {openEndpoint listener [dict get $o host] $port $opts \
		[dict get $o echo]} msg]} {
	    startFailed "--listen $port: $msg"
	}
    }
    foreach target [dict get $o connect] {
	if {[catch {openEndpoint client {*}[SplitHostPort $target] $opts} \
		id]} {
	    startFailed "--connect $target: $id"
	} else {
	    variable startClients
	    dict set startClients $id $target
	}
    }
    if {[dict get $o load] ne ""} {
	variable lg
	lassign [SplitHostPort [dict get $o load]] lg(host) lg(port)
	set lg(conns) [dict get $o load-conns]
	set lg(rate) [dict get $o load-rate]
	set lg(size) [dict get $o load-size]
	.nb select .nb.load
	after 200 ::workbench::uiStartLoad
    }
    if {[dict get $o framing] ni {raw line length}} {
	Usage "--framing must be raw, line or length, not\
		\"[dict get $o framing]\""
    }
    if {[dict get $o quit-after] ne ""} {
	after [dict get $o quit-after] ::workbench::quit
    }
}

# workbench::startFailed message --
#	A command-line listen or connect failed: said on stderr and in the
#	status bar; a --quit-after run then exits with status 1.

proc ::workbench::startFailed {message} {
    variable startFailures
    incr startFailures
    catch {puts stderr "workbench.tcl: $message"}
    problem $message
}

# workbench::WatchStart event id --
#	Observes the connections given with --connect until they open: one
#	that fails first (refused, unreachable) is a start failure.

proc ::workbench::WatchStart {event id} {
    variable startClients
    if {$event ne "state" || ![dict exists $startClients $id]} {
	return
    }
    switch -- [itemGet $id state] {
	open { dict unset startClients $id }
	error {
	    startFailed "--connect [dict get $startClients $id]:\
		    [itemGet $id reason]"
	    dict unset startClients $id
	}
    }
}

# workbench::quit --
#	Saves the workspace (unless --no-workspace), closes the log, and
#	exits. With --quit-after it first prints one summary line.

proc ::workbench::quit {} {
    variable options
    variable ui
    variable lag
    variable log
    stopLoad
    if {$ui(workspace) ne ""} {
	catch {saveWorkspace $ui(workspace) [wm geometry .]}
    }
    set rows [expr {[logging] ? $log(rows) : 0}]
    stopLog
    if {[dict get $options quit-after] ne ""} {
	catch {
	    puts [list workbench items [llength [items]] \
		    worstLagMs [format %.1f $lag(worst)] logRows $rows]
	    flush stdout
	}
    }
    variable startFailures
    exit [expr {$startFailures && [dict get $options quit-after] ne ""}]
}

::workbench::Main $argv
