# view_loadgen.tcl --
#
#	The load generator tab: target, connections, rate and size; Start
#	and Stop; the achieved rate, the round trips (p50, p99, max) and
#	errors, refreshed once a second, with a 60 s graph.

namespace eval ::workbench {
    variable lg			;# Array: the tab's entries and readouts.
    array set lg {host 127.0.0.1 port 7000 conns 4 rate 1000 size 64
	history {} status {} proto tcp}
}

proc ::workbench::buildLoadTab {w} {
    ttk::frame $w -padding 10
    ttk::labelframe $w.target -text "Target (must echo back)" \
	    -padding 8
    set f $w.target
    # TCP: line-framed connections; UDP: datagrams from one socket (the
    # connections field does not apply).
    ttk::label $f.lproto -text "Protocol"
    ttk::frame $f.proto
    foreach p {tcp udp} label {TCP UDP} {
	ttk::radiobutton $f.proto.$p -text $label -value $p \
		-variable ::workbench::lg(proto) -command ::workbench::OnLoadProto
	pack $f.proto.$p -side left -padx {0 8}
    }
    tooltip $f.proto "TCP: lines on N connections. UDP: N datagrams a\
	    second of B bytes from one socket; what comes back gives the\
	    round trip, what does not is counted lost"
    foreach {name label width tip} {
	host "Host" 15 "The echo server to load"
	port "Port" 7 ""
	conns "Connections" 6 "How many connections, 1 to 1000"
	rate "Messages/s each" 9 "Per connection; 0: as fast as the echo\
		comes back (64 in flight per connection)"
	size "Line bytes" 6 "Bytes per line, 32 to 65536"
    } {
	ttk::label $f.l$name -text $label
	ttk::entry $f.$name -textvariable ::workbench::lg($name) \
		-width $width
	if {$tip ne ""} {
	    tooltip $f.$name $tip
	}
    }
    # Two fields a row, so that a narrow window shows them all.
    grid $f.lproto $f.proto - - -sticky w -padx {0 6} -pady 2
    grid $f.lhost $f.host $f.lport $f.port -sticky w -padx {0 6} -pady 2
    grid $f.lconns $f.conns $f.lrate $f.rate -sticky w -padx {0 6} -pady 2
    grid $f.lsize $f.size -sticky w -padx {0 6} -pady 2
    ttk::frame $w.buttons
    ttk::button $w.buttons.start -text "Start" -command ::workbench::uiStartLoad
    ttk::button $w.buttons.stop -text "Stop" -command ::workbench::stopLoad
    ttk::label $w.buttons.status -textvariable ::workbench::lg(status) \
	    -foreground red3
    pack $w.buttons.start $w.buttons.stop -side left -padx {0 6}
    pack $w.buttons.status -side left -padx 8

    ttk::labelframe $w.figures -text "Results (last second)" -padding 8
    set f $w.figures
    set row 0
    foreach {key label} {
	state "State" elapsed "Elapsed" open "Connections open"
	achieved "Achieved rate" rtt "Round trip p50 / p99 / max"
	sent "Sent" received "Received" lost "Lost (UDP, not back in 1 s)" errors "Errors"
    } {
	ttk::label $f.l$key -text $label
	ttk::label $f.v$key -textvariable ::workbench::lg(v,$key) \
		-font TkFixedFont
	grid $f.l$key $f.v$key -sticky w -padx {0 16}
	set ::workbench::lg(v,$key) "\u2014"
    }
    canvas $w.graph -height 150 -background white -highlightthickness 0 \
	    -borderwidth 1 -relief solid
    bind $w.graph <Configure> ::workbench::DrawLoadGraph
    grid $w.target -sticky ew
    grid $w.buttons -sticky w -pady 8
    grid $w.figures -sticky ew
    grid $w.graph -sticky nsew -pady {8 0}
    grid columnconfigure $w 0 -weight 1
    grid rowconfigure $w 3 -weight 1
    refreshLoad
}

# workbench::OnLoadProto --
#	The protocol radio: the fields' labels say what they mean.

proc ::workbench::OnLoadProto {} {
    variable lg
    set f .nb.load.target
    set udp [expr {$lg(proto) eq "udp"}]
    $f.conns state [expr {$udp ? "disabled" : "!disabled"}]
    $f.lrate configure -text [expr {$udp ? "Datagrams/s" : "Messages/s each"}]
    $f.lsize configure -text [expr {$udp ? "Datagram bytes" : "Line bytes"}]
}

proc ::workbench::uiStartLoad {} {
    variable lg
    set lg(status) {}
    set lg(history) {}
    if {[catch {
	if {$lg(proto) eq "udp"} {
	    startUdpLoad [string trim $lg(host) " \[\]"] \
		    [string trim $lg(port)] [string trim $lg(rate)] \
		    [string trim $lg(size)]
	    return
	}
	startLoad [string trim $lg(host) " \[\]"] [string trim $lg(port)] \
		[string trim $lg(conns)] [string trim $lg(rate)] \
		[string trim $lg(size)]
    } msg]} {
	set lg(status) $msg
    }
}

# workbench::refreshLoad --
#	Copies the load generator's figures into the readouts (once a
#	second, from the model's "load" notification).

proc ::workbench::refreshLoad {} {
    variable lg
    array set s [loadState]
    set running [expr {$s(state) eq "running"}]
    if {[winfo exists .nb.load.buttons.start]} {
	.nb.load.buttons.start state [expr {$running ? "disabled" : "!disabled"}]
	.nb.load.buttons.stop state [expr {$running ? "!disabled" : "disabled"}]
    }
    if {$s(startUs) == 0} {
	return
    }
    if {$s(proto) eq "udp"} {
	set lg(v,state) [expr {$running ? "UDP to [endpoint $s(host)\
		$s(port)], [commas $s(rate)] datagrams/s of $s(size) bytes"
		: "stopped"}]
	set lg(v,lost) [format "%s (%.2f%%)" [commas $s(lost)] \
		[expr {$s(sent) ? 100.0 * $s(lost) / $s(sent) : 0}]]
    } else {
	set lg(v,state) [expr {$running ? "running against\
		$s(host):$s(port), $s(conns) \u00D7 [expr {$s(rate) ? "[commas\
		$s(rate)] msg/s" : "as fast as possible"}]" : "stopped"}]
	set lg(v,lost) "\u2014"
    }
    set lg(v,elapsed) "$s(seconds) s"
    set lg(v,open) "$s(openNow) of $s(conns)"
    set lg(v,achieved) "[commas $s(achieved)] round trips/s"
    set lg(v,rtt) [format "%.2f / %.2f / %.2f ms" $s(p50) $s(p99) $s(max)]
    set lg(v,sent) [commas $s(sent)]
    set lg(v,received) [commas $s(received)]
    set lg(v,errors) [expr {$s(errors) ? "$s(errors): $s(lastError)" : 0}]
    if {$running} {
	lappend lg(history) [list $s(achieved) $s(p99)]
	set lg(history) [lrange $lg(history) end-59 end]
    }
    DrawLoadGraph
}

proc ::workbench::DrawLoadGraph {} {
    variable lg
    set c .nb.load.graph
    if {![winfo exists $c]} {
	return
    }
    set h [lrepeat [expr {60 - [llength $lg(history)]}] {0 0}]
    lappend h {*}$lg(history)
    drawGraph $c "" [list "round trips/s" in {} [lmap s $h {lindex $s 0}]]
    # The p99 round trip, on its own scale, as a dashed line.
    set max [NiceMax [tcl::mathfunc::max 0 {*}[lmap s $h {lindex $s 1}]]]
    set w [winfo width $c]
    set bottom [expr {[winfo height $c] - 6}]
    set coords {}
    set i 0
    foreach s $h {
	lappend coords [expr {52 + $i * ($w - 58) / 59.0}] \
		[expr {$bottom - [lindex $s 1] / double($max) * ($bottom - 16)}]
	incr i
    }
    if {[winfo width $c] > 50} {
	$c create line {*}$coords -fill #b3261e -dash {4 3}
	$c create text [expr {$w - 6}] 14 -anchor ne -font TkSmallCaptionFont \
		-fill #b3261e -text "p99 round trip (top = $max ms)\
		[format %.2f [lindex $h end 1]] ms"
    }
}
