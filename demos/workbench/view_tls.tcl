# view_tls.tcl --
#
#	TLS in the window: the lock images of the sidebar, the TLS part of
#	the Connect and Listen dialogs, the TLS panel above the traffic of a
#	TLS connection (what its handshake told: tlsDetails), and Tools >
#	Generate test certificate (generateCertificate runs openssl in a
#	child process; the status bar says how it went).

namespace eval ::workbench {
    variable tlsv		;# Array: the TLS panel's texts.
    array set tlsv {}
    # The TLS fields of the two dialogs (l: the Listen dialog's).
    variable dlg
    array set dlg {tls 0 cafile {} certfile {} keyfile {} servername {}
	alpn {} verify 1 ltls 0 lcafile {} lcertfile {} lkeyfile {} lalpn {}
	lverify 0}
    # The colour of each TLS state, for its lock and its "Verified" text.
    variable tlsColours {verified #1c7a2e encrypted gray25
	unverified #c05800 pending gray60 failed red3}
}

# workbench::MakeLockImages --
#	A 12x12 padlock per TLS state (tlsState), drawn pixel by pixel so
#	that it does not depend on a font having a lock character: closed
#	and coloured as tlsColours; open (the shackle lifted) for
#	"unverified".

proc ::workbench::MakeLockImages {} {
    variable tlsColours
    # The shackle, closed or open (lifted to the right), then the body.
    set closed {
	"    ####    "
	"   #    #   "
	"  #      #  "
	"  #      #  "
	"  #      #  "
    }
    set open {
	"       #### "
	"      #    #"
	"     #     #"
	"     #      "
	"     #      "
    }
    set body {
	" ########## "
	" ########## "
	" ####  #### "
	" ####  #### "
	" ##### #### "
	" ########## "
	" ########## "
    }
    dict for {state colour} $tlsColours {
	# 12x12, and 2 pixels of space before the sidebar's text.
	set img [image create photo ::workbench::lock-$state -width 14 \
		-height 12]
	set y 0
	foreach row [concat [expr {$state eq "unverified" ? $open
		: $closed}] $body] {
	    set x 0
	    foreach c [split $row {}] {
		if {$c eq "#"} {
		    $img put $colour -to $x $y
		}
		incr x
	    }
	    incr y
	}
    }
}

# workbench::lockImage id --
#	The sidebar image of an item: a lock for TLS, none otherwise.

proc ::workbench::lockImage {id} {
    set state [tlsState $id]
    return [expr {$state eq "" ? "" : "::workbench::lock-$state"}]
}

# --- The dialogs' TLS fields ---------------------------------------------

# workbench::TlsFields f kind --
#	The TLS part of the Connect (kind client) or Listen (listener)
#	dialog: on/off, files, server name, ALPN, verification. Turning
#	verification off on a client shows a warning in the dialog.

proc ::workbench::TlsFields {f kind} {
    set p [expr {$kind eq "client" ? "" : "l"}]
    set v ::workbench::dlg
    ttk::style configure Pick.TButton -padding {4 0}
    ttk::separator $f.tsep -orient horizontal
    ttk::checkbutton $f.tls -text "TLS (encrypted connection)" \
	    -variable ${v}(${p}tls) \
	    -command [list ::workbench::TlsFieldsState $f $kind]
    grid $f.tsep - -sticky ew -pady 6
    grid $f.tls - -sticky w -pady 2
    # The rows, in order: the client's trust first (whom it believes),
    # then its own certificate; the listener's certificate first, then
    # what it asks of clients.
    if {$kind eq "client"} {
	set rows {cafile "CA file" servername "Server name" verify
	    "Verify the server (its certificate and name)" tlswarn {}
	    certfile "Client certificate" keyfile "Client key" alpn ALPN}
    } else {
	set rows {certfile "Certificate" keyfile "Key" gen {} alpn ALPN
	    verify "Require a client certificate and verify it"
	    cafile "CA file (clients)"}
    }
    foreach {key label} $rows {
	switch -- $key {
	    cafile - certfile - keyfile {
		ttk::label $f.l$key -text $label
		ttk::frame $f.$key
		ttk::entry $f.$key.e -textvariable ${v}($p$key) -width 24
		ttk::button $f.$key.b -text "\u2026" -width 2 \
			-style Pick.TButton -command \
			[list ::workbench::PickPem $f $p$key $label]
		pack $f.$key.b -side right -padx {2 0}
		pack $f.$key.e -side left -fill x -expand 1
		grid $f.l$key $f.$key -sticky w -pady 2
		grid configure $f.$key -sticky ew
	    }
	    servername - alpn {
		ttk::label $f.l$key -text $label
		ttk::entry $f.$key -textvariable ${v}($p$key) -width 28
		grid $f.l$key $f.$key -sticky w -pady 2
	    }
	    verify {
		ttk::checkbutton $f.verify -text $label \
			-variable ${v}(${p}verify) \
			-command [list ::workbench::TlsFieldsState $f $kind]
		grid x $f.verify -sticky w -pady 2
	    }
	    tlswarn {
		# A plain label: its colour is its point.
		label $f.tlswarn -foreground #b34700 -justify left -anchor w \
			-wraplength 300 -text "\u26A0 Verification is off:\
			the server's identity is not checked, so anyone on\
			the path can pose as it and read the traffic. The\
			connection will be marked NOT VERIFIED."
		grid x $f.tlswarn -sticky w -pady {0 4}
	    }
	    gen {
		ttk::button $f.gen -text "Generate a test certificate..." \
			-command ::workbench::uiGenerateCert
		grid x $f.gen -sticky w -pady {0 2}
		tooltip $f.gen "A self-signed certificate and key for\
			localhost, 127.0.0.1 and ::1, made by openssl into a\
			folder you choose (also Tools menu)"
	    }
	}
    }
    tooltip $f.alpn "Application protocols, most wanted first, such as\
	    \"h2, http/1.1\". Empty: none."
    if {$kind eq "client"} {
	tooltip $f.servername "The name sent (SNI) and checked against the\
		certificate. Empty: the host, when it is a name; an address\
		is checked against the certificate's IP addresses."
	tooltip $f.cafile.e "PEM file of the certificate authorities to\
		trust (a self-signed server certificate is its own).\
		Empty: the system's trust store."
	tooltip $f.certfile.e "Only if the server asks for a client\
		certificate: a PEM certificate (a chain file works)"
	tooltip $f.keyfile.e "The client certificate's private key (PEM).\
		Empty: in the certificate file. The workspace keeps its\
		name, never its contents."
    } else {
	tooltip $f.certfile.e "The server's certificate, PEM (a chain file\
		works). Required for TLS."
	tooltip $f.keyfile.e "Its private key (PEM). Empty: in the\
		certificate file. The workspace keeps its name, never its\
		contents."
	tooltip $f.cafile.e "With \"Require a client certificate\": PEM\
		file of the CAs whose client certificates are accepted"
    }
    TlsFieldsState $f $kind
}

# workbench::TlsFieldsState f kind --
#	Enables the TLS fields when TLS is on; shows the warning when a
#	client's verification is off.

proc ::workbench::TlsFieldsState {f kind} {
    variable dlg
    set p [expr {$kind eq "client" ? "" : "l"}]
    set on [expr {[string is true -strict $dlg(${p}tls)]}]
    set state [expr {$on ? "!disabled" : "disabled"}]
    foreach w [list $f.cafile.e $f.cafile.b $f.certfile.e $f.certfile.b \
	    $f.keyfile.e $f.keyfile.b $f.alpn $f.verify $f.servername $f.gen] {
	if {[winfo exists $w]} {
	    $w state $state
	}
    }
    if {[winfo exists $f.tlswarn]} {
	if {$on && ![string is true -strict $dlg(verify)]} {
	    grid $f.tlswarn
	} else {
	    grid remove $f.tlswarn
	}
    }
}

# workbench::PickPem f key title --
#	A file chooser for a PEM file; the choice goes to dlg(key).

proc ::workbench::PickPem {f key title} {
    variable dlg
    set initial [expr {$dlg($key) ne "" ? [file dirname $dlg($key)]
	    : [pwd]}]
    set file [tk_getOpenFile -parent [winfo toplevel $f] -title $title \
	    -initialdir $initial -filetypes {{"PEM files" {.pem .crt .cer
	    .key}} {"All files" *}}]
    if {$file ne ""} {
	set dlg($key) $file
    }
}

# workbench::DialogTls kind --
#	The TLS settings in a dialog, as item options.

proc ::workbench::DialogTls {kind} {
    variable dlg
    set p [expr {$kind eq "client" ? "" : "l"}]
    set o [dict create tls $dlg(${p}tls) verify $dlg(${p}verify) \
	    alpn $dlg(${p}alpn)]
    foreach key {cafile certfile keyfile} {
	dict set o $key [string trim $dlg($p$key)]
    }
    if {$kind eq "client"} {
	dict set o servername [string trim $dlg(servername)]
    }
    return $o
}

# --- The TLS panel --------------------------------------------------------

# workbench::buildTlsPanel w --
#	The panel above the traffic of a TLS connection (shown by
#	refreshTlsPanel when the selected item is one).

proc ::workbench::buildTlsPanel {w} {
    ttk::labelframe $w -text "TLS" -padding {8 0 8 4}
    # The lock and the summary line, then the verdict, then the
    # certificate's fields.
    ttk::frame $w.top
    label $w.lock -borderwidth 0
    ttk::label $w.summary -textvariable ::workbench::tlsv(summary) \
	    -font TkHeadingFont
    pack $w.lock -in $w.top -side left -padx {0 2}
    pack $w.summary -in $w.top -side left
    label $w.verified -textvariable ::workbench::tlsv(Verified) \
	    -anchor w -justify left -borderwidth 0
    grid $w.top -row 0 -column 0 -columnspan 2 -sticky w
    grid $w.verified -row 1 -column 0 -columnspan 2 -sticky w -pady {0 2}
    set r 2
    foreach key {Subject Issuer Valid} {
	set n [string tolower $key]
	ttk::label $w.l$n -text $key -style Status.TLabel
	ttk::label $w.$n -textvariable ::workbench::tlsv($key)
	grid $w.l$n -row $r -column 0 -sticky w -padx {0 8}
	grid $w.$n -row $r -column 1 -sticky w
	incr r
    }
    ttk::label $w.lsha -text "SHA-256" -style Status.TLabel
    # The fingerprint on two lines of 16 bytes, so that it fits a narrow
    # window, in a read-only text widget, so that it can be selected
    # and copied.
    text $w.sha -font TkFixedFont -height 2 -width 48 -borderwidth 0 \
	    -highlightthickness 0 -wrap none -state disabled \
	    -background [ttk::style lookup TFrame -background]
    grid $w.lsha -row $r -column 0 -sticky nw -padx {0 8}
    grid $w.sha -row $r -column 1 -sticky w
    grid columnconfigure $w 1 -weight 1
    # The summary and the verdict wrap rather than lose their ends.
    # (The frame's padding and border take some 24 pixels, the lock 18.)
    bind $w <Configure> [list apply {{w width} {
	$w.summary configure -wraplength [expr {max(200, $width - 42)}]
	$w.verified configure -wraplength [expr {max(200, $width - 24)}]
    }} $w %w]
    tooltip $w.sha "The SHA-256 fingerprint of the peer's certificate\
	    (as openssl x509 -fingerprint -sha256 prints it): compare it\
	    with the one the peer's owner gives"
}

# workbench::refreshTlsPanel --
#	Shows the TLS panel with the selected item's details, or hides it.

proc ::workbench::refreshTlsPanel {} {
    variable ui
    variable tlsv
    variable tlsColours
    set w .nb.traffic.tls
    set id $ui(current)
    if {$id eq "" || ![itemExists $id]
	    || [itemGet $id kind] ni {client accepted}
	    || [set state [tlsState $id]] eq ""} {
	grid remove $w
	return
    }
    set d [tlsDetails $id]
    array set tlsv $d
    set parts [list [dict get $d Protocol]]
    if {$state ni {pending failed}} {
	set i [itemGet $id tlsInfo]
	lappend parts [dict get $d Cipher]
	if {[dict get $i alpn] ne ""} {
	    lappend parts "ALPN [dict get $i alpn]"
	}
	if {[dict get $i servername] ne ""} {
	    lappend parts "server name [dict get $i servername]"
	}
	if {[dict get $i sessionReused]} {
	    lappend parts "session resumed"
	}
    }
    set tlsv(summary) [join $parts "  \u00B7  "]
    # The fingerprint: 16 bytes a line.
    set sha [dict get $d SHA-256]
    $w.sha configure -state normal
    $w.sha delete 1.0 end
    $w.sha insert end [string range $sha 0 46]\n[string range $sha 48 end]
    $w.sha configure -state disabled
    $w.lock configure -image [lockImage $id]
    $w.verified configure -foreground [dict get $tlsColours $state] \
	    -font [expr {$state eq "unverified" ? "TkHeadingFont"
	    : "TkDefaultFont"}]
    set tlsv(Verified) [dict get $d Verified]
    grid $w
}

# --- Tools > Generate test certificate ------------------------------------

# workbench::uiGenerateCert ?dir? --
#	Asks for a folder (unless given), then generates a self-signed
#	certificate and key there in a child process; the status bar says
#	so, and the result is offered to the Listen dialog.

proc ::workbench::uiGenerateCert {{dir {}}} {
    if {$dir eq ""} {
	set initial [file join [configDir] certs]
	catch {file mkdir $initial}
	set dir [tk_chooseDirectory -parent [expr {[winfo exists .listen]
		? ".listen" : "."}] -initialdir $initial -mustexist 0 \
		-title "Folder for the test certificate and key"]
	if {$dir eq ""} {
		return
	}
    }
    if {[catch {
	file mkdir $dir
	generateCertificate $dir ::workbench::CertGenerated
    } msg]} {
	problem "Cannot generate a test certificate: $msg"
	return
    }
    notice "Generating a test certificate in $dir (openssl)..."
}

# workbench::CertGenerated status result --
#	The outcome of generateCertificate: in the status bar; a success
#	goes into an open Listen dialog, or is offered to one.

proc ::workbench::CertGenerated {status result} {
    variable dlg
    if {$status ne "ok"} {
	problem "Test certificate not made: $result"
	return
    }
    lassign $result cert key
    notice "Test certificate written: $cert (key: [file tail $key])"
    if {[winfo exists .listen]} {
	UseCert $cert $key
	return
    }
    set w [Dialog .certdone "Test certificate"]
    ttk::label $w.body.msg -justify left -wraplength 420 -text "A\
	    self-signed certificate for localhost, 127.0.0.1 and ::1,\
	    valid for 365 days:\n\n    $cert\n    $key\n\nUse it for a TLS\
	    listener? The Connect dialog then has TLS on and trusts it (as\
	    its CA file), so that a Workbench client can verify that\
	    listener."
    pack $w.body.msg -anchor w
    DialogButtons $w "Use in Listen dialog" [list apply {{cert key w} {
	destroy $w
	::workbench::UseCert $cert $key
	::workbench::listenDialog
    }} $cert $key]
    $w.buttons.cancel configure -text "Close"
}

# workbench::UseCert cert key --
#	A generated certificate into the Listen dialog's fields (TLS on),
#	and as the Connect dialog's CA file (TLS on there too).

proc ::workbench::UseCert {cert key} {
    variable dlg
    set dlg(ltls) 1
    set dlg(lcertfile) $cert
    set dlg(lkeyfile) $key
    set dlg(tls) 1
    set dlg(cafile) $cert
    if {[winfo exists .listen]} {
	TlsFieldsState .listen.body listener
    }
}
