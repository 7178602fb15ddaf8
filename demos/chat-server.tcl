#!/usr/bin/env tclsh
# chat-server.tcl --
#
#	A multi-client chat server on Courier, one line per message. A
#	client's first line is its name; every later line goes to everyone
#	as "name: text". "/who" lists who is here; joins and leaves are
#	announced. Names and lines are only ever treated as text.
#
#	Usage: tclsh demos/chat-server.tcl ?--port 7010? ?--host 127.0.0.1?
#	Talk to it with demos/chat-client.tcl, the Workbench, or telnet.

package require courier

namespace eval ::chat {
    variable names		;# Array: connection -> name ("" until given).
    array set names {}
}

proc ::chat::Broadcast {line} {
    variable names
    foreach conn [array names names] {
	if {$names($conn) ne ""} {
	    catch {$conn send $line}
	}
    }
}

proc ::chat::OnAccept {server conn host port} {
    variable names
    set names($conn) ""
    $conn configure -ondata ::chat::OnData -onclose ::chat::OnClose
    $conn send "Welcome to Courier chat. Your name?"
}

# chat::OnData conn line --
#	The first line names the client; later ones are said to all.

proc ::chat::OnData {conn line} {
    variable names
    set line [string trim $line]
    if {$names($conn) eq ""} {
	set name [string range [regsub -all {[^[:alnum:]_.-]} $line ""] 0 23]
	if {$name eq "" || $name in [Names]} {
	    $conn send "That name is empty or taken; another?"
	    return
	}
	set names($conn) $name
	$conn send "Hello $name. /who lists who is here."
	Broadcast "* $name joined"
	return
    }
    if {$line eq "/who"} {
	$conn send "* here: [join [lsort [Names]] {, }]"
    } elseif {$line ne ""} {
	Broadcast "$names($conn): $line"
    }
}

proc ::chat::Names {} {
    variable names
    return [lmap conn [array names names] {
	if {$names($conn) eq ""} continue
	set names($conn)
    }]
}

proc ::chat::OnClose {conn reason} {
    variable names
    set name $names($conn)
    unset names($conn)
    $conn close
    if {$name ne ""} {
	Broadcast "* $name left"
    }
}

proc ::chat::Main {argv} {
    set opts [dict create --port 7010 --host 127.0.0.1]
    foreach {opt value} $argv {
	if {$opt ni {--port --host}} {
	    puts stderr "usage: chat-server.tcl ?--port N? ?--host ADDR?"
	    exit 2
	}
	dict set opts $opt $value
    }
    set server [courier::listen [dict get $opts --port] \
	    -host [dict get $opts --host] -framing line \
	    -onaccept ::chat::OnAccept]
    puts "chat server on [dict get $opts --host] port [$server port]"
    flush stdout
    vwait forever
}

::chat::Main $argv
