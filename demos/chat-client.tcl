#!/usr/bin/env wish
# chat-client.tcl --
#
#	A Tk chat client for demos/chat-server.tcl on Courier. The
#	connection lives in Courier's I/O thread; lines arrive in batches
#	(-batch 1) and each batch is one insert into the text widget, so a
#	busy room never slows the window.
#
#	Usage: wish demos/chat-client.tcl ?--host 127.0.0.1? ?--port 7010?
#		?--name NAME?

package require Tk 8.6
package require courier

namespace eval ::chatc {
    variable host 127.0.0.1
    variable port 7010
    variable name ""
    variable line ""
    variable conn ""
    variable status "Not connected"
    variable maxLines 2000
}

proc ::chatc::Build {} {
    wm title . "Courier chat"
    ttk::frame .top -padding 6
    ttk::label .top.lh -text "Server"
    ttk::entry .top.host -textvariable ::chatc::host -width 16
    ttk::label .top.lp -text "Port"
    ttk::entry .top.port -textvariable ::chatc::port -width 6
    ttk::label .top.ln -text "Name"
    ttk::entry .top.name -textvariable ::chatc::name -width 12
    ttk::button .top.connect -text "Connect" -command ::chatc::Connect
    pack .top.lh .top.host .top.lp .top.port .top.ln .top.name \
	    .top.connect -side left -padx {0 4}
    text .log -height 20 -width 70 -wrap word -state disabled \
	    -yscrollcommand {.sb set} -font TkFixedFont
    ttk::scrollbar .sb -command {.log yview}
    .log tag configure me -foreground #1c7a2e
    .log tag configure info -foreground gray45
    ttk::frame .bottom -padding 6
    ttk::entry .bottom.line -textvariable ::chatc::line
    ttk::button .bottom.send -text "Send" -command ::chatc::Send
    pack .bottom.send -side right
    pack .bottom.line -side left -fill x -expand 1 -padx {0 4}
    ttk::label .status -textvariable ::chatc::status -padding {6 0 6 4}
    pack .top -side top -fill x
    pack .status -side bottom -fill x
    pack .bottom -side bottom -fill x
    pack .sb -side right -fill y
    pack .log -side left -fill both -expand 1
    bind .bottom.line <Return> ::chatc::Send
    bind .top.name <Return> ::chatc::Connect
}

proc ::chatc::Connect {} {
    variable conn
    variable host
    variable port
    variable status
    if {$conn ne ""} {
	catch {$conn close}
    }
    if {[catch {
	set conn [courier::connect $host $port -framing line -batch 1 \
		-timeout 5000 -onconnect ::chatc::OnConnect \
		-ondata ::chatc::OnData -onerror ::chatc::OnError \
		-onclose ::chatc::OnClose]
    } msg]} {
	set status $msg
	return
    }
    set status "Connecting to $host port $port..."
}

proc ::chatc::OnConnect {c} {
    variable name
    variable status
    set status "Connected"
    if {$name ne ""} {
	$c send $name
    }
    focus .bottom.line
}

# chatc::OnData conn lines --
#	One read's worth of lines: one insert, one trim, one scroll.

proc ::chatc::OnData {c lines} {
    variable name
    variable maxLines
    set args {}
    foreach l $lines {
	set tag [expr {[string match "\\* *" $l] ? "info"
		: [string match "$name: *" $l] ? "me" : ""}]
	lappend args $l\n $tag
    }
    .log configure -state normal
    .log insert end {*}$args
    set extra [expr {int([.log index end]) - 1 - $maxLines}]
    if {$extra > 0} {
	.log delete 1.0 [expr {$extra + 1}].0
    }
    .log configure -state disabled
    .log see end
}

proc ::chatc::OnError {c message} {
    variable status
    set status "Error: $message"
}

proc ::chatc::OnClose {c reason} {
    variable conn
    variable status
    if {[lindex $reason 0] eq "eof"} {
	set status "The server closed the connection"
    }
    $c close
    set conn ""
}

proc ::chatc::Send {} {
    variable conn
    variable line
    variable status
    if {$conn eq ""} {
	set status "Not connected"
	return
    }
    if {[catch {$conn send $line} msg]} {
	set status $msg
	return
    }
    set line ""
}

proc ::chatc::Main {argv} {
    foreach {opt value} $argv {
	switch -- $opt {
	    --host { set ::chatc::host $value }
	    --port { set ::chatc::port $value }
	    --name { set ::chatc::name $value }
	    default {
		puts stderr "usage: chat-client.tcl ?--host H? ?--port N?\
			?--name NAME?"
		exit 2
	    }
	}
    }
    Build
    if {$::chatc::name ne ""} {
	Connect
    }
}

::chatc::Main $argv
