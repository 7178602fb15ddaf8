# view_dialogs.tcl --
#
#	The connect and listen dialogs, a one-line question, the file
#	choosers behind the File menu, and tooltips. Dialogs keep their
#	values in the array dlg, so that they remember the last entries
#	(and tests can fill them in).

namespace eval ::workbench {
    variable dlg
    array set dlg {host 127.0.0.1 port 7000 family any framing line
	encoding utf-8 translation auto lengthbytes 4 maxmessage 16777216
	lhost 127.0.0.1 lport 7000 echo 0 error {} answer {}
	uhost 127.0.0.1 uport 0 uecho 0 ubroadcast 0 ureuse 0 ugroup {}
	uto {}}
}

# workbench::connectDialog / listenDialog --
#	Modeless-looking but grabbed toplevels; OK opens the connection or
#	listener, an error stays in the dialog in red.

proc ::workbench::connectDialog {} {
    set w [Dialog .connect "Connect"]
    set f $w.body
    ttk::label $f.lhost -text "Host"
    ttk::entry $f.host -textvariable ::workbench::dlg(host) -width 28
    ttk::label $f.lport -text "Port"
    ttk::spinbox $f.port -from 1 -to 65535 -width 8 \
	    -textvariable ::workbench::dlg(port)
    ttk::label $f.lfamily -text "Address family"
    ttk::frame $f.family
    foreach fam {any inet inet6} label {Any IPv4 IPv6} {
	ttk::radiobutton $f.family.$fam -text $label -value $fam \
		-variable ::workbench::dlg(family)
	pack $f.family.$fam -side left -padx {0 8}
    }
    grid $f.lhost $f.host -sticky w -pady 2
    grid $f.lport $f.port -sticky w -pady 2
    grid $f.lfamily $f.family -sticky w -pady 2
    FramingFields $f
    TlsFields $f client
    DialogButtons $w Connect ::workbench::DoConnect
    focus $f.host
    $f.host selection range 0 end
    return $w
}

proc ::workbench::listenDialog {} {
    set w [Dialog .listen "Listen"]
    set f $w.body
    ttk::label $f.lhost -text "Address"
    ttk::combobox $f.host -textvariable ::workbench::dlg(lhost) -width 26 \
	    -values {127.0.0.1 ::1 0.0.0.0 :: localhost}
    ttk::label $f.lport -text "Port"
    ttk::spinbox $f.port -from 0 -to 65535 -width 8 \
	    -textvariable ::workbench::dlg(lport)
    ttk::label $f.pnote -text "0 picks a free port" -style Status.TLabel
    ttk::checkbutton $f.echo -text "Echo every message back to its sender" \
	    -variable ::workbench::dlg(echo)
    grid $f.lhost $f.host -sticky w -pady 2
    grid $f.lport $f.port -sticky w -pady 2
    grid x $f.pnote -sticky w
    FramingFields $f
    grid x $f.echo -sticky w -pady {4 0}
    TlsFields $f listener
    DialogButtons $w Listen ::workbench::DoListen
    tooltip $f.host "127.0.0.1 or ::1: this machine only; 0.0.0.0 or ::\
	    listen on every interface"
    focus $f.port
    return $w
}

# workbench::udpDialog --
#	Binds a UDP socket: address, port, echo, broadcast, a multicast
#	group to join and where the send panel sends.

proc ::workbench::udpDialog {} {
    set w [Dialog .udp "UDP socket"]
    set f $w.body
    ttk::label $f.lhost -text "Address"
    ttk::combobox $f.host -textvariable ::workbench::dlg(uhost) -width 26 \
	    -values {127.0.0.1 ::1 0.0.0.0 :: localhost}
    ttk::label $f.lport -text "Port"
    ttk::spinbox $f.port -from 0 -to 65535 -width 8 \
	    -textvariable ::workbench::dlg(uport)
    ttk::label $f.pnote -text "0 picks a free port" -style Status.TLabel
    ttk::label $f.lto -text "Send to"
    ttk::entry $f.to -textvariable ::workbench::dlg(uto) -width 28
    ttk::label $f.lgroup -text "Multicast group"
    ttk::entry $f.group -textvariable ::workbench::dlg(ugroup) -width 28
    ttk::checkbutton $f.echo -text "Echo every datagram back to its sender" \
	    -variable ::workbench::dlg(uecho)
    ttk::checkbutton $f.broadcast -text "Allow sending to broadcast addresses" \
	    -variable ::workbench::dlg(ubroadcast)
    ttk::checkbutton $f.reuse -text "Share the port (several receivers of a group)" \
	    -variable ::workbench::dlg(ureuse)
    grid $f.lhost $f.host -sticky w -pady 2
    grid $f.lport $f.port -sticky w -pady 2
    grid x $f.pnote -sticky w
    grid $f.lto $f.to -sticky w -pady 2
    grid $f.lgroup $f.group -sticky w -pady 2
    grid x $f.echo -sticky w -pady {4 0}
    grid x $f.broadcast -sticky w
    grid x $f.reuse -sticky w
    DialogButtons $w Bind ::workbench::DoUdp
    tooltip $f.host "127.0.0.1 or ::1: this machine only; 0.0.0.0 or ::\
	    every interface; a multicast group's address to receive it"
    tooltip $f.to "HOST:PORT (\[::1\]:5000 for IPv6) where the send panel\
	    sends; empty: set it later in the send panel"
    tooltip $f.group "A group to join at once: GROUP or GROUP INTERFACE\
	    (the interface by address or name)"
    focus $f.port
    return $w
}

proc ::workbench::DoUdp {w} {
    variable dlg
    if {[catch {
	set opts [list echo $dlg(uecho) broadcast $dlg(ubroadcast) \
		reuseaddr $dlg(ureuse)]
	set group [string trim $dlg(ugroup)]
	if {$group ne ""} {
	    dict set opts groups [list $group]
	}
	set to [string trim $dlg(uto)]
	if {$to ne ""} {
	    dict set opts target [splitTarget $to]
	}
	udpBind [string trim $dlg(uport)] [string trim $dlg(uhost) " \[\]"] \
		$opts
    } id]} {
	set dlg(error) $id
	return
    }
    destroy $w
    Select $id
}

# workbench::splitTarget text --
#	HOST:PORT or [ADDR]:PORT -> {host port}; an error says what was
#	expected.

proc ::workbench::splitTarget {text} {
    if {[regexp {^\[([^\]]+)\]:(\d+)$} $text -> host port]
	    || [regexp {^([^:]+):(\d+)$} $text -> host port]} {
	CheckPort $port
	return [list $host $port]
    }
    Fail VALUE target "expected HOST:PORT or \[ADDR\]:PORT, not \"$text\""
}

# workbench::FramingFields f --
#	The options both dialogs share.

proc ::workbench::FramingFields {f} {
    ttk::separator $f.sep -orient horizontal
    ttk::label $f.lframing -text "Framing"
    ttk::frame $f.framing
    foreach fr {raw line length} label {"Raw chunks" "Lines" "Length prefix"} {
	ttk::radiobutton $f.framing.$fr -text $label -value $fr \
		-variable ::workbench::dlg(framing)
	pack $f.framing.$fr -side left -padx {0 8}
    }
    ttk::label $f.lenc -text "Encoding (lines)"
    ttk::combobox $f.enc -textvariable ::workbench::dlg(encoding) -width 12 \
	    -values [concat utf-8 binary iso8859-1 ascii \
	    [lsort [encoding names]]]
    ttk::label $f.ltrans -text "End of line"
    ttk::combobox $f.trans -textvariable ::workbench::dlg(translation) \
	    -width 12 -state readonly -values {auto lf crlf cr}
    ttk::label $f.llen -text "Prefix bytes (length)"
    ttk::combobox $f.len -textvariable ::workbench::dlg(lengthbytes) \
	    -width 12 -state readonly -values {1 2 4 8}
    ttk::label $f.lmax -text "Max message (bytes)"
    ttk::entry $f.max -textvariable ::workbench::dlg(maxmessage) -width 14
    grid $f.sep - -sticky ew -pady 6
    grid $f.lframing $f.framing -sticky w -pady 2
    grid $f.lenc $f.enc -sticky w -pady 2
    grid $f.ltrans $f.trans -sticky w -pady 2
    grid $f.llen $f.len -sticky w -pady 2
    grid $f.lmax $f.max -sticky w -pady 2
    tooltip $f.framing "Raw: each read is a message. Lines: one message per\
	    line. Length prefix: a big-endian byte count, then the bytes."
    tooltip $f.trans "auto: LF ends a line (a CR before it is dropped)"
}

proc ::workbench::Dialog {w title} {
    variable dlg
    destroy $w
    toplevel $w
    wm title $w $title
    wm transient $w .
    wm resizable $w 0 0
    set dlg(error) {}
    ttk::frame $w.body -padding 12
    ttk::label $w.error -textvariable ::workbench::dlg(error) \
	    -foreground red3 -wraplength 380 -padding {12 0}
    ttk::frame $w.buttons -padding {12 4 12 12}
    pack $w.body -fill both -expand 1
    pack $w.error -fill x
    pack $w.buttons -fill x
    bind $w <Escape> [list destroy $w]
    return $w
}

proc ::workbench::DialogButtons {w label cmd} {
    ttk::button $w.buttons.ok -text $label -default active \
	    -command [list {*}$cmd $w]
    ttk::button $w.buttons.cancel -text "Cancel" -command [list destroy $w]
    pack $w.buttons.cancel $w.buttons.ok -side right -padx {6 0}
    bind $w <Return> [list $w.buttons.ok invoke]
    # Place it over the main window; grab when it can be (a window not
    # yet viewable cannot be grabbed).
    wm geometry $w +[expr {[winfo rootx .] + 80}]+[expr {[winfo rooty .] + 60}]
    after idle [list catch [list grab $w]]
}

proc ::workbench::DialogOptions {} {
    variable dlg
    return [list framing $dlg(framing) encoding $dlg(encoding) \
	    translation $dlg(translation) lengthbytes $dlg(lengthbytes) \
	    maxmessage [string trim $dlg(maxmessage)]]
}

proc ::workbench::DoConnect {w} {
    variable dlg
    set host [string trim $dlg(host) " \[\]"]
    if {[catch {
	connect $host [string trim $dlg(port)] [dict merge [DialogOptions] \
		[list family $dlg(family)] [DialogTls client]]
    } id]} {
	set dlg(error) $id
	return
    }
    destroy $w
    Select $id
}

proc ::workbench::DoListen {w} {
    variable dlg
    if {[catch {
	listen [string trim $dlg(lport)] [string trim $dlg(lhost) " \[\]"] \
		[dict merge [DialogOptions] [DialogTls listener]] $dlg(echo)
    } id]} {
	set dlg(error) $id
	return
    }
    destroy $w
    Select $id
}

# workbench::Select id --
#	Shows an item in the sidebar and the traffic view.

proc ::workbench::Select {id} {
    RefreshSidebar
    .pw.side.tree selection set $id
    .pw.side.tree see $id
    .nb select .nb.traffic
}

# workbench::askString title prompt ?initial? --
#	A one-line question; returns the answer or "" when cancelled.

proc ::workbench::askString {title prompt {initial {}}} {
    variable dlg
    set w [Dialog .ask $title]
    set dlg(answer) $initial
    ttk::label $w.body.l -text $prompt
    ttk::entry $w.body.e -textvariable ::workbench::dlg(answer) -width 30
    pack $w.body.l $w.body.e -anchor w -pady 2
    set dlg(asked) {}
    DialogButtons $w OK [list apply {{w} {
	set ::workbench::dlg(asked) ok
	destroy $w
    }}]
    bind $w <Destroy> {+if {"%W" eq ".ask"} {
	lappend ::workbench::dlg(asked) {}
    }}
    focus $w.body.e
    vwait ::workbench::dlg(asked)
    if {[lindex $dlg(asked) 0] eq "ok"} {
	return [string trim $dlg(answer)]
    }
    return ""
}

# --- File menu -------------------------------------------------------------

proc ::workbench::uiSaveWorkspace {} {
    variable ui
    if {$ui(workspace) eq ""} {
	set ui(workspace) [defaultWorkspace]
    }
    if {[catch {saveWorkspace $ui(workspace) [wm geometry .]} msg]} {
	problem "Cannot save the workspace: $msg"
    } else {
	notice "Workspace saved to $ui(workspace)"
    }
}

proc ::workbench::uiOpenWorkspace {} {
    variable ui
    set f [tk_getOpenFile -parent . -title "Open workspace" \
	    -initialdir [configDir] -filetypes {{Workspace .tcl} {All *}}]
    if {$f ne ""} {
	restoreWorkspace $f
    }
}

# workbench::restoreWorkspace path --
#	Reads, checks and applies a workspace file; a bad file is reported
#	and changes nothing.

proc ::workbench::restoreWorkspace {path} {
    variable ui
    if {[catch {readWorkspace $path} data]} {
	problem "Workspace not loaded: $data"
	return 0
    }
    set geometry [applyWorkspace $data]
    if {$geometry ne ""} {
	wm geometry . $geometry
    }
    set ui(workspace) $path
    return 1
}

proc ::workbench::uiStartLog {} {
    variable settings
    set f [tk_getSaveFile -parent . -title "Log traffic to" \
	    -initialdir [file join [configDir] logs] \
	    -initialfile workbench-[clock format [clock seconds] \
	    -format %Y%m%d-%H%M%S].log]
    if {$f ne "" && [catch {
	startLog $f [expr {$settings(logMaxMB) << 20}]
    } msg]} {
	problem "Cannot log: $msg"
    }
}

proc ::workbench::uiStopLog {} {
    stopLog
}

proc ::workbench::uiExport {} {
    variable ui
    if {$ui(current) eq "" || ![itemExists $ui(current)]} {
	problem "Select a connection to export"
	return
    }
    set f [tk_getSaveFile -parent . -title "Export traffic" \
	    -initialfile $ui(current).csv \
	    -filetypes {{CSV .csv} {Text .txt}}]
    if {$f eq ""} {
	return
    }
    set format [expr {[file extension $f] eq ".csv" ? "csv" : "text"}]
    if {[catch {export $ui(current) $f $format} n]} {
	problem "Cannot export: $n"
    } else {
	problem "Exported [commas $n] rows to $f"
    }
}

# --- Tooltips --------------------------------------------------------------

# workbench::tooltip w text --
#	Shows text (or the result of the command prefix text, when it
#	starts with "::") near the pointer after the pointer rests on w.

proc ::workbench::tooltip {w text} {
    bind $w <Enter> [list ::workbench::TipArm %W $text]
    bind $w <Leave> {::workbench::TipHide}
    bind $w <ButtonPress> {+::workbench::TipHide}
}

proc ::workbench::TipArm {w text} {
    variable ui
    TipHide
    set ui(tipTimer) [after 600 [list ::workbench::TipShow $w $text]]
}

proc ::workbench::TipShow {w text} {
    if {![winfo exists $w]} {
	return
    }
    if {[string match ::* $text]} {
	set text [uplevel #0 [string map [list %W $w] $text]]
	if {$text eq ""} {
	    return
	}
    }
    set t .tooltip
    destroy $t
    toplevel $t -background gray30
    wm overrideredirect $t 1
    label $t.l -text $text -justify left -background #ffffe8 \
	    -wraplength 360 -padx 6 -pady 3 -font TkTooltipFont
    pack $t.l -padx 1 -pady 1
    wm geometry $t +[expr {[winfo pointerx $w] + 12}]+[expr {[winfo pointery $w] + 16}]
}

proc ::workbench::TipHide {} {
    variable ui
    if {[info exists ui(tipTimer)]} {
	after cancel $ui(tipTimer)
    }
    destroy .tooltip
}
